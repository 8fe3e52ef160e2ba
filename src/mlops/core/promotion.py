"""A promotion: a version moves into a stage of registry.yaml, if the policies allow it.

Pure logic on the parsed registry, manifest and promotion policy. `promote()` returns the new
registry data (the input is never modified) and what changed, or raises `Refused` with every
reason: unknown version, illegal stage order, failed enforced gates, a canary without
production. Versions are strings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops.core.policy import Decision, decide, stage_order
from mlops.core.stages import CANARY, PRODUCTION, PROMOTION_STAGES

VERSION_FIELDS = (
    "run_id", "model_uri", "git_commit", "dvc_hashes", "params_hash", "metrics",
    "artifact_sha256", "model_sha256", "created", "bento_tag", "image_digest", "image",
)  # fmt: skip


class Refused(Exception):
    """The promotion breaks a rule; `reasons` says each one."""

    def __init__(self, reasons: list[str], decision: Decision | None = None) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.decision = decision


@dataclass
class Promotion:
    model: str
    version: str
    stage: str
    canary_weight: int | None
    registry: dict[str, Any]
    changes: list[str] = field(default_factory=list)
    decision: Decision | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def promote(
    registry: Mapping[str, Any],
    model: str,
    version: str,
    stage: str,
    *,
    manifest: Mapping[str, Any],
    policy: Mapping[str, Any],
    candidate: Mapping[str, Any] | None = None,
    canary_weight: int | None = None,
) -> Promotion:
    """Move `version` of `model` into `stage` (a canary share of production with a weight).

    `candidate` is the record `mlops train` wrote, used when the version is not yet listed
    in the registry (it becomes the version's entry).
    """
    data = copy.deepcopy(dict(registry))
    models = data.setdefault("models", {})
    entry = models.setdefault(model, {"versions": {}, "stages": {}})
    versions, stages = entry.setdefault("versions", {}), entry.setdefault("stages", {})
    changes: list[str] = []
    if stage not in PROMOTION_STAGES:
        raise Refused([f"unknown stage {stage!r} (stages: {', '.join(PROMOTION_STAGES)})"])
    if canary_weight is not None and stage != PRODUCTION:
        raise Refused(["a canary is a share of production traffic: use --to production"])
    if version not in versions:
        if candidate is None or str(candidate.get("version")) != version:
            known = ", ".join(sorted(versions, key=_order)) or "none"
            raise Refused([f"{model} has no version {version} (registered here: {known})"])
        versions[version] = {k: candidate[k] for k in VERSION_FIELDS if k in candidate}
        changes.append(f"add version {version} (run {candidate.get('run_id')})")
    reasons = []
    held = [s for s in PROMOTION_STAGES if stages.get(s) == version]
    canary = stages.get(CANARY) or {}
    wanted_canary = {"version": version, "weight": canary_weight}
    if (canary_weight is None and stages.get(stage) == version) or canary == wanted_canary:
        return Promotion(model, version, stage, canary_weight, data, changes)  # already so
    ok, why = stage_order(policy, CANARY if canary_weight else stage, held)
    if not ok:
        reasons.append(why)
    production = stages.get(PRODUCTION)
    decision = decide(
        model, manifest, policy, _metrics(versions[version]),
        _metrics(versions.get(production, {})) if production and production != version else None,
        production if production != version else None,
    )  # fmt: skip
    reasons += [f"gate {g.gate}: {g.reason}" for g in decision.gates if g.blocking]
    if canary_weight is not None and production is None:
        reasons.append("a canary splits production traffic, but no version holds production")
    if canary_weight is not None and production == version:
        reasons.append(f"version {version} already serves all production traffic")
    if reasons:
        raise Refused(reasons, decision)
    if canary_weight is not None:
        stages[CANARY] = {"version": version, "weight": canary_weight}
        changes.append(f"canary: version {version} takes {canary_weight}% of production traffic")
    else:
        before = stages.get(stage)
        stages[stage] = version
        changes.append(f"{stage}: {before or 'nothing'} -> {version}")
        if stage == PRODUCTION and canary:
            del stages[CANARY]  # a full rollout ends any canary
            changes.append(f"canary of version {canary.get('version')} ended")
    return Promotion(model, version, stage, canary_weight, data, changes, decision)


def _metrics(record: Mapping[str, Any]) -> dict[str, float]:
    metrics = record.get("metrics") or {}
    return {str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def _order(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)
