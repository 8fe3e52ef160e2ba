"""What one instance of a served model may use (`serving.api.resources` as engine limits),
and how many instances of it an environment runs (`serving.api.replicas`).

`cpu` is cores ("1", "0.5") or millicores ("500m"); `memory` is "512Mi" or "2Gi". The docker
target gives each container exactly these as hard limits (CPU quota and memory, no swap
beyond it), so one model cannot starve the others on a host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_CPU = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m?)")
_MEMORY = re.compile(r"([0-9]+)(Ki|Mi|Gi)")
_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


@dataclass(frozen=True)
class Limits:
    nano_cpus: int | None = None  # billionths of a core, as the Docker engine counts
    memory_bytes: int | None = None


def limits_of(manifest: Mapping[str, Any]) -> Limits:
    """The manifest's `serving.api.resources` as limits (None where it sets none; values the
    schema would refuse count as none, since validation reports them)."""
    resources = ((manifest.get("serving") or {}).get("api") or {}).get("resources") or {}
    return Limits(cpu_nanos(resources.get("cpu")), memory_bytes(resources.get("memory")))


def replicas_of(manifest: Mapping[str, Any], environment: str) -> int:
    """How many instances of the served version `environment` runs: the manifest's
    `serving.api.replicas.<environment>`, else 1."""
    replicas = ((manifest.get("serving") or {}).get("api") or {}).get("replicas") or {}
    count = replicas.get(environment) if isinstance(replicas, Mapping) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def cpu_nanos(quantity: Any) -> int | None:
    match = _CPU.fullmatch(str(quantity)) if quantity is not None else None
    if match is None:
        return None
    cores = float(match.group(1)) / (1000 if match.group(2) else 1)
    return round(cores * 1e9) or None


def memory_bytes(quantity: Any) -> int | None:
    match = _MEMORY.fullmatch(str(quantity)) if quantity is not None else None
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)] or None
