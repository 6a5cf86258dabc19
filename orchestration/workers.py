"""Worker processes for the CPU-bound steps (ingest, features), which never outlive their parent.

A ProcessPoolExecutor's workers wait for work on a pipe that each of them
also holds open for writing, so when the parent dies without closing the
pool (SIGKILL, the OOM killer) they wait forever, each with a warehouse
connection open. A thread in every worker watches for its parent's death
and ends the worker; whatever transaction it had open is rolled back.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PARENT_CHECK_SECONDS = 0.5


def worker_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the caller may hold connections, or run inside Dagster
    return ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_exit_with_parent, initargs=(os.getpid(),)
    )


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # the parent is gone: no one will read a result

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
