"""What the evaluation plot shows: the candidate against production on the same holdout rows.

Pure: which curves, points and bars, with their labels and colours. Classification gets both
versions' ROC curves (AUC in the legend), regression predicted against actual; both get one
small bar panel per compared metric. When production's model could not be scored (no
production yet, or only its recorded metrics), the candidate is drawn alone and the title says
why. adapters/evaluation_plot.py draws the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlops.core import metrics

# Okabe-Ito: distinguishable with every common colour-vision deficiency, and in greyscale.
CANDIDATE_COLOUR = "#0072B2"  # blue
PRODUCTION_COLOUR = "#E69F00"  # orange
REFERENCE_COLOUR = "#7F7F7F"  # grey: chance line, perfect-prediction line
ROC, SCATTER = "roc", "scatter"


@dataclass(frozen=True)
class Side:
    """One version's output on the holdout rows: labels or values, and positive-class scores."""

    version: str
    predictions: Sequence[float]
    scores: Sequence[float] | None = None


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One compared metric: candidate and production values (None: not available)."""

    metric: str
    candidate: float | None
    production: float | None
    primary: bool = False

    @property
    def title(self) -> str:
        """The metric, whether it is the primary one, and which way is better."""
        better = "lower is better" if self.metric in metrics.LOWER_IS_BETTER else "higher is better"
        return f"{self.metric} ({'primary, ' if self.primary else ''}{better})"


@dataclass(frozen=True)
class Plot:
    title: str
    subtitle: str
    kind: str  # ROC or SCATTER
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    bars: tuple[Bar, ...]
    candidate_label: str
    production_label: str | None  # None: no production version at all


def artifact_path(model: str) -> str:
    """Where the plot is logged among the candidate run's artifacts."""
    return f"evaluation/{model}-vs-production.png"


def plan(
    model: str,
    task: str,
    y: Sequence[float],
    candidate: Side,
    production: Side | None,
    production_version: str | None,
    rows: Sequence[Mapping[str, object]],
) -> Plot:
    """The plot of an evaluation. `production` is None when production was not scored (then
    `production_version` says whether one exists, its bars come from `rows`); `rows` are the
    evaluation's metric rows (metric, candidate, production, primary). Raises ValueError when
    a version's output does not fit the holdout (wrong length, not finite, no scores)."""
    sides = [candidate] if production is None else [candidate, production]
    for side in sides:
        _check(side, len(y), task)
    cand = f"candidate v{candidate.version}"
    prod = f"production v{production_version}" if production_version is not None else None
    if production_version is None:
        title = f"{model}: {cand} (no production version yet)"
        subtitle = f"{len(y)} held-out rows; nothing to compare with"
    elif production is None:
        title = f"{model}: {cand} vs {prod} (recorded metrics only)"
        subtitle = (
            f"{len(y)} held-out rows; production's model is not in this tracking store: "
            "its metrics as recorded in registry.yaml, no curve"
        )
    else:
        title = f"{model}: {cand} vs {prod}"
        subtitle = f"both scored on the same {len(y)} held-out rows"
    labelled = [(candidate, cand, CANDIDATE_COLOUR, False)]
    if production is not None and prod is not None:
        labelled.append((production, prod, PRODUCTION_COLOUR, True))
    bars = tuple(_bar(row) for row in rows)
    if task == "classification":
        series = tuple(_roc_series(y, side, label, colour, dashed)
                       for side, label, colour, dashed in labelled)  # fmt: skip
        return Plot(title, subtitle, ROC, "false positive rate", "true positive rate",
                    series, bars, cand, prod)  # fmt: skip
    series = tuple(
        Series(f"{label} (RMSE {metrics.rmse(y, side.predictions):.4g})", colour,
               tuple(float(v) for v in y), tuple(float(v) for v in side.predictions), dashed)
        for side, label, colour, dashed in labelled
    )  # fmt: skip
    return Plot(title, subtitle, SCATTER, "actual", "predicted", series, bars, cand, prod)


def roc_curve(y: Sequence[float], scores: Sequence[float]) -> tuple[list[float], list[float]]:
    """False and true positive rates at every distinct score threshold, from (0, 0) to (1, 1);
    tied scores move both rates at once (a diagonal step)."""
    positives = sum(1 for label in y if label == 1)
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("a ROC curve needs both classes among the held-out rows")
    ranked = sorted(zip(scores, y, strict=True), key=lambda pair: -pair[0])
    fpr, tpr = [0.0], [0.0]
    tp = fp = 0
    for index, (score, label) in enumerate(ranked):
        if label == 1:
            tp += 1
        else:
            fp += 1
        if index + 1 == len(ranked) or ranked[index + 1][0] != score:
            fpr.append(fp / negatives)
            tpr.append(tp / positives)
    return fpr, tpr


def _roc_series(y: Sequence[float], side: Side, label: str, colour: str, dashed: bool) -> Series:
    assert side.scores is not None  # _check
    fpr, tpr = roc_curve(y, side.scores)
    auc = metrics.roc_auc(y, side.scores)
    return Series(f"{label} (AUC {auc:.4f})", colour, tuple(fpr), tuple(tpr), dashed)


def _check(side: Side, rows: int, task: str) -> None:
    outputs = {"predictions": side.predictions}
    if task == "classification":
        if side.scores is None:
            raise ValueError(f"version {side.version} gave no class probabilities to plot")
        outputs["scores"] = side.scores
    for what, values in outputs.items():
        if len(values) != rows:
            raise ValueError(
                f"version {side.version} has {len(values)} {what} for {rows} held-out rows"
            )
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ValueError(f"version {side.version} has {what} that are not finite numbers")


def _bar(row: Mapping[str, object]) -> Bar:
    return Bar(str(row["metric"]), _number(row.get("candidate")), _number(row.get("production")),
               bool(row.get("primary")))  # fmt: skip


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
