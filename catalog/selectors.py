"""Read queries of the catalog, shared by the provider pages, the tus endpoint and (later) the API."""

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.exceptions import NotAllowed
from accounts.permissions import can
from catalog.models import DataFile, Dataset, DatasetVersion, Licence, Theme


def datasets_for_publisher(organization) -> QuerySet[Dataset]:
    """The organization's datasets with their newest version, for "My datasets"."""
    newest = DatasetVersion.objects.order_by("-number")
    return (
        Dataset.objects.filter(publisher=organization)
        .prefetch_related(Prefetch("versions", queryset=newest))
        .annotate(version_count=Count("versions"))
        .order_by("-updated_at")
    )


def _check_publisher(user, dataset: Dataset):
    if not can(user, "accounts.publish_for_org", dataset.publisher):
        raise NotAllowed


def dataset_get_for_publisher(*, user, pk: int) -> Dataset:
    dataset = get_object_or_404(Dataset.objects.select_related("publisher"), pk=pk)
    _check_publisher(user, dataset)
    return dataset


def version_get_for_publisher(*, user, pk: int) -> DatasetVersion:
    """A version of one of the user's organization's datasets; 403 for anyone else."""
    version = get_object_or_404(
        DatasetVersion.objects.select_related("dataset__publisher", "theme", "licence"), pk=pk
    )
    _check_publisher(user, version.dataset)
    return version


def datafile_get_for_publisher(*, user, pk: int) -> DataFile:
    datafile = get_object_or_404(DataFile.objects.select_related("version__dataset__publisher"), pk=pk)
    _check_publisher(user, datafile.version.dataset)
    return datafile


def version_files(version: DatasetVersion) -> QuerySet[DataFile]:
    return version.files.filter(parent__isnull=True).prefetch_related("members").order_by("created_at")


def licences_for(organization) -> QuerySet[Licence]:
    return Licence.objects.filter(Q(organization__isnull=True) | Q(organization=organization))


def themes() -> QuerySet[Theme]:
    return Theme.objects.all()
