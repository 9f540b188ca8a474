"""A real S3 protocol server for the tests: moto's standalone server (PyPI `moto[server]`), started once per test
session on a free loopback port over HTTP, spoken to by boto3 and django-storages exactly as AWS S3 or MinIO would be.

Fixtures (import them in a conftest or a test module: `from tests.s3 import s3_server, s3_storage  # noqa: F401`):
- `s3_server`: the endpoint URL of the running server (session).
- `s3_storage`: a fresh bucket, and the default storage switched to it for the test (STORAGE_BACKEND=s3 settings,
  as marketplace/settings.py builds them from the environment); yields the bucket's name.
`s3_env(endpoint, bucket)` is the same configuration as environment variables, for subprocesses (gunicorn, celery).
"""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.test import override_settings

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "ap-northeast-2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start listening")


@pytest.fixture(scope="session")
def s3_server():
    port = _free_port()
    binary = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def s3_client(endpoint: str):
    import boto3  # only the tests that use S3 need boto3 loaded

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


def make_bucket(endpoint: str) -> str:
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return bucket


def s3_env(endpoint: str, bucket: str) -> dict[str, str]:
    """The environment that makes marketplace/settings.py use this bucket (for subprocesses)."""
    return {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": REGION,
        "S3_ACCESS_KEY_ID": ACCESS_KEY,
        "S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }


def s3_storages(endpoint: str, bucket: str) -> dict:
    """settings.STORAGES with the default storage built, as marketplace/settings.py builds it, from s3_env()."""
    from django.conf import settings

    from marketplace.storage_config import default_storage_config

    return dict(
        settings.STORAGES, default=default_storage_config(s3_env(endpoint, bucket), private_root=Path("/nonexistent"))
    )


@pytest.fixture
def s3_storage(s3_server):
    bucket = make_bucket(s3_server)
    with override_settings(STORAGE_BACKEND="s3", STORAGES=s3_storages(s3_server, bucket)):
        yield bucket
