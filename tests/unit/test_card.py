"""The model card renderer: a pure, deterministic function of the model's committed data."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlops.core.card import CardInputs, card_path, render
from mlops.core.card_format import cell, code, front_matter, number, text

ROOT = Path(__file__).resolve().parents[2]
POLICY = yaml.safe_load((ROOT / "policies" / "promotion.yaml").read_text())
SECTIONS = [
    "# Model card: churn",
    "## Overview",
    "## Intended use",
    "### Out of scope",
    "## Limitations",
    "## Ethical considerations",
    "## Training data",
    "### Inputs",
    "### Features",
    "### Target",
    "## Evaluation",
    "### Promotion gates",
    "### Comparison with production",
    "## Training parameters",
    "## Lineage",
    "### Stage `train`",
    "## Compliance",
    "## Version history",
    "## References",
]


def manifest() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "name": "churn",
        "description": "Predicts which customers cancel next month.",
        "owners": ["@acme/retention", "@ana"],
        "language": "python",
        "task": "classification",
        "entrypoints": {"train": "train.py", "predict": "predict.py"},
        "data": {
            "inputs": [
                {"path": "data/train.csv", "role": "train", "description": "Training rows."},
                {"path": "data/holdout.csv", "role": "holdout", "description": "Held-out rows."},
            ],
            "features": [
                {"name": "tenure", "type": "integer", "minimum": 0, "description": "Months"},
                {"name": "plan", "type": "category", "categories": ["basic", "pro"]},
            ],
            "target": {
                "name": "cancelled",
                "type": "integer",
                "description": "Cancelled within 30 days.",
                "classes": {"0": "stays", "1": "cancels"},
            },
        },
        "metrics": {
            "primary": "roc_auc",
            "direction": "maximize",
            "tracked": ["accuracy"],
            "gates": {"absolute": {"roc_auc": {"min": 0.8}}, "relative": {"max_regression": 0.01}},
        },
        "serving": {"api": {"enabled": True}, "batch": {"enabled": False}},
        "compliance": {
            "data_classification": "confidential",
            "pii": True,
            "pii_fields": ["tenure"],
            "legal_basis": "contract",
            "retention_days": 365,
        },
        "card": {
            "intended_use": "Prioritise retention calls for the customer team.",
            "limitations": "Trained on one year of data from a single market only.",
            "ethical_considerations": "Never used to deny service or change prices for anyone.",
            "references": ["Internal churn study (2024)"],
        },
    }


LOCK = {
    "schema": "2.0",
    "stages": {
        "train": {
            "cmd": "python train.py --c 1.0",
            "deps": [
                {"path": "data/train.csv", "md5": "a" * 32, "size": 91003},
                {"path": "data/holdout.csv", "md5": "b" * 32, "size": 512},
            ],
            "params": {"params.yaml": {"train": {"c": 1.0, "seed": 42}}},
            "outs": [{"path": "model", "md5": "c" * 32 + ".dir", "size": 3329, "nfiles": 2}],
        }
    },
}


def version(commit: str, roc_auc: float, created: str) -> dict[str, Any]:
    return {
        "run_id": "0" * 32,
        "model_uri": "models:/churn/1",
        "git_commit": commit * 40,
        "dvc_hashes": {"data/train.csv": "a" * 32, "data/holdout.csv": "b" * 32},
        "params_hash": "sha256:" + "0" * 64,
        "metrics": {"roc_auc": roc_auc, "accuracy": 0.9},
        "artifact_sha256": "0" * 64,
        "created": created,
    }


def inputs(**changes: Any) -> CardInputs:
    base = CardInputs(
        name="churn",
        manifest=manifest(),
        policy=POLICY,
        evaluation={"roc_auc": 0.912345678, "accuracy": 0.87, "n_rows": 250},
        training={"roc_auc": 0.95, "accuracy": 0.9},
        params={"train": {"c": 1.0, "seed": 42}},
        lock=LOCK,
        registry_entry={"versions": {}, "stages": {}},
    )
    return replace(base, **changes)


def with_production() -> CardInputs:
    entry = {
        "versions": {
            "2": version("b", 0.95, "2026-02-01T09:00:00Z"),
            "10": version("c", 0.91, "2026-03-01T09:00:00Z"),
            "1": version("a", 0.90, "2026-01-01T09:00:00Z"),
        },
        "stages": {"production": "2", "staging": "10"},
    }
    return inputs(registry_entry=entry)


def front(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    data: dict[str, Any] = yaml.safe_load(card.split("---\n")[1])
    return data


def test_the_same_inputs_render_the_same_bytes() -> None:
    """It renders byte-identical cards from equal inputs, and leaves its inputs untouched."""
    given_inputs = inputs()
    before = copy.deepcopy(given_inputs)
    first, second = render(given_inputs), render(copy.deepcopy(given_inputs))
    assert first == second
    assert given_inputs == before
    assert first.endswith("\n") and not first.endswith("\n\n")
    assert all(line == line.rstrip() for line in first.splitlines())


def test_every_section_is_present_in_order() -> None:
    """It writes every section, in the documented order, after the generated-file comment."""
    card = render(inputs())
    positions = [card.index("\n" + heading + "\n") for heading in SECTIONS]
    assert positions == sorted(positions)
    assert "<!-- Generated by `mlops card churn` from models/churn/" in card
    assert "Do not edit: edit model.yaml and re-run. -->" in card
    assert card.index("<!-- Generated") < positions[0]
    assert card_path("churn") == "models/churn/MODEL_CARD.md"


def test_without_production_it_says_there_is_nothing_to_compare() -> None:
    """It says there is no production version yet, and the relative gate does not apply."""
    card = render(inputs())
    assert "There is no production version yet" in card
    assert re.search(r"\| `relative_to_production` \| enforce \| not applicable \|", card)
    assert "No version is registered yet: `mlops train churn`" in card
    assert "| Stages | none yet" in card


def test_with_production_it_compares_and_lists_versions_newest_first() -> None:
    """It compares the held-out metrics with production's and lists versions newest first."""
    card = render(with_production())
    assert "Production is version `2`" in card
    # roc_auc 0.9123 vs production 0.95: worse by 0.03765 (4 significant digits)
    assert "| **`roc_auc`** | 0.95 | 0.9123 | -0.03765 (worse) |" in card
    assert re.search(r"\| `relative_to_production` \| enforce \| \*\*fail\*\* \|", card)
    history = card[card.index("## Version history") :]
    assert history.index("| `10` |") < history.index("| `2` |") < history.index("| `1` |")
    assert "| `10` | 2026-03-01T09:00:00Z | `cccccccccccc` | 0.91 | staging |" in history
    assert "| `2` | 2026-02-01T09:00:00Z | `bbbbbbbbbbbb` | 0.95 | production |" in history
    assert "| Stages | production `2`, staging `10` |" in card


def test_gate_verdicts_and_reasons_appear() -> None:
    """It shows each gate's verdict and reason, and a blocking decision."""
    card = render(inputs(evaluation={"roc_auc": 0.7, "accuracy": 0.6}))
    assert "Decision: **blocked by absolute**" in card
    assert "| `absolute` | enforce | **fail** | roc_auc 0.7 is below the minimum 0.8 |" in card
    assert "| `compliance` | enforce | pass | all 4 required compliance fields present |" in card
    assert "| **`roc_auc`** (primary, maximize) | 0.7 | 0.95 | ≥ 0.8 |" in card


def test_a_policy_override_shows_its_reason() -> None:
    """It names the reason of a per-model policy override."""
    policy = copy.deepcopy(POLICY)
    policy["overrides"] = {"churn": {"reason": "Pilot: gates warn only.", "gates": {}}}
    card = render(inputs(policy=policy))
    assert "This model has a policy override: Pilot: gates warn only." in card


def test_front_matter_parses_and_holds_the_model_index() -> None:
    """Its front matter is YAML with the model's facts and a Hugging Face model-index."""
    data = front(render(with_production()))
    assert data["model_name"] == "churn"
    assert (data["language"], data["task"]) == ("python", "classification")
    assert data["owners"] == ["@acme/retention", "@ana"]
    assert data["data_classification"] == "confidential"
    assert data["pii"] is True
    assert data["metrics"] == ["roc_auc", "accuracy"]
    [entry] = data["model-index"]
    assert entry["name"] == "churn"
    [result] = entry["results"]
    assert result["task"] == {"type": "tabular-classification", "name": "classification"}
    assert result["dataset"] == {
        "name": "Held-out rows.",
        "type": "data/holdout.csv",
        "split": "holdout",
        "revision": "b" * 32,
    }
    assert result["metrics"] == [
        {"type": "roc_auc", "value": 0.9123, "name": "roc_auc (held-out)"},
        {"type": "accuracy", "value": 0.87, "name": "accuracy (held-out)"},
    ]


def test_manifest_text_cannot_break_a_table() -> None:
    """It escapes `|` and line breaks in manifest text that lands in table cells."""
    data = manifest()
    data["data"]["inputs"][0]["description"] = "Rows | with a pipe\nand a second line"
    data["data"]["features"][0]["description"] = "a|b"
    data["compliance"]["notes"] = "first\r\nsecond"
    card = render(inputs(manifest=data))
    assert "| Rows \\| with a pipe<br>and a second line |" in card
    assert "| a\\|b |" in card
    assert "| Notes | first<br>second |" in card
    for line in card.splitlines():
        if line.startswith(("| Path ", "| `data/")):
            assert len(re.findall(r"(?<!\\)\|", line)) == 7  # six cells, seven separators


def test_data_sections_carry_dvc_hashes_features_and_parameters() -> None:
    """It lists inputs with their dvc.lock md5 and size, features, params and lineage."""
    card = render(inputs())
    assert f"| `data/train.csv` | train | Training rows. | - | `{'a' * 32}` | 88.9 KiB |" in card
    assert "| 1 | `tenure` | integer | ≥ 0 | Months |" in card
    assert "| 2 | `plan` | category | one of basic, pro | - |" in card
    assert "| `1` | cancels |" in card
    assert "| `train.c` | `1.0` |" in card
    assert f"| output | `model` | `{'c' * 32}.dir` | 3.3 KiB in 2 files |" in card
    assert "Parameters from `params.yaml`: `train.c=1.0`, `train.seed=42`." in card


def test_missing_optional_text_is_called_out() -> None:
    """It says which manifest field to add when optional card text is missing."""
    card = render(inputs())
    assert "Not stated: add `card.out_of_scope` to model.yaml." in card


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.912345678, "0.9123"),
        (53.318137, "53.32"),
        (62.0, "62"),
        (12345.678, "12346"),
        (0.000123456, "0.0001235"),
        (-0.037654, "-0.03765"),
        (-0.0, "0"),
        (0.99996, "1"),
        (1.5e-08, "1.5e-8"),
        (2.5e20, "2.5e+20"),
        (7, "7"),
        (True, "True"),
    ],
)
def test_numbers_have_one_format(value: Any, shown: str) -> None:
    """It formats metrics with four significant digits; exponents only for extreme values."""
    assert number(value) == shown


def test_cells_and_code_spans_escape_their_content() -> None:
    """It keeps table cells on one line and code spans closed around backticks."""
    assert cell("") == "-"
    assert cell("a | b\nc") == "a \\| b<br>c"
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"


@given(st.text())
def test_front_matter_round_trips_any_text(value: str) -> None:
    """Any text in the front matter reads back unchanged with yaml.safe_load."""
    document = front_matter({"owners": [value], "model-index": [{"name": value}]})
    assert yaml.safe_load(document.split("---\n")[1]) == {
        "owners": [text(value)],
        "model-index": [{"name": text(value)}],
    }
