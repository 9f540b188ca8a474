"""settings.STORAGES["default"] from the environment: private file storage on a disk, or S3-compatible object storage.

STORAGE_BACKEND=filesystem (the default): PRIVATE_STORAGE_ROOT (var/private). With several nodes it must be a
volume every web and worker node mounts (docs/operations.md).
STORAGE_BACKEND=s3: django-storages' S3Storage (core.object_storage) on S3_BUCKET at S3_ENDPOINT_URL (empty: AWS
itself; MinIO, moto, NCP Object Storage and other S3-compatible servers by URL), S3_PUBLIC_ENDPOINT_URL (the same
server as browsers reach it, named in the presigned URLs they are sent to; empty: S3_ENDPOINT_URL), S3_REGION,
S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (empty: boto3's own chain: an IAM role, AWS_* variables), S3_ADDRESSING_STYLE
(path, which every S3-compatible server understands, or virtual), S3_PREFIX (a folder of the bucket). Objects are private: no ACL, every URL presigned and
short-lived, never overwritten in place.

A function of a mapping (not of os.environ itself) so the tests build the exact settings for a bucket of their own.
"""

from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# A presigned URL is used at once (the download view redirects to it), so it lives minutes, not as long as our links.
PRESIGNED_URL_SECONDS = 300
# Multipart uploads (packages, uploaded files): 8 MiB parts, 4 at a time.
MULTIPART_PART_BYTES = 8 * 1024**2
MULTIPART_CONCURRENCY = 4


def default_storage_config(environ: Mapping[str, str], *, private_root: Path) -> dict:
    backend = environ.get("STORAGE_BACKEND", "filesystem").strip().lower()
    if backend == "filesystem":
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(Path(environ.get("PRIVATE_STORAGE_ROOT") or private_root)), "base_url": None},
        }
    if backend != "s3":
        raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'filesystem' or 's3', not {backend!r}")
    bucket = environ.get("S3_BUCKET", "").strip()
    if not bucket:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs S3_BUCKET")
    style = environ.get("S3_ADDRESSING_STYLE", "path").strip() or "path"
    if style not in ("path", "virtual"):
        raise ImproperlyConfigured(f"S3_ADDRESSING_STYLE must be 'path' or 'virtual', not {style!r}")
    endpoint = environ.get("S3_ENDPOINT_URL", "").strip() or None
    # The address in the presigned URLs browsers are sent to (downloads): empty, the endpoint's own. Not used with no
    # endpoint (AWS S3 itself, whose address is public).
    public_endpoint = (environ.get("S3_PUBLIC_ENDPOINT_URL", "").strip() or endpoint) if endpoint else None
    # boto3 is loaded only when the storage is S3 (a file-system deployment never needs it).
    from boto3.s3.transfer import TransferConfig

    transfer = TransferConfig(
        multipart_threshold=MULTIPART_PART_BYTES,
        multipart_chunksize=MULTIPART_PART_BYTES,
        max_concurrency=MULTIPART_CONCURRENCY,
    )
    transfer.max_in_memory_upload_chunks = MULTIPART_CONCURRENCY  # s3transfer's knob; boto3's __init__ does not take it
    return {
        "BACKEND": "core.object_storage.S3Storage",  # django-storages' S3Storage, presigning at the public endpoint
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "public_endpoint_url": public_endpoint,
            "region_name": environ.get("S3_REGION", "").strip() or None,
            "access_key": environ.get("S3_ACCESS_KEY_ID", "") or None,
            "secret_key": environ.get("S3_SECRET_ACCESS_KEY", "") or None,
            "addressing_style": style,
            "signature_version": "s3v4",
            "location": environ.get("S3_PREFIX", "").strip("/"),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": PRESIGNED_URL_SECONDS,
            "file_overwrite": False,
            # An upload larger than this spools to a temporary file on disk, never into memory.
            "max_memory_size": 8 * 1024**2,
            # A multipart upload holds each part it sends in memory: boto3's defaults (10 parts in flight, and 10 more
            # read ahead from a stream that cannot seek, such as an upload's joined pieces) are ~160 MB more in the
            # process that stores a file (bench/storage.py); 4 of each keep it ~64 MB, and loopback or a data-centre
            # link is as fast with them.
            "transfer_config": transfer,
        },
    }
