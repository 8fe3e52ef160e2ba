"""Usage recorded in the tracking store: what each training and batch-scoring run consumed.

Training runs (experiment `models/<model>`) carry the `cpu_seconds` metric; batch-scoring runs
(experiment `batch/<model>`) carry `rows_in` and `duration_seconds`. Finished and failed runs
both count: a failed run used its compute too. The store is shared by every machine, so any
runner sees the same history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.adapters.tracking import TrackingUnavailable, public_uri
from mlops.errors import first_line

PAGE = 1000


@dataclass(frozen=True)
class RecordedRun:
    """One run's start, tags and metrics."""

    run_id: str
    started: datetime
    tags: dict[str, str]
    metrics: dict[str, float]


def runs_since(experiment: str, since: datetime | None) -> list[RecordedRun]:
    """Every run of `experiment` that started at or after `since` (all when None), oldest
    first; none when the experiment does not exist yet."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow.get_experiment_by_name(experiment)
        if found is None:
            return []
        runs = list(_pages(MlflowClient(), str(found.experiment_id), since))
    except MlflowException as exc:
        uri = public_uri(str(mlflow.get_tracking_uri()))
        raise TrackingUnavailable(
            f"the tracking store {uri} failed to read the runs of {experiment!r}: "
            f"{first_line(exc)}",
            hint="check MLFLOW_TRACKING_URI and its credentials",
        ) from None
    return sorted(runs, key=lambda r: (r.started, r.run_id))


def _pages(client: Any, experiment_id: str, since: datetime | None) -> Iterator[RecordedRun]:
    query = f"attributes.start_time >= {int(since.timestamp() * 1000)}" if since else ""
    token: str | None = None
    while True:
        page = client.search_runs([experiment_id], filter_string=query, max_results=PAGE,
                                  page_token=token)  # fmt: skip
        for run in page:
            started = datetime.fromtimestamp(run.info.start_time / 1000, UTC)
            yield RecordedRun(run.info.run_id, started, dict(run.data.tags),
                              dict(run.data.metrics))  # fmt: skip
        token = page.token
        if not token:
            return
