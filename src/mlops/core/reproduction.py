"""The verdict of a reproduction: a version retrained from its recorded lineage, compared.

Data hashes and parameters must match exactly; metrics must agree within their tolerance
(integers exactly, unless the manifest gives one); the model artifact is either
bit-identical or, when everything else agrees, *equivalent*, with the reasons a platform
fingerprint can give (another BLAS kernel, CPU, thread count or library version).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.core.platform import differences

IDENTICAL, EQUIVALENT, DIFFERENT = "identical", "equivalent", "different"
SAME, CLOSE, DIFFERS = "same", "within tolerance", "differs"
# Floating-point metrics with no tolerance set must agree up to rounding.
DEFAULT_RELATIVE = 1e-9


@dataclass(frozen=True)
class Tolerances:
    """Absolute tolerances: one for every floating-point metric, and per metric."""

    default: float | None = None
    per_metric: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_manifest(
        cls, manifest: Mapping[str, Any], override: float | None = None
    ) -> Tolerances:
        section = manifest.get("metrics", {}).get("reproduction", {})
        default = override if override is not None else section.get("tolerance")
        return cls(default, dict(section.get("tolerances", {})))

    def agree(self, metric: str, recorded: Any, reproduced: Any) -> str:
        if recorded is None or reproduced is None:  # NaN is written as null
            return SAME if recorded is reproduced else DIFFERS
        if not (_number(recorded) and _number(reproduced)):
            return DIFFERS
        if recorded == reproduced:
            return SAME
        tolerance = self.per_metric.get(metric, self.default)
        if tolerance is None:
            integers = isinstance(recorded, int) and isinstance(reproduced, int)
            close = not integers and math.isclose(recorded, reproduced, rel_tol=DEFAULT_RELATIVE)
        else:
            # The tolerance on top of rounding: 0.996201 - 0.9962 is a hair over 1e-6.
            slack = DEFAULT_RELATIVE * max(abs(recorded), abs(reproduced))
            close = abs(recorded - reproduced) <= tolerance + slack
        return CLOSE if close else DIFFERS


@dataclass(frozen=True)
class Row:
    item: str
    recorded: str
    reproduced: str
    status: str

    @property
    def match(self) -> bool:
        return self.status != DIFFERS


@dataclass(frozen=True)
class Verdict:
    outcome: str  # identical | equivalent | different
    rows: list[Row]
    reasons: list[str]

    @property
    def bit_identical(self) -> bool:
        return self.outcome == IDENTICAL

    def headline(self) -> str:
        if self.outcome == IDENTICAL:
            return "reproduced exactly: bit-identical artifact"
        if self.outcome == EQUIVALENT:
            return "equivalent, not bit-identical: " + "; ".join(self.reasons[:3])
        wrong = [r.item for r in self.rows if not r.match and r.item != ARTIFACT]
        return "did not reproduce: " + ", ".join(wrong)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.outcome,
            "headline": self.headline(),
            "reasons": self.reasons,
            "reproduced_exactly": self.bit_identical,
            "comparison": [{**asdict(r), "match": r.match} for r in self.rows],
        }


ARTIFACT = "model artifact sha256"


def judge(recorded: Mapping[str, Any], reproduced: Mapping[str, Any], tol: Tolerances) -> Verdict:
    """Compare what a version recorded with what its reproduction produced.

    Both sides carry `dvc_hashes`, `params_hash`, `metrics` (the held-out evaluation as
    written, integers kept) and `artifact_sha256`; both may carry a `platform` fingerprint.
    """
    rows = [*_data_rows(recorded, reproduced), *_params_rows(recorded, reproduced)]
    rows += _metric_rows(recorded["metrics"], reproduced["metrics"], tol)
    same_artifact = recorded["artifact_sha256"] == reproduced["artifact_sha256"]
    artifact = SAME if same_artifact else DIFFERS
    rows.append(Row(ARTIFACT, recorded["artifact_sha256"][:16],
                    reproduced["artifact_sha256"][:16], artifact))  # fmt: skip
    reasons = _reasons(recorded.get("platform"), reproduced.get("platform"))
    if not all(r.match for r in rows[:-1]):
        return Verdict(DIFFERENT, rows, reasons)
    if same_artifact:
        return Verdict(IDENTICAL, rows, reasons)
    return Verdict(EQUIVALENT, rows, reasons or [_UNEXPLAINED])


_UNEXPLAINED = (
    "no recorded difference of platform, libraries or thread settings explains it: the "
    "training is not deterministic here (unseeded randomness, or threads that reduce in "
    "a varying order)"
)


def _reasons(recorded: Mapping[str, Any] | None, here: Mapping[str, Any] | None) -> list[str]:
    if not recorded:
        return ["the version records no platform fingerprint (trained before they were kept)"]
    return differences(recorded, here or {})


def _data_rows(recorded: Mapping[str, Any], reproduced: Mapping[str, Any]) -> list[Row]:
    rows = []
    for path, md5 in sorted(recorded["dvc_hashes"].items()):
        got = reproduced["dvc_hashes"].get(path, "missing")
        rows.append(Row(f"data {path}", md5, got, SAME if got == md5 else DIFFERS))
    return rows


def _params_rows(recorded: Mapping[str, Any], reproduced: Mapping[str, Any]) -> list[Row]:
    want, got = recorded.get("params_hash"), reproduced.get("params_hash")
    if not want:
        return []
    return [Row("parameters", want[:23], str(got)[:23], SAME if want == got else DIFFERS)]


def _metric_rows(
    recorded: Mapping[str, Any], reproduced: Mapping[str, Any], tol: Tolerances
) -> list[Row]:
    rows = []
    for metric in sorted(set(recorded) | set(reproduced)):
        if metric not in recorded or metric not in reproduced:
            rows.append(Row(f"metric {metric}", _show(recorded.get(metric, "missing")),
                            _show(reproduced.get(metric, "missing")), DIFFERS))  # fmt: skip
            continue
        want, got = recorded[metric], reproduced[metric]
        rows.append(Row(f"metric {metric}", _show(want), _show(got), tol.agree(metric, want, got)))
    return rows


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return "NaN" if value is None else str(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
