"""Readers of harvest sources: each pages through one kind of catalog and yields catalog.harvest.records.Page
objects (normalized SourceRecords, or RecordProblems for records that cannot be read), and raises SourceError when
the source itself cannot be read. No database access here: the importer writes."""

from catalog.harvest.readers.ckan import package_gone, read_ckan
from catalog.harvest.readers.dcat import read_dcat


def read_source(source, *, cursor: dict | None = None):
    """The pages of `source` (a HarvestSource) from `cursor` (where a previous attempt of the run stopped)."""
    if source.kind == "ckan":
        return read_ckan(source.url, fq=source.filter_query, cursor=cursor)
    return read_dcat(source.url, cursor=cursor)


def record_gone(source, identifier: str) -> bool:
    """Whether a record a complete read did not see is confirmed gone from `source` before its listing is withdrawn
    (SourceError: the source cannot say). CKAN is asked for the package (offset paging can hide a living record
    from a read whose total did not change: one deleted and one added meanwhile); a DCAT catalog has no such
    look-up, and its complete read stands."""
    if source.kind == "ckan":
        return package_gone(source.url, identifier, fq=source.filter_query)
    return True


__all__ = ["read_ckan", "read_dcat", "read_source", "record_gone"]
