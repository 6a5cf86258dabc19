"""The Dagster code, found by orchestration/definitions.py: a folder a domain, in the data's order.

ingest (the raw assets, their checks, the inbox sensor) -> features (the
keyphrases and search documents) -> models (the dbt models as assets, their
tests as checks) -> pipeline (the jobs and their schedules). resources.py
binds the warehouse and dbt; shared.py holds what the domains share. Each
asset calls the same step of orchestration/pipeline.py that `paperhouse
run` calls. A new asset, check, sensor or schedule is a new module or a
new object in one: nothing else lists it.
"""
