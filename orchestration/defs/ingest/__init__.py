"""Ingest: the raw assets, their checks, and the sensor that watches the inbox."""
