"""Policy gates: from a manifest, the promotion policy and metrics to a decision with reasons.

Pure logic on plain data (the parsed `model.yaml`, `policies/promotion.yaml` and metric
dictionaries). Every gate yields a verdict and a sentence a reviewer can act on; the decision
blocks when an enforced gate fails. A gate that cannot be judged (no production version yet)
says so instead of passing.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops.core.stages import CANARY, PRODUCTION

Verdict = Literal["pass", "fail", "not-applicable", "off"]
Mode = Literal["enforce", "warn", "off"]
GATES = ("absolute", "relative_to_production", "card_sections", "compliance")
# Float noise from a CSV round trip must not fail a gate sitting exactly on its threshold.
EPSILON = 1e-9


@dataclass(frozen=True)
class GateResult:
    gate: str
    mode: Mode
    verdict: Verdict
    reason: str

    @property
    def blocking(self) -> bool:
        return self.mode == "enforce" and self.verdict == "fail"

    @property
    def warning(self) -> bool:
        return self.mode == "warn" and self.verdict == "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "mode": self.mode,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Decision:
    model: str
    gates: tuple[GateResult, ...]
    override_reason: str | None = None

    @property
    def passed(self) -> bool:
        return not any(g.blocking for g in self.gates)

    @property
    def summary(self) -> str:
        blocking = [g.gate for g in self.gates if g.blocking]
        warnings = [g.gate for g in self.gates if g.warning]
        if blocking:
            return "blocked by " + ", ".join(blocking)
        if warnings:
            return "passes with warnings: " + ", ".join(warnings)
        return "passes every gate"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "passed": self.passed,
            "summary": self.summary,
            "override_reason": self.override_reason,
            "gates": [g.to_dict() for g in self.gates],
        }


@dataclass(frozen=True)
class MetricRow:
    """One line of the comparison table: a metric for production and the candidate."""

    metric: str
    candidate: float | None
    production: float | None
    primary: bool = False
    bounds: dict[str, float] = field(default_factory=dict)

    @property
    def delta(self) -> float | None:
        if self.candidate is None or self.production is None:
            return None
        return self.candidate - self.production

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "primary": self.primary,
            "production": self.production,
            "candidate": self.candidate,
            "delta": self.delta,
            "bounds": self.bounds,
        }


def effective_gates(policy: Mapping[str, Any], model: str) -> tuple[dict[str, Any], str | None]:
    """The policy's gates with the model's override merged in, and the override's reason."""
    gates: dict[str, Any] = copy.deepcopy(dict(policy.get("gates") or {}))
    override = (policy.get("overrides") or {}).get(model)
    if not isinstance(override, Mapping):
        return gates, None
    for name, settings in (override.get("gates") or {}).items():
        gates.setdefault(name, {}).update(settings)
    reason = override.get("reason")
    return gates, str(reason) if reason is not None else None


def decide(
    model: str,
    manifest: Mapping[str, Any],
    policy: Mapping[str, Any],
    candidate: Mapping[str, float],
    production: Mapping[str, float] | None,
    production_version: str | None = None,
) -> Decision:
    """Apply every gate of `policy` (with the model's overrides) to a candidate's metrics."""
    gates, override_reason = effective_gates(policy, model)
    checks = {
        "absolute": lambda s: _absolute(manifest, s, candidate),
        "relative_to_production": lambda s: _relative(
            manifest, s, candidate, production, production_version
        ),
        "card_sections": lambda s: _present(manifest.get("card"), s, "model card section"),
        "compliance": lambda s: _present(manifest.get("compliance"), s, "compliance field"),
    }
    results = []
    for name in GATES:
        settings = gates.get(name) or {}
        mode: Mode = settings.get("mode", "enforce")
        if mode == "off":
            results.append(GateResult(name, mode, "off", "switched off by policy"))
            continue
        verdict, reason = checks[name](settings)
        results.append(GateResult(name, mode, verdict, reason))
    return Decision(model, tuple(results), override_reason)


def comparison(
    manifest: Mapping[str, Any],
    candidate: Mapping[str, float],
    production: Mapping[str, float] | None,
) -> list[MetricRow]:
    """Table rows: the primary metric first, then gated and tracked metrics, each once."""
    metrics = manifest.get("metrics") or {}
    primary = metrics.get("primary")
    absolute = (metrics.get("gates") or {}).get("absolute") or {}
    names: list[str] = []
    for name in [primary, *absolute, *(metrics.get("tracked") or [])]:
        if isinstance(name, str) and name not in names:
            names.append(name)
    production = production or {}
    return [
        MetricRow(
            metric=name,
            candidate=_number(candidate.get(name)),
            production=_number(production.get(name)),
            primary=name == primary,
            bounds=dict(absolute.get(name) or {}),
        )
        for name in names
    ]


def stage_order(policy: Mapping[str, Any], target: str, held: Sequence[str]) -> tuple[bool, str]:
    """Whether a version that has held the stages `held` may enter `target`."""
    stages = policy.get("stages") or {}
    order: list[str] = list(stages.get("order") or [])
    if target == CANARY:
        target = PRODUCTION  # a canary is a share of production traffic
    if target not in order:
        return False, f"{target!r} is not a stage (stages: {', '.join(order)})"
    index = order.index(target)
    if index == 0 or stages.get("allow_skip", False):
        return True, f"{target} may be entered directly"
    before = order[index - 1]
    if before in held:
        return True, f"held {before} before {target}"
    return False, f"must hold {before} before {target} (stage order: {' -> '.join(order)})"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _absolute(
    manifest: Mapping[str, Any], settings: Mapping[str, Any], candidate: Mapping[str, float]
) -> tuple[Verdict, str]:
    thresholds = ((manifest.get("metrics") or {}).get("gates") or {}).get("absolute") or {}
    if not thresholds:
        if settings.get("require_model_thresholds", False):
            return (
                "fail",
                "the manifest sets no metrics.gates.absolute threshold (policy requires one)",
            )
        return "pass", "no absolute thresholds set"
    failures, checked = [], []
    for metric, bounds in sorted(thresholds.items()):
        value = _number(candidate.get(metric))
        if value is None:
            failures.append(f"{metric} was not reported by the evaluation")
            continue
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and value < low - EPSILON:
            failures.append(f"{metric} {_fmt(value)} is below the minimum {_fmt(low)}")
        elif high is not None and value > high + EPSILON:
            failures.append(f"{metric} {_fmt(value)} is above the maximum {_fmt(high)}")
        else:
            checked.append(f"{metric} {_fmt(value)} {_bounds_text(low, high)}")
    if failures:
        return "fail", "; ".join(failures)
    return "pass", "; ".join(checked)


def _bounds_text(low: float | None, high: float | None) -> str:
    parts = [
        f">= {_fmt(low)}" if low is not None else "",
        f"<= {_fmt(high)}" if high is not None else "",
    ]
    return " and ".join(p for p in parts if p)


def _relative(
    manifest: Mapping[str, Any],
    settings: Mapping[str, Any],
    candidate: Mapping[str, float],
    production: Mapping[str, float] | None,
    production_version: str | None,
) -> tuple[Verdict, str]:
    metrics = manifest.get("metrics") or {}
    primary, direction = str(metrics.get("primary")), metrics.get("direction", "maximize")
    if production is None:
        return "not-applicable", "no production version yet: nothing to compare against"
    against = f"production (version {production_version})" if production_version else "production"
    new, old = _number(candidate.get(primary)), _number(production.get(primary))
    if new is None:
        return "fail", f"the candidate reports no {primary} to compare with {against}"
    if old is None:
        return "not-applicable", f"{against} recorded no {primary}: nothing to compare against"
    regression = (old - new) if direction == "maximize" else (new - old)
    relative = (metrics.get("gates") or {}).get("relative") or {}
    if "max_regression" in relative:
        allowed = float(relative["max_regression"])
        allowance = f"{_fmt(allowed)} (manifest, in {primary} units)"
    else:
        fraction = float(
            relative.get(
                "max_regression_fraction", settings.get("default_max_regression_fraction", 0)
            )
        )
        allowed = fraction * abs(old)
        source = "manifest" if "max_regression_fraction" in relative else "policy default"
        allowance = f"{_fmt(allowed)} ({fraction:.2%} of production, {source})"
    change = f"{primary} {_fmt(new)} vs {_fmt(old)} in {against}"
    if regression > allowed + EPSILON:
        return (
            "fail",
            f"{change}: regresses by {_fmt(regression)}, more than the allowed {allowance}",
        )
    if regression > 0:
        return "pass", f"{change}: regresses by {_fmt(regression)}, within the allowed {allowance}"
    return "pass", f"{change}: no regression"


def _present(section: Any, settings: Mapping[str, Any], what: str) -> tuple[Verdict, str]:
    required: Sequence[str] = settings.get("required") or []
    section = section if isinstance(section, Mapping) else {}
    missing = [name for name in required if _blank(section.get(name))]
    if missing:
        return "fail", f"missing {what}{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    if not required:
        return "pass", f"no {what}s required"
    return "pass", f"all {len(required)} required {what}s present"


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip().upper().startswith("TODO")
    return isinstance(value, list | dict) and not value


def _fmt(value: float) -> str:
    return f"{value:.6g}"
