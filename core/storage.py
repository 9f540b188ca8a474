"""Reading stored files in a stream, whatever the storage (settings.STORAGES["default"]: a file system, or S3-compatible
object storage through django-storages; marketplace/storage_config.py).

django-storages' own S3 file (`storage.open(name)`) downloads the WHOLE object into a temporary file (in memory up to
its max_memory_size, then on disk under FILE_UPLOAD_TEMP_DIR) before its first read() returns: a 1 GB check or package
would wait for 1 GB, write it to /tmp, and read it back. `open_stream` reads the GET response's body as it arrives
instead, in the reader's own chunks; nothing of the file is kept but the chunk in hand.
"""

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def is_object_storage(storage) -> bool:
    """True for django-storages' S3 backends (and anything that looks like one: a `bucket`); default_storage is a
    lazy object, looked at through the storage it wraps."""
    target = storage
    if hasattr(storage, "_setup") and hasattr(storage, "_wrapped"):  # default_storage is a LazyObject
        if storage._wrapped.__class__.__name__ == "object":
            storage._setup()
        target = storage._wrapped
    if hasattr(target, "bucket") or hasattr(target, "bucket_name"):
        return True
    return any(cls.__module__.startswith("storages.backends.s3") for cls in type(target).__mro__)


def local_path(storage, name: str) -> Path | None:
    """The stored file's own path when the storage is a file system of this node, else None."""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def open_stream(storage, name: str) -> BinaryIO:
    """A binary file object reading the stored file `name` from its start (read(n), close, `with`); missing:
    FileNotFoundError, as storage.open raises."""
    if not is_object_storage(storage):
        return storage.open(name, "rb")
    from botocore.exceptions import ClientError  # loaded only where the storage is S3 (boto3 is heavy)
    from storages.utils import clean_name  # likewise: django-storages' own key cleaning, as its open() does

    key = storage._normalize_name(clean_name(name))
    try:
        return storage.bucket.Object(key).get()["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404") or (
            exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        ):
            raise FileNotFoundError(f"{name} is not in the storage") from exc
        raise


def copy_to_file(storage, name: str, target: Path, *, chunk: int = CHUNK) -> int:
    """Stream the stored file into the local file `target` (created or truncated), 1 MiB at a time; returns its size."""
    size = 0
    with open_stream(storage, name) as src, open(target, "wb") as dst:
        while data := src.read(chunk):
            dst.write(data)
            size += len(data)
    return size


def local_copy(storage, name: str, workdir: Path, filename: str) -> Path:
    """A local path of the stored file: its own on a file system, else a streamed copy `workdir/filename`."""
    path = local_path(storage, name)
    if path is not None:
        return path
    target = Path(workdir) / filename
    copy_to_file(storage, name, target)
    return target


def copy_atomically(storage, name: str, target: Path) -> None:
    """Stream the stored file into `target` through a temporary file of its folder renamed into place, so a reader
    on this node never opens a half-written copy (two nodes' copies are their own)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        copy_to_file(storage, name, Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
