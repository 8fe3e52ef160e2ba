"""When a model is due for retraining, and the pull request that proposes it.

`monitoring.retrain` says when: `max_age_days` (the production version is older than that)
and `on_drift` (drift or a performance breach fired in each of the last `PERSIST_RUNS`
monitoring runs of production: one bad window is not yet a trend). Retraining only ever
proposes: it opens a pull request that the ordinary review, gates and owners decide on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlops.core.alerts import DRIFT, FIRING, PERFORMANCE

PERSIST_RUNS = 2
BRANCH_PREFIX = "mlops/retrain/"
LABEL = "mlops-retrain"


@dataclass
class Due:
    reasons: list[str] = field(default_factory=list)  # why it is due; empty: not due
    notes: list[str] = field(default_factory=list)  # why not, or what was looked at

    @property
    def due(self) -> bool:
        return bool(self.reasons)


def due(rules: Mapping[str, Any], version: str | None, created: datetime | None,
        recent: Sequence[Mapping[str, str]], now: datetime) -> Due:  # fmt: skip
    """Whether production is due: `recent` are the newest monitoring runs' alert states
    (kind -> state), newest first."""
    found = Due()
    if version is None:
        found.notes.append("no version is in production: nothing to retrain")
        return found
    limit = rules.get("max_age_days")
    if isinstance(limit, int) and created is not None:
        age = (now - created).days
        (found.reasons if age > limit else found.notes).append(
            f"production version {version} is {age} day(s) old (max_age_days {limit})"
        )
    if rules.get("on_drift"):
        window = list(recent[:PERSIST_RUNS])
        full = len(window) == PERSIST_RUNS
        firing = [
            k for k in (DRIFT, PERFORMANCE) if full and all(s.get(k) == FIRING for s in window)
        ]
        if firing:
            found.reasons.append(f"{' and '.join(firing)} fired in each of the last"
                                 f" {PERSIST_RUNS} monitoring runs of production")  # fmt: skip
        else:
            latest = ", ".join(f"{k} {window[0].get(k, 'unknown')}" for k in (DRIFT, PERFORMANCE)
                               ) if window else "no monitoring run yet"  # fmt: skip
            found.notes.append(f"no drift or performance breach in each of the last"
                               f" {PERSIST_RUNS} monitoring runs (latest: {latest})")  # fmt: skip
    elif not found.reasons:
        found.notes.append("monitoring.retrain.on_drift is off")
    return found


def branch(model: str, now: datetime) -> str:
    return f"{BRANCH_PREFIX}{model}-{now.strftime('%Y%m%d-%H%M%S')}"


def is_retraining_branch(model: str, ref: str) -> bool:
    """Whether `ref` is one of `branch(model, ...)` (not another model's whose name starts
    the same)."""
    return re.fullmatch(re.escape(f"{BRANCH_PREFIX}{model}-") + r"\d{8}-\d{6}", ref) is not None


def pull_request(model: str, version: str, reasons: Sequence[str], before: Mapping[str, str],
                 after: Mapping[str, str], report: str | None) -> tuple[str, str]:  # fmt: skip
    """The title and body of the retraining pull request."""
    title = f"Retrain {model}: {reasons[0]}"
    lines = [f"Retraining **{model}** on refreshed data, proposed by `mlops retrain` because:", ""]
    lines += [f"- {reason}" for reason in reasons]
    lines += ["", f"| data | production v{version} | refreshed |", "|---|---|---|"]
    for path in sorted(set(before) | set(after)):
        lines.append(f"| `{path}` | `{before.get(path, '-')}` | `{after.get(path, '-')}` |")
    if report:
        lines += ["", f"Latest monitoring report: {report}"]
    lines += ["", "The pull request flow trains and evaluates this against production. Nothing"
              " is promoted unless someone promotes the new version on this branch"
              " (`mlops promote`) and the owners approve."]  # fmt: skip
    return title, "\n".join(lines) + "\n"
