"""Pipeline: the jobs that run the whole pipeline, the backup job, and their schedules."""
