"""The stage names live in core/stages.py; the schemas and policies that name them agree."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mlops.core.stages import ENVIRONMENT_STAGES, ENVIRONMENTS, PROMOTION_STAGES, STAGES

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_schema_names_exactly_the_stages() -> None:
    schema = json.loads((ROOT / "policies/schemas/registry.schema.json").read_text())
    stages = schema["$defs"]["model"]["properties"]["stages"]
    assert tuple(stages["properties"]) == STAGES
    assert stages["additionalProperties"] is False


def test_the_promotion_policy_orders_the_promotion_stages() -> None:
    policy = yaml.safe_load((ROOT / "policies/promotion.yaml").read_text())
    assert tuple(policy["stages"]["order"]) == PROMOTION_STAGES


def test_every_stage_is_served_by_exactly_one_environment() -> None:
    served = [stage for stages in ENVIRONMENT_STAGES.values() for stage in stages]
    assert sorted(served) == sorted(STAGES)
    assert tuple(ENVIRONMENT_STAGES) == ENVIRONMENTS
