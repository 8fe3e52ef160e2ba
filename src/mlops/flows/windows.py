"""Where the rows a monitoring run judges come from: the predictions an environment served
(its prediction logs) or the outputs of batch scoring, read alike as a `LogWindow`, with the
features each source cannot show as they came.

Served: the version registry.yaml puts in the environment, its lines in the prediction-log
folder; personal-data fields are hashed or left out there, so their drift is not measured.
Batch: the production version (the one batch scoring scores with), its rows in the outputs
(by default `serving.batch.output`); a feature the output did not keep (with
`serving.batch.id_column` it keeps only the id) is not monitored. They go by the environment
name `batch`, and their labels live in the prediction-log folder under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops.adapters.batch_outputs import read_outputs
from mlops.adapters.prediction_logs import FEATURE, LogWindow, read_window
from mlops.core import batch, layout
from mlops.core.features import Feature
from mlops.core.prediction_log import pii_fields
from mlops.core.stages import PRODUCTION
from mlops.errors import MlopsError
from mlops.flows.batch_scoring import location_of

NOT_LOGGED = "personal data (compliance.pii_fields), not logged as it came"
NOT_KEPT = "not in the batch output (serving.batch.id_column keeps only the id)"


@dataclass
class Window:
    """One version's rows of a time window, and what they cannot show."""

    environment: str  # a serving environment, or `batch`
    version: str
    rows: LogWindow
    unwatched: dict[str, str] = field(default_factory=dict)  # feature -> why no drift
    absent: frozenset[str] = frozenset()  # features the rows do not hold at all
    outputs: list[str] | None = None  # the batch outputs read


def served(name: str, manifest: dict[str, Any], entry: dict[str, Any], environment: str,
           logs: Path, since: datetime, until: datetime) -> Window:  # fmt: skip
    """The logged predictions of the version `environment` serves; MlopsError when
    registry.yaml puts none there."""
    version = (entry.get("stages") or {}).get(environment)
    if version is None:
        raise MlopsError(f"{name}: registry.yaml puts no version in {environment}:"
                         " nothing serves there to monitor")  # fmt: skip
    rows = read_window(logs, environment, name, str(version), since, until)
    return Window(environment, str(version), rows,
                  dict.fromkeys(sorted(pii_fields(manifest)), NOT_LOGGED))  # fmt: skip


def scored(root: Path, name: str, manifest: dict[str, Any], entry: dict[str, Any],
           outputs: Sequence[str], since: datetime, until: datetime,
           features: list[Feature]) -> Window:  # fmt: skip
    """The rows the production version scored into `outputs` (none given: the manifest's
    `serving.batch.output`)."""
    version = batch.pinned_version(name, entry, PRODUCTION, None).version
    uris = batch_outputs(root, name, manifest, outputs)
    rows = batch_rows(name, manifest, uris, version, since, until, [f.name for f in features])
    held = set(rows.table.column_names) if rows.table is not None else None
    absent = frozenset(f.name for f in features
                       if held is not None and f"{FEATURE}{f.name}" not in held)  # fmt: skip
    return Window(batch.ENVIRONMENT, version, rows, dict.fromkeys(sorted(absent), NOT_KEPT),
                  absent, uris)  # fmt: skip


def batch_rows(name: str, manifest: dict[str, Any], uris: Sequence[str], version: str | None,
               since: datetime, until: datetime, features: Sequence[str]) -> LogWindow:  # fmt: skip
    """The rows `version` (None: any) of `name` scored into the outputs at `uris` within the
    window, each named by its batch run and its id value (or row number)."""
    spec = batch.batch_spec(manifest)
    return read_outputs(uris, name, version, since, until, spec.id_column, features)


def batch_outputs(root: Path, name: str, manifest: dict[str, Any], given: Sequence[str]
                  ) -> list[str]:  # fmt: skip
    """The outputs to read: those given, else the manifest's `serving.batch.output`, a
    relative path taken from the model folder as batch scoring takes it."""
    uris = list(given) or [u for u in [batch.batch_spec(manifest).output] if u]
    if not uris:
        raise MlopsError(
            f"{name}: no batch output to read",
            hint=f"pass --batch PATH or set serving.batch.output in {layout.manifest_path(name)}",
        )
    folder = root / layout.model_dir(name)
    return [location_of(uri, folder, name, "output") for uri in uris]
