"""Single ownership of a SQLite database file.

The runtime is the only writer of its database: live actors keep their state in memory and
commits are grouped, so a second runtime (or server) on the same file would serve its own copy
of every actor and the two would overwrite each other's acknowledged writes. A store therefore
holds an exclusive lock on a sidecar file, ``<database>.lock`` next to the database, for as
long as it is open, and a second store refuses to open (:class:`DatabaseInUseError`).

The lock is ``flock(LOCK_EX | LOCK_NB)``: the kernel releases it when the descriptor is closed,
which happens when the owning process exits in any way (``kill -9`` included), so a restart
after a crash never finds a stale lock. Two stores in one process conflict too (``flock``
locks belong to the open file, not to the process, unlike SQLite's own ``fcntl`` locks, which
it never interferes with). The descriptor is not inherited by ``exec``'d children.

The lock file holds the owner's pid, for the error message only; it is never removed (removing
it would let a newcomer lock a fresh file while an old owner still holds the unlinked one).
The path is resolved (symlinks followed) so two spellings of one file share a lock; a second
hard link to the database is not detected.

On Windows (no ``fcntl``) ``msvcrt.locking`` takes the same role (also released by the OS when
the process dies); the owner's pid is then unreadable by others (the byte range is locked) and
is left out of the message. WebAssembly builds (neither, and no second process) take no lock.
"""

from __future__ import annotations

import errno
import os
import sys

from .._errors import DatabaseInUseError

__all__ = ["OwnershipLock", "lock_path"]

#: Paths SQLite treats as private, per-connection databases: nothing to share, nothing to lock.
_PRIVATE = ("", ":memory:")


def lock_path(database: str | os.PathLike[str]) -> str | None:
    """The sidecar lock file for ``database`` (``None`` for an in-memory database)."""
    path = os.fspath(database)
    if path in _PRIVATE:
        return None
    return os.path.realpath(path) + ".lock"


class OwnershipLock:
    """An exclusive lock on a database file, held until :meth:`release`."""

    def __init__(self, database: str, fd: int) -> None:
        self.database = database
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: str | os.PathLike[str]) -> OwnershipLock | None:
        """Lock ``database`` for this store, without waiting; ``None`` for ``:memory:``.

        Raises:
            DatabaseInUseError: another store (in this process or another) has it open.
        """
        path = lock_path(database)
        if path is None:
            return None
        name = os.fspath(database)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd):
                raise DatabaseInUseError(name, _owner_pid(fd))
            # The owner's pid, for the message a second store reports (best effort).
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        return cls(name, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the database up (closing the descriptor drops the lock); idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale pid for the next reader
            _unlock(fd)
        except OSError:
            pass  # closing the descriptor releases the lock all the same
        finally:
            os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _owner_pid(fd: int) -> int | None:
        return None  # the owner's locked byte range cannot be read

elif sys.platform in ("emscripten", "wasi"):
    # No fcntl and no separate processes to guard against: no lock.

    def _try_lock(fd: int) -> bool:
        return True

    def _unlock(fd: int) -> None:
        return None

    def _owner_pid(fd: int) -> int | None:
        return None

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _owner_pid(fd: int) -> int | None:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None
