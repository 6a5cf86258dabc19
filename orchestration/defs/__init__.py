"""The Dagster code: one module a concern, assembled by orchestration/definitions.py.

resources (the warehouse and dbt, from the environment) -> ingest (the raw
asset) -> dbt (the models as assets, tests as checks) -> checks (operator
checks) -> jobs, schedules and sensors (automation).
"""
