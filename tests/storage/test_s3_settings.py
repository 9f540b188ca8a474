"""The S3 settings talk to a real S3 protocol server (moto's, tests/s3.py): a file saved through the default storage
is an object of the bucket, read back in a stream, and its URL is presigned and short-lived."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from marketplace.storage_config import PRESIGNED_URL_SECONDS, default_storage_config
from tests.s3 import s3_client, s3_server, s3_storage  # noqa: F401


def test_default_storage_is_the_bucket(s3_storage, s3_server):  # noqa: F811
    name = default_storage.save("probe/대기질.csv", ContentFile("측정소,PM10\n정왕동,41\n".encode()))
    objects = s3_client(s3_server).list_objects_v2(Bucket=s3_storage)["Contents"]
    assert [o["Key"] for o in objects] == [name]
    with default_storage.open(name, "rb") as fh:
        assert fh.read().decode() == "측정소,PM10\n정왕동,41\n"
    query = parse_qs(urlsplit(default_storage.url(name)).query)
    assert query["X-Amz-Expires"] == [str(PRESIGNED_URL_SECONDS)]
    # Never overwritten in place: a second save under the same name gets a name of its own.
    assert default_storage.save("probe/대기질.csv", ContentFile(b"x")) != name


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b", "S3_ADDRESSING_STYLE": "dns"}, "S3_ADDRESSING_STYLE"),
    ],
)
def test_bad_storage_settings_fail_at_start(environ, message, tmp_path):
    with pytest.raises(ImproperlyConfigured, match=message):
        default_storage_config(environ, private_root=tmp_path)


def test_transfers_keep_few_parts_in_memory(tmp_path):
    """Parts in flight and parts read ahead from a stream that cannot seek (an upload's joined pieces) are both
    bounded: boto3's default of 10 each would keep ~160 MB in the process that stores a file."""
    from marketplace.storage_config import MULTIPART_CONCURRENCY, MULTIPART_PART_BYTES

    config = default_storage_config({"STORAGE_BACKEND": "s3", "S3_BUCKET": "b"}, private_root=tmp_path)
    transfer = config["OPTIONS"]["transfer_config"]
    assert (transfer.max_request_concurrency, transfer.max_in_memory_upload_chunks) == (MULTIPART_CONCURRENCY,) * 2
    assert transfer.multipart_chunksize == MULTIPART_PART_BYTES


def test_the_public_endpoint_defaults_to_the_endpoint(tmp_path):
    """S3_PUBLIC_ENDPOINT_URL (the address in presigned URLs given to browsers): the endpoint's own when empty; not used
    without an endpoint (AWS S3 itself, whose address is public)."""
    base = {"STORAGE_BACKEND": "s3", "S3_BUCKET": "b"}

    def public(**environ):
        options = default_storage_config({**base, **environ}, private_root=tmp_path)["OPTIONS"]
        return options["endpoint_url"], options["public_endpoint_url"]

    assert public(S3_ENDPOINT_URL="http://minio:9000") == ("http://minio:9000", "http://minio:9000")
    assert public(S3_ENDPOINT_URL="http://minio:9000", S3_PUBLIC_ENDPOINT_URL="http://localhost:9000") == (
        "http://minio:9000",
        "http://localhost:9000",
    )
    assert public(S3_PUBLIC_ENDPOINT_URL="http://localhost:9000") == (None, None)
