"""Workflow history: entries, locations, interned names, and their layout in the actor's KV space.

History is a tree of named entries. A *location* is a list of segments: a name (interned to an
index once) or a loop-iteration marker. Keys are fixed-width byte strings so that the byte order of
keys is the logical order (``b"wf/e/" + segments``), which lets a loop prune a range of iterations
with one range delete:

* name segment:      ``0x01`` + 4-byte big-endian name index
* iteration segment: ``0x02`` + 8-byte big-endian iteration number

Other keys: ``b"wf/n/" + index`` -> name (UTF-8), ``b"wf/m"`` -> workflow metadata.
Each entry carries its metadata (status, attempts, timestamps, error) in the same value, so an
entry and its metadata are always written together.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "ENTRY_PREFIX",
    "META_KEY",
    "NAME_PREFIX",
    "PREFIX",
    "Branch",
    "Entry",
    "ErrorInfo",
    "History",
    "Meta",
    "iteration_segment",
    "name_segment",
    "split_key",
]

PREFIX = b"wf/"
ENTRY_PREFIX = b"wf/e/"
NAME_PREFIX = b"wf/n/"
META_KEY = b"wf/m"

_NAME_TAG = 1
_ITER_TAG = 2


class ErrorInfo(msgspec.Struct, array_like=True, omit_defaults=True):
    """What a failed step (or join/race branch) raised, so that a replay raises the same.

    ``kind`` is ``critical`` (a ``CriticalError``, or a subclass named by ``cls``), ``timeout``
    (``StepTimeoutError``), ``exhausted`` (``StepExhaustedError``), ``rollback_checkpoint``
    (``RollbackCheckpointError``) or ``error`` (anything else, named by ``cls``). ``cls`` is
    ``module:qualname``; ``message``, ``code`` and ``metadata`` (encoded, if it could be) are the
    error's own. Entries written before this field existed have none (see ``_context._replayed_error``).
    ``attrs`` is the error's own instance attributes (``vars(exc)`` without the ``RivetError``
    fields), encoded as a map, only those storable as plain data and within a size bound
    (added later: older rows have none).
    """

    kind: str
    cls: str = ""
    message: str = ""
    code: str | None = None
    metadata: bytes | None = None
    attrs: bytes | None = None


class Branch(msgspec.Struct, array_like=True, omit_defaults=True):
    """One join/race branch: status (pending|running|completed|failed|cancelled), output, error."""

    status: str = "pending"
    output: bytes | None = None
    error: str | None = None
    #: What the branch raised (added later: older rows have none).
    info: ErrorInfo | None = None


class Entry(msgspec.Struct, array_like=True, omit_defaults=True):
    """One history entry with its metadata (Rivet keeps them apart; we write them together)."""

    kind: str
    seq: int
    created_at: float
    status: str = "pending"  #: pending|running|completed|failed|exhausted
    output: bytes | None = None
    error: str | None = None
    attempts: int = 0
    last_attempt_at: float | None = None
    completed_at: float | None = None
    #: loop: next iteration to run, encoded loop state, iterations below ``pruned`` are deleted
    iteration: int = 0
    state: bytes | None = None
    pruned: int = 0
    #: sleep / queue wait with timeout
    deadline: float | None = None
    #: message: ``[seq, queue name, body, created_at, completed]`` per received message
    messages: list[tuple[int, str, bytes, float, bool]] | None = None
    #: join / race
    branches: dict[str, Branch] | None = None
    winner: str | None = None
    #: removed / version_check
    original_type: str | None = None
    resolved: int | None = None
    #: rollback bookkeeping
    rollback_done: bool = False
    rollback_error: str | None = None
    #: step: what the failed step raised (added later: older rows have none, so it is last).
    error_info: ErrorInfo | None = None
    #: message: the receive was completable (added later: older rows have none).
    completable: bool = False
    #: loop: the iteration in progress when the actor last went to sleep, so every iteration
    #: below it had finished (written only then, never per iteration; added later: older rows
    #: have none). A replay seals them, the last finished one included, even if the iteration
    #: in progress had recorded nothing yet.
    finished: int = 0


class Meta(msgspec.Struct, omit_defaults=True):
    """Workflow-level metadata: status, output, error."""

    status: str = "pending"  #: pending|running|sleeping|completed|failed|rolling_back
    output: bytes | None = None
    error: dict[str, Any] | None = None
    reported: bool = False


_entry_encoder = msgspec.msgpack.Encoder()
_entry_decoder = msgspec.msgpack.Decoder(Entry)
_meta_decoder = msgspec.msgpack.Decoder(Meta)
encode_entry = _entry_encoder.encode
decode_entry = _entry_decoder.decode
decode_meta = _meta_decoder.decode


def name_segment(index: int) -> bytes:
    return bytes((_NAME_TAG,)) + index.to_bytes(4, "big")


def iteration_segment(iteration: int) -> bytes:
    return bytes((_ITER_TAG,)) + iteration.to_bytes(8, "big")


def split_key(location: bytes) -> list[bytes]:
    """The segments of a location (the entry key without :data:`ENTRY_PREFIX`)."""
    out: list[bytes] = []
    i = 0
    n = len(location)
    while i < n:
        width = 5 if location[i] == _NAME_TAG else 9
        out.append(location[i : i + width])
        i += width
    return out


class History:
    """The recorded history of one workflow as loaded from storage, plus the name registry.

    ``entries`` maps a location (bytes, without prefix) to its entry; ``children`` lists, per
    scope location, the recorded child locations in creation order (used to detect divergence).
    """

    __slots__ = ("_iterations", "_name_index", "children", "entries", "gates", "meta", "names", "next_seq")

    def __init__(self) -> None:
        self.names: list[str] = []
        self._name_index: dict[str, int] = {}
        self.entries: dict[bytes, Entry] = {}
        self.children: dict[bytes, list[bytes]] = {}
        self.meta = Meta()
        self.next_seq = 0
        self._iterations: dict[bytes, int] | None = None
        #: Recorded ``version_check`` entries and ``removed`` placeholders not yet visited by
        #: this run, per scope location: ``(seq, location)`` in creation order. A gate (or
        #: placeholder) is matched by name, not position, but an entry recorded after it (a
        #: higher seq) comes after it in the code, so reaching that entry (or a new one, or the
        #: end of the scope) with the gate unvisited means its call was deleted from the code.
        #: Empty (falsy) when there are none left to check.
        self.gates: dict[bytes, list[tuple[int, bytes]]] = {}

    @classmethod
    def from_rows(cls, rows: list[tuple[bytes, bytes]]) -> History:
        history = cls()
        names: dict[int, str] = {}
        by_scope: dict[bytes, list[tuple[int, bytes]]] = {}
        plen = len(ENTRY_PREFIX)
        nlen = len(NAME_PREFIX)
        max_seq = -1
        for key, value in rows:
            if key.startswith(ENTRY_PREFIX):
                location = key[plen:]
                entry = decode_entry(value)
                history.entries[location] = entry
                if entry.seq > max_seq:
                    max_seq = entry.seq
                last = split_key(location)[-1]
                scope = location[: len(location) - len(last)]
                if entry.kind in ("removed", "version_check"):
                    # Gates and placeholders: matched by name, not by position, and must be
                    # visited all the same (see ``gates``).
                    history.gates.setdefault(scope, []).append((entry.seq, location))
                    continue
                by_scope.setdefault(scope, []).append((entry.seq, location))
            elif key.startswith(NAME_PREFIX):
                names[int.from_bytes(key[nlen:], "big")] = value.decode()
            elif key == META_KEY:
                history.meta = decode_meta(value)
        for index in sorted(names):
            while len(history.names) < index:
                history.names.append("")
            history.names.append(names[index])
            history._name_index[names[index]] = index
        history.next_seq = max_seq + 1
        for scope, items in by_scope.items():
            items.sort()
            history.children[scope] = [loc for _, loc in items]
        for gates in history.gates.values():
            gates.sort()
        return history

    def last_iteration(self, loop: bytes) -> int:
        """The highest iteration of the loop at ``loop`` that has recorded entries, -1 if none:
        every iteration below it has finished. Built on first use (only a replayed loop asks),
        from the entries loaded then."""
        iterations = self._iterations
        if iterations is None:
            iterations = self._iterations = {}
            for location in self.entries:
                i = 0
                n = len(location)
                while i < n:
                    if location[i] == _NAME_TAG:
                        i += 5
                        continue
                    number = int.from_bytes(location[i + 1 : i + 9], "big")
                    if iterations.get(location[:i], -1) < number:
                        iterations[location[:i]] = number
                    i += 9
        return iterations.get(loop, -1)

    def drop_gates(self, prefix: bytes, below: bytes | None = None) -> None:
        """Forget the unvisited gates of the scopes under ``prefix`` (before ``below``): their
        history is not replayed (a finished loop, the iterations before a loop checkpoint, a
        race loser, a retired entry), so no scope will check them."""
        for scope in [s for s in self.gates if s.startswith(prefix) and (below is None or s < below)]:
            del self.gates[scope]

    def intern(self, name: str, stage: Any) -> int:
        """The index of ``name``; a new name is staged with ``stage(key, value)``."""
        index = self._name_index.get(name)
        if index is None:
            index = len(self.names)
            self.names.append(name)
            self._name_index[name] = index
            stage(NAME_PREFIX + index.to_bytes(4, "big"), name.encode())
        return index

    def readable(self, location: bytes) -> str:
        """``counter-loop/~3/apply`` for a location."""
        parts: list[str] = []
        for segment in split_key(location):
            value = int.from_bytes(segment[1:], "big")
            if segment[0] == _NAME_TAG:
                parts.append(self.names[value] if value < len(self.names) else f"#{value}")
            else:
                parts.append(f"~{value}")
        return "/".join(parts)

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq = seq + 1
        return seq
