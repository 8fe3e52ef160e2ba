"""Policy gates: a candidate's metrics and manifest against promotion.yaml, with reasons."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops.core.policy import comparison, decide, effective_gates, stage_order

POLICY: dict[str, Any] = {
    "schema_version": 1,
    "stages": {"order": ["staging", "production"], "allow_skip": False},
    "gates": {
        "absolute": {"mode": "enforce", "require_model_thresholds": True},
        "relative_to_production": {"mode": "enforce", "default_max_regression_fraction": 0.01},
        "card_sections": {"mode": "enforce", "required": ["intended_use", "limitations"]},
        "compliance": {"mode": "warn", "required": ["data_classification", "retention_days"]},
    },
    "overrides": {},
}
MANIFEST: dict[str, Any] = {
    "metrics": {
        "primary": "roc_auc",
        "direction": "maximize",
        "tracked": ["f1"],
        "gates": {"absolute": {"roc_auc": {"min": 0.9}, "log_loss": {"max": 0.3}}},
    },
    "card": {"intended_use": "Triage.", "limitations": "Small data."},
    "compliance": {"data_classification": "internal", "retention_days": 30},
}
GOOD = {"roc_auc": 0.95, "log_loss": 0.2, "f1": 0.9}


def verdicts(decision: Any) -> dict[str, str]:
    return {g.gate: g.verdict for g in decision.gates}


def test_a_good_first_candidate_passes_but_says_there_is_no_production() -> None:
    """Without a production version the relative gate is not applicable, not silently passed."""
    decision = decide("m", MANIFEST, POLICY, GOOD, None)
    assert decision.passed
    assert verdicts(decision) == {
        "absolute": "pass",
        "relative_to_production": "not-applicable",
        "card_sections": "pass",
        "compliance": "pass",
    }
    relative = decision.gates[1]
    assert "no production version yet" in relative.reason


def test_it_refuses_a_candidate_below_an_absolute_threshold() -> None:
    """An enforced absolute threshold blocks, naming metric, value and bound."""
    decision = decide("m", MANIFEST, POLICY, {**GOOD, "roc_auc": 0.85, "log_loss": 0.5}, None)
    assert not decision.passed
    absolute = decision.gates[0]
    assert absolute.blocking
    assert "roc_auc 0.85 is below the minimum 0.9" in absolute.reason
    assert "log_loss 0.5 is above the maximum 0.3" in absolute.reason
    assert decision.summary == "blocked by absolute"


def test_a_missing_metric_fails_the_absolute_gate() -> None:
    """A gated metric the evaluation did not report is a failure, not a pass."""
    decision = decide("m", MANIFEST, POLICY, {"roc_auc": 0.95}, None)
    assert "log_loss was not reported" in decision.gates[0].reason
    assert not decision.passed


def test_it_refuses_promotion_when_auc_regresses_beyond_the_policy_default() -> None:
    """With no manifest tolerance the policy's 1% default applies to production's value."""
    decision = decide("m", MANIFEST, POLICY, {**GOOD, "roc_auc": 0.93}, {"roc_auc": 0.95}, "4")
    relative = decision.gates[1]
    assert relative.verdict == "fail"
    assert "production (version 4)" in relative.reason
    assert "1.00% of production, policy default" in relative.reason
    assert not decision.passed


def test_a_small_regression_within_tolerance_passes() -> None:
    """A regression within the allowed fraction passes and still reports its size."""
    decision = decide("m", MANIFEST, POLICY, {**GOOD, "roc_auc": 0.945}, {"roc_auc": 0.95})
    assert decision.gates[1].verdict == "pass"
    assert "within the allowed" in decision.gates[1].reason


def test_manifest_tolerance_in_metric_units_wins_over_the_policy() -> None:
    """`metrics.gates.relative.max_regression` is in the metric's own units."""
    manifest = copy.deepcopy(MANIFEST)
    manifest["metrics"]["gates"]["relative"] = {"max_regression": 0.05}
    decision = decide("m", manifest, POLICY, {**GOOD, "roc_auc": 0.91}, {"roc_auc": 0.95})
    assert decision.gates[1].verdict == "pass"
    assert "manifest, in roc_auc units" in decision.gates[1].reason


def test_minimized_metrics_regress_upwards() -> None:
    """For a metric to minimize, a higher candidate value is the regression."""
    manifest = {
        "metrics": {
            "primary": "rmse",
            "direction": "minimize",
            "gates": {
                "absolute": {"rmse": {"max": 10}},
                "relative": {"max_regression_fraction": 0.05},
            },
        },
        **{k: MANIFEST[k] for k in ("card", "compliance")},
    }
    worse = decide("m", manifest, POLICY, {"rmse": 3.2}, {"rmse": 3.0})
    better = decide("m", manifest, POLICY, {"rmse": 2.5}, {"rmse": 3.0})
    assert worse.gates[1].verdict == "fail"
    assert better.gates[1].verdict == "pass"
    assert "no regression" in better.gates[1].reason


def test_a_threshold_met_exactly_passes_despite_float_noise() -> None:
    """A value equal to its bound up to float noise is not a failure."""
    decision = decide("m", MANIFEST, POLICY, {**GOOD, "roc_auc": 0.9 - 1e-12}, None)
    assert decision.gates[0].verdict == "pass"


def test_warn_mode_reports_without_blocking() -> None:
    """A failing gate in warn mode is a warning: the decision still passes."""
    manifest = {**MANIFEST, "compliance": {"data_classification": "internal"}}
    decision = decide("m", manifest, POLICY, GOOD, None)
    compliance = decision.gates[3]
    assert compliance.verdict == "fail"
    assert compliance.warning
    assert not compliance.blocking
    assert decision.passed
    assert decision.summary == "passes with warnings: compliance"


def test_todo_placeholders_do_not_count_as_card_sections() -> None:
    """A card section still reading TODO is missing."""
    manifest = {**MANIFEST, "card": {"intended_use": "TODO: say it", "limitations": "x"}}
    decision = decide("m", manifest, POLICY, GOOD, None)
    assert decision.gates[2].reason == "missing model card section: intended_use"


def test_model_without_thresholds_fails_when_policy_requires_them() -> None:
    """require_model_thresholds turns a manifest without absolute gates into a failure."""
    manifest = {**MANIFEST, "metrics": {"primary": "roc_auc", "direction": "maximize"}}
    assert decide("m", manifest, POLICY, GOOD, None).gates[0].verdict == "fail"


def test_per_model_override_changes_the_mode_and_is_reported() -> None:
    """A per-model override applies only to that model and carries its reason."""
    policy = copy.deepcopy(POLICY)
    policy["overrides"] = {
        "m": {
            "reason": "Pilot model, thresholds agreed later.",
            "gates": {"absolute": {"mode": "off"}},
        }
    }
    gates, reason = effective_gates(policy, "m")
    assert gates["absolute"] == {"mode": "off", "require_model_thresholds": True}
    assert reason == "Pilot model, thresholds agreed later."
    bad = {**GOOD, "roc_auc": 0.1}
    assert decide("m", MANIFEST, policy, bad, None).gates[0].verdict == "off"
    assert decide("other", MANIFEST, policy, bad, None).gates[0].verdict == "fail"
    assert POLICY["overrides"] == {}


def test_comparison_rows_put_the_primary_metric_first() -> None:
    """Rows: primary, then gated, then tracked metrics, each once, with deltas."""
    rows = comparison(MANIFEST, GOOD, {"roc_auc": 0.9})
    assert [r.metric for r in rows] == ["roc_auc", "log_loss", "f1"]
    assert rows[0].primary
    assert rows[0].delta == pytest.approx(0.05)
    assert rows[1].production is None
    assert rows[1].delta is None
    assert rows[1].bounds == {"max": 0.3}


@pytest.mark.parametrize(
    ("target", "held", "allowed"),
    [
        ("staging", [], True),
        ("production", [], False),
        ("production", ["staging"], True),
        ("canary", [], False),
        ("archive", [], False),
    ],
)
def test_stage_order(target: str, held: list[str], allowed: bool) -> None:
    """A version enters production only after staging; unknown stages are refused."""
    ok, reason = stage_order(POLICY, target, held)
    assert ok is allowed, reason


def test_skipping_stages_when_the_policy_allows_it() -> None:
    """allow_skip lets a version go straight to production."""
    policy = {**POLICY, "stages": {"order": ["staging", "production"], "allow_skip": True}}
    assert stage_order(policy, "production", [])[0]
