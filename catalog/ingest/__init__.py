"""The automatic checks of an uploaded data file, as plain functions (no Django models).

Each step reads big files in streams or through DuckDB, never whole into Python memory.
`pipeline.analyse_file` runs them in order; `catalog.tasks` calls it from a Celery worker
and stores the report on the DataFile.
"""
