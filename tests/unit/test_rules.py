"""Cross-field and cross-file rules a JSON Schema cannot express."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mlops.adapters.yaml_files import load_yaml_file
from mlops.core.cron import cron_problem
from mlops.core.document import Document
from mlops.core.names import model_name_problem, owner_problem
from mlops.core.rules import manifest_rules, promotion_rules, registry_rules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def manifest() -> dict[str, Any]:
    doc = load_yaml_file(ROOT / "models/breast-cancer/model.yaml", "m.yaml").document
    assert doc is not None
    return copy.deepcopy(doc.data)


def messages(
    data: dict[str, Any],
    folder: str = "breast-cancer",
    files: tuple[str, ...] = ("train.py", "predict.py"),
) -> list[str]:
    return [d.message for d in manifest_rules(folder, Document("m.yaml", data), files.__contains__)]


def test_the_example_manifest_passes_every_rule(manifest: dict[str, Any]) -> None:
    """The shipped breast-cancer manifest has no rule violations."""
    assert messages(manifest) == []


def test_name_must_equal_the_folder(manifest: dict[str, Any]) -> None:
    """A manifest whose name differs from its folder is refused, with both names."""
    assert messages(manifest, folder="other") == [
        "name 'breast-cancer' must equal the model's folder name 'other' "
        "(rename the folder or set name: other)"
    ]


def test_entrypoints_must_exist_and_match_the_language(manifest: dict[str, Any]) -> None:
    """Missing entrypoint files and files of another language are both errors."""
    manifest["entrypoints"]["predict"] = "predict.R"
    assert messages(manifest, files=("train.py", "predict.R")) == [
        "language is python but 'predict.R' is not a .py file"
    ]
    assert messages(manifest, files=("predict.R",)) == [
        "train entrypoint 'train.py' does not exist",
        "language is python but 'predict.R' is not a .py file",
    ]


def test_feature_rules(manifest: dict[str, Any]) -> None:
    """Duplicate features, inverted bounds, target-as-feature and unknown drift features."""
    features = manifest["data"]["features"]
    features.append(dict(features[0]))
    features[1]["minimum"], features[1]["maximum"] = 5, 1
    features.append({"name": "malignant", "type": "integer"})
    manifest["monitoring"]["drift"]["features"].append("nonexistent")
    assert messages(manifest) == [
        "minimum 5 is greater than maximum 1",
        "feature 'mean_radius' is declared twice (first at data.features[0])",
        "target 'malignant' is also declared as a feature",
        "drift is watched on 'nonexistent', which is not a declared feature",
    ]


def test_metric_rules(manifest: dict[str, Any]) -> None:
    """Gates and monitoring must name known metrics; bounds must admit some value."""
    manifest["metrics"]["gates"]["absolute"]["precision"] = {"min": 0.9}
    manifest["metrics"]["gates"]["absolute"]["accuracy"] = {"min": 0.9, "max": 0.8}
    manifest["monitoring"]["performance"]["metric"] = "recall"
    assert messages(manifest) == [
        "min 0.9 is greater than max 0.8: no value passes",
        "gate on 'precision', which is neither the primary metric nor tracked",
        "performance metric 'recall' is neither the primary metric nor tracked",
    ]


def test_classification_needs_classes_and_pii_fields_must_exist(manifest: dict[str, Any]) -> None:
    """A classifier lists its classes; PII fields name real columns."""
    del manifest["data"]["target"]["classes"]
    manifest["compliance"]["pii_fields"] = ["mean_radius", "patient_name"]
    assert messages(manifest) == [
        "a classification target must list its classes",
        "PII field 'patient_name' is neither a feature nor the target",
    ]


def test_placeholders_are_warnings(manifest: dict[str, Any]) -> None:
    """Template TODOs are flagged as warnings, which do not fail validation."""
    manifest["card"]["limitations"] = "TODO: write this"
    found = manifest_rules("breast-cancer", Document("m.yaml", manifest), lambda _: True)
    assert [(d.severity, d.json_path) for d in found] == [("warning", "$.card.limitations")]


def test_rules_survive_malformed_documents() -> None:
    """Rules read defensively: wrong shapes are the schema's job and never crash a rule."""
    for data in (None, [], "x", {"data": {"features": "x"}, "metrics": [], "entrypoints": 3},
                 {"data": {"features": [1, {"name": 2}]}, "monitoring": {"drift": {"features": 1}}}):  # fmt: skip
        manifest_rules("m", Document("m.yaml", data), lambda _: True)
        registry_rules(Document("r.yaml", data), set())
        promotion_rules(Document("p.yaml", data), set())


def test_registry_rules() -> None:
    """Entries name models; stage pointers name versions; canary differs from production."""
    data = {
        "models": {
            "ghost": {"versions": {}, "stages": {}},
            "m": {
                "versions": {"1": {}, "2": {}},
                "stages": {
                    "staging": "3",
                    "production": "2",
                    "canary": {"version": "2", "weight": 5},
                },
            },
        }
    }
    found = [(d.json_path, d.message) for d in registry_rules(Document("r.yaml", data), {"m"})]
    assert found == [
        ("$.models.ghost", "registry entry 'ghost' names no model (no folder models/ghost/)"),
        ("$.models.m.stages.staging",
         "staging points to version '3', which is not in models.m.versions (known: 1, 2)"),
        ("$.models.m.stages.canary.version", "canary version is already the production version"),
    ]  # fmt: skip


def test_a_pushed_image_reference_needs_its_image_id_and_a_valid_name() -> None:
    """`image` (pinned by digest) comes with the `image_digest` it was built as, and its name
    must be one a registry accepts; an unpinned `image` is left to the schema."""
    pinned = "127.0.0.1:5000/acme/m@sha256:" + "ab" * 32
    image_id = "sha256:" + "cd" * 32
    versions = {
        "1": {"image": pinned, "image_digest": image_id},
        "2": {"image": pinned},
        "3": {"image": "127.0.0.1:5000/Acme/m@sha256:" + "ab" * 32, "image_digest": image_id},
        "4": {"image": "127.0.0.1:5000/acme/m:4", "image_digest": image_id},
    }
    data = {"models": {"m": {"versions": versions, "stages": {}}}}
    found = [(d.json_path, d.message) for d in registry_rules(Document("r.yaml", data), {"m"})]
    assert found == [
        ('$.models.m.versions["2"].image',
         "a pushed image needs the image_digest (image ID) it was built as"),
        ('$.models.m.versions["3"].image',
         "repository 'Acme/m' must be lower-case letters and digits, separated by '.', '_' or "
         "'-' within and '/' between components"),
    ]  # fmt: skip


def test_promotion_overrides_must_name_models() -> None:
    """A per-model override for an unknown model is an error at its key."""
    found = promotion_rules(Document("p.yaml", {"overrides": {"ghost": {}, "m": {}}}), {"m"})
    assert [d.message for d in found] == ["override for 'ghost', which is not a model"]


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 3 * * 1", None),
        ("*/15 0-6,22 1 jan-mar mon-fri", None),
        ("0 3 * *", "expected 5 cron fields (minute hour day month weekday), got 4"),
        ("60 * * * *", "cron minute must be between 0 and 59, got 60"),
        ("0 0 0 * *", "cron day of month must be between 1 and 31, got 0"),
        ("0 0 * foo *", "cron month field has an unknown name 'foo'"),
        ("*/0 * * * *", "cron minute step cannot be 0"),
        ("0 5-1 * * *", "cron hour range '5-1' runs backwards"),
        ("0 0 * * 1;2", "cron day of week field has an invalid part '1;2'"),
    ],
)
def test_cron_expressions(expression: str, problem: str | None) -> None:
    """Schedules are five valid cron fields."""
    assert cron_problem(expression) == problem


def test_names_and_owners() -> None:
    """Model names are DNS labels; owners are @user or @org/team."""
    assert model_name_problem("churn-propensity") is None
    assert "not DNS-safe" in (model_name_problem("Churn_Model") or "")
    assert "not DNS-safe" in (model_name_problem("ends-with-") or "")
    assert "the limit is 63" in (model_name_problem("a" * 64) or "")
    assert model_name_problem("") == "a model name cannot be empty"
    assert owner_problem("@acme/ml-platform") is None
    assert owner_problem("@alice") is None
    for bad in ("alice", "@", "@-alice", "@acme/", "@a b"):
        assert owner_problem(bad) is not None, bad
