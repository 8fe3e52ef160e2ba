"""Tracking-store artifacts on S3 from a workflow step, against a real S3 endpoint (moto's
server) on 127.0.0.1.

A workflow's `env:` names every repository variable it may use, so one a site left unset
reaches the step as an empty string: the tracking adapter must treat it as unset, as the
settings do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import s3_server, use_test_aws_credentials

from mlops.adapters import tracking
from mlops.adapters.settings import load_settings


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An S3 endpoint with bucket `mlflow`; test credentials, no developer AWS profile."""
    use_test_aws_credentials(monkeypatch, tmp_path)
    with s3_server() as url:
        import boto3

        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="mlflow")
        yield url


def test_an_empty_mlflow_s3_endpoint_counts_as_unset(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLFLOW_S3_ENDPOINT_URL="" (the variable left unset: artifacts on AWS itself, or at the
    endpoint the AWS variables name) leaves the endpoint to the AWS client, as when it is
    absent, instead of MLflow failing every artifact read and write with "Invalid endpoint"."""
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)  # where the AWS client finds S3 here
    tracking.connect(load_settings(tmp_path))
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    artifacts = get_artifact_repository("s3://mlflow/artifacts/run")
    (tmp_path / "model.txt").write_text("weights")
    artifacts.log_artifact(str(tmp_path / "model.txt"))
    assert Path(artifacts.download_artifacts("model.txt", str(tmp_path))).read_text() == "weights"
    assert "MLFLOW_S3_ENDPOINT_URL" not in os.environ
