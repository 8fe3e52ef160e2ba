"""Evaluation records as `mlops evaluate` leaves them, built with the same policy core, for
the report and gate tests (which need a verdict, not a trained model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops.core.policy import comparison, decide

POLICY = {
    "gates": {
        "absolute": {"mode": "enforce"},
        "relative_to_production": {"mode": "enforce", "default_max_regression_fraction": 0.01},
        "card_sections": {"mode": "off"},
        "compliance": {"mode": "off"},
    }
}
MANIFEST = {
    "metrics": {
        "primary": "roc_auc",
        "direction": "maximize",
        "gates": {"absolute": {"roc_auc": {"min": 0.97}}},
    }
}


def evaluation(model: str, roc_auc: float) -> dict[str, Any]:
    """Candidate version 3 of `model` with this ROC AUC (at least 0.97 passes), no production."""
    candidate = {"roc_auc": roc_auc}
    return {
        "model": model,
        "candidate": {"version": "3", "model_uri": f"models:/{model}/3", "run_id": "a" * 32,
                      "run_url": None, "git_commit": "c" * 40, "metrics": candidate},
        "production": None,
        "holdout": {"path": f"models/{model}/data/holdout.csv", "rows": 143, "md5": "d" * 32},
        "primary": "roc_auc",
        "direction": "maximize",
        "rows": [r.to_dict() for r in comparison(MANIFEST, candidate, None)],
        "decision": decide(model, MANIFEST, POLICY, candidate, None).to_dict(),
        "tracking_uri": "sqlite:///x",
    }  # fmt: skip


def write_evaluation(root: Path, model: str, roc_auc: float) -> None:
    folder = root / ".mlops" / "evaluations"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{model}.json").write_text(json.dumps(evaluation(model, roc_auc)))
