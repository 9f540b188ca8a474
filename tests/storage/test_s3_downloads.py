"""Downloads on S3 (moto's standalone server, tests/s3.py): a HEAD of a download link is answered by the app (a
presigned URL is signed for GET alone; S3 answers a HEAD on it 403) and is never a download; presigned URLs name the
address browsers reach (S3_PUBLIC_ENDPOINT_URL), and the object is fetched through it."""

import hashlib
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings

from catalog.models import Dataset
from marketplace.storage_config import default_storage_config
from tests.s3 import s3_env, s3_server, s3_storage  # noqa: F401
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions.delivery import downloads, services
from transactions.models import DownloadEvent, Package
from transactions.tasks import build_package

pytestmark = pytest.mark.django_db


def build(buyer, official, admin_user) -> Package:
    dataset = publish_dataset(official, admin_user)
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package.refresh_from_db()
    return package


def public_name(endpoint: str) -> str:
    """The same server under another name (as http://minio:9000 and http://localhost:9000 are under compose)."""
    assert "//127.0.0.1:" in endpoint
    return endpoint.replace("//127.0.0.1:", "//localhost:")


def test_a_head_of_a_download_link_on_s3_answers_the_files_headers_and_counts_nothing(
    client,
    s3_storage,
    s3_server,
    buyer,
    official,
    admin_user,
    reference_data,  # noqa: F811
):
    package = build(buyer, official, admin_user)
    url = services.download_link(user=buyer, package=package)
    head = client.head(url)
    assert head.status_code == 200, head.status_code
    filename, fallback = downloads.download_names(package)
    assert head["Content-Length"] == str(package.size) and head["Content-Type"] == "application/zip"
    assert head["Content-Disposition"] == downloads.content_disposition(filename, fallback)
    assert head["Accept-Ranges"] == "bytes" and head["ETag"] == f'"{package.sha256}"'
    assert head.content == b""
    ranged = client.head(url, HTTP_RANGE="bytes=0-99")
    assert ranged.status_code == 206 and ranged["Content-Range"] == f"bytes 0-99/{package.size}"
    assert not DownloadEvent.objects.exists()
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == 0
    # A GET is still handed to S3: a redirect to the presigned URL, one download.
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(f"{s3_server}/{s3_storage}/")
    assert DownloadEvent.objects.get().via == "presigned"
    assert Dataset.objects.get(pk=package.version.dataset_id).download_count == 1


def test_presigned_urls_name_the_public_endpoint_and_the_object_is_fetched_through_it(
    client,
    s3_storage,
    s3_server,
    buyer,
    official,
    admin_user,
    reference_data,  # noqa: F811
):
    public = public_name(s3_server)
    environ = {**s3_env(s3_server, s3_storage), "S3_PUBLIC_ENDPOINT_URL": public}
    from django.conf import settings

    storages = dict(settings.STORAGES, default=default_storage_config(environ, private_root=Path("/nonexistent")))
    with override_settings(STORAGES=storages):
        name = default_storage.save("probe/대기질.csv", ContentFile("측정소,PM10\n정왕동,41\n".encode()))
        url = default_storage.url(name)
        assert url.startswith(f"{public}/{s3_storage}/")
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert answer.read().decode() == "측정소,PM10\n정왕동,41\n"

        # The download view's redirect names it too, and the package's bytes come through it.
        package = build(buyer, official, admin_user)
        response = client.get(services.download_link(user=buyer, package=package))
        assert response.status_code == 302
        location = response["Location"]
        assert urlsplit(location).netloc == urlsplit(public).netloc
        body = requests.get(location, timeout=30)
        assert body.status_code == 200 and hashlib.sha256(body.content).hexdigest() == package.sha256


def test_a_head_without_a_valid_link_on_s3_gets_no_headers_of_the_file(
    client,
    s3_storage,
    s3_server,
    buyer,
    official,
    admin_user,
    reference_data,  # noqa: F811
):
    """A HEAD is authorized exactly as a GET: an expired link, a link made out to someone else's organization and a
    revoked purchase answer 410/403 with the refusal page's headers (no size, name or ETag of the file), record
    nothing, and never reach the bucket for the object."""
    from django.urls import reverse
    from django.utils import timezone

    from transactions.models import Entitlement

    package = build(buyer, official, admin_user)
    organization_id = package.entitlement.organization_id
    expired = downloads.sign(package_id=package.pk, user_id=buyer.pk, organization_id=organization_id, ttl=-1)
    foreign = downloads.sign(package_id=package.pk, user_id=buyer.pk, organization_id=organization_id + 10_000)
    link = services.download_link(user=buyer, package=package)

    def refused(url, status):
        head = client.head(url)
        assert head.status_code == status, head.status_code
        assert "Content-Disposition" not in head and "ETag" not in head and "Accept-Ranges" not in head
        assert head["Content-Type"].startswith("text/html")

    refused(reverse("transactions:package_download", args=[expired]), 410)
    refused(reverse("transactions:package_download", args=[foreign]), 403)
    Entitlement.objects.filter(pk=package.entitlement_id).update(revoked_at=timezone.now())
    refused(link, 403)
    assert not DownloadEvent.objects.exists()
