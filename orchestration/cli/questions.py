"""Commands that ask the warehouse: sql, search, paper, keywords, export."""

from __future__ import annotations

import errno
import json
import math
import shutil
import sys
import tempfile
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from orchestration.cli.app import (
    FormatOption,
    app,
    err,
    friendly_errors,
    out,
    reason,
    say_waiting_for_build,
    settings,
    utf8_text,
)
from orchestration.ingest.inbox import as_text
from orchestration.output import (
    TABLE_ROWS,
    OutputFormat,
    as_record,
    as_table,
    first_rows,
    show,
    write_rows,
)
from orchestration.warehouse import connect, prepare

# A result of `paperhouse sql` is held here, on disk past this size, and printed when its
# transaction is over: a reader paging through it holds no lock that a build waits for (and
# every query after the build behind it), and a query that fails or writes shows no rows.
SPOOL_MEMORY_BYTES = 16 * 1024 * 1024
# The most rows --limit and --top ask for: more is an export (`paperhouse sql -f csv`, `export`).
MOST_ROWS = 100_000
# What `keywords` says where the marts hold no keyword at all (no file built yet, or none with any).
NO_KEYWORDS_YET = "no keywords yet: no paper in the marts has any"
# A day: the server's own limit is about 24 days, and a query that long is no one's question.
MOST_TIMEOUT_SECONDS = 86_400


def _a_number(value: float) -> float:
    if math.isnan(value):  # a float range lets NaN through: it compares false with both ends
        raise typer.BadParameter("nan is not a number of seconds")
    return value


def _statement_text(file: Path) -> str:
    """The text of `file`, or of standard input for -, decoded here as UTF-8: sys.stdin's own
    decoding keeps bytes that are not UTF-8 as lone surrogates, which no query can carry."""
    if str(file) != "-":
        return file.read_text(encoding="utf-8")
    if sys.stdin is None:  # Python's stdin when the process starts without descriptor 0
        raise OSError(errno.EBADF, "it is closed")
    return sys.stdin.buffer.read().decode("utf-8")


@app.command()
@friendly_errors
def sql(
    query: Annotated[
        str | None,
        typer.Argument(help="One SQL statement; it runs read-only.", callback=utf8_text),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Read the statement from this file (- for stdin)."),
    ] = None,
    format: FormatOption = OutputFormat.table,
    timeout: Annotated[
        float,
        typer.Option(
            help="Statement timeout in seconds: how long the server may take over the first "
            "rows, and over each batch of rows after them (0: no limit).",
            min=0,
            max=MOST_TIMEOUT_SECONDS,
            callback=_a_number,
        ),
    ] = 30.0,
) -> None:
    """Run one read-only SQL statement (writes and DDL are refused) and show its rows.

    csv and json give every row, in bounded memory (a result is held in a
    temporary file until its query is over); a table shows the first 1,000.
    """
    from orchestration.queries import read_only_query

    if file is not None:
        source = "standard input" if str(file) == "-" else as_text(str(file))
        try:
            query = _statement_text(file)
        except OSError as exc:
            err.print(Text(f"error: cannot read {source}: {exc.strerror or exc}"), highlight=False)
            raise typer.Exit(2) from None
        except UnicodeDecodeError:
            err.print(Text(f"error: {source} is not UTF-8 text"), highlight=False)
            raise typer.Exit(2) from None
    if not query or not query.strip():
        err.print("error: give a statement, or --file FILE")
        raise typer.Exit(2)
    url = prepare(settings())
    with tempfile.SpooledTemporaryFile(
        SPOOL_MEMORY_BYTES, mode="w+", encoding="utf-8", newline=""
    ) as spool:
        with connect(url) as conn, read_only_query(conn, query, timeout) as result:
            if format is OutputFormat.table:
                shown, rows_left_out = first_rows(result)
            else:
                try:
                    write_rows(result, format, spool)
                except OSError as exc:
                    err.print(
                        Text(f"error: no room for the result in {tempfile.gettempdir()}: {exc}"),
                        highlight=False,
                    )
                    raise typer.Exit(1) from None
        # the query's transaction is over: printing waits on no reader of stdout
        if format is OutputFormat.table:
            out.print(as_table(shown))
            if rows_left_out:
                err.print(
                    f"(the first {TABLE_ROWS:,} rows: --format csv or json writes them all, "
                    "or add a LIMIT)"
                )
        else:
            spool.seek(0)
            shutil.copyfileobj(spool, out.file)


@app.command()
@friendly_errors
def search(
    text: Annotated[
        str,
        typer.Argument(help='Words to find; "quoted phrases", or, -excluded.', callback=utf8_text),
    ],
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=MOST_ROWS, help="How many papers.")
    ] = 20,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Full-text search over titles and abstracts (a title match ranks higher).

    The table shows each paper by a short id that `paperhouse paper` takes;
    csv and json give the full paper_id.
    """
    if not text.strip():
        raise typer.BadParameter("give words to search for", param_hint="TEXT")
    from orchestration.queries import has_search_words, with_short_ids
    from orchestration.queries import search as search_papers

    with connect(prepare(settings())) as conn:
        found = search_papers(conn, text, limit)
        if format is OutputFormat.table:
            found = with_short_ids(conn, found)
        searched = bool(found.rows) or has_search_words(conn, text)
    show(found, format, out)
    # on stderr: csv and json stay what they are, an empty result
    if not searched:
        err.print(
            Text(
                f"no words to search for in {text!r}: "
                "English stop words and punctuation alone match nothing"
            )
        )
    elif not found.rows and format is OutputFormat.table:
        err.print(Text(f"no paper matches {text!r}"))


@app.command()
@friendly_errors
def paper(
    paper_id: Annotated[
        str,
        typer.Argument(
            help="A paper_id (from search or dim_papers), or the start of one: the short id "
            "search shows, or any unique prefix of 4 or more hex digits."
        ),
    ],
    format: FormatOption = OutputFormat.table,
) -> None:
    """One paper: its facts, keywords, title variants and every file and position it was seen in."""
    from orchestration.output import records
    from orchestration.queries import paper as find_paper

    with connect(prepare(settings())) as conn:
        report = find_paper(conn, paper_id)
    if report is None:
        # an id is a UUID, 36 characters: what is longer is quoted only as far as a line holds it
        quoted = repr(paper_id) if len(paper_id) <= 64 else f"{paper_id[:64]!r}..."
        err.print(
            Text(
                f"error: no paper with id {quoted} "
                "(a paper_id, or 4 or more of its first hex digits)",
                style="bold red",
            )
        )
        raise typer.Exit(1)
    sections = {
        "paper": report.paper,
        "keywords": report.keywords,
        "title_variants": report.variants,
        "seen_in": report.sightings,
    }
    if format is OutputFormat.json:
        data = {name: list(records(rows.columns, rows.rows)) for name, rows in sections.items()}
        data["paper"] = data["paper"][0]
        print(json.dumps(data, indent=2), file=out.file)
    elif format is OutputFormat.csv:
        show(report.sightings, format, out)
    else:
        out.print(as_record(report.paper, title="paper"))
        for name, rows in list(sections.items())[1:]:
            out.print(as_table(rows, title=name.replace("_", " ")))


keywords_app = typer.Typer(
    help="Top keywords, and those rising fastest.", invoke_without_command=True
)
app.add_typer(keywords_app, name="keywords")


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a month like 2025-10") from None


@keywords_app.callback()
@friendly_errors
def keywords(
    ctx: typer.Context,
    top: Annotated[
        int, typer.Option("--top", "-n", min=1, max=MOST_ROWS, help="How many keywords.")
    ] = 20,
    month: Annotated[str | None, typer.Option(help="Only papers of this month, YYYY-MM.")] = None,
    format: FormatOption = OutputFormat.table,
) -> None:
    """The keywords most papers carry, overall or in one month."""
    if ctx.invoked_subcommand is not None:
        return
    from orchestration.queries import keyword_months, top_keywords

    chosen = _month(month)
    with connect(prepare(settings())) as conn:
        found = top_keywords(conn, top, chosen)
        # csv and json stay what they are, an empty result: only a table says why it is empty
        explained = not found.rows and format is OutputFormat.table
        months = keyword_months(conn) if explained else None
    title = None
    if chosen is not None:
        title = (
            f"Keywords of {chosen:%Y-%m}: papers published that month, or scraped then "
            "where their page gives no publication date"
        )
    show(found, format, out, title=title)
    if not explained:
        return
    if months is None:
        err.print(NO_KEYWORDS_YET)
    elif chosen is not None:
        first, last = months
        err.print(
            f"no keywords in {chosen:%Y-%m}: the papers' months run from {first:%Y-%m} to {last:%Y-%m}"
        )


@keywords_app.command("trending")
@friendly_errors
def keywords_trending(
    top: Annotated[
        int, typer.Option("--top", "-n", min=1, max=MOST_ROWS, help="How many keywords.")
    ] = 20,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Keywords rising fastest from the month before to the latest month."""
    from orchestration.queries import trending_keywords

    with connect(prepare(settings())) as conn:
        rising = trending_keywords(conn, top)
    title = None
    if rising.rows:
        latest = rising.rows[0][rising.columns.index("month")]
        before = (latest - timedelta(days=1)).replace(day=1)
        title = (
            f"Keywords rising from {before:%Y-%m} to {latest:%Y-%m}, papers counted in the month "
            f"of their publication date, or of the day their page was scraped where it gives none"
        )
    show(rising, format, out, title=title)
    if not rising.rows and format is OutputFormat.table:
        err.print(NO_KEYWORDS_YET)


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command()
@friendly_errors
def export(
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv or parquet.")
    ] = ExportFormat.csv,
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write to.")] = Path(
        "export"
    ),
) -> None:
    """Write every mart to a file (one per table) for pandas, spreadsheets and notebooks."""
    from orchestration.export import export_marts

    try:
        written = export_marts(
            prepare(settings()), format.value, out_dir, on_wait=say_waiting_for_build
        )
    except OSError as exc:  # the folder cannot be made, or the disk is full
        where = as_text(str(exc.filename or out_dir))
        err.print(Text(f"error: cannot write {where}: {reason(exc)}"), highlight=False)
        raise typer.Exit(1) from None
    for path in written:
        out.print(Text(f"wrote {as_text(str(path))} ({path.stat().st_size:,} bytes)"))
