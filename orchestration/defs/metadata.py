"""What a materialization of the raw and features assets says: one function an asset, used by the
assets and by the CLI's reports to Dagster (orchestration/history.py). Pure, and free of
dagster-dbt, whose import the CLI does not pay for."""

import dagster as dg

from orchestration.defs.shared import markdown_cell
from orchestration.features import ExtractionSummary
from orchestration.ingest.batch import IngestReport
from orchestration.ingest.ledger import Outcome


def ingest_metadata(report: IngestReport) -> dict[str, dg.MetadataValue]:
    """What one ingest run did, as materialization metadata (pure: tested on its own)."""
    counts = report.by_outcome
    problems = [
        result for result in report.results if result.outcome in (Outcome.REJECTED, Outcome.RETRY)
    ]
    table = "\n".join(
        ["| file | outcome | reason |", "|---|---|---|"]
        + [
            f"| {markdown_cell(result.name)} | {result.outcome.value} | {markdown_cell(result.message)} |"
            for result in problems
        ]
    )
    return {
        "listings_loaded": dg.MetadataValue.int(report.listings_loaded),
        "files_seen": dg.MetadataValue.int(len(report.results)),
        **{f"files_{outcome.value}": dg.MetadataValue.int(counts[outcome]) for outcome in Outcome},
        "files_not_ready": dg.MetadataValue.int(len(report.not_ready)),
        "problem_files": dg.MetadataValue.md(table if problems else "none"),
    }


def features_metadata(summary: ExtractionSummary) -> dict[str, dg.MetadataValue]:
    """What one features step did, as materialization metadata."""
    return {
        "listings_extracted": dg.MetadataValue.int(summary.listings),
        "files_extracted": dg.MetadataValue.int(summary.files),
        "files_reextracted": dg.MetadataValue.int(summary.reextracted_files),
        "listings_copied_from_same_text": dg.MetadataValue.int(summary.copied_listings),
        "listings_without_keyphrases_by_error": dg.MetadataValue.int(summary.failed_listings),
        "extractor_version": dg.MetadataValue.text(summary.version),
    }
