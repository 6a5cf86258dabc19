"""`python -m orchestration.bench.peers.compare --peers-python PYTHON [--listings N] [--out FILE]`:
paperhouse ingest beside its peers on one synthetic inbox, on one server, in one run.

Every loader runs as a whole process timed from start to exit
(orchestration.bench.child) into a fresh database, after a checkpoint and a
disk sync, in INGEST_ROUNDS alternating rounds; reported are the median
listings/s and the median of each round's ratio to the bare COPY of that
round. The peers (load.py, in the interpreter PYTHON of their own virtual
environment: `make bench-peers` makes it) parse with paperhouse's parser,
so only the loading differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import psycopg

from orchestration.bench.harness import (
    INGEST_ROUNDS,
    _count_listings,
    _drop_database,
    _fresh_database,
    bare_copy,
    bench_server,
    describe_machine,
    dump_listings,
    in_child,
    paperhouse_in_child,
    settle,
    write_corpus,
)
from orchestration.warehouse import as_url, connect

PEERS = ("dlt-insert", "dlt-csv", "pandas")
REPOSITORY = Path(__file__).resolve().parents[3]
PEER_TABLES = {"dlt-insert": "peers.paper_listings", "dlt-csv": "peers.paper_listings"}


def compare(listings: int, peers_python: str, work: Path) -> dict:
    inbox = work / "inbox"
    write_corpus(inbox, listings, seed=1)
    rows = work / "listings.csv"
    seconds: dict[str, list[float]] = {
        name: [] for name in ("paperhouse ingest", "psql \\copy", *PEERS)
    }
    with bench_server(work / "server") as server_url:
        machine = describe_machine(server_url)
        for _ in range(INGEST_ROUNDS):
            url = _fresh_database(server_url, "peers_round")
            settle(server_url)
            seconds["paperhouse ingest"].append(
                paperhouse_in_child(url, "ingest", str(inbox))["seconds"]
            )
            loaded = _count_listings(url)
            if not rows.exists():
                dump_listings(url, rows)
            seconds["psql \\copy"].append(bare_copy(url, rows)["seconds"])
            for peer in PEERS:
                url = _fresh_database(server_url, "peers_round")
                settle(server_url)
                env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
                command = [
                    peers_python,
                    str(Path(__file__).with_name("load.py")),
                    peer,
                    peer_url(url),
                    str(inbox),
                ]
                seconds[peer].append(in_child(command, env)["seconds"])
                table = PEER_TABLES.get(peer, "public.paper_listings")
                with connect(url) as conn:
                    count = conn.execute(f"select count(*) from {table}").fetchone()[0]
                if count != loaded:
                    raise RuntimeError(f"{peer} loaded {count:,} listings, not {loaded:,}")
            _drop_database(server_url, "peers_round")
    copy = seconds["psql \\copy"]
    return {
        "listings": loaded,
        "machine": machine,
        "loaders": {
            name: {
                "listings_per_second": statistics.median(loaded / s for s in measured),
                "ratio_to_bare_copy": statistics.median(
                    c / s for c, s in zip(copy, measured, strict=True)
                ),
                "seconds": measured,
            }
            for name, measured in seconds.items()
        },
    }


def peer_url(conninfo: str) -> str:
    """The database as the URL dlt and SQLAlchemy read, with a password: dlt refuses credentials
    without one, and a server that trusts local connections (the embedded one) ignores it."""
    password = psycopg.conninfo.conninfo_to_dict(conninfo).get("password") or "unused"
    return as_url(psycopg.conninfo.make_conninfo(conninfo, password=password))


def as_markdown(report: dict) -> str:
    lines = [
        f"| loader ({report['listings']:,} listings) | listings/s | ratio to bare COPY |",
        "|---|---|---|",
    ]
    ranked = sorted(report["loaders"].items(), key=lambda item: -item[1]["listings_per_second"])
    for name, measured in ranked:
        lines.append(
            f"| {name} | {measured['listings_per_second']:,.0f} | {measured['ratio_to_bare_copy']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-python", required=True)
    parser.add_argument("--listings", type=int, default=200_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paperhouse-peers-"))
    try:
        report = compare(args.listings, args.peers_python, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(as_markdown(report))


if __name__ == "__main__":
    sys.exit(main())
