"""Readers of harvest sources: each pages through one kind of catalog and yields catalog.harvest.records.Page
objects (normalized SourceRecords, or RecordProblems for records that cannot be read), and raises SourceError when
the source itself cannot be read. No database access here: the importer writes."""

from catalog.harvest.readers.ckan import read_ckan
from catalog.harvest.readers.dcat import read_dcat


def read_source(source, *, cursor: dict | None = None):
    """The pages of `source` (a HarvestSource) from `cursor` (where a previous attempt of the run stopped)."""
    if source.kind == "ckan":
        return read_ckan(source.url, fq=source.filter_query, cursor=cursor)
    return read_dcat(source.url, cursor=cursor)


__all__ = ["read_ckan", "read_dcat", "read_source"]
