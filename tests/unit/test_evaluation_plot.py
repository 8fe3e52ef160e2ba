"""The evaluation plot: what it shows (core), that it is drawn as a PNG (adapter), and how the
pull request report links it."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluations import evaluation
from plots import png_size

from mlops.adapters.evaluation_plot import render
from mlops.core import metrics
from mlops.core.evaluation_plot import (
    CANDIDATE_COLOUR,
    PRODUCTION_COLOUR,
    ROC,
    SCATTER,
    Side,
    artifact_path,
    plan,
    roc_curve,
)
from mlops.core.report import model_section

Y = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]
GOOD = Side("3", [0.0, 0.0, 1.0, 1.0, 0.0, 1.0], [0.1, 0.2, 0.9, 0.8, 0.3, 0.7])
WORSE = Side("2", [0.0, 1.0, 1.0, 0.0, 0.0, 1.0], [0.2, 0.6, 0.7, 0.4, 0.1, 0.9])
ROWS = [
    {"metric": "roc_auc", "candidate": 1.0, "production": 0.78, "primary": True},
    {"metric": "log_loss", "candidate": 0.2, "production": None, "primary": False},
]


def area(fpr: list[float], tpr: list[float]) -> float:
    steps = range(1, len(fpr))
    return sum((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 for i in steps)


def test_the_roc_curve_runs_from_the_origin_to_the_corner_and_its_area_is_the_auc() -> None:
    """Its trapezoid area equals core.metrics' ROC AUC, ties included."""
    y = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    scores = [0.1, 0.4, 0.4, 0.8, 0.3, 0.6, 0.6]
    fpr, tpr = roc_curve(y, scores)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert fpr == sorted(fpr) and tpr == sorted(tpr)
    assert area(fpr, tpr) == pytest.approx(metrics.roc_auc(y, scores))


def test_a_roc_curve_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        roc_curve([1.0, 1.0], [0.2, 0.8])


def test_a_classifier_is_drawn_as_both_roc_curves_with_their_auc() -> None:
    """Candidate and production: one curve each in their own colour, AUC in the label."""
    plot = plan("breast-cancer", "classification", Y, GOOD, WORSE, "2", ROWS)
    assert plot.kind == ROC
    assert plot.title == "breast-cancer: candidate v3 vs production v2"
    assert "same 6 held-out rows" in plot.subtitle
    candidate, production = plot.series
    assert candidate.label == "candidate v3 (AUC 1.0000)" and candidate.colour == CANDIDATE_COLOUR
    assert production.label == "production v2 (AUC 0.8889)"
    assert production.colour == PRODUCTION_COLOUR and production.dashed
    assert [(b.metric, b.candidate, b.production) for b in plot.bars] == [
        ("roc_auc", 1.0, 0.78), ("log_loss", 0.2, None),
    ]  # fmt: skip
    assert plot.bars[0].title == "roc_auc (primary, higher is better)"
    assert plot.bars[1].title == "log_loss (lower is better)"


def test_production_known_only_by_its_recorded_metrics_is_a_bar_not_a_curve() -> None:
    """No production model to score: the candidate's curve alone, the recorded values in
    the bars, and the title says so."""
    plot = plan("breast-cancer", "classification", Y, GOOD, None, "2", ROWS)
    assert [s.label.split(" (")[0] for s in plot.series] == ["candidate v3"]
    assert plot.title.endswith("vs production v2 (recorded metrics only)")
    assert "registry.yaml" in plot.subtitle
    assert (plot.production_label, plot.bars[0].production) == ("production v2", 0.78)


def test_a_first_version_is_drawn_alone() -> None:
    """No production version: one series, no production bars, the title says why."""
    plot = plan("breast-cancer", "classification", Y, GOOD, None, None, ROWS)
    assert plot.title == "breast-cancer: candidate v3 (no production version yet)"
    assert plot.production_label is None and len(plot.series) == 1


def test_a_regression_model_is_drawn_as_predicted_against_actual() -> None:
    """Each version's predictions against the actual values, RMSE in the label."""
    y = [10.0, 20.0, 30.0]
    plot = plan("fuel-efficiency", "regression", y, Side("5", [11.0, 19.0, 30.0]),
                Side("4", [14.0, 20.0, 26.0]), "4", [])  # fmt: skip
    assert (plot.kind, plot.x_label, plot.y_label) == (SCATTER, "actual", "predicted")
    assert [s.x for s in plot.series] == [(10.0, 20.0, 30.0)] * 2
    assert plot.series[0].y == (11.0, 19.0, 30.0)
    assert plot.series[1].label == "production v4 (RMSE 3.266)"


@pytest.mark.parametrize(
    ("side", "message"),
    [
        (Side("3", [0.0] * 5, [0.5] * 5), "5 predictions for 6 held-out rows"),
        (Side("3", [0.0] * 6, [0.5] * 7), "7 scores for 6 held-out rows"),
        (Side("3", [0.0] * 6, None), "no class probabilities"),
        (Side("3", [0.0] * 6, [0.5] * 5 + [float("nan")]), "not finite"),
    ],
)
def test_outputs_that_do_not_fit_the_holdout_are_refused(side: Side, message: str) -> None:
    """A version's output of the wrong shape is a ValueError naming the version, not a plot."""
    with pytest.raises(ValueError, match=message):
        plan("breast-cancer", "classification", Y, side, None, None, ROWS)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_plot_is_written_as_a_png(tmp_path: Path, task: str) -> None:
    """A decodable PNG, replaced whole when drawn again."""
    path = tmp_path / "plots" / "breast-cancer.png"
    plot = plan("breast-cancer", task, Y, GOOD, WORSE, "2", ROWS)
    render(plot, path)
    width, height = png_size(path)
    assert width > 1000 and height > 500
    render(plan("breast-cancer", task, Y, GOOD, None, None, ROWS), path)
    assert png_size(path) == (width, height)
    assert [p.name for p in path.parent.iterdir()] == ["breast-cancer.png"]  # no temporary left


def test_the_report_links_the_plot_in_the_mlflow_ui() -> None:
    """With a tracking server: a link to the artifact's page, and its artifact URI."""
    record = evaluation("breast-cancer", 0.99)
    record["plot"] = {
        "path": ".mlops/evaluations/breast-cancer.png", "warning": None,
        "artifact": artifact_path("breast-cancer"),
        "artifact_uri": "mlflow-artifacts:/1/abc/artifacts/evaluation/breast-cancer-vs-production.png",
        "artifact_url": "https://mlflow.example/#/experiments/1/runs/abc/artifacts/"
                        "evaluation/breast-cancer-vs-production.png",
        "image_url": "https://mlflow.example/get-artifact?path=x&run_uuid=abc",
    }  # fmt: skip
    section = model_section(record, "")
    assert (
        "Plot of candidate vs production: [`evaluation/breast-cancer-vs-production.png`]"
        "(https://mlflow.example/#/experiments/1/runs/abc/artifacts/evaluation/"
        "breast-cancer-vs-production.png) (MLflow artifact `mlflow-artifacts:/1/abc/artifacts/"
        "evaluation/breast-cancer-vs-production.png`)." in section
    )


def test_the_report_names_the_artifact_of_an_embedded_store_and_says_why_there_is_no_plot() -> None:
    """Without a UI to link: the artifact URI. Without a plot: the reason. An older record
    without a plot entry: no plot line at all."""
    record = evaluation("breast-cancer", 0.99)
    assert "Plot" not in model_section(record, "")
    uri = "file:///runner/.mlops/artifacts/1/abc/artifacts/evaluation/x.png"
    record["plot"] = {"path": ".mlops/evaluations/breast-cancer.png", "artifact_uri": uri}
    assert f"MLflow artifact `{uri}` of the candidate's run." in model_section(record, "")
    record["plot"] = {"path": None, "warning": "no plot of breast-cancer: 5 predictions | 6 rows"}
    section = model_section(record, "")
    assert "Plot: none (no plot of breast-cancer: 5 predictions \\| 6 rows)." in section
