"""Who may read a live table: the metering helper's data_access (transactions.dataapi.access), `.live`."""

from django.contrib.auth.models import AnonymousUser

from transactions.dataapi.access import data_access


def live_access(*, user, organization, dataset) -> bool:
    access = data_access(user=user or AnonymousUser(), organization=organization, dataset=dataset, version=None)
    return bool(access.live)


def live_access_full(*, user, organization, dataset):
    return data_access(user=user or AnonymousUser(), organization=organization, dataset=dataset, version=None)
