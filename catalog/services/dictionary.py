"""The data dictionary of a file: the publisher writes it; a new version's files inherit it."""

from django.db import transaction

from catalog import dictionary
from catalog.models import DataFile, DatasetVersion
from catalog.services.versions import _lock_editable, _require_publisher
from core.audit import audit

S = DatasetVersion.State


@transaction.atomic
def datafile_dictionary_update(*, actor, datafile: DataFile, entries: dict, partial: bool = False) -> DataFile:
    """A publisher describes the columns of a checked table file of a version that is still editable. The page sends
    every column; with `partial` (the API's PATCH) only the columns sent change, merged under the row lock so two
    concurrent changes of different columns (or the inheritance when checks finish) both survive."""
    _require_publisher(actor, datafile.version.dataset.publisher)
    _lock_editable(datafile.version)
    datafile = DataFile.objects.select_for_update().get(pk=datafile.pk)
    if partial:
        entries = dict(datafile.dictionary or {}) | dict(entries)
    cleaned = dictionary.clean(entries, dictionary.columns_of(datafile))
    if cleaned == (datafile.dictionary or {}):
        return datafile
    datafile.dictionary = cleaned
    datafile.save(update_fields=["dictionary"])
    audit(
        actor=actor,
        action="datafile.dictionary_updated",
        obj=datafile,
        organization=datafile.version.dataset.publisher,
        data={"name": datafile.original_name, "columns": sorted(cleaned)},
    )
    return datafile


def datafile_dictionary_inherit(*, datafile: DataFile) -> bool:
    """Complete a file's dictionary from the previous published version of its dataset: for each column
    not yet described, the entry of the file with the same name, else of any file with that column.
    Runs when a file's checks finish (new, replaced or copied files alike) inside that transaction; never
    overwrites what the publisher wrote. True when something was copied."""
    columns = dictionary.columns_of(datafile)
    if not columns:
        return False
    version = datafile.version
    previous = (
        DatasetVersion.objects.filter(
            dataset_id=version.dataset_id, state__in=[S.PUBLISHED, S.SUPERSEDED, S.WITHDRAWN], number__lt=version.number
        )
        .order_by("-number")
        .first()
    )
    if previous is None:
        return False
    sources = list(
        DataFile.objects.filter(version=previous)
        .exclude(dictionary={})
        .select_related("parent")
        .order_by("created_at", "id")
        .only("original_name", "dictionary", "parent__original_name")
    )

    def key(f):  # a sheet or a ZIP member is known by its file too: "통합문서.xlsx/Sheet1"
        return (f.parent.original_name if f.parent_id else "", f.original_name)

    wanted = key(datafile)
    # The file this one continues (carried or replaced), then the same file (and sheet) name, then any file.
    sources.sort(key=lambda f: (f.pk != datafile.predecessor_id, key(f) != wanted))
    completed = dictionary.inherited(columns, datafile.dictionary, [f.dictionary for f in sources])
    if completed == (datafile.dictionary or {}):
        return False
    datafile.dictionary = completed
    datafile.save(update_fields=["dictionary"])
    return True
