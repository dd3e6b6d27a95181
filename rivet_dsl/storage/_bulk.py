"""The SQLite writer's row writes, one statement per row or many rows per statement.

``executemany`` runs one statement per row, and Python's sqlite3 module takes the GIL back
after every row (it releases it around each ``sqlite3_step``). When a commit runs on the writer
thread while the event loop is busy, each of those hand-backs waits for the event loop to yield
the GIL: up to the interpreter's switch interval (5 ms by default), so a 3,000-row commit took
15 s under load instead of 20 ms. A *bulk* write is a single
``INSERT ... SELECT ... FROM (VALUES ...)`` instead: the GIL is needed once per statement to
bind its parameters, and SQLite does the rest alone. Per-row statements stay the faster choice
for the small commits made on the event loop itself.

Bulk updates and deletes go through INSERTs too: into temporary views whose ``INSTEAD OF``
triggers run the per-row statement (``DELETE ... WHERE (a, b) IN (VALUES ...)`` would scan the
table instead of seeking). The views live in the writer connection's ``temp`` schema, so the
file format does not change.

Bulk statement texts are reused: ``n`` rows are padded with all-NULL rows up to the next power
of two (``WHERE column1 IS NOT NULL`` drops them; a first column is never NULL), so a few dozen
compiled statements serve every batch size.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["WRITES", "RowWriter"]


class Write(NamedTuple):
    """One kind of row write: its columns, and the statements that apply one row (``?1`` is
    the first column). An ``INSERT ... VALUES`` writes into its table in bulk; anything else
    goes through a temporary view named after the kind."""

    columns: tuple[str, ...]
    statements: tuple[str, ...]


WRITES: dict[str, Write] = {
    "destroy": Write(
        ("actor_id",),
        tuple(f"DELETE FROM {table} WHERE actor_id = ?1" for table in ("actors", "queue", "schedules", "kv")),
    ),
    "create": Write(
        ("actor_id", "name", "key", "input", "created_at", "state", "alarm_at"),
        (
            "INSERT INTO actors (actor_id, name, key, input, created_at, state, alarm_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        ),
    ),
    "set_state": Write(("actor_id", "state"), ("UPDATE actors SET state = ?2 WHERE actor_id = ?1",)),
    "set_alarm": Write(("actor_id", "alarm_at"), ("UPDATE actors SET alarm_at = ?2 WHERE actor_id = ?1",)),
    "enqueue": Write(
        ("actor_id", "seq", "name", "body", "created_at"),
        ("INSERT INTO queue (actor_id, seq, name, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",),
    ),
    "dequeue": Write(("actor_id", "seq"), ("DELETE FROM queue WHERE actor_id = ?1 AND seq = ?2",)),
    "put_schedule": Write(
        ("actor_id", "schedule_id", "fire_at", "action", "args", "created_at"),
        (
            "INSERT OR REPLACE INTO schedules (actor_id, schedule_id, fire_at, action, args, created_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        ),
    ),
    "delete_schedule": Write(
        ("actor_id", "schedule_id"), ("DELETE FROM schedules WHERE actor_id = ?1 AND schedule_id = ?2",)
    ),
    "kv_put": Write(
        ("actor_id", "key", "value"), ("INSERT OR REPLACE INTO kv (actor_id, key, value) VALUES (?1, ?2, ?3)",)
    ),
    "kv_delete": Write(("actor_id", "key"), ("DELETE FROM kv WHERE actor_id = ?1 AND key = ?2",)),
    "kv_delete_range": Write(
        ("actor_id", "start", "stop"), ("DELETE FROM kv WHERE actor_id = ?1 AND key >= ?2 AND key < ?3",)
    ),
}

#: The largest bulk statement, in rows (SQLite's default limit is 32,766 parameters).
_MAX_ROWS = 4096
_PARAM = re.compile(r"\?(\d+)")
_INSERT = re.compile(r"^(INSERT .*?)\s+VALUES \(.*\)$")


def _view(kind: str) -> str:
    return f"rivet_{kind}"


class RowWriter:
    """Applies row writes on the writer connection: per row, or in bulk (see the module
    docstring). :meth:`install` creates the views the bulk writes need."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        #: One cursor for every write (``Connection.execute`` makes a new one per call).
        self.cursor = conn.cursor()
        self._params = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._bulk_sql: dict[tuple[str, int], str] = {}

    def install(self) -> None:
        """Create the temporary views (and their triggers) of the kinds that are not inserts."""
        for kind, write in WRITES.items():
            if _INSERT.match(write.statements[0]):
                continue
            view = _view(kind)
            nulls = ", ".join("NULL" for _ in write.columns)
            body = " ".join(
                _PARAM.sub(lambda m: f'NEW."{write.columns[int(m.group(1)) - 1]}"', s) + ";" for s in write.statements
            )
            columns = ", ".join(f'"{c}"' for c in write.columns)
            self._conn.execute(f"CREATE TEMP VIEW IF NOT EXISTS {view} ({columns}) AS SELECT {nulls}")
            self._conn.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS {view}_rows INSTEAD OF INSERT ON {view} BEGIN {body} END")

    def write(self, kind: str, rows: Sequence[Sequence[Any]], *, bulk: bool) -> None:
        """Apply ``rows`` (tuples in the kind's column order), in bulk or one statement per row."""
        if not rows:
            return
        write = WRITES[kind]
        if not bulk:
            for statement in write.statements:
                self.cursor.executemany(statement, rows)
            return
        width = len(write.columns)
        limit = min(_MAX_ROWS, self._params // width)
        for start in range(0, len(rows), limit):
            chunk = rows[start : start + limit]
            size = 1 << (len(chunk) - 1).bit_length()
            params = [value for row in chunk for value in row]
            params.extend([None] * ((size - len(chunk)) * width))
            self.cursor.execute(self._statement(kind, write, size), params)

    def _statement(self, kind: str, write: Write, size: int) -> str:
        sql = self._bulk_sql.get((kind, size))
        if sql is None:
            width = len(write.columns)
            insert = _INSERT.match(write.statements[0])
            head = insert.group(1) if insert else f"INSERT INTO {_view(kind)}"
            row = "(" + ", ".join("?" * width) + ")"
            columns = ", ".join(f"column{i + 1}" for i in range(width))
            sql = self._bulk_sql[(kind, size)] = (
                f"{head} SELECT {columns} FROM (VALUES {', '.join([row] * size)}) WHERE column1 IS NOT NULL"
            )
        return sql
