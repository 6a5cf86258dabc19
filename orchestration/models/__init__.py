"""The dbt models: what a build takes and rebuilds (plan.py) and running dbt (runner.py)."""
