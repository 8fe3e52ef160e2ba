"""The verdict of a reproduction: identical, equivalent (with reasons) or different."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.core.reproduction import Tolerances, judge

PLATFORM = {
    "machine": "x86_64", "cpu": "AMD EPYC", "python": "3.11.7",
    "settings": {}, "cpu_flags": ["avx2", "fma"],
    "libraries": [{"api": "openblas", "file": "libopenblas-0123abcd.so", "version": "0.3.30",
                   "kernel": "SkylakeX", "threads": 2}],
}  # fmt: skip


def side(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "dvc_hashes": {"data/train.csv": "aa", "data/holdout.csv": "bb"},
        "params_hash": "sha256:" + "1" * 64,
        "metrics": {"roc_auc": 0.9962, "n_rows": 143},
        "artifact_sha256": "f" * 64,
        "platform": PLATFORM,
    }
    return {**base, **changes}


def test_the_same_bytes_are_identical() -> None:
    """Everything equal: identical, every row the same, no reasons needed."""
    verdict = judge(side(), side(), Tolerances())
    assert verdict.outcome == "identical" and verdict.bit_identical
    assert {r.status for r in verdict.rows} == {"same"}
    assert verdict.headline() == "reproduced exactly: bit-identical artifact"


def test_other_bytes_from_another_kernel_are_equivalent_with_the_reason() -> None:
    """A different artifact with equal data, parameters and metrics is equivalent, and the
    reasons name the kernel and the setting that chose it."""
    here = {**PLATFORM, "settings": {"OPENBLAS_CORETYPE": "Haswell"},
            "libraries": [{**PLATFORM["libraries"][0], "file": "libopenblas-99999999.so",
                           "kernel": "Haswell"}]}  # fmt: skip
    verdict = judge(side(), side(artifact_sha256="e" * 64, platform=here), Tolerances())
    assert verdict.outcome == "equivalent" and not verdict.bit_identical
    assert verdict.reasons == [
        "setting OPENBLAS_CORETYPE: not set when trained, Haswell here",
        "libopenblas.so kernel: SkylakeX when trained, Haswell here",
    ]
    assert verdict.headline().startswith("equivalent, not bit-identical: setting OPENBLAS")


def test_other_bytes_on_the_same_platform_are_called_nondeterminism() -> None:
    """Nothing recorded explains the difference: the verdict says the training is not
    deterministic rather than inventing a cause."""
    verdict = judge(side(), side(artifact_sha256="e" * 64), Tolerances())
    assert verdict.outcome == "equivalent"
    assert "not deterministic" in verdict.reasons[0]


def test_a_version_without_a_fingerprint_says_so() -> None:
    verdict = judge(side(platform=None), side(artifact_sha256="e" * 64), Tolerances())
    assert verdict.reasons == [
        "the version records no platform fingerprint (trained before they were kept)"
    ]


@pytest.mark.parametrize(
    ("changes", "item"),
    [
        ({"dvc_hashes": {"data/train.csv": "zz", "data/holdout.csv": "bb"}}, "data data/train.csv"),
        ({"params_hash": "sha256:" + "2" * 64}, "parameters"),
        ({"metrics": {"roc_auc": 0.9, "n_rows": 143}}, "metric roc_auc"),
        ({"metrics": {"roc_auc": 0.9962, "n_rows": 144}}, "metric n_rows"),
        ({"metrics": {"roc_auc": 0.9962}}, "metric n_rows"),
    ],
)
def test_data_parameters_or_metrics_that_differ_are_different(
    changes: dict[str, Any], item: str
) -> None:
    """Data and parameters must match exactly, metrics within tolerance, whatever the
    artifact: the verdict is `different` and names the row."""
    verdict = judge(side(), side(**changes), Tolerances())
    assert verdict.outcome == "different"
    assert [r.item for r in verdict.rows if not r.match] == [item]
    assert verdict.headline() == f"did not reproduce: {item}"


def test_metric_tolerances() -> None:
    """Floats agree up to rounding by default; integers exactly; the manifest widens both,
    per metric first."""
    default = Tolerances()
    assert default.agree("auc", 0.1 + 0.2, 0.3) == "within tolerance"
    assert default.agree("auc", 0.9962, 0.9963) == "differs"
    assert default.agree("n", 143, 144) == "differs"
    assert default.agree("n", None, None) == "same"  # NaN on both sides
    assert default.agree("n", None, 1.0) == "differs"
    manifest = {"metrics": {"reproduction": {"tolerance": 1e-6, "tolerances": {"n": 1}}}}
    wide = Tolerances.from_manifest(manifest)
    assert wide.agree("auc", 0.996200, 0.996201) == "within tolerance"
    assert wide.agree("auc", 0.9962, 0.9963) == "differs"
    assert wide.agree("n", 143, 144) == "within tolerance"
    assert Tolerances.from_manifest(manifest, override=0.01).agree("auc", 0.9962, 0.9963) == (
        "within tolerance"
    )
    assert Tolerances.from_manifest({}).default is None


def test_to_dict_is_what_json_callers_read() -> None:
    data = judge(side(), side(artifact_sha256="e" * 64), Tolerances()).to_dict()
    assert data["verdict"] == "equivalent" and data["reproduced_exactly"] is False
    assert data["comparison"][-1] == {
        "item": "model artifact sha256", "recorded": "f" * 16, "reproduced": "e" * 16,
        "status": "differs", "match": False,
    }  # fmt: skip
