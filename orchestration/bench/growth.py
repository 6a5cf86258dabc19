"""`python -m orchestration.bench.growth REPORT.json... [--plot FILE.png]`: how each stage's cost
grows with the number of listings, from `paperhouse bench --format json` reports at several N.

Prints a Markdown table of each stage's cost at each N and its growth
exponent k (cost ~ N^k, the slope between the smallest and largest N on
log-log axes: 1 is linear, 0 is flat), and with --plot draws the same on
log-log axes. The plot needs matplotlib, which is not one of paperhouse's
dependencies: run it with the benchmark tools' interpreter (`make
bench-growth` does).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

# stage: (its measurement's names in the report, the current one first, unit)
STAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "ingest (whole process)": (("ingest, many small files: paperhouse ingest",), "s"),
    "features step": (("features step",), "s"),
    "full dbt build": (("full dbt build",), "s"),
    # one `paperhouse run` since session 19; the three stages summed in older reports
    "first load": (
        (
            "first load: paperhouse run on a fresh warehouse",
            "first load: ingest, features, full build",
        ),
        "s",
    ),
    "run after one new file": (("paperhouse run, one new file, {n} listings",), "s"),
    "search p95": (("search p95",), "ms"),
    "export to Parquet": (("export to Parquet",), "s"),
}


def stage_costs(report: dict) -> dict[str, float]:
    n = report["listings"]
    measured = {m["name"]: m["value"] for m in report["measurements"]}
    costs = {}
    for stage, (names, _) in STAGES.items():
        present = [name.format(n=f"{n:,}") for name in names]
        value = next((measured[name] for name in present if name in measured), None)
        if value is None:
            continue
        # ingest is reported as a rate: its cost is the time to load N
        costs[stage] = n / value if stage.startswith("ingest") else value
    return costs


def growth_table(reports: list[dict]) -> tuple[list[int], dict[str, list[float]], str]:
    reports = sorted(reports, key=lambda report: report["listings"])
    sizes = [report["listings"] for report in reports]
    costs = [stage_costs(report) for report in reports]
    series = {
        stage: [cost[stage] for cost in costs]
        for stage in STAGES
        if all(stage in cost for cost in costs)
    }
    header = " | ".join(f"{n:,}" for n in sizes)
    lines = [f"| stage | {header} | k |", "|---" * (len(sizes) + 2) + "|"]
    for stage, values in series.items():
        unit = STAGES[stage][1]
        k = math.log(values[-1] / values[0]) / math.log(sizes[-1] / sizes[0])
        cells = " | ".join(f"{value:,.1f} {unit}" for value in values)
        lines.append(f"| {stage} | {cells} | {k:.2f} |")
    return sizes, series, "\n".join(lines)


def plot(sizes: list[int], series: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    for stage, values in series.items():
        unit = STAGES[stage][1]
        axes.plot(sizes, values, marker="o", label=f"{stage} ({unit})")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("listings in the warehouse")
    axes.set_ylabel("cost (s, or ms for search)")
    axes.set_title("paperhouse bench: cost of each stage by size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    reports = [json.loads(path.read_text()) for path in args.reports]
    sizes, series, table = growth_table(reports)
    print(table)
    if args.plot:
        plot(sizes, series, args.plot)


if __name__ == "__main__":
    main()
