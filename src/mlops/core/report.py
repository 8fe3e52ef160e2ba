"""The pull-request report as Markdown: one section per model, assembled into one comment.

Pure rendering of evaluation records (what `mlops evaluate` writes). A section is posted as a
model's check-run summary; the sticky comment is the sections of every model of the pull
request, under a hidden marker by which it is found and edited in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MARKER = "<!-- mlops-report -->"
CARD_DIFF_LINES = 80
VERDICT = {"pass": "✅ pass", "not-applicable": "➖ n/a", "off": "⏸ off"}


def verdict_text(gate: Mapping[str, Any]) -> str:
    if gate["verdict"] == "fail":
        return "❌ fail" if gate["blocking"] else "⚠️ warn"
    return VERDICT.get(str(gate["verdict"]), str(gate["verdict"]))


def model_section(evaluation: Mapping[str, Any], card_diff: str | None) -> str:
    """One model's part of the report: metrics vs production, gates, card diff, run link."""
    name = evaluation["model"]
    candidate, production = evaluation["candidate"], evaluation["production"]
    decision = evaluation["decision"]
    icon = "✅" if decision["passed"] else "❌"
    head = f"### {icon} `{name}`: candidate v{candidate['version']} {decision['summary']}"
    against = f"production v{production['version']}" if production else "production"
    lines = [head, ""]
    lines += [
        f"| metric | {against} | candidate | delta | bounds |",
        "|---|---:|---:|---:|---|",
    ]
    for row in evaluation["rows"]:
        metric = f"**{row['metric']}**" if row["primary"] else row["metric"]
        lines.append(
            f"| {metric} | {_number(row['production'])} | {_number(row['candidate'])} "
            f"| {_delta(row['delta'])} | {_bounds(row['bounds'])} |"
        )
    lines.append("")
    lines.append(_production_note(production, evaluation["holdout"]))
    lines += ["", "| gate | mode | verdict | reason |", "|---|---|---|---|"]
    for gate in decision["gates"]:
        lines.append(
            f"| {gate['gate']} | {gate['mode']} | {verdict_text(gate)} | {_cell(gate['reason'])} |"
        )
    if decision.get("override_reason"):
        lines += ["", f"Policy override for this model: {_cell(decision['override_reason'])}"]
    lines += ["", _run_line(candidate)]
    plot = _plot_line(evaluation.get("plot"))
    if plot:
        lines += ["", plot]
    lines += ["", *_card_diff(card_diff)]
    return "\n".join(lines).rstrip() + "\n"


def comment(sections: Mapping[str, str], notes: Sequence[str] = ()) -> str:
    """The sticky comment: marker, overview, then each model's section sorted by name."""
    lines = [MARKER, "## Model report", ""]
    if not sections:
        lines.append("No model is changed by this pull request: nothing was trained.")
    for name in sorted(sections):
        lines += [sections[name].rstrip(), ""]
    lines += [f"> {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def _production_note(production: Mapping[str, Any] | None, holdout: Mapping[str, Any]) -> str:
    rows = f"{holdout['rows']} held-out rows (`{holdout['path']}`"
    rows += f", md5 `{holdout['md5']}`)" if holdout.get("md5") else ")"
    if production is None:
        return f"Scored on {rows}. No production version yet: relative gates do not apply."
    if production.get("source") == "recorded":
        return (
            f"Candidate scored on {rows}. Production v{production['version']}: "
            f"{_cell(production.get('note', 'recorded metrics'))}."
        )
    return f"Both versions scored on the same {rows}."


def _run_line(candidate: Mapping[str, Any]) -> str:
    run = candidate.get("run_id")
    if not run:
        return "MLflow run: not recorded."
    url = candidate.get("run_url")
    link = f"[`{run}`]({url})" if url else f"`{run}`"
    commit = candidate.get("git_commit")
    trained = f", trained from `{str(commit)[:12]}`" if commit else ""
    return f"MLflow run {link} (model `{candidate['model_uri']}`{trained})."


def _plot_line(plot: Mapping[str, Any] | None) -> str | None:
    """Where the plot of candidate against production is: a comment cannot carry a local
    file, so it links the candidate run's artifact (and the MLflow UI page when there is one)."""
    if not plot:
        return None  # a record written before evaluations had plots
    warning = plot.get("warning")
    if not plot.get("path"):
        return f"Plot: none ({_cell(warning or 'not drawn')})."
    uri, url = plot.get("artifact_uri"), plot.get("artifact_url")
    if url:
        return (f"Plot of candidate vs production: [`{plot['artifact']}`]({url}) "
                f"(MLflow artifact `{uri}`).")  # fmt: skip
    if uri:
        return f"Plot of candidate vs production: MLflow artifact `{uri}` of the candidate's run."
    why = f" ({_cell(warning)})" if warning else ""
    return f"Plot of candidate vs production: `{plot['path']}` on the machine that evaluated{why}."


def _card_diff(diff: str | None) -> list[str]:
    if diff is None:
        return ["Model card: no diff available (base commit not present)."]
    if not diff.strip():
        return ["Model card: unchanged."]
    lines = diff.splitlines()
    shown = lines[:CARD_DIFF_LINES]
    more = len(lines) - len(shown)
    fence = "````"  # the card itself contains ``` blocks
    body = [f"{fence}diff", *shown, fence]
    if more > 0:
        body.append(f"... {more} more line(s); see the files changed tab.")
    changes = sum(1 for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    return ["<details><summary>Model card diff (" + f"{changes} line(s))</summary>", "", *body,
            "", "</details>"]  # fmt: skip


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4g}"


def _bounds(bounds: Mapping[str, float]) -> str:
    parts = []
    if "min" in bounds:
        parts.append(f"≥ {bounds['min']:g}")
    if "max" in bounds:
        parts.append(f"≤ {bounds['max']:g}")
    return ", ".join(parts)
