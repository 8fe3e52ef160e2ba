"""Drift statistics and the HTML report, computed by Evidently in a process of its own.

Evidently compares each column of the window with the reference by the method asked for and
renders the report people look at; the verdicts are the platform's (`mlops.core.drift`),
from the statistic values read back out of Evidently's result. Evidently is the `monitor`
extra (`pip install mlops[monitor]`), imported only in that process.

Importing Evidently is seconds of pure Python (it builds hundreds of pydantic classes), and
a thread cannot run Python beside another: so `DriftEngine` starts a worker process at once,
which imports Evidently on another core while this process reads the window, fetches the
reference and loads the model. The frames then go to the worker, which answers each
column's statistic and the HTML report.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from mlops.errors import MlopsError, first_line

EVIDENTLY_METHODS = {"psi": "psi", "ks": "ks", "wasserstein": "wasserstein", "chi2": "chisquare"}


@dataclass(frozen=True)
class Column:
    name: str
    method: str  # the platform's name: psi, ks, wasserstein, chi2
    numeric: bool


@dataclass(frozen=True)
class DriftReport:
    """One window compared with its reference: each column's statistic (a p-value for ks
    and chi2; None where there is none) and the report as HTML."""

    columns: list[Column]
    found: dict[str, float | None]
    html: str

    def statistics(self) -> dict[str, float | None]:
        return dict(self.found)

    def save_html(self, path: Path) -> None:
        path.write_text(self.html, encoding="utf-8")


class DriftEngine:
    """Evidently's worker process, importing it from the moment this is made. Leaving the
    `with` block ends the worker, at once when nothing was asked of it."""

    def __init__(self) -> None:
        context = get_context("spawn")
        self.pipe, child = context.Pipe()
        self.worker = context.Process(target=_serve, args=(child,), name="mlops-evidently",
                                      daemon=True)  # fmt: skip
        self.worker.start()
        child.close()

    def __enter__(self) -> DriftEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self.pipe.close()  # the worker's next read ends it; a worker still importing is ended
        if self.worker.is_alive():
            self.worker.terminate()
        self.worker.join()

    def compare(self, reference: Any, current: Any, columns: Sequence[Column],
                threshold: float) -> DriftReport:  # fmt: skip
        """The report on `columns` of both frames (only those columns are sent over)."""
        names = [c.name for c in columns]
        try:
            self.pipe.send((reference[names], current[names], list(columns), threshold))
            kind, answer = self.pipe.recv()
        except (OSError, EOFError) as exc:
            raise MlopsError(f"the Evidently worker process ended: {exc or 'no answer'}") from None
        if kind == "missing":
            raise MlopsError(f"drift statistics need Evidently: {answer}",
                             hint="pip install 'mlops[monitor]'")  # fmt: skip
        if kind == "failed":
            raise MlopsError(f"Evidently could not compare the window: {answer}")
        found, html = answer
        return DriftReport(list(columns), found, html)


def _serve(pipe: Connection) -> None:
    """The worker: import Evidently, then answer one comparison. Whatever it prints goes
    to standard error: standard output is the command's (`--json`)."""
    os.dup2(2, 1)
    missing = _import()
    try:
        reference, current, columns, threshold = pipe.recv()
    except EOFError:  # nothing to compare: the command ended first
        return
    if missing:
        pipe.send(("missing", missing))
        return
    try:
        pipe.send(("done", _compare(reference, current, columns, threshold)))
    except Exception as exc:  # bad frames: the command reports it
        pipe.send(("failed", first_line(exc)))


def _import() -> str | None:
    """Import Evidently now; why it cannot be, or None."""
    try:
        import evidently.metrics  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def _compare(reference: Any, current: Any, columns: list[Column], threshold: float
             ) -> tuple[dict[str, float | None], str]:  # fmt: skip
    """Each column's statistic and the HTML report (in the worker)."""
    import tempfile

    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    definition = DataDefinition(
        numerical_columns=[c.name for c in columns if c.numeric],
        categorical_columns=[c.name for c in columns if not c.numeric],
    )
    metrics = [ValueDrift(column=c.name, method=EVIDENTLY_METHODS[c.method],
                          threshold=threshold) for c in columns]  # fmt: skip
    snapshot = Report(metrics).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    found: dict[str, float | None] = {}
    for metric in snapshot.dict().get("metrics", []):
        column = (metric.get("config") or {}).get("column")
        value = metric.get("value")
        number = value if isinstance(value, int | float) else None
        found[str(column)] = None if number is None or number != number else float(number)
    with tempfile.TemporaryDirectory(prefix="mlops-drift-") as tmp:
        path = Path(tmp) / "report.html"
        snapshot.save_html(str(path))
        return found, path.read_text(encoding="utf-8")
