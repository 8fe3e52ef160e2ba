"""Drift statistics and the HTML report, computed by Evidently.

Evidently compares each column of the window with the reference by the method asked for and
renders the report people look at; the verdicts are the platform's (`mlops.core.drift`),
from the statistic values read back out of Evidently's result. Evidently is the `monitor`
extra (`pip install mlops[monitor]`), imported only here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

EVIDENTLY_METHODS = {"psi": "psi", "ks": "ks", "wasserstein": "wasserstein", "chi2": "chisquare"}


@dataclass(frozen=True)
class Column:
    name: str
    method: str  # the platform's name: psi, ks, wasserstein, chi2
    numeric: bool


def prepare() -> None:
    """Import Evidently now (seconds of work), when there is time to spare; without the
    extra installed this does nothing and the report says what is missing."""
    with contextlib.suppress(ImportError):
        import evidently.metrics  # noqa: F401


class DriftReport:
    """One window compared with its reference, column by column."""

    def __init__(self, reference: Any, current: Any, columns: Sequence[Column],
                 threshold: float) -> None:  # fmt: skip
        try:
            from evidently import DataDefinition, Dataset, Report
            from evidently.metrics import ValueDrift
        except ImportError as exc:
            raise MlopsError(
                f"drift statistics need Evidently: {exc}",
                hint="pip install 'mlops[monitor]'",
            ) from None
        definition = DataDefinition(
            numerical_columns=[c.name for c in columns if c.numeric],
            categorical_columns=[c.name for c in columns if not c.numeric],
        )
        names = [c.name for c in columns]
        metrics = [ValueDrift(column=c.name, method=EVIDENTLY_METHODS[c.method],
                              threshold=threshold) for c in columns]  # fmt: skip
        self.columns = list(columns)
        self.snapshot = Report(metrics).run(
            current_data=Dataset.from_pandas(current[names], data_definition=definition),
            reference_data=Dataset.from_pandas(reference[names], data_definition=definition),
        )

    def statistics(self) -> dict[str, float | None]:
        """Each column's statistic (a p-value for ks and chi2), None where there is none."""
        found: dict[str, float | None] = {}
        for metric in self.snapshot.dict().get("metrics", []):
            column = (metric.get("config") or {}).get("column")
            value = metric.get("value")
            number = value if isinstance(value, int | float) else None
            found[str(column)] = None if number is None or number != number else float(number)
        return found

    def save_html(self, path: Path) -> None:
        self.snapshot.save_html(str(path))
