"""paperhouse's ingest beside the loaders a user would pick instead (issue 18): compare.py runs
them on one synthetic inbox; load.py is the peers' side, in a virtual environment of its own."""
