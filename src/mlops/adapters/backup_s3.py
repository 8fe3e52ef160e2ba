"""Backup archives on S3 (or an S3-compatible store): put beside their checksum file, listed,
fetched back. Credentials and the endpoint are the AWS client's own settings
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`...).

An object appears whole or not at all, so an archive is never seen half-uploaded; its
checksum file is put after it, and the archive is removed again if that fails.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from mlops.core.backup import CHECKSUM_SUFFIX, SUFFIX, BackupError
from mlops.errors import first_line

PREFIX = "mlops-backup-"


def split(url: str) -> tuple[str, str]:
    """(bucket, key prefix without a trailing slash) of `s3://bucket/prefix`."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise BackupError(f"backup destination {url!r}: expected s3://bucket[/prefix]")
    return bucket, prefix.strip("/")


def _client() -> Any:
    try:
        import boto3
    except ImportError:
        raise BackupError("an s3:// backup destination needs boto3",
                          hint="pip install 'mlops[s3]'") from None  # fmt: skip
    return boto3.client("s3")


def _key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def upload(archive: Path, url: str, extra: dict[str, str] | None = None) -> str:
    """Put the archive and its checksum file under `url` (with `extra` PutObject arguments,
    such as the server-side encryption to ask for); the archive's own URL."""
    bucket, prefix = split(url)
    client, key = _client(), _key(prefix, archive.name)
    checksum = archive.with_name(archive.name + CHECKSUM_SUFFIX)
    args = {"ExtraArgs": extra} if extra else {}
    try:
        client.upload_file(str(archive), bucket, key, **args)
        try:
            client.upload_file(str(checksum), bucket, key + CHECKSUM_SUFFIX, **args)
        except Exception:
            client.delete_object(Bucket=bucket, Key=key)
            raise
    except Exception as exc:  # botocore's errors have no common base worth naming
        raise BackupError(f"cannot upload the backup to {url}: {first_line(exc)}") from None
    return f"s3://{bucket}/{key}"


def latest(url: str) -> str:
    """The newest archive under `url`."""
    bucket, prefix = split(url)
    start = _key(prefix, PREFIX)
    try:
        pages = _client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    except Exception as exc:
        raise BackupError(f"cannot list the backups in {url}: {first_line(exc)}") from None
    found = sorted(k for k in keys if k.endswith(SUFFIX) and "/" not in k[len(start) :])
    if not found:
        raise BackupError(f"no backup in {url}", hint="name the archive to use")
    return f"s3://{bucket}/{found[-1]}"


def download(url: str, folder: Path) -> Path:
    """The archive at `url` and its checksum file (when there is one) copied into `folder`."""
    bucket, key = split(url)
    if not key.endswith(SUFFIX):
        raise BackupError(f"{url} is not a backup archive (expected a name ending {SUFFIX})")
    client = _client()
    local = folder / key.rsplit("/", 1)[-1]
    try:
        client.download_file(bucket, key, str(local))
    except Exception as exc:
        raise BackupError(f"cannot download {url}: {first_line(exc)}") from None
    with contextlib.suppress(Exception):  # a missing one is reported by verification
        client.download_file(bucket, key + CHECKSUM_SUFFIX, str(local) + CHECKSUM_SUFFIX)
    return local
