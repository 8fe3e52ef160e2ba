"""Promotions as pure logic: registry data in, registry data out, or every reason it is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops.core.promotion import Refused, promote

POLICY: dict[str, Any] = {
    "stages": {"order": ["staging", "production"], "allow_skip": False},
    "gates": {
        "absolute": {"mode": "enforce"},
        "relative_to_production": {"mode": "enforce", "default_max_regression_fraction": 0.01},
        "card_sections": {"mode": "off"},
        "compliance": {"mode": "off"},
    },
}
MANIFEST = {
    "metrics": {
        "primary": "roc_auc",
        "direction": "maximize",
        "gates": {"absolute": {"roc_auc": {"min": 0.9}}},
    }
}


def version(number: str, roc_auc: float) -> dict[str, Any]:
    return {
        "run_id": number * 32, "model_uri": f"models:/m/{number}", "git_commit": "a" * 40,
        "dvc_hashes": {}, "params_hash": "sha256:" + "b" * 64, "metrics": {"roc_auc": roc_auc},
        "artifact_sha256": "c" * 64, "created": "2026-01-01T00:00:00Z",
    }  # fmt: skip


def registry(stages: dict[str, Any], **versions: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "models": {
            "m": {"versions": {k: version(k, v) for k, v in versions.items()}, "stages": stages}
        },
    }


def run(data: dict[str, Any], number: str, stage: str, **options: Any) -> Any:
    return promote(data, "m", number, stage, manifest=MANIFEST, policy=POLICY, **options)


def test_a_registered_version_enters_staging_and_the_input_is_untouched() -> None:
    """The result is a new registry; the caller's data is not modified."""
    data = registry({}, **{"1": 0.95})
    before = copy.deepcopy(data)
    result = run(data, "1", "staging")
    assert result.registry["models"]["m"]["stages"] == {"staging": "1"}
    assert result.changes == ["staging: nothing -> 1"]
    assert data == before


def test_a_new_version_comes_from_the_candidate_record() -> None:
    """A version trained here but not yet listed is added from its candidate record."""
    candidate = {"model": "m", "version": "2", "tracking_uri": "sqlite:///x", **version("2", 0.97)}
    result = run(registry({}), "2", "staging", candidate=candidate)
    entry = result.registry["models"]["m"]["versions"]["2"]
    assert "tracking_uri" not in entry and "model" not in entry
    assert entry["metrics"] == {"roc_auc": 0.97}


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(Refused, match=r"m has no version 9 \(registered here: 1\)"):
        run(registry({}, **{"1": 0.95}), "9", "staging")


def test_production_needs_staging_first() -> None:
    """Stage order: straight to production is refused with the order spelled out."""
    with pytest.raises(Refused, match="must hold staging before production"):
        run(registry({}, **{"1": 0.95}), "1", "production")


def test_it_refuses_promotion_when_the_primary_metric_regresses() -> None:
    """An enforced relative gate against the production version blocks, with its reason."""
    data = registry({"staging": "2", "production": "1"}, **{"1": 0.99, "2": 0.95})
    with pytest.raises(Refused) as refused:
        run(data, "2", "production")
    assert any(r.startswith("gate relative_to_production:") for r in refused.value.reasons)
    assert refused.value.decision is not None and not refused.value.decision.passed


def test_it_refuses_a_version_below_an_absolute_threshold_even_to_staging() -> None:
    with pytest.raises(Refused, match=r"gate absolute: roc_auc 0\.5 is below the minimum 0\.9"):
        run(registry({}, **{"1": 0.5}), "1", "staging")


def test_a_canary_needs_production_and_ends_with_a_full_rollout() -> None:
    """A canary splits production; promoting the canary version to production ends it."""
    with pytest.raises(Refused, match="no version holds production"):
        run(registry({"staging": "1"}, **{"1": 0.95}), "1", "production", canary_weight=10)
    data = registry({"staging": "2", "production": "1"}, **{"1": 0.95, "2": 0.96})
    canary = run(data, "2", "production", canary_weight=10).registry
    assert canary["models"]["m"]["stages"]["canary"] == {"version": "2", "weight": 10}
    full = run(canary, "2", "production")
    assert full.registry["models"]["m"]["stages"] == {"staging": "2", "production": "2"}
    assert "canary of version 2 ended" in full.changes


def test_the_canary_of_the_production_version_is_refused() -> None:
    data = registry({"staging": "1", "production": "1"}, **{"1": 0.95})
    with pytest.raises(Refused, match="already serves all production traffic"):
        run(data, "1", "production", canary_weight=20)


def test_promoting_to_the_stage_a_version_holds_changes_nothing() -> None:
    """Idempotent: the same promotion twice is one change."""
    data = registry({"staging": "1"}, **{"1": 0.95})
    result = run(data, "1", "staging")
    assert not result.changed
    assert result.registry == data
