"""`python -m orchestration.bench.child URL FOLDER`: one ingest, timed from the inside.

The benchmark runs ingest in a child so that wait4 reports the child's own
peak RSS; the child prints its timing as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from orchestration.ingest.batch import ingest_paths


def main(url: str, folder: str) -> None:
    files = sorted(Path(folder).iterdir())
    size = sum(path.stat().st_size for path in files)
    started = time.perf_counter()
    report = ingest_paths(url, [Path(folder)], settle_seconds=0)
    seconds = time.perf_counter() - started
    json.dump({"seconds": seconds, "listings": report.listings_loaded, "files": len(report.results),
               "bytes": size}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:3])
