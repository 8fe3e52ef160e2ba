"""The newest finished run of a tracking experiment, read only: the catalogue shows each
model's latest batch scoring (`batch/<model>`) and monitoring (`monitor/<model>`) run.

Reading never creates anything: an experiment that does not exist yet is "no run", and an
embedded store never created is reported before MLflow is even imported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlops.adapters import tracking
from mlops.adapters.settings import Settings
from mlops.errors import MlopsError, first_line


class RunRecords:
    """The tracking store, connected once; `unavailable` says why it cannot be read."""

    def __init__(self, settings: Settings) -> None:
        self.unavailable: str | None = None
        uri = tracking.public_uri(settings.tracking_uri)
        if tracking.store_missing(settings):
            self.unavailable = f"the tracking store {uri} holds no runs yet (never created)"
            return
        try:
            tracking.connect(settings)
        except MlopsError as exc:
            self.unavailable = exc.message
        except Exception as exc:  # an unreachable or misconfigured store of any kind
            self.unavailable = f"the tracking store {uri} cannot be read: {first_line(exc)}"

    def latest(self, experiment: str) -> dict[str, Any] | None:
        """The newest finished run of `experiment`: its id, start time (UTC), tags and
        metrics; None when the experiment has none (or does not exist)."""
        if self.unavailable is not None:
            return None
        from mlflow import MlflowClient

        client = MlflowClient()
        try:
            found = client.get_experiment_by_name(experiment)
            if found is None:
                return None
            runs = client.search_runs(
                [found.experiment_id], filter_string="attributes.status = 'FINISHED'",
                order_by=["attributes.start_time DESC"], max_results=1,
            )  # fmt: skip
        except Exception as exc:
            raise tracking.TrackingUnavailable(
                f"the tracking store failed to read the runs of {experiment!r}: {first_line(exc)}"
            ) from None
        if not runs:
            return None
        run = runs[0]
        started = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)
        return {"run_id": run.info.run_id, "started": started, "tags": dict(run.data.tags),
                "metrics": dict(run.data.metrics)}  # fmt: skip
