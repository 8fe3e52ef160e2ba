"""The evaluation section of a model card: held-out metrics, gate verdicts, production.

The metrics the promotion gates apply to are the held-out ones (evaluation.json); the
training metrics (metrics.json) stand beside them only for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops.core.card_format import as_dict as _dict
from mlops.core.card_format import as_list as _list
from mlops.core.card_format import cell, code, code_cell, number, paragraph, scalar, table
from mlops.core.policy import Decision, MetricRow

HOLDOUT_ROWS = "n_rows"  # evaluation.json's row count: not a metric


def holdout_input(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's input with role `holdout` (empty when there is none)."""
    for item in _list(_dict(manifest.get("data")).get("inputs")):
        if _dict(item).get("role") == "holdout":
            return _dict(item)
    return {}


def metric_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics of a metrics file, without the held-out row count."""
    return {
        str(k): float(v)
        for k, v in metrics.items()
        if k != HOLDOUT_ROWS and isinstance(v, int | float) and not isinstance(v, bool)
    }


def section(
    manifest: Mapping[str, Any],
    held_out: Mapping[str, Any],
    training: Mapping[str, Any],
    rows: Sequence[MetricRow],
    decision: Decision,
    production_version: str | None,
) -> str:
    """Held-out metrics beside training metrics and gate bounds, the gates' verdicts, and
    the comparison with production (or why there is none)."""
    metrics = _dict(manifest.get("metrics"))
    holdout = holdout_input(manifest)
    count = held_out.get(HOLDOUT_ROWS)
    where = f" of {code(holdout['path'])}" if holdout.get("path") else ""
    on = (
        f" on {count} held-out rows{where}"
        if isinstance(count, int)
        else f" on held-out data{where}"
    )
    intro = (
        f"Held-out metrics come from `evaluation.json`, written by the pipeline's evaluate stage"
        f"{on}; the promotion gates apply to them. Training metrics (`metrics.json`) stand "
        "beside them: a large gap between the two suggests overfitting."
    )
    values, trained = metric_values(held_out), metric_values(training)
    listed = [row.metric for row in rows]
    extra = sorted(set(values) - set(listed))
    table_rows = []
    for row in [*rows, *(MetricRow(m, values[m], None) for m in extra)]:
        name = code_cell(row.metric)
        if row.primary:
            name = f"**{name}** (primary, {cell(metrics.get('direction', 'maximize'))})"
        measured = number(values[row.metric]) if row.metric in values else "not reported"
        table_rows.append(
            [name, measured, number(trained[row.metric]) if row.metric in trained else "-",
             _bounds(row.bounds)]
        )  # fmt: skip
    parts = [
        "## Evaluation",
        intro,
        table(["Metric", "Held-out", "Training", "Gate"], table_rows),
        "### Promotion gates",
        _gates(decision),
        "### Comparison with production",
        _production(rows, production_version, str(metrics.get("direction", "maximize"))),
    ]
    return "\n\n".join(parts)


def _bounds(bounds: Mapping[str, Any]) -> str:
    parts = []
    if bounds.get("min") is not None:
        parts.append(f"≥ {scalar(bounds['min'])}")
    if bounds.get("max") is not None:
        parts.append(f"≤ {scalar(bounds['max'])}")
    return " and ".join(parts) or "-"


def _gates(decision: Decision) -> str:
    verdicts = {"fail": "**fail**", "not-applicable": "not applicable"}
    rows = [
        [code_cell(g.gate), g.mode, verdicts.get(g.verdict, g.verdict), cell(g.reason)]
        for g in decision.gates
    ]
    lines = [
        f"Decision: **{decision.summary}**, judged by `policies/promotion.yaml` with this "
        "model's `metrics.gates`.",
        table(["Gate", "Mode", "Verdict", "Reason"], rows),
    ]
    if decision.override_reason:
        lines.append(f"This model has a policy override: {paragraph(decision.override_reason)}")
    return "\n\n".join(lines)


def _production(rows: Sequence[MetricRow], version: str | None, direction: str) -> str:
    if version is None:
        return (
            "There is no production version yet: nothing to compare with, and the "
            "relative-to-production gate does not apply."
        )
    body = []
    for row in rows:
        change = "-"
        if row.delta is not None:
            change = ("+" if row.delta > 0 else "") + number(row.delta)
            if row.primary:
                better = row.delta > 0 if direction == "maximize" else row.delta < 0
                change += " (same)" if row.delta == 0 else (" (better)" if better else " (worse)")
        body.append(
            [
                f"**{code_cell(row.metric)}**" if row.primary else code_cell(row.metric),
                number(row.production) if row.production is not None else "not recorded",
                number(row.candidate) if row.candidate is not None else "not reported",
                change,
            ]
        )
    intro = (
        f"Production is version {code(version)}; its metrics are the held-out metrics "
        "`registry.yaml` records for it."
    )
    headers = ["Metric", f"Production ({cell(version)})", "This evaluation", "Change"]
    return intro + "\n\n" + table(headers, body)
