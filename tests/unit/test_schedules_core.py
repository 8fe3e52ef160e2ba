"""The batch-scoring workflow on plain data: schedules from `serving.batch`, rendered text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.core.schedules import (
    CHECKOUT,
    Schedule,
    ScheduleError,
    render,
    schedules,
    workflow,
)

ROOT = Path(__file__).resolve().parents[2]
WEEKLY, NIGHTLY, MONTHLY = "0 2 * * 1", "30 1 * * *", "0 4 1 * *"


def batch(schedule: str | None = None, *, enabled: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {"enabled": enabled}
    if schedule is not None:
        found |= {"schedule": schedule, "input": "in.csv", "output": "out.parquet"}
    return found


BATCHES = {
    "fuel-efficiency": batch(MONTHLY),
    "churn": batch(WEEKLY),
    "breast-cancer": batch(WEEKLY),
    "disease-progression": batch(NIGHTLY),
    "paused": batch(NIGHTLY, enabled=False),
    "online-only": batch(enabled=False),
}


def parsed(text: str) -> dict[Any, Any]:
    """The workflow as YAML reads it; YAML 1.1 reads the key `on` as true, GitHub as "on"."""
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    data["on"] = data.pop(True)
    return data


def crons(text: str) -> list[str]:
    return [entry["cron"] for entry in parsed(text)["on"].get("schedule", [])]


def test_distinct_schedules_are_deduplicated_and_sorted_with_their_models() -> None:
    """Models sharing an expression share one entry; entries and models are sorted."""
    assert schedules(BATCHES) == [
        Schedule(WEEKLY, ("breast-cancer", "churn")),
        Schedule(MONTHLY, ("fuel-efficiency",)),
        Schedule(NIGHTLY, ("disease-progression",)),
    ]


def test_each_cron_entry_names_the_models_it_scores() -> None:
    """Beside each cron line, a comment lists its models; the order does not depend on the
    order of the manifests."""
    text = workflow(BATCHES)
    lines = [line.strip() for line in text.splitlines() if "- cron:" in line]
    assert lines == [
        '- cron: "0 2 * * 1" # scores breast-cancer, churn',
        '- cron: "0 4 1 * *" # scores fuel-efficiency',
        '- cron: "30 1 * * *" # scores disease-progression',
    ]
    assert workflow(dict(reversed(list(BATCHES.items())))) == text


def test_disabled_batch_and_missing_schedule_are_left_out() -> None:
    """A model whose batch scoring is off, or has no schedule, or no batch section, gets no
    trigger, even when it keeps a schedule."""
    only_off = {"paused": batch(NIGHTLY, enabled=False), "online-only": batch(enabled=False)}
    assert schedules(only_off) == []
    assert schedules({"no-section": None, "empty": {}, "no-cron": {"enabled": True}}) == []
    assert "paused" not in workflow(BATCHES)
    assert "online-only" not in workflow(BATCHES)


def test_without_schedules_the_workflow_runs_on_demand_only() -> None:
    """No model scheduled: still a valid workflow, triggered by workflow_dispatch alone, and
    it says why."""
    text = workflow({"paused": batch(NIGHTLY, enabled=False)})
    data = parsed(text)
    assert list(data["on"]) == ["workflow_dispatch"]
    assert "No model has serving.batch enabled with a schedule" in text
    assert data["jobs"]["score"]["steps"][-1]["run"] == 'mlops score "$MODEL" --stage "$STAGE"'
    assert render([]) == text


def test_the_workflow_parses_to_the_promised_structure() -> None:
    """Triggers, no default permissions, one `score` job reading the services' settings and
    calling `mlops score` per event, every input through `env:`."""
    data = parsed(workflow(BATCHES))
    assert data["name"] == "batch"
    assert crons(workflow(BATCHES)) == [WEEKLY, MONTHLY, NIGHTLY]
    inputs = data["on"]["workflow_dispatch"]["inputs"]
    assert inputs["model"] == {
        "description": inputs["model"]["description"], "type": "string", "required": True,
    }  # fmt: skip
    assert inputs["stage"]["type"] == "choice"
    assert inputs["stage"]["options"] == ["production", "staging"]
    assert inputs["stage"]["default"] == "production"
    assert data["permissions"] == {}
    assert list(data["jobs"]) == ["score"]
    job = data["jobs"]["score"]
    assert job["permissions"] == {"contents": "read"}
    assert job["runs-on"] == "${{ vars.BATCH_RUNNER || 'ubuntu-latest' }}"
    assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0
    assert job["concurrency"] == {
        "group": "batch-${{ github.event.schedule || inputs.model }}",
        "cancel-in-progress": False,
    }
    assert job["env"] == {
        "MLFLOW_TRACKING_URI": "${{ vars.MLFLOW_TRACKING_URI }}",
        "MLFLOW_TRACKING_USERNAME": "${{ secrets.MLFLOW_TRACKING_USERNAME }}",
        "MLFLOW_TRACKING_PASSWORD": "${{ secrets.MLFLOW_TRACKING_PASSWORD }}",
        "MLFLOW_S3_ENDPOINT_URL": "${{ vars.MLFLOW_S3_ENDPOINT_URL }}",
        "AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
        "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
        "MLOPS_DVC_REMOTE": "${{ vars.MLOPS_DVC_REMOTE }}",
        "MLOPS_DVC_ENDPOINT_URL": "${{ vars.MLOPS_DVC_ENDPOINT_URL }}",
        "AWS_ENDPOINT_URL_S3": "${{ vars.AWS_ENDPOINT_URL_S3 }}",
    }
    checkout, setup, scheduled, dispatched = job["steps"]
    assert checkout == {
        "uses": CHECKOUT.split(" #")[0], "with": {"persist-credentials": False},
    }  # fmt: skip
    assert setup == {"uses": "./.github/actions/setup", "with": {"install-project": "true"}}
    assert scheduled["if"] == "github.event_name == 'schedule'"
    assert scheduled["run"] == 'mlops score --schedule "$SCHEDULE"'
    assert scheduled["env"] == {"SCHEDULE": "${{ github.event.schedule }}"}
    assert dispatched["if"] == "github.event_name == 'workflow_dispatch'"
    assert dispatched["run"] == 'mlops score "$MODEL" --stage "$STAGE"'
    assert dispatched["env"] == {"MODEL": "${{ inputs.model }}", "STAGE": "${{ inputs.stage }}"}


def test_the_header_says_it_is_generated_and_how_to_keep_it_current() -> None:
    """The first lines say which command writes the file and which check keeps it current."""
    header = workflow(BATCHES).split("\nname:", 1)[0]
    assert header.startswith("# Generated by `mlops schedules` from each model's `serving.batch`")
    assert "do not edit by hand" in header
    assert "`mlops schedules --check` in `nox -s validate`" in header
    assert all(line.startswith("#") for line in header.splitlines())


def test_checkout_is_pinned_as_in_the_other_workflows() -> None:
    """The generated checkout uses the commit every hand-written workflow pins, so a bump of
    the pin there fails here until this one follows."""
    pins = set()
    for name in ("pr.yml", "main.yml"):
        text = (ROOT / ".github" / "workflows" / name).read_text()
        pins |= set(re.findall(r"uses: (actions/checkout@\S+ # \S+)", text))
    assert pins == {CHECKOUT}


def test_a_schedule_github_would_refuse_is_named_with_its_model() -> None:
    """An expression that is not five valid cron fields never reaches the file."""
    with pytest.raises(ScheduleError, match=r"model 'bad': serving.batch.schedule '0 25 \* \* \*'"):
        schedules({"bad": batch("0 25 * * *"), "good": batch(WEEKLY)})
