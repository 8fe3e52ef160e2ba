"""`mlops costs`: usage recorded by real training, batch scoring and a real serving process,
read back from the embedded tracking store and the deploy host's records, and priced with the
repository's policies/costs.yaml.

One repository with breast-cancer trained (version 1, in production), scored once in batch and
served by one local instance is shared by the module; the numbers are checked against what the
tracking store itself recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from support import promoted_repository, rows_to_score, run_cli

from mlops.adapters.local_target import LocalTarget
from mlops.adapters.settings import load_settings

MODEL = "breast-cancer"
TEAM = "clinical-ml"  # the team of its first owner, @acme/clinical-ml


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Trained, promoted, scored once, and one instance serving version 1 in production."""
    folder = tmp_path_factory.mktemp("costs")
    root = promoted_repository(folder / "repo", MODEL)
    rows_to_score(root, MODEL, "malignant").to_csv(folder / "in.csv", index=False)
    assert run_cli("--repo", root, "score", MODEL, "--input", folder / "in.csv",
                   "--output", folder / "out.parquet") == 0  # fmt: skip
    target = LocalTarget(load_settings(root))
    instance = target.start("production", MODEL, "1", None)
    try:
        yield root
    finally:
        target.stop(instance, timeout=10)


def recorded_runs(root: Path, experiment: str) -> list[Any]:
    mlflow.set_tracking_uri(load_settings(root).tracking_uri)
    return list(mlflow.search_runs(experiment_names=[experiment], output_format="list"))


def rates(root: Path) -> dict[str, float]:
    policy = yaml.safe_load((root / "policies" / "costs.yaml").read_text())
    return {r["unit"]: r["price"] for r in policy["rates"]}


def line_of(report: dict[str, Any], model: str = MODEL) -> dict[str, Any]:
    (line,) = [m for m in report["models"] if m["model"] == model]
    return line


def test_costs_add_up_to_what_training_scoring_and_serving_recorded(root: Path, cli) -> None:
    """Training CPU-seconds are the runs' `cpu_seconds`, batch rows and seconds the batch run's
    `rows_in` and `duration_seconds`, instance-hours the running instance's time since its
    record; each is priced at its rate and the totals are their sums."""
    before = time.time()
    result = cli("--repo", root, "costs", "--json")
    after = time.time()
    assert result.code == 0, result.err
    report = json.loads(result.out)
    price = rates(root)
    line = line_of(report)
    assert line["cost_centre"] == TEAM and line["owners"] == "@acme/clinical-ml,@mchen"

    (training,) = recorded_runs(root, f"models/{MODEL}")
    cpu = training.data.metrics["cpu_seconds"]
    assert cpu > 0
    assert line["training"] == {"runs": 1, "cpu_seconds": pytest.approx(cpu),
                                "cost": pytest.approx(cpu * price["cpu_second"])}  # fmt: skip

    (scoring,) = recorded_runs(root, f"batch/{MODEL}")
    rows, seconds = scoring.data.metrics["rows_in"], scoring.data.metrics["duration_seconds"]
    assert rows == len(rows_to_score(root, MODEL, "malignant"))
    batch_cost = rows * price["batch_row"] + seconds * price["batch_second"]
    assert line["batch"] == {"runs": 1, "rows": rows, "seconds": pytest.approx(seconds),
                             "cost": pytest.approx(batch_cost)}  # fmt: skip

    (record,) = (load_settings(root).deploy_dir("production") / "instances").glob("*.json")
    started = json.loads(record.read_text())["started"]
    hours = line["serving"]["instance_hours"]
    assert line["serving"]["instances"] == 1
    assert (before - started) / 3600 - 1e-6 <= hours <= (after - started) / 3600 + 1e-6
    assert line["serving"]["cost"] == pytest.approx(hours * price["instance_hour"], abs=1e-6)

    expected = cpu * price["cpu_second"] + batch_cost + hours * price["instance_hour"]
    assert line["total"] == pytest.approx(expected, abs=1e-5)
    assert report["total"] == pytest.approx(expected, abs=1e-5)
    assert {"cost_centre": TEAM, "total": line["total"]} in report["cost_centres"]
    assert report["currency"] == "EUR" and report["unpriced"] == []


def test_runs_carry_the_owner_and_cost_centre_labels(root: Path) -> None:
    """Training and batch-scoring runs are tagged with who owns and who pays for them."""
    for experiment in (f"models/{MODEL}", f"batch/{MODEL}"):
        (run,) = recorded_runs(root, experiment)
        assert run.data.tags["mlops.owner"] == "@acme/clinical-ml,@mchen"
        assert run.data.tags["mlops.cost_centre"] == TEAM


def test_since_leaves_out_runs_before_the_window(root: Path, cli) -> None:
    """With `--since` after every run, no training or batch usage is left, and the instance
    counts only its hours inside the window."""
    time.sleep(1.1)  # the window opens on a whole second after every run began
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)
    result = cli("--repo", root, "costs", "--since", moment, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    line = line_of(report)
    assert report["since"] == moment
    assert line["training"]["runs"] == 0 and line["batch"]["runs"] == 0
    assert line["serving"]["instances"] == 1
    assert 1 / 3600 <= line["serving"]["instance_hours"] < 60 / 3600


def test_the_table_names_each_model_and_cost_centre(root: Path, cli) -> None:
    """Without --json it prints a table per model and a total per cost centre."""
    result = cli("--repo", root, "costs")
    assert result.code == 0, result.err
    assert MODEL in result.out and TEAM in result.out
    assert "Per cost centre (EUR)" in result.out


def test_a_costs_policy_with_an_unknown_unit_is_refused_with_its_line(
    root: Path, tmp_path: Path, cli
) -> None:
    """A rate in a unit the platform does not record names the file, line, column and JSON
    path and the units expected; nothing is priced and the exit code is 1."""
    policy = root / "policies" / "costs.yaml"
    before = policy.read_text()
    policy.write_text(before.replace("unit: instance_hour", "unit: gpu_hour"))
    try:
        result = cli("--repo", root, "costs", "--json")
    finally:
        policy.write_text(before)
    assert result.code == 1
    assert result.out == ""
    line = next(i for i, text in enumerate(before.splitlines(), 1) if "instance_hour" in text)
    assert result.err.splitlines() == [
        f'policies/costs.yaml:{line}:11: $.rates[1].unit: expected one of "cpu_second", '
        '"instance_hour", "batch_row", "batch_second"; got "gpu_hour"',
        "error: policies/costs.yaml is invalid: nothing was priced",
        "hint: fix it first: `mlops validate`",
    ]


def test_a_bad_since_is_a_usage_error(root: Path, cli) -> None:
    """An unreadable --since exits 2 saying what it expects."""
    result = cli("--repo", root, "costs", "--since", "last tuesday")
    assert result.code == 2
    assert "expected a span such as 12h, 30d or 2w" in result.err


def test_a_stopped_instance_keeps_its_hours(root: Path, cli) -> None:
    """An instance the target stopped leaves its hours in the deploy host's ledger: the
    report still counts them once its record is gone, and a window after its stop does not."""
    target = LocalTarget(load_settings(root))
    before = datetime.now(UTC)
    instance = target.start("staging", MODEL, "1", None)
    time.sleep(1)
    target.stop(instance, timeout=10)
    after = datetime.now(UTC)
    report = json.loads(cli("--repo", root, "costs", "--json").out)
    line = line_of(report)
    assert line["serving"]["instances"] == 2  # production's, running, and staging's, stopped
    ledger = (load_settings(root).deploy_folder / "usage/instances.jsonl").read_text()
    (entry,) = [json.loads(x) for x in ledger.splitlines() if '"staging"' in x]
    ran = datetime.fromisoformat(entry["stopped"]) - datetime.fromisoformat(entry["started"])
    assert 1 <= ran.total_seconds() <= (after - before).total_seconds() + 1
    later = cli("--repo", root, "costs", "--since", after.isoformat(), "--json")
    assert line_of(json.loads(later.out))["serving"]["instances"] == 1
