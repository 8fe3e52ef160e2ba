"""The registry's stages and the environments that serve them: the one place they are named.

A stage is a key of a model's `stages` in registry.yaml; an environment is where versions run
(and the MLflow aliases of its stages). `policies/schemas/registry.schema.json` names the same
stages, and a test holds the two together.
"""

from __future__ import annotations

STAGING, PRODUCTION, CANARY = "staging", "production", "canary"

# Every stage, in promotion order; a canary is a weighted share of production.
STAGES = (STAGING, PRODUCTION, CANARY)
# What `mlops promote --to` moves a version into (a canary is `--to production --canary W`).
PROMOTION_STAGES = (STAGING, PRODUCTION)
# Each environment and the stages it serves, in the order they take traffic.
ENVIRONMENT_STAGES: dict[str, tuple[str, ...]] = {
    STAGING: (STAGING,),
    PRODUCTION: (PRODUCTION, CANARY),
}
ENVIRONMENTS = tuple(ENVIRONMENT_STAGES)
