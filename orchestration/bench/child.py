"""`python -m orchestration.bench.child ingest|export URL FOLDER`: one ingest of FOLDER, or one
Parquet export of the marts into FOLDER, timed from the inside.

The benchmark runs each in a child process of its own and the child
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

from orchestration.export import export_marts
from orchestration.ingest.batch import ingest_paths


def ingest(url: str, folder: str) -> dict:
    # is_file() is False for broken links, pipes and folders (walked by rglob)
    size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
    started = time.perf_counter()
    report = ingest_paths(url, [Path(folder)], settle_seconds=0)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "listings": report.listings_loaded,
        "files": len(report.results),
        "bytes": size,
        "max_rss_mb": peak_rss_mb(),
    }


def export(url: str, folder: str) -> dict:
    import pyarrow.parquet as pq

    started = time.perf_counter()
    written = export_marts(url, "parquet", Path(folder))
    seconds = time.perf_counter() - started
    rows = {path.stem: pq.ParquetFile(path).metadata.num_rows for path in written}
    return {
        "seconds": seconds,
        "rows": rows,
        "bytes": sum(path.stat().st_size for path in written),
        "max_rss_mb": peak_rss_mb(),
    }


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
    task, url, folder = sys.argv[1:4]
    json.dump({"ingest": ingest, "export": export}[task](url, folder), sys.stdout)
