"""Child processes that never outlive their parent: the CPU-bound steps' workers (ingest,
features) and the programs paperhouse runs (dbt, and the servers of ui, docs and bi); and work
shared between this process and its workers.

A ProcessPoolExecutor's workers wait for work on a pipe that each of them
also holds open for writing, so when the parent dies without closing the
pool (SIGKILL, the OOM killer) they wait forever, each with a warehouse
connection open. A thread in every worker watches for its parent's death
and ends the worker; whatever transaction it had open is rolled back.
A program started through `dying_with_parent` is killed by the kernel itself.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import TypeVar

PARENT_CHECK_SECONDS = 0.5
# Jobs handed to each worker ahead of time, so that none waits while this process is busy with
# a job of its own.
JOBS_AHEAD_PER_WORKER = 2

Job = TypeVar("Job")
Result = TypeVar("Result")


def worker_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the caller may hold connections, or run inside Dagster
    return ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )


def map_shared(
    jobs: Sequence[Job],
    here: Callable[[Job], Result],
    in_worker: Callable[[Job], Result],
    workers: int,
) -> Iterator[Result]:
    """Every job done, by `here` in this process or by `in_worker` in one of `workers - 1` worker
    processes; the results in the jobs' order.

    This process takes jobs too: its modules are loaded and its connection is
    open, so it starts at once, while a spawned worker needs a fifth of a
    second of CPU to import them. On two cores one worker process then does
    what two did, and no core waits for a worker to start.
    """
    if workers <= 1:
        yield from map(here, jobs)
        return
    pending = deque(enumerate(jobs))
    done: dict[int, Result] = {}
    next_index = 0
    with worker_pool(workers - 1) as pool:
        running: dict[Future[Result], int] = {}
        try:
            while pending or running:
                while pending and len(running) < (workers - 1) * JOBS_AHEAD_PER_WORKER:
                    index, job = pending.popleft()
                    running[pool.submit(in_worker, job)] = index
                if pending:
                    index, job = pending.popleft()
                    done[index] = here(job)
                else:
                    wait(running, return_when=FIRST_COMPLETED)
                for future in [future for future in running if future.done()]:
                    done[running.pop(future)] = future.result()
                while next_index in done:
                    yield done.pop(next_index)
                    next_index += 1
        except BaseException:
            # The jobs not started are dropped; the ones running finish or fail on their own.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _start_worker(parent_pid: int) -> None:
    _exit_with_parent(parent_pid)
    # A spawned worker ends as a script does, through the interpreter's teardown, and its
    # pool's shutdown waits for that: frozen objects are not collected again on the way out.
    atexit.register(gc.freeze)


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)  # the parent is gone: no one will read a result

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# Sets the death signal, then becomes the program: run as `python -I -S -c`, a
# start of about 20 ms that imports nothing of paperhouse's. prctl(2) is
# Linux's; elsewhere a child may outlive a parent killed outright.
_LAUNCHER = """
import ctypes, os, signal, sys
parent, default_sigint, *command = sys.argv[1:]
if default_sigint == "1":
    signal.signal(signal.SIGINT, signal.SIG_DFL)
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != int(parent):  # the parent died before prctl took effect
    os._exit(1)
os.execv(command[0], command)
"""


def dying_with_parent(command: Sequence[str], *, default_sigint: bool = False) -> list[str]:
    """`command` wrapped so that the kernel kills it (SIGKILL) when this process dies.

    A launcher rather than subprocess's preexec_fn: with preexec_fn CPython
    runs every os.register_at_fork hook around the fork, and a hook that a
    module registers from another thread mid-fork (filelock's, as dagster is
    imported on a thread while dbt starts) fails in the parent with a
    traceback. `default_sigint` starts the program with SIGINT at its default
    even where this process inherited it ignored (a job started with `&`).
    The kernel sends the signal when the thread that started the child ends,
    so start it from a thread that lives as long as the child is wanted.
    """
    return [
        sys.executable,
        "-I",
        "-S",
        "-c",
        _LAUNCHER,
        str(os.getpid()),
        "1" if default_sigint else "0",
        *command,
    ]


def process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this machine, another user's included."""
    try:
        os.kill(pid, 0)  # signal 0: the checks without the signal
    except (ProcessLookupError, OverflowError):  # gone, or never a process id
        return False
    except PermissionError:  # there, and another user's
        return True
    return True


class PortTaken(RuntimeError):
    """The address a server was to listen on is taken, or is none of this machine's."""


def check_port(host: str, port: int, server: str) -> None:
    """Refuse a taken port before `server` starts, in one line, rather than after its start in
    its own traceback or retries (a program that takes the port meanwhile still meets those)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind((host, port))
        except OSError as exc:
            hint = (
                f"is {server} already running? Choose another port with --port"
                if exc.errno == errno.EADDRINUSE
                else "choose another address with --host"
            )
            raise PortTaken(f"cannot listen on {host}:{port} ({exc.strerror}): {hint}") from None


def serve_until_stopped(
    command: list[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    grace_seconds: float = 10.0,
) -> int:
    """Run a server `command` in a process group of its own until it exits or this process is
    asked to stop (Ctrl-C, SIGTERM, a closed terminal); then end the whole group.

    A server's own shutdown can hang and leave its children running (dagster
    dev's webserver, daemon and code server), so the group gets SIGINT (the
    graceful path), `grace_seconds`, then SIGKILL. The child starts with
    SIGINT at its default even where this process inherited it ignored (a
    job started with `&`), or it would never take the graceful path.
    Returns the exit code: 0 when stopped on request.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    child = subprocess.Popen(
        dying_with_parent(command, default_sigint=True),
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    while child.poll() is None and not stop.is_set():
        stop.wait(0.5)
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)
    _end_group(child, time.monotonic() + grace_seconds)
    code = child.wait()
    return 0 if stop.is_set() else code


def _end_group(leader: subprocess.Popen, deadline: float) -> None:
    """Wait until no process of `leader`'s group is left, killing those still there at `deadline`."""
    while time.monotonic() < deadline:
        leader.poll()  # reaps the leader once it exits: a zombie would keep the group alive
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
