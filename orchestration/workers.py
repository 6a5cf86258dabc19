"""Child processes that never outlive their parent: the CPU-bound steps' workers (ingest,
features) and the programs paperhouse runs (dbt).

A ProcessPoolExecutor's workers wait for work on a pipe that each of them
also holds open for writing, so when the parent dies without closing the
pool (SIGKILL, the OOM killer) they wait forever, each with a warehouse
connection open. A thread in every worker watches for its parent's death
and ends the worker; whatever transaction it had open is rolled back.
A program run with `die_with_parent` is killed by the kernel itself.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PARENT_CHECK_SECONDS = 0.5


def worker_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the caller may hold connections, or run inside Dagster
    return ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # the parent is gone: no one will read a result

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# prctl(2) is Linux's; elsewhere a child may outlive a parent killed outright.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` for subprocess: the child is killed (SIGKILL) when this process dies.

    Written with ctypes because Python has no binding for prctl. The kernel
    sends the signal when the thread that started the child ends, so call
    it from a thread that lives as long as the child is wanted (the main one).
    """
    parent = os.getpid()

    def in_child() -> None:
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return in_child
