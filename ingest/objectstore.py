"""Object storage: one interface, a local folder and S3.

Keys are ``/``-separated relative paths (``25544/2026/11/27/c-1/frames.h5``).
`LocalObjectStore` is the embedded default; `S3ObjectStore` talks to S3 or any
S3-compatible endpoint through boto3 and switches to multipart uploads for
large objects. Both make an object visible only once it is complete (a local
object is written to a temporary name and renamed; S3 publishes an object when
its upload completes).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from ingest.config import S3Config
from ingest.errors import CorruptObjectError, IngestError, ObjectNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def sha256_file(path: Path, *, chunk_bytes: int = 4 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (absolute, ``..``, empty parts)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise IngestError(
            f"object key {key!r} is not a clean relative path like 'a/b/c.h5' "
            "(no leading '/', no empty, '.' or '..' parts)"
        )
    return key


_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
#: Reserved by S3 for its own names (access points, directory buckets, ...).
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> str:
    """``name`` if it is a valid S3 general purpose bucket name (AWS's naming
    rules: 3-63 characters of lowercase letters, digits, ``.`` and ``-``,
    starting and ending with a letter or digit, no ``..``, not an IPv4
    address, none of S3's reserved prefixes and suffixes); else
    ``IngestError`` naming the value and the rule it breaks. The local store
    uses the same names for its per-bucket folders, so they are safe there."""
    where = f"bucket name {name!r}"
    if not 3 <= len(name) <= 63:
        raise IngestError(f"{where} is {len(name)} characters long; S3 allows 3 to 63")
    if not _BUCKET_CHARS.fullmatch(name):
        raise IngestError(
            f"{where} may hold only lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit"
        )
    if ".." in name:
        raise IngestError(f"{where} holds two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise IngestError(f"{where} is formatted as an IP address, which S3 refuses")
    for affix in _BUCKET_RESERVED_PREFIXES:
        if name.startswith(affix):
            raise IngestError(f"{where} starts with {affix!r}, a prefix S3 reserves")
    for affix in _BUCKET_RESERVED_SUFFIXES:
        if name.endswith(affix):
            raise IngestError(f"{where} ends with {affix!r}, a suffix S3 reserves")
    return name


class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path) -> int:
        """Upload a file; returns its size in bytes."""
        ...

    def put_bytes(self, key: str, data: bytes) -> int: ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, dest: Path) -> int: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def list_keys(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def uri(self, key: str) -> str: ...


def get_verified(store: ObjectStore, key: str, sha256: str) -> bytes:
    """The object's bytes, after checking them against the expected SHA-256."""
    data = store.get_bytes(key)
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise CorruptObjectError(
            f"object {store.uri(key)} is corrupt: SHA-256 {got} does not match the "
            f"manifest's {sha256} ({len(data)} bytes read); refusing to return it"
        )
    return data


def get_file_verified(store: ObjectStore, key: str, dest: Path, sha256: str) -> int:
    """Download to ``dest`` and check its SHA-256; a corrupt download is deleted."""
    tmp = dest.with_name(dest.name + ".part")
    size = store.get_file(key, tmp)
    got = sha256_file(tmp)
    if got != sha256:
        tmp.unlink(missing_ok=True)
        raise CorruptObjectError(
            f"object {store.uri(key)} is corrupt: SHA-256 {got} does not match the "
            f"manifest's {sha256} ({size} bytes read); refusing to return it"
        )
    os.replace(tmp, dest)
    return size


class LocalObjectStore:
    """Objects as files under ``root`` (the embedded default), each with
    mode ``file_mode`` (the service passes its data-directory mode: 0600)."""

    def __init__(self, root: Path, *, file_mode: int = 0o644) -> None:
        self.root = Path(root)
        self.file_mode = file_mode

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(check_key(key)).parts)

    def _atomic_write(self, key: str, writer: Any) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                writer(f)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp creates 0600; published objects get ``file_mode``.
            os.chmod(tmp, self.file_mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def put_file(self, key: str, path: Path) -> int:
        def copy(f: Any) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, f, 4 << 20)

        return self._atomic_write(key, copy)

    def put_bytes(self, key: str, data: bytes) -> int:
        return self._atomic_write(key, lambda f: f.write(data))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {self.uri(key)}") from None

    def get_file(self, key: str, dest: Path) -> int:
        src = self._path(key)
        if not src.is_file():
            raise ObjectNotFoundError(f"no object {self.uri(key)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest.stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {self.uri(key)}") from None

    def _walk(self, prefix: str) -> Iterator[str]:
        if not self.root.exists():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue  # an upload in progress (or one a crash left behind)
                rel = Path(dirpath, name).relative_to(self.root).as_posix()
                if rel.startswith(prefix):
                    yield rel

    def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(self._walk(prefix))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for key in keys:
            self.delete(key)
        base = self.root / prefix.rstrip("/") if prefix else None
        if base is not None and base.is_dir():
            shutil.rmtree(base, ignore_errors=True)  # also removes temporary leftovers
        return len(keys)

    def uri(self, key: str) -> str:
        return self._path(key).absolute().as_uri()


class S3ObjectStore:
    """Objects in an S3 bucket under an optional key prefix (boto3)."""

    def __init__(self, config: S3Config, *, client: S3Client | None = None) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.config = config
        self.bucket = config.bucket
        self.prefix = config.prefix.strip("/")
        self.client: S3Client = client or boto3.client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            # SigV4 everywhere: botocore would otherwise pre-sign URLs with
            # SigV2, which S3 refuses for buckets made since mid-2020.
            config=Config(signature_version="s3v4"),
        )
        self.transfer = TransferConfig(
            multipart_threshold=config.multipart_threshold_bytes,
            multipart_chunksize=config.multipart_chunk_bytes,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (for local S3 servers and tests)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def _k(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _not_found(self, exc: Exception, key: str) -> Exception:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
            "404",
            "NoSuchKey",
            "NotFound",
        ):
            return ObjectNotFoundError(f"no object {self.uri(key)}")
        return exc

    def put_file(self, key: str, path: Path) -> int:
        self.client.upload_file(str(path), self.bucket, self._k(key), Config=self.transfer)
        return path.stat().st_size

    def put_bytes(self, key: str, data: bytes) -> int:
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data)
        return len(data)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()
        except Exception as exc:
            raise self._not_found(exc, key) from exc

    def get_file(self, key: str, dest: Path) -> int:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, self._k(key), str(dest), Config=self.transfer)
        except Exception as exc:
            raise self._not_found(exc, key) from exc
        return dest.stat().st_size

    def size(self, key: str) -> int:
        try:
            return int(
                self.client.head_object(Bucket=self.bucket, Key=self._k(key))["ContentLength"]
            )
        except Exception as exc:
            raise self._not_found(exc, key) from exc

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFoundError:
            return False
        return True

    def list_keys(self, prefix: str = "") -> list[str]:
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._k(k)} for k in chunk], "Quiet": True},
            )
        # Abandoned multipart uploads hold storage too: abort those under the prefix.
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=full)
        for up in uploads.get("Uploads", []):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
            )
        return len(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._k(key)}"

    def presigned_get_url(self, key: str, *, expires_s: int, filename: str = "") -> str:
        """A URL that GETs the object (whole or a ``Range``) without credentials
        until ``expires_s`` seconds from now; ``filename`` sets the
        ``Content-Disposition`` S3 answers with. Signed locally: no request."""
        if not 1 <= expires_s <= 604_800:
            raise IngestError(
                f"pre-signed URL expiry must be 1..604800 s (S3's limit is 7 days), got {expires_s}"
            )
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._k(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_s, HttpMethod="GET"
        )
