"""Live tables: a published dataset whose provider pushes rows by API (issue 16, "Live datasets").

models (LiveTable, LiveBatch, LiveRow), schema (the row validator), services (enable, pause, resume, append,
compaction, snapshots), selectors (the query source, freshness), tasks (beat: compaction, snapshots, demo feed).
"""
