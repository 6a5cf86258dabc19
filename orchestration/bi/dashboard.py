"""The Superset dashboard as code: datasets, charts and layout, written as the bundle (a zip of
YAML files) that `superset import-dashboards` takes.

Each dataset is one of the example queries in sql/queries/, so a chart shows
what `paperhouse sql --file sql/queries/NAME.sql` prints, and every chart reads
only `analytics` marts. Superset's own export of a dashboard is the other way
to keep one as code; its files name numeric ids and a few hundred settings a
person never chose, so the few settings that matter are kept here and the rest
is left to Superset's defaults.

Standard library only: the compose stack's Superset image runs this module
with its own Python (`python -m orchestration.bi.dashboard`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

QUERIES_DIR = Path(__file__).resolve().parents[2] / "sql" / "queries"
DASHBOARD_SLUG = "paperhouse"
DASHBOARD_TITLE = "paperhouse: papers and keywords"
DATABASE_NAME = "paperhouse warehouse"
BUNDLE_ROOT = "paperhouse_dashboard"
# Superset matches what it imports by uuid: fixed ones make a second import update, not duplicate.
NAMESPACE = uuid.UUID("6f1d3c1e-5a0b-4c49-9d0e-70a9e1c0b1e5")


@dataclass(frozen=True)
class Dataset:
    query: str  # a file of sql/queries/ without .sql
    columns: dict[str, str]  # name -> Superset's generic type
    temporal: tuple[str, ...] = ()

    @property
    def sql(self) -> str:
        return (QUERIES_DIR / f"{self.query}.sql").read_text().strip().rstrip(";")


@dataclass(frozen=True)
class Chart:
    title: str
    dataset: Dataset
    viz_type: str
    params: dict = field(default_factory=dict)
    width: int = 6  # of the dashboard's 12 columns
    height: int = 50


def sum_of(column: str, label: str) -> dict:
    """An ad-hoc metric, as Superset's chart editor writes one."""
    return {
        "expressionType": "SQL",
        "sqlExpression": f"SUM({column})",
        "label": label,
        "hasCustomLabel": True,
        "optionName": f"metric_{label.replace(' ', '_')}",
    }


# Headings that the rule in column_label would get wrong.
COLUMN_LABELS = {"display_keyword": "Keyword", "max_upvotes": "Most upvotes"}


def column_label(name: str) -> str:
    """A column's heading in charts: `paper_count` -> `Paper count`."""
    return COLUMN_LABELS.get(name) or name.replace("_", " ").capitalize()


def table(columns: list[str], order_by: str | None = None, page_length: int = 10) -> dict:
    """A table chart of the dataset's rows as they are (no grouping)."""
    return {
        "query_mode": "raw",
        "all_columns": columns,
        "order_by_cols": [json.dumps([order_by, False])] if order_by else [],
        "row_limit": 1000,
        "page_length": page_length,
        "include_search": False,
        "table_timestamp_format": "smart_date",
    }


KEYWORD_TRENDS = Dataset(
    "keyword_trends_by_month",
    {"month": "DATE", "keyword": "STRING", "paper_count": "BIGINT"},
    temporal=("month",),
)
EMERGING = Dataset(
    "emerging_keywords",
    {
        "keyword": "STRING",
        "display_keyword": "STRING",
        "paper_count": "BIGINT",
        "first_seen_at": "TIMESTAMP",
        "last_seen_at": "TIMESTAMP",
    },
    temporal=("first_seen_at", "last_seen_at"),
)
MOST_LISTED = Dataset(
    "most_listed_papers",
    {
        "paper_id": "BIGINT",
        "title": "STRING",
        "listing_count": "BIGINT",
        "file_count": "BIGINT",
        "max_upvotes": "BIGINT",
        "first_seen_at": "TIMESTAMP",
        "last_seen_at": "TIMESTAMP",
    },
    temporal=("first_seen_at", "last_seen_at"),
)
ORGANIZATIONS = Dataset(
    "papers_per_organization",
    {"organization": "STRING", "papers": "BIGINT", "upvotes": "BIGINT"},
)
SCRAPE_DAYS = Dataset(
    "new_papers_per_scrape_day",
    {"scrape_day": "DATE", "new_papers": "BIGINT"},
    temporal=("scrape_day",),
)
THIS_WEEK = Dataset(
    "papers_first_seen_this_week",
    {
        "paper_id": "BIGINT",
        "title": "STRING",
        "first_seen_at": "TIMESTAMP",
        "top_keywords": "STRING",
    },
    temporal=("first_seen_at",),
)

CHARTS = [
    Chart(
        "Keyword trends by month",
        KEYWORD_TRENDS,
        "echarts_timeseries_line",
        {
            "x_axis": "month",
            "time_grain_sqla": "P1M",
            "metrics": [sum_of("paper_count", "papers")],
            "groupby": ["keyword"],
            "row_limit": 10000,
            "show_legend": True,
            "legendType": "scroll",
            "rich_tooltip": True,
            "markerEnabled": True,
            "x_axis_time_format": "%Y-%m",
        },
        width=12,
    ),
    Chart(
        "Emerging keywords",
        EMERGING,
        "table",
        table(["display_keyword", "paper_count", "first_seen_at"], order_by="paper_count"),
    ),
    Chart(
        "Most-listed papers",
        MOST_LISTED,
        "table",
        table(["title", "listing_count", "file_count", "max_upvotes"], order_by="listing_count"),
    ),
    Chart(
        "Papers per organization",
        ORGANIZATIONS,
        "echarts_timeseries_bar",
        {
            "x_axis": "organization",
            "metrics": [sum_of("papers", "papers")],
            "groupby": [],
            "row_limit": 25,
            "x_axis_sort": "papers",
            "x_axis_sort_asc": False,
            "show_value": True,
            "show_legend": False,
        },
    ),
    Chart(
        "New papers per day of scrape",
        SCRAPE_DAYS,
        "echarts_timeseries_bar",
        {
            "x_axis": "scrape_day",
            "time_grain_sqla": "P1D",
            "metrics": [sum_of("new_papers", "new papers")],
            "groupby": [],
            "row_limit": 10000,
            "show_value": True,
            "show_legend": False,
            "x_axis_time_format": "%Y-%m-%d",
        },
    ),
    Chart(
        "Papers first seen this week",
        THIS_WEEK,
        "table",
        table(["title", "first_seen_at", "top_keywords"], order_by="first_seen_at"),
        width=12,
    ),
]


def _uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def _database(reader_uri: str, password: str) -> dict:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": reader_uri,
        "password": password,  # its own field: Superset keeps it encrypted, apart from the URI
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_csv_upload": False,
        "extra": {"allows_virtual_table_explore": True},
        "uuid": _uuid("database", DATABASE_NAME),
        "version": "1.0.0",
    }


def _dataset(dataset: Dataset) -> dict:
    return {
        "table_name": dataset.query,
        "main_dttm_col": dataset.temporal[0] if dataset.temporal else None,
        "description": (QUERIES_DIR / f"{dataset.query}.sql").read_text().split("\n\n")[0],
        "schema": "analytics",
        "sql": dataset.sql,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "extra": None,
        "uuid": _uuid("dataset", dataset.query),
        "metrics": [{"metric_name": "count", "verbose_name": "rows", "expression": "COUNT(*)"}],
        "columns": [
            {
                "column_name": name,
                "verbose_name": column_label(name),
                "type": kind,
                "is_dttm": name in dataset.temporal,
                "groupby": True,
                "filterable": True,
            }
            for name, kind in dataset.columns.items()
        ],
        "version": "1.0.0",
        "database_uuid": _uuid("database", DATABASE_NAME),
    }


def _chart(chart: Chart) -> dict:
    return {
        "slice_name": chart.title,
        "description": f"sql/queries/{chart.dataset.query}.sql",
        "viz_type": chart.viz_type,
        "params": {
            "viz_type": chart.viz_type,
            "adhoc_filters": [],
            "time_range": "No filter",
            "color_scheme": "supersetColors",
            **chart.params,
        },
        "query_context": None,
        "cache_timeout": None,
        "uuid": _uuid("chart", chart.title),
        "version": "1.0.0",
        "dataset_uuid": _uuid("dataset", chart.dataset.query),
    }


def _dashboard(charts: list[Chart]) -> dict:
    """The layout: charts in rows of 12 columns, in the order of `charts`."""
    position: dict[str, dict] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"id": "ROOT_ID", "type": "ROOT", "children": ["GRID_ID"]},
        "GRID_ID": {"id": "GRID_ID", "type": "GRID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": DASHBOARD_TITLE}},
    }
    rows: list[list[Chart]] = []
    for chart in charts:
        if rows and sum(c.width for c in rows[-1]) + chart.width <= 12:
            rows[-1].append(chart)
        else:
            rows.append([chart])
    for number, row in enumerate(rows):
        row_id = f"ROW-{number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "id": row_id,
            "type": "ROW",
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in row:
            chart_id = f"CHART-{_uuid('chart', chart.title)[:8]}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "id": chart_id,
                "type": "CHART",
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "chartId": charts.index(chart) + 1,  # the import puts the chart's own id here
                    "uuid": _uuid("chart", chart.title),
                    "sliceName": chart.title,
                    "width": chart.width,
                    "height": chart.height,
                },
            }
    return {
        "dashboard_title": DASHBOARD_TITLE,
        "description": None,
        "css": "",
        "slug": DASHBOARD_SLUG,
        "uuid": _uuid("dashboard", DASHBOARD_SLUG),
        "published": True,
        # Each start imports it again: Superset's UI keeps it read-only (save a copy to change it)
        "is_managed_externally": True,
        "position": position,
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "timed_refresh_immune_slices": [],
            "native_filter_configuration": [],
            "cross_filters_enabled": False,
        },
        "version": "1.0.0",
    }


def bundle_files(reader_uri: str, reader_password: str) -> dict[str, str]:
    """Path in the bundle -> text. `reader_uri` is the reader login's SQLAlchemy URL without its
    password (postgresql+psycopg2://...). JSON is YAML, so each file is written as JSON."""

    def text(document: dict) -> str:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    files = {
        "metadata.yaml": text(
            {"version": "1.0.0", "type": "Dashboard", "timestamp": "2026-12-03T00:00:00+00:00"}
        ),
        "databases/paperhouse.yaml": text(_database(reader_uri, reader_password)),
        "dashboards/paperhouse.yaml": text(_dashboard(CHARTS)),
    }
    for chart in CHARTS:
        dataset = chart.dataset
        files[f"datasets/paperhouse/{dataset.query}.yaml"] = text(_dataset(dataset))
        files[f"charts/{_uuid('chart', chart.title)}.yaml"] = text(_chart(chart))
    return {f"{BUNDLE_ROOT}/{path}": body for path, body in files.items()}


def write_bundle(path: Path, reader_uri: str, reader_password: str) -> None:
    """Write the bundle where only this user can read it: it holds the reader's password."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, body in bundle_files(reader_uri, reader_password).items():
            bundle.writestr(name, body)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description="Write paperhouse's Superset dashboard bundle.")
    parser.add_argument("--out", type=Path, required=True, help="the zip file to write")
    parser.add_argument(
        "--reader-uri", required=True, help="postgresql+psycopg2://READER@HOST:PORT/DB"
    )
    parser.add_argument(
        "--password-variable",
        default="PAPERHOUSE_READER_PASSWORD",
        help="the environment variable holding the reader's password (never a command argument)",
    )
    args = parser.parse_args()
    write_bundle(args.out, args.reader_uri, os.environ.get(args.password_variable, ""))


if __name__ == "__main__":
    main()
