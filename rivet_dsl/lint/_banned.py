"""The one table of calls and names that must not run in workflow code outside a step.

Keys are qualified names as resolved by libcst's ``QualifiedNameProvider`` (so ``from time import
time as now`` is still ``time.time``). A key ending in ``.*`` bans everything under that module.
Every rule that reports a banned name reads this table, and ``docs/lint.md`` lists it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final, Literal

__all__ = ["BANNED", "Banned", "Category", "lookup"]

Category = Literal["clock", "random", "environment", "io", "thread", "sleep"]

_STEP = "wrap it in `await ctx.step(...)` so the result is recorded and replayed"


@dataclasses.dataclass(frozen=True)
class Banned:
    category: Category
    reason: str
    replacement: str = _STEP


def _many(category: Category, names: tuple[str, ...], reason: str, replacement: str = _STEP) -> dict[str, Banned]:
    return {name: Banned(category, reason, replacement) for name in names}


_CLOCK = "reads the clock, which differs on replay"
_RANDOM = "is random, so replay takes a different path"
_ENV = "reads the process environment, which can change between runs"
_IO = "performs I/O, which is repeated on every replay"
_THREAD = "starts concurrent work the workflow history does not record"
_SLEEP_FIX = "use `await ctx.sleep(name, seconds)`, a durable timer"

BANNED: Final[Mapping[str, Banned]] = {
    **_many(
        "clock",
        (
            "time.time",
            "time.time_ns",
            "time.monotonic",
            "time.monotonic_ns",
            "time.perf_counter",
            "time.perf_counter_ns",
            "time.process_time",
            "time.localtime",
            "time.gmtime",
            "time.ctime",
            "time.asctime",
            "time.strftime",
            "time.clock_gettime",
            "time.clock_gettime_ns",
            "time.thread_time",
            "time.thread_time_ns",
            "datetime.datetime.now",
            "datetime.datetime.utcnow",
            "datetime.datetime.today",
            "datetime.date.today",
            "anyio.current_time",
            "trio.current_time",
            "asyncio.AbstractEventLoop.time",
        ),
        _CLOCK,
    ),
    **_many(
        "random",
        ("random.*", "secrets.*", "uuid.uuid1", "uuid.uuid4", "uuid.uuid6", "uuid.uuid7", "os.urandom", "os.getrandom"),
        _RANDOM,
    ),
    "builtins.hash": Banned("random", "hashes strings differently in every process, so replay takes a different path"),
    **_many(
        "environment",
        (
            *("os.environ", "os.environb", "os.getenv", "os.getenvb", "os.getcwd", "os.getpid", "os.getppid"),
            *("os.getlogin", "os.uname", "os.cpu_count", "getpass.getuser", "platform.node", "sys.argv"),
        ),
        _ENV,
    ),
    **_many(
        "io",
        (
            "builtins.open",
            "builtins.input",
            "io.open",
            "pathlib.Path.read_text",
            "pathlib.Path.read_bytes",
            "pathlib.Path.write_text",
            "pathlib.Path.write_bytes",
            "pathlib.Path.open",
            "pathlib.Path.exists",
            "pathlib.Path.iterdir",
            "pathlib.Path.glob",
            "pathlib.Path.unlink",
            "pathlib.Path.mkdir",
            "pathlib.Path.is_file",
            "pathlib.Path.is_dir",
            "pathlib.Path.stat",
            "pathlib.Path.touch",
            "pathlib.Path.rmdir",
            "pathlib.Path.rename",
            "pathlib.Path.replace",
            "pathlib.Path.rglob",
            "os.system",
            "os.popen",
            "os.listdir",
            "os.scandir",
            "os.remove",
            "os.unlink",
            "os.mkdir",
            "os.makedirs",
            "os.rename",
            "os.walk",
            "os.stat",
            "os.rmdir",
            "os.replace",
            "os.path.exists",
            "os.path.isfile",
            "os.path.isdir",
            "os.path.getsize",
            "os.path.getmtime",
            "glob.*",
            "tempfile.*",
            "smtplib.*",
            "ftplib.*",
            "shutil.*",
            "socket.*",
            "ssl.*",
            "subprocess.*",
            "urllib.request.*",
            "http.client.*",
            "httpx.*",
            "requests.*",
            "aiohttp.*",
            "aiofiles.*",
            "sqlite3.*",
            "asyncio.open_connection",
            "asyncio.start_server",
            "asyncio.create_subprocess_exec",
            "asyncio.create_subprocess_shell",
            "asyncio.open_unix_connection",
            "anyio.open_file",
            "anyio.connect_tcp",
            "anyio.run_process",
            "anyio.open_process",
        ),
        _IO,
    ),
    **_many(
        "thread",
        (
            "threading.Thread",
            "threading.Timer",
            "_thread.start_new_thread",
            "concurrent.futures.*",
            "multiprocessing.*",
            "asyncio.create_task",
            "asyncio.ensure_future",
            "asyncio.gather",
            "asyncio.TaskGroup",
            "asyncio.to_thread",
            "asyncio.wait",
            "asyncio.wait_for",
            "asyncio.as_completed",
            "asyncio.shield",
            "asyncio.run_coroutine_threadsafe",
            "asyncio.AbstractEventLoop.create_task",
            "asyncio.AbstractEventLoop.run_in_executor",
            "asyncio.AbstractEventLoop.call_soon",
            "asyncio.AbstractEventLoop.call_later",
            "asyncio.AbstractEventLoop.call_at",
            "anyio.create_task_group",
            "anyio.to_thread.run_sync",
            "trio.open_nursery",
        ),
        _THREAD,
        "use `ctx.join(...)`/`ctx.race(...)` for concurrency, or do the work inside `ctx.step(...)`",
    ),
    **_many(
        "thread",
        (
            "asyncio.timeout",
            "asyncio.timeout_at",
            "anyio.fail_after",
            "anyio.move_on_after",
            "trio.fail_after",
            "trio.move_on_after",
        ),
        "cancels at a wall-clock deadline that the workflow history does not record",
        "give the step a `timeout=`, or race the work against `ctx.sleep(...)` with `ctx.race(...)`",
    ),
    **_many(
        "sleep",
        ("time.sleep", "asyncio.sleep", "anyio.sleep", "anyio.sleep_until", "trio.sleep", "trio.sleep_until"),
        "is not durable",
        _SLEEP_FIX,
    ),
}

_PREFIXES: Final[tuple[tuple[str, Banned], ...]] = tuple(
    (key[:-1], value) for key, value in BANNED.items() if key.endswith(".*")
)


def lookup(qualified_name: str) -> Banned | None:
    """The table entry for a qualified name, or ``None`` when the name is allowed."""
    found = BANNED.get(qualified_name)
    if found is not None:
        return found
    for prefix, value in _PREFIXES:
        if qualified_name.startswith(prefix):
            return value
    return None
