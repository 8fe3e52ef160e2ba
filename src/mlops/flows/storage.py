"""The data remote a checkout uses: the configured one (settings or environment) when there
is one, else the default of `.dvc/config`."""

from __future__ import annotations

from mlops.adapters import dvc
from mlops.adapters.settings import Settings


def use_configured_remote(settings: Settings) -> None:
    """Point the checkout's DVC at the configured remote before data moves either way."""
    remote = settings.data_remote
    if remote is not None:
        sse = settings.s3_encryption if remote.url.startswith("s3://") else None
        dvc.use_remote(settings.root, remote.url, remote.endpoint_url,
                       sse.algorithm if sse else None, sse.kms_key_id if sse else None)  # fmt: skip
