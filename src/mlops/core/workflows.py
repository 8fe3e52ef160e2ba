"""What the repository's GitHub Actions workflows rely on, read from their parsed YAML.

- every `vars.NAME` and `secrets.NAME` their expressions read (inside `${{ ... }}` anywhere,
  and the whole value of an `if:`, which GitHub evaluates as an expression), except
  `secrets.GITHUB_TOKEN`, which GitHub provides to every run. Names are case-insensitive on
  GitHub and kept upper-case here, as GitHub stores them;
- the merge gate's check: the name of each job of a pull-request workflow that runs
  `mlops gate` (a job's check run carries its `name`, else its id);
- the self-hosted runners the jobs ask for: literal labels, or the variable `runs-on` reads
  its label from (`runs-on: ${{ vars.DEPLOY_RUNNER || 'ubuntu-latest' }}`);
- the environments the jobs deploy to.

Text inside a `run:` script outside `${{ }}` is shell, not an expression, and is not read.
A workflow that is not shaped like one is reported with its file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops.core.diagnostics import Diagnostic, JsonPath
from mlops.core.document import Document

PROVIDED_SECRETS = frozenset({"GITHUB_TOKEN"})
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_REFERENCE = re.compile(
    r"(?<![\w.])(vars|secrets)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([A-Za-z_][A-Za-z0-9_]*)'\s*\])"
)
_GATE = re.compile(r"(?<![\w-])mlops\s+gate(?![\w-])")
_HOSTED = re.compile(r"^(ubuntu|windows|macos)(-|$)", re.IGNORECASE)


@dataclass(frozen=True)
class RunnerNeed:
    """Where jobs must run: a self-hosted runner with every one of `labels`, or (`variable`
    set) one whose label is the value of that repository variable."""

    jobs: tuple[str, ...]
    labels: tuple[str, ...] = ()
    variable: str | None = None


@dataclass
class WorkflowNeeds:
    """Everything the workflows read from the repository's settings; each name maps to where
    it is read (`file:line`). `diagnostics` holds what could not be understood."""

    variables: dict[str, list[str]] = field(default_factory=dict)
    secrets: dict[str, list[str]] = field(default_factory=dict)
    gate_checks: list[str] = field(default_factory=list)
    runners: list[RunnerNeed] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def is_hosted_label(label: str) -> bool:
    """Whether `label` names a GitHub-hosted runner image (ubuntu-latest, windows-2022...)."""
    return bool(_HOSTED.match(label.strip()))


def workflow_needs(documents: Sequence[Document]) -> WorkflowNeeds:
    """What the parsed workflow `documents` need from the repository's settings."""
    needs = WorkflowNeeds()
    runners: dict[tuple[tuple[str, ...], str | None], list[str]] = {}
    for document in documents:
        _references(document, needs)
        jobs = _jobs(document, needs.diagnostics)
        pull_request = _triggered_by_pull_request(document.data)
        for job_id, job in jobs.items():
            where: JsonPath = ("jobs", job_id)
            title = f"{document.file.rsplit('/', 1)[-1]}: {job_id}"
            if pull_request and _runs_gate(job):
                _gate_check(document, where, job_id, job, needs)
            need = _runner(document, where, job.get("runs-on"), needs.diagnostics)
            if need is not None:
                runners.setdefault(need, []).append(title)
            environment = _environment(job.get("environment"))
            if environment and environment not in needs.environments:
                needs.environments.append(environment)
    needs.runners = [
        RunnerNeed(tuple(jobs), labels, variable) for (labels, variable), jobs in runners.items()
    ]
    return needs


def _walk(node: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def _expressions(path: JsonPath, text: str) -> list[str] | None:
    """The expressions in a string value; None when a `${{` is never closed."""
    if path and path[-1] == "if":
        stripped = text.strip()
        inner = _EXPRESSION.fullmatch(stripped)
        return [inner.group(1) if inner else stripped]
    found = _EXPRESSION.findall(text)
    if text.count("${{") > len(found):
        return None
    return found


def _references(document: Document, needs: WorkflowNeeds) -> None:
    for path, text in _walk(document.data, ()):
        expressions = _expressions(path, text)
        if expressions is None:
            needs.diagnostics.append(
                document.error(path, "an expression opened with `${{` is never closed by `}}`")
            )
            continue
        for expression in expressions:
            for kind, dotted, indexed in _REFERENCE.findall(expression):
                name = (dotted or indexed).upper()
                if kind == "secrets" and name in PROVIDED_SECRETS:
                    continue
                table = needs.variables if kind == "vars" else needs.secrets
                position = document.position_of(path)
                line = f":{position.line}" if position else ""
                where = f"{document.file}{line}"
                if where not in table.setdefault(name, []):
                    table[name].append(where)


def _jobs(document: Document, diagnostics: list[Diagnostic]) -> dict[str, dict[str, Any]]:
    data = document.data
    if not isinstance(data, dict):
        diagnostics.append(
            document.error((), "expected a workflow: a mapping with `on` and `jobs`")
        )
        return {}
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        diagnostics.append(
            document.error(("jobs",), "expected `jobs`: a mapping of job ids to jobs")
        )
        return {}
    found = {}
    for job_id, job in jobs.items():
        if isinstance(job, dict):
            found[job_id] = job
        else:
            diagnostics.append(document.error(("jobs", job_id), "expected a job: a mapping"))
    return found


def _triggered_by_pull_request(data: dict[str, Any]) -> bool:
    events = data.get("on")
    if isinstance(events, str):
        names = {events}
    elif isinstance(events, list):
        names = {e for e in events if isinstance(e, str)}
    elif isinstance(events, dict):
        names = set(events)
    else:
        names = set()
    return bool(names & PULL_REQUEST_EVENTS)


def _runs_gate(job: dict[str, Any]) -> bool:
    steps = job.get("steps")
    if not isinstance(steps, list):
        return False
    return any(
        isinstance(step, dict) and isinstance(step.get("run"), str) and _GATE.search(step["run"])
        for step in steps
    )


def _gate_check(
    document: Document, where: JsonPath, job_id: str, job: dict[str, Any], needs: WorkflowNeeds
) -> None:
    name = job.get("name", job_id)
    if not isinstance(name, str) or "${{" in name:
        needs.diagnostics.append(
            document.error(
                (*where, "name"),
                "the merge gate job's name must be plain text: branch protection requires "
                "its check by that name",
            )
        )
    elif name not in needs.gate_checks:
        needs.gate_checks.append(name)


def _runner(
    document: Document, where: JsonPath, runs_on: Any, diagnostics: list[Diagnostic]
) -> tuple[tuple[str, ...], str | None] | None:
    """(labels, variable) of a self-hosted runner `runs-on` asks for; None for a hosted one
    or one chosen by an expression that reads no variable (a matrix, say)."""
    if isinstance(runs_on, dict):
        runs_on = runs_on.get("labels")
        if runs_on is None:
            return None  # a runner group only: any runner of the group
    if isinstance(runs_on, str):
        runs_on = [runs_on]
    if not isinstance(runs_on, list) or not all(isinstance(x, str) for x in runs_on):
        diagnostics.append(
            document.error((*where, "runs-on"), "expected a runner label or a list of labels")
        )
        return None
    expressions = [e for label in runs_on for e in _EXPRESSION.findall(label)]
    if expressions:
        names = {m[1] or m[2] for e in expressions for m in _REFERENCE.findall(e) if m[0] == "vars"}
        return ((), sorted(names)[0].upper()) if len(names) == 1 else None
    if any(is_hosted_label(label) for label in runs_on):
        return None
    return tuple(runs_on), None


def _environment(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, dict) else value
    if isinstance(name, str) and name and "${{" not in name:
        return name
    return None
