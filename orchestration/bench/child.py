"""`python -m orchestration.bench.child COMMAND [ARG...]`: run one command as a user would, and
report on stdout, as JSON, its wall time from start to exit, and the CPU time and peak memory of
it and its worker processes.

The benchmark times whole processes (`paperhouse ingest`, `psql \\copy`,
`paperhouse export`) through this small launcher rather than from its own
process: Linux carries a parent's peak RSS across fork and exec into
ru_maxrss, so a command started by the benchmark itself (a few hundred MB)
would report the benchmark's peak. Started from here, it carries this
launcher's, a few MB.
"""

from __future__ import annotations

import ctypes
import json
import resource
import signal
import subprocess
import sys
import time


def run(command: list[str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        preexec_fn=_dies_with_this_process,
    )
    seconds = time.perf_counter() - started
    # The command and its worker processes (each waited for by the command): their CPU time in
    # all, and the command's own peak, or a worker's if higher.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "returncode": done.returncode,
        "stderr": done.stderr.decode("utf-8", "replace")[-2000:],
    }


def _dies_with_this_process() -> None:
    """In the command's process before it starts: the kernel kills it when this launcher dies,
    as the benchmark kills the launcher when it is stopped. Not workers.dying_with_parent: its
    extra interpreter start would be timed with the command. preexec_fn is safe here, in a
    process with one thread."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


if __name__ == "__main__":
    json.dump(run(sys.argv[1:]), sys.stdout)
