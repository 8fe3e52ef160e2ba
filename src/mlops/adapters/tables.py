"""Where batch tables live: a local disk or S3, as a filesystem Arrow can open.

S3 locations are `s3://bucket/key`; the endpoint of an S3-compatible store comes from
`AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`), the credentials from the usual AWS variables.
Reading is in table_readers, writing and publishing in table_writers.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlops.core.batch import BatchError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Location:
    """A file on a filesystem Arrow can open: `path` is local, or `bucket/key` in S3."""

    uri: str
    fs: Any
    path: str

    @property
    def remote(self) -> bool:
        return self.uri.startswith("s3://")


def locate(uri: str) -> Location:
    """The filesystem and path of `uri` (a local path or s3://bucket/key)."""
    from pyarrow import fs

    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        if not parsed.netloc or not parsed.path.strip("/"):
            raise BatchError(f"{uri}: expected s3://bucket/key")
        return Location(uri, _s3(), f"{parsed.netloc}/{parsed.path.lstrip('/')}")
    if "://" in uri:
        raise BatchError(f"{uri}: unsupported location (use a local path or s3://bucket/key)")
    return Location(uri, fs.LocalFileSystem(), str(Path(uri).resolve()))


def _s3() -> Any:
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {
        "region": os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        or "us-east-1",
        "connect_timeout": 5, "request_timeout": 60,
        "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=3),
    }  # fmt: skip
    if endpoint:
        parsed = urlparse(endpoint)
        options |= {"endpoint_override": parsed.netloc or endpoint,
                    "scheme": parsed.scheme or "https"}  # fmt: skip
    return fs.S3FileSystem(**options)


def exists(location: Location) -> bool:
    from pyarrow import fs

    try:
        return bool(location.fs.get_file_info(location.path).type == fs.FileType.File)
    except OSError as exc:
        raise BatchError(f"{location.uri}: cannot reach it: {first_line(exc)}") from None


def sha256(location: Location, stop: threading.Event | None = None) -> str:
    """The hex SHA-256 of a file's bytes, streamed; "" when `stop` is set before the end."""
    digest = hashlib.sha256()
    with location.fs.open_input_stream(location.path) as stream:
        while chunk := stream.read(CHUNK):
            if stop is not None and stop.is_set():
                return ""
            digest.update(chunk)
    return digest.hexdigest()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
