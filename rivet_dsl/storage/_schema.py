"""The SQLite schema, as an ordered list of migrations.

Never edit a released migration: append a new one and bump ``SCHEMA_VERSION``.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE actors (
            actor_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            input BLOB,
            created_at REAL NOT NULL,
            state BLOB,
            alarm_at REAL,
            UNIQUE (name, key)
        )""",
        "CREATE INDEX actors_alarm ON actors (alarm_at) WHERE alarm_at IS NOT NULL",
        """CREATE TABLE queue (
            actor_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            body BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (actor_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE schedules (
            actor_id TEXT NOT NULL,
            schedule_id TEXT NOT NULL,
            fire_at REAL NOT NULL,
            action TEXT NOT NULL,
            args BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (actor_id, schedule_id)
        ) WITHOUT ROWID""",
        """CREATE TABLE kv (
            actor_id TEXT NOT NULL,
            key BLOB NOT NULL,
            value BLOB NOT NULL,
            PRIMARY KEY (actor_id, key)
        ) WITHOUT ROWID""",
    ),
}

SCHEMA_VERSION = max(MIGRATIONS)
