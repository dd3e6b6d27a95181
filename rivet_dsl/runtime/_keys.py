"""Actor keys: tuples of strings, serialized the way Rivet does (``/``-joined, escaped)."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import InvalidArgumentsError

__all__ = ["KeyLike", "deserialize_key", "normalize_key", "serialize_key"]

KeyLike = str | Sequence[str] | None

_MAX_KEY_BYTES = 1024


def normalize_key(key: KeyLike) -> tuple[str, ...]:
    """``None`` -> ``()``; a bare string -> a one-element key; a sequence -> a tuple."""
    if key is None:
        return ()
    if isinstance(key, str):
        return (key,)
    if not all(isinstance(part, str) for part in key):
        raise InvalidArgumentsError("an actor key is a string or a list of strings", code="invalid_key")
    return tuple(key)


def serialize_key(key: tuple[str, ...]) -> str:
    """Rivet's wire form: parts joined with ``/``; ``\\`` and ``/`` escaped; ``""`` -> ``\\0``; ``()`` -> ``/``."""
    if not key:
        return "/"
    parts = ["\\0" if part == "" else part.replace("\\", "\\\\").replace("/", "\\/") for part in key]
    text = "/".join(parts)
    if len(text.encode()) > _MAX_KEY_BYTES:
        raise InvalidArgumentsError(f"actor key is longer than {_MAX_KEY_BYTES} bytes", code="invalid_key")
    return text


def deserialize_key(text: str) -> tuple[str, ...]:
    """The inverse of :func:`serialize_key`."""
    if text == "/":
        return ()
    parts: list[str] = []
    current: list[str] = []
    #: The part was written as the empty-part marker ``\0`` (a flag, not a character: a key
    #: part may itself be a NUL character, which is written as is).
    empty = False
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped == "0":
                empty = True
            else:
                current.append(escaped)
        elif char == "/":
            parts.append("" if empty else "".join(current))
            current, empty = [], False
        else:
            current.append(char)
    parts.append("" if empty else "".join(current))
    return tuple(parts)
