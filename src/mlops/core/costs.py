"""Cost visibility: recorded usage priced with `policies/costs.yaml`, per model and cost centre.

Pure logic on plain data. Usage comes in as `Usage` records (one training run, one batch run,
one serving instance), each already attributed to a model and a cost centre; rates come from
the parsed policy. Who pays: a manifest's `cost_centre`, else the team of its first team owner
(`@acme/clinical-ml` -> `clinical-ml`), else its first owner. Runs and containers carry the
same attribution as `mlops.owner` and `mlops.cost_centre` labels, and a recorded label wins
over today's manifest (a model that moved teams keeps its history where it was paid).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops.core.diagnostics import Diagnostic
from mlops.core.document import Document
from mlops.core.moments import parse_moment

CPU_SECOND, INSTANCE_HOUR, BATCH_ROW, BATCH_SECOND = (
    "cpu_second", "instance_hour", "batch_row", "batch_second"
)  # fmt: skip
UNITS = (CPU_SECOND, INSTANCE_HOUR, BATCH_ROW, BATCH_SECOND)  # the schema's enum, in this order
TRAINING, SERVING, BATCH = "training", "serving", "batch"
KINDS = (TRAINING, SERVING, BATCH)

OWNER_LABEL = "mlops.owner"
COST_CENTRE_LABEL = "mlops.cost_centre"
UNASSIGNED = "unassigned"


def cost_centre_of(manifest: Mapping[str, Any]) -> str:
    """Who pays for a model: its `cost_centre`, else its first team's name, else its first
    owner's; `unassigned` for a manifest with neither (an invalid one)."""
    explicit = manifest.get("cost_centre")
    if isinstance(explicit, str) and explicit:
        return explicit
    owners = _owners(manifest)
    teams = [o.split("/", 1)[1] for o in owners if "/" in o]
    chosen = teams[0] if teams else (owners[0].lstrip("@") if owners else "")
    return chosen.lower() or UNASSIGNED


def cost_labels(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The owner and cost-centre labels a model's runs and containers carry."""
    return {
        OWNER_LABEL: ",".join(_owners(manifest)),
        COST_CENTRE_LABEL: cost_centre_of(manifest),
    }


def _owners(manifest: Mapping[str, Any]) -> list[str]:
    owners = manifest.get("owners")
    return [o for o in owners if isinstance(o, str)] if isinstance(owners, list) else []


@dataclass(frozen=True)
class Rates:
    """Price per unit in one currency; a unit without a rate has no price (None)."""

    currency: str
    prices: Mapping[str, float]

    @classmethod
    def from_policy(cls, data: Mapping[str, Any]) -> Rates:
        """The rates of a policy that passed its schema and `costs_rules`."""
        prices = {str(r["unit"]): float(r["price"]) for r in data.get("rates") or []}
        return cls(str(data.get("currency", "")), prices)

    def cost(self, unit: str, quantity: float) -> float | None:
        price = self.prices.get(unit)
        return None if price is None else price * quantity


def costs_rules(doc: Document) -> list[Diagnostic]:
    """Each unit has one price: a second rate for the same unit is an error at its `unit`."""
    rates = doc.get(("rates",))
    if not isinstance(rates, list):
        return []
    seen: dict[str, int] = {}
    problems = []
    for index, rate in enumerate(rates):
        unit = rate.get("unit") if isinstance(rate, dict) else None
        if not isinstance(unit, str):
            continue
        if unit in seen:
            message = (
                f"expected each unit once; {unit!r} is already priced at $.rates[{seen[unit]}]"
            )
            problems.append(doc.error(("rates", index, "unit"), message))
        else:
            seen[unit] = index
    return problems


@dataclass(frozen=True)
class Usage:
    """What one run or serving instance used, attributed to a model and a cost centre."""

    model: str
    cost_centre: str
    kind: str  # training | serving | batch
    quantities: Mapping[str, float]


@dataclass
class CostLine:
    """One model's usage and cost under one cost centre."""

    model: str
    cost_centre: str
    owners: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    quantities: dict[str, float] = field(default_factory=lambda: dict.fromkeys(UNITS, 0.0))

    def costs(self, rates: Rates) -> dict[str, float | None]:
        return {unit: rates.cost(unit, self.quantities[unit]) for unit in UNITS}

    def total(self, rates: Rates) -> float:
        return sum(c for c in self.costs(rates).values() if c is not None)

    def to_dict(self, rates: Rates) -> dict[str, Any]:
        costs = self.costs(rates)
        return {
            "model": self.model,
            "cost_centre": self.cost_centre,
            "owners": self.owners,
            "training": {
                "runs": self.counts[TRAINING],
                "cpu_seconds": _round(self.quantities[CPU_SECOND]),
                "cost": _money(costs[CPU_SECOND]),
            },
            "serving": {
                "instances": self.counts[SERVING],
                "instance_hours": _round(self.quantities[INSTANCE_HOUR]),
                "cost": _money(costs[INSTANCE_HOUR]),
            },
            "batch": {
                "runs": self.counts[BATCH],
                "rows": _round(self.quantities[BATCH_ROW]),
                "seconds": _round(self.quantities[BATCH_SECOND]),
                "cost": _money(_sum(costs[BATCH_ROW], costs[BATCH_SECOND])),
            },
            "total": _money(self.total(rates)),
        }


@dataclass(frozen=True)
class CostReport:
    """Every model's cost lines over a window, and the rates that priced them."""

    since: datetime | None
    until: datetime
    rates: Rates
    lines: list[CostLine]

    def by_cost_centre(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.cost_centre] = totals.get(line.cost_centre, 0.0) + line.total(self.rates)
        return dict(sorted(totals.items()))

    def total(self) -> float:
        return sum(line.total(self.rates) for line in self.lines)

    def unpriced(self) -> list[str]:
        """Units that were used but have no rate in the policy."""
        return [u for u in UNITS if u not in self.rates.prices
                and any(line.quantities[u] for line in self.lines)]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since) if self.since else None,
            "until": _iso(self.until),
            "currency": self.rates.currency,
            "rates": dict(self.rates.prices),
            "models": [line.to_dict(self.rates) for line in self.lines],
            "cost_centres": [
                {"cost_centre": c, "total": _money(t)} for c, t in self.by_cost_centre().items()
            ],
            "total": _money(self.total()),
            "unpriced": self.unpriced(),
        }


def price(
    usages: Iterable[Usage], models: Mapping[str, Mapping[str, Any]], rates: Rates,
    since: datetime | None, until: datetime,
) -> CostReport:  # fmt: skip
    """Sum usage per (model, cost centre). Every model in `models` (name -> manifest) has a
    line under its own cost centre, used or not; usage of a model not in `models` is kept
    (a removed model's history still cost money)."""
    lines: dict[tuple[str, str], CostLine] = {}
    for name, manifest in models.items():
        key = (name, cost_centre_of(manifest))
        lines[key] = CostLine(name, key[1], ",".join(_owners(manifest)))
    for usage in usages:
        key = (usage.model, usage.cost_centre)
        if key not in lines:
            owners = ",".join(_owners(models.get(usage.model, {})))
            lines[key] = CostLine(usage.model, usage.cost_centre, owners)
        line = lines[key]
        line.counts[usage.kind] += 1
        for unit, amount in usage.quantities.items():
            line.quantities[unit] += amount
    ordered = [lines[k] for k in sorted(lines)]
    return CostReport(since, until, rates, ordered)


def attributed(labels: Mapping[str, str], manifest: Mapping[str, Any] | None) -> str:
    """The cost centre of recorded usage: its label, else the model's manifest."""
    label = labels.get(COST_CENTRE_LABEL)
    if label:
        return label
    return cost_centre_of(manifest) if manifest is not None else UNASSIGNED


def hours_between(start: datetime, end: datetime, since: datetime | None) -> float:
    """Hours of [start, end] inside the window that opens at `since` (0 when none)."""
    begin = max(start, since) if since is not None else start
    return max((end - begin).total_seconds(), 0.0) / 3600


_RELATIVE = re.compile(r"^(\d+)([hdw])$")
_UNIT_DELTA = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: a span back from `now` (`12h`, `30d`, `2w`) or an ISO 8601 date or time
    (UTC unless it says otherwise). Raises ValueError saying what is expected."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        return now - int(relative[1]) * _UNIT_DELTA[relative[2]]
    try:
        parsed = parse_moment(value)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected a span such as 12h, 30d or 2w, or an ISO 8601 date or "
            "time such as 2026-01-31 or 2026-01-31T12:00:00Z"
        ) from None
    if parsed > now:
        raise ValueError(f"--since {text!r} is in the future")
    return parsed


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _round(value: float) -> float:
    """Without float noise (0.1 + 0.2), still exact enough for the smallest rates."""
    return round(value, 12)


def _money(value: float | None) -> float | None:
    return None if value is None else _round(value)


def _sum(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
