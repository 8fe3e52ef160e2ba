"""The catalogue's pages from what `catalogue.gather` found: index.html (the overview for
leadership), models/<name>.html (one per model) and style.css; written atomically and, when
asked, published as the next commit of a Pages branch."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters import site_branch, site_pages
from mlops.core import overview
from mlops.core.history import stamp
from mlops.core.stages import STAGES
from mlops.flows.catalogue import Catalogue, ModelPage, Run, gather, production_version

UNKNOWN = "unknown"


def pages(found: Catalogue) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each page's path -> (template, context): plain, display-ready values."""
    common = {"generated": stamp(found.generated),
              "commit": found.commit[:12] if found.commit else None}  # fmt: skip
    out: dict[str, tuple[str, dict[str, Any]]] = {
        "index.html": ("index.html", common | _index(found))
    }
    for page in found.models:
        out[f"models/{page.summary.name}.html"] = ("model.html", common | _model(found, page))
    return out


@dataclass(frozen=True)
class Built:
    catalogue: Catalogue
    files: list[str]
    published: str | None  # the Pages branch's new tip


def build(root: Path, out: Path, branch: str | None = None, remote: str = "origin",
          ref: str = "HEAD", repository: str | None = None,
          tracking: bool = True) -> Built:  # fmt: skip
    """`mlops catalogue`: gather, write the site to `out` and, with a `branch`, publish it.
    A destination that would be refused is refused before anything is read."""
    site_pages.check_destination(out)
    found = gather(root, ref, repository, tracking)
    files = write(found, out)
    published = publish(root, found, branch, remote) if branch else None
    return Built(found, files, published)


def write(found: Catalogue, out: Path) -> list[str]:
    """Render and write the site to `out`; the files written."""
    contents = site_pages.render(pages(found))
    site_pages.write_site(out, contents)
    return sorted(contents)


def publish(root: Path, found: Catalogue, branch: str, remote: str = "origin") -> str:
    """Render the site and push it as the next commit of `remote`'s `branch`."""
    contents = site_pages.render(pages(found))
    with tempfile.TemporaryDirectory(prefix="mlops-catalogue-") as folder:
        site = Path(folder) / "site"
        site_pages.write_site(site, {**contents, ".nojekyll": ""})
        what = found.commit[:12] if found.commit else "the working tree"
        return site_branch.publish(root, site, branch, f"Model catalogue of {what}", remote)


def to_json(found: Catalogue) -> dict[str, Any]:
    """The overview's data, as `--json` prints it."""
    view = found.overview
    return {
        "generated": stamp(found.generated), "commit": found.commit, "sources": found.sources,
        "models": len(found.models),
        "in_production": [_production_row(p) for p in found.models if production_version(p)],
        "deploys": view.deploys, "rollbacks": view.rollbacks,
        "months": [{"month": m.month, "deploys": m.deploys, "rollbacks": m.rollbacks,
                    "incidents": m.incidents} for m in view.months],
        "lead_time_hours": {"median": view.median_lead_hours,
                            "pull_requests": [{"model": t.model, "pull": t.pull, "hours": t.hours,
                                               "until": t.until} for t in view.lead_times]},
        "incidents": None if view.incidents is None else [
            {"model": i.model, "environment": i.environment, "kind": i.kind,
             "number": i.number, "opened": stamp(i.opened),
             "closed": stamp(i.closed) if i.closed else None, "url": i.url}
            for i in view.incidents],
        "notes": view.notes,
    }  # fmt: skip


def _index(found: Catalogue) -> dict[str, Any]:
    view = found.overview
    github_known = view.incidents is not None
    lead = view.median_lead_hours
    lead_basis = ("no merged pull request with a known opening time reached production"
                  if github_known else "needs GitHub (pull request opening times)")  # fmt: skip
    return {
        "headline": [
            ("models", str(len(found.models)), "in the catalogue"),
            ("in production", str(sum(1 for p in found.models if production_version(p))),
             "models serving a production version"),
            ("deploys", str(view.deploys), "production version changes to a newer version"),
            ("rollbacks", str(view.rollbacks), "production moved back to an older version"),
            ("pull request to production", overview.duration(lead),
             f"median of {len(view.lead_times)}" if lead is not None else lead_basis),
            ("open incidents", UNKNOWN if view.open_incidents is None
             else str(view.open_incidents), "alert issues monitoring opened"
             if github_known else "needs GitHub (alert issues)"),
        ],
        "production": [_production_row(p) for p in found.models if production_version(p)],
        "months": view.months,
        "incidents_known": github_known,
        "lead_times": [{"model": t.model, "pull": t.pull,
                        "duration": overview.duration(t.hours), "until": t.until}
                       for t in view.lead_times],
        "incidents": [_incident_row(i) for i in view.incidents or ()],
        "models": [_model_row(p) for p in found.models],
        "stages": STAGES,
        "sources": sorted(found.sources.items()),
        "notes": view.notes,
    }  # fmt: skip


def _production_row(page: ModelPage) -> dict[str, Any]:
    version = production_version(page)
    summary = page.summary
    return {"name": summary.name, "href": f"models/{summary.name}.html",
            "version": version, "canary": summary.stage("canary"), "owners": summary.owners,
            "metrics": _metrics(overview.metrics_of(page.entry, version)),
            "description": summary.description or ""}  # fmt: skip


def _model_row(page: ModelPage) -> dict[str, Any]:
    s = page.summary
    return {"name": s.name, "href": f"models/{s.name}.html", "owners": s.owners,
            "language": s.language or "-", "task": s.task or "-", "versions": len(s.versions),
            "stages": [s.stage(stage) for stage in STAGES], "invalid": s.problems > 0}  # fmt: skip


def _incident_row(incident: overview.Incident) -> dict[str, Any]:
    return {"model": incident.model, "href": f"models/{incident.model}.html",
            "environment": incident.environment, "kind": incident.kind,
            "number": incident.number, "title": incident.title, "url": _safe_url(incident.url),
            "opened": stamp(incident.opened),
            "closed": stamp(incident.closed) if incident.closed else "open"}  # fmt: skip


def _model(found: Catalogue, page: ModelPage) -> dict[str, Any]:
    s = page.summary
    versions = page.entry.get("versions")
    versions = versions if isinstance(versions, dict) else {}
    held: dict[str, list[str]] = {}
    for stage, value in s.stages.items():
        if value is not None:
            version = value.get("version") if isinstance(value, dict) else value
            held.setdefault(str(version), []).append(stage)
    rows = []
    for version in reversed(s.versions):
        record = versions.get(version)
        record = record if isinstance(record, dict) else {}
        rows.append({"version": version, "created": str(record.get("created") or "-"),
                     "commit": str(record.get("git_commit") or "-")[:12],
                     "metrics": _metrics(record.get("metrics")),
                     "stage": ", ".join(held.get(version, []))})  # fmt: skip
    incidents = found.overview.incidents
    alerts = None if incidents is None else [
        _incident_row(i) for i in incidents if i.model == s.name and i.open]  # fmt: skip
    return {
        "name": s.name, "description": s.description or "", "owners": s.owners,
        "language": s.language or "-", "task": s.task or "-", "invalid": s.problems > 0,
        "stages": [(stage, s.stage(stage)) for stage in STAGES],
        "versions": rows,
        "card": site_pages.markdown_html(page.card, _files_url(found, s.name))
        if page.card else None,
        "batch": _run(page.batch), "monitoring": _run(page.monitoring),
        "alerts": alerts, "github": found.sources.get("github", ""),
        "moves": [{"time": stamp(m.time), "kind": m.kind, "before": m.before or "-",
                   "after": m.after or "withdrawn", "commit": m.commit[:12],
                   "pull": f"#{m.pull}" if m.pull else "-"} for m in reversed(page.moves)],
    }  # fmt: skip


def _files_url(found: Catalogue, model: str) -> str | None:
    """Where the model's files are on the repository's host, for the card's links."""
    if not found.repository or not found.commit:
        return None
    return f"{found.server}/{found.repository}/blob/{found.commit}/models/{model}/"


def _run(found: Run) -> dict[str, Any]:
    if found.unavailable is not None:
        return {"state": "unavailable", "why": found.unavailable}
    if found.run is None:
        return {"state": "none"}
    tags, metrics = found.run["tags"], found.run["metrics"]
    facts = [("started", stamp(found.run["started"])), ("run", found.run["run_id"])]
    for key, label in (("mlops.status", "status"), ("mlops.version", "version"),
                       ("mlops.environment", "environment")):  # fmt: skip
        if tags.get(key):
            facts.append((label, str(tags[key])))
    facts += [(k.removeprefix("mlops.alert.") + " alert", str(v))
              for k, v in sorted(tags.items()) if k.startswith("mlops.alert.")]  # fmt: skip
    return {"state": "run", "facts": facts, "metrics": _metrics(metrics)}


def _metrics(metrics: Any) -> list[tuple[str, str]]:
    if not isinstance(metrics, dict):
        return []
    return [(str(k), f"{v:.4g}" if isinstance(v, float) else str(v))
            for k, v in sorted(metrics.items())]  # fmt: skip


def _safe_url(url: str) -> str | None:
    return url if url.startswith(("https://", "http://")) else None
