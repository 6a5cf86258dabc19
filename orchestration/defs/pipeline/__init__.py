"""Pipeline: the jobs that run the whole pipeline, and their schedules."""
