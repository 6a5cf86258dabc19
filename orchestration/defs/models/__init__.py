"""Models: the dbt project's models as assets and its tests as asset checks."""
