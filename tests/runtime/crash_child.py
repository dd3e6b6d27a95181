"""Child process for the SIGKILL test: applies operations and prints each acknowledged id.

Usage: python -m tests.runtime.crash_child DB_PATH WORKERS [fsync]
"""

from __future__ import annotations

import asyncio
import sys

from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage

from .actors import ledger_registry


async def main(db: str, workers: int, fsync: bool) -> None:
    runtime = Runtime(ledger_registry, storage=SqliteStorage(db, fsync=fsync))
    await runtime.start()
    actors = [(await runtime.get_or_create("ledger", [f"k{i % 4}"])).actor_id for i in range(workers)]
    print("ready", flush=True)

    async def worker(index: int) -> None:
        n = 0
        while True:
            op = f"w{index}-{n}"
            if n % 3 == 0:
                await runtime.send(actors[index], "entries", op)
                op = "q:" + op
            else:
                await runtime.call(actors[index], "apply", [op])
            # Printed only after the runtime acknowledged the operation.
            sys.stdout.write(f"ack {actors[index]} {op}\n")
            sys.stdout.flush()
            n += 1

    await asyncio.gather(*(worker(i) for i in range(workers)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["fsync"]))
