"""Ingestion: inbox files in, raw.ingested_files and raw.paper_listings out.

The flow, one module a step: inbox (which files) -> decode (bytes to lines)
-> parse (lines to listings, with dates) -> load (one file, one transaction,
through the ledger) -> batch (many files, a result for each).
"""
