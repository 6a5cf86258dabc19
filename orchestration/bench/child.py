"""`python -m orchestration.bench.child URL FOLDER`: one ingest, timed from the inside.

The benchmark runs ingest in a child process of its own and the child
reports its timing and peak memory as JSON on stdout. Peak memory is VmHWM
from /proc, not getrusage: Linux carries the parent's peak across fork and
exec into ru_maxrss, which would report the benchmark's own memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from orchestration.ingest.batch import ingest_paths


def main(url: str, folder: str) -> None:
    # is_file() is False for broken links, pipes and folders (walked by rglob)
    size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
    started = time.perf_counter()
    report = ingest_paths(url, [Path(folder)], settle_seconds=0)
    seconds = time.perf_counter() - started
    json.dump({"seconds": seconds, "listings": report.listings_loaded, "files": len(report.results),
               "bytes": size, "max_rss_mb": peak_rss_mb()}, sys.stdout)


def peak_rss_mb() -> float:
    """This process's peak RSS, or its worker processes' if higher (they start from a fresh exec)."""
    own_kib = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own_kib = int(line.split()[1])
    workers_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own_kib, workers_kib) / 1024


if __name__ == "__main__":
    main(*sys.argv[1:3])
