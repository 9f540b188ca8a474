"""Every write of the catalog: one function per use case, by sub-domain.

Each use case is atomic, checks the actor's permission first, moves states only through
`versions.transition`, records decisions (Review + AuditEvent) in the same transaction and queues
Celery work or e-mail with `transaction.on_commit`. Views, the tus endpoint, tasks and the demo
loader call these (as `catalog.services.<name>`); nothing else writes catalog rows.
"""

from catalog.services.checks import (
    datafile_check_failed,
    datafile_check_finished,
    datafile_check_progress,
    datafile_check_release,
    datafile_check_started,
    datafile_remove,
)
from catalog.services.derived import (
    derived_file_built,
    derived_file_claim,
    derived_file_discard,
    derived_file_ensure,
    derived_file_release,
    derived_file_renew,
    version_derived_files_prepare,
)
from catalog.services.dictionary import datafile_dictionary_inherit, datafile_dictionary_update
from catalog.services.entries import catalog_entry_refresh, catalog_reindex, dataset_count_download
from catalog.services.offers import offer_create, offer_deactivate
from catalog.services.review import (
    dataset_reinstate,
    dataset_suspend,
    licence_kind_problem,
    review_record,
    submission_problems,
    version_approve,
    version_reject,
    version_reopen,
    version_submit,
    version_withdraw,
)
from catalog.services.uploads import (
    SUFFIX_FORMATS,
    OffsetMismatch,
    format_for,
    upload_abort,
    upload_append,
    upload_complete,
    upload_create,
    uploads_complete_stranded,
    uploads_expire,
)
from catalog.services.versions import (
    METADATA_FIELDS,
    _refresh_version_state,
    bbox_problem,
    clean_tags,
    dataset_create,
    temporal_problem,
    version_start_new,
    version_update_metadata,
)

__all__ = [
    "derived_file_built",
    "derived_file_claim",
    "derived_file_discard",
    "derived_file_ensure",
    "derived_file_release",
    "derived_file_renew",
    "version_derived_files_prepare",
    "catalog_entry_refresh",
    "catalog_reindex",
    "dataset_count_download",
    "METADATA_FIELDS",
    "OffsetMismatch",
    "SUFFIX_FORMATS",
    "_refresh_version_state",
    "bbox_problem",
    "clean_tags",
    "datafile_check_failed",
    "datafile_check_finished",
    "datafile_check_progress",
    "datafile_check_release",
    "datafile_check_started",
    "datafile_dictionary_inherit",
    "datafile_dictionary_update",
    "datafile_remove",
    "dataset_create",
    "dataset_reinstate",
    "dataset_suspend",
    "licence_kind_problem",
    "format_for",
    "offer_create",
    "offer_deactivate",
    "review_record",
    "submission_problems",
    "temporal_problem",
    "upload_abort",
    "upload_append",
    "upload_complete",
    "upload_create",
    "uploads_complete_stranded",
    "uploads_expire",
    "version_approve",
    "version_reject",
    "version_reopen",
    "version_start_new",
    "version_submit",
    "version_update_metadata",
    "version_withdraw",
]
