"""Desired repository settings against observed ones: findings and the setup plan."""

from __future__ import annotations

from dataclasses import replace

from mlops.core.github_settings import (
    Change,
    Desired,
    Environment,
    Observed,
    Protection,
    Runner,
    failed,
    findings,
    plan,
)
from mlops.core.workflows import RunnerNeed

DEPLOY = RunnerNeed(("main.yml: staging",), (), "DEPLOY_RUNNER")
DESIRED = Desired(
    branch="main",
    gate_check="mlops gate",
    environments=("staging", "production"),
    reviewed=("production",),
    reviewers=("@acme/ml-platform",),
    variables={"DEPLOY_RUNNER": "mlops-deploy", "TRACKING_URI": None},
    secrets=("MLFLOW_PASSWORD",),
    runners=(DEPLOY,),
)
RUNNER = Runner("serving-1", True, ("self-hosted", "Linux", "mlops-deploy"))


def applied(observed: Observed, changes: list[Change]) -> Observed:
    """What GitHub holds after setup made `changes` (as the adapter makes them)."""
    environments = dict(observed.environments)
    variables = dict(observed.variables)
    protection = observed.protection
    for change in changes:
        if change.kind == "protection":
            approvals = max(1, (protection.approvals if protection else None) or 0)
            protection = Protection(change.contexts, True, approvals)
        elif change.kind == "environment":
            environments[change.name] = Environment(change.name, change.reviewers)
        else:
            variables[change.name] = change.value
    return replace(observed, protection=protection, environments=environments,
                   variables=variables)  # fmt: skip


def test_a_bare_repository_misses_everything() -> None:
    """Nothing set: every requirement fails, each saying what to do."""
    found = findings(DESIRED, Observed())
    assert [(f.requirement, f.ok) for f in found] == [
        ("main requires the merge gate's check", False),
        ("main requires code-owner reviews", False),
        ("environment staging", False),
        ("environment production with required reviewers", False),
        ("variable DEPLOY_RUNNER", False),
        ("variable TRACKING_URI", False),
        ("secret MLFLOW_PASSWORD", False),
        ("online self-hosted runner labelled mlops-deploy", False),
    ]
    assert all(f.fix and f.fix != "nothing" for f in found)
    assert [f.requirement for f in found if not f.by_setup] == [
        "variable TRACKING_URI",
        "secret MLFLOW_PASSWORD",
        "online self-hosted runner labelled mlops-deploy",
    ]
    assert "gh secret set MLFLOW_PASSWORD" in found[6].fix


def test_the_plan_makes_every_setting_and_then_has_nothing_to_do() -> None:
    """The plan protects the branch, creates both environments (production with reviewers)
    and sets the configured variable; once applied, the plan is empty and only what a person
    must do is left."""
    changes = plan(DESIRED, Observed())
    assert [(c.setting, c.action) for c in changes] == [
        ("branch protection main", "protect"),
        ("environment staging", "create"),
        ("environment production", "create"),
        ("variable DEPLOY_RUNNER", "create"),
    ]
    assert changes[0].contexts == ("mlops gate",)
    assert changes[2].reviewers == ("@acme/ml-platform",) and changes[1].reviewers == ()
    after = applied(Observed(), changes)
    assert plan(DESIRED, after) == []
    assert [f.requirement for f in failed(findings(DESIRED, after))] == [
        "variable TRACKING_URI",
        "secret MLFLOW_PASSWORD",
        "online self-hosted runner labelled mlops-deploy",
    ]


def test_everything_in_place_passes() -> None:
    observed = Observed(
        protection=Protection(("lint", "mlops gate"), True, 2),
        environments={
            "staging": Environment("staging"),
            "production": Environment("production", ("@mchen",)),
        },
        variables={"DEPLOY_RUNNER": "mlops-deploy", "TRACKING_URI": "http://mlflow"},
        secrets=frozenset({"MLFLOW_PASSWORD"}),
        runners=(RUNNER,),
    )
    assert failed(findings(DESIRED, observed)) == []
    assert plan(DESIRED, observed) == []


def test_an_existing_protection_keeps_its_checks() -> None:
    """Setup adds the gate's check to the ones required already, and reports an update."""
    observed = Observed(protection=Protection(("lint",), False, None))
    (change,) = [c for c in plan(DESIRED, observed) if c.kind == "protection"]
    assert (change.action, change.contexts) == ("update", ("lint", "mlops gate"))
    assert change.detail == (
        "require check 'mlops gate'; require code-owner reviews; require 1 approval"
    )


def test_production_reviewers_chosen_by_a_person_are_left_alone() -> None:
    """Reviewers other than the configured ones are not replaced."""
    observed = Observed(environments={"production": Environment("production", ("@mchen",))})
    assert [c.name for c in plan(DESIRED, observed) if c.kind == "environment"] == ["staging"]


def test_production_without_reviewers_gets_them() -> None:
    observed = Observed(environments={"production": Environment("production", wait_timer=5)})
    changes = [c for c in plan(DESIRED, observed) if c.name == "production"]
    assert [(c.action, c.reviewers) for c in changes] == [("add reviewers", ("@acme/ml-platform",))]


def test_a_configured_variable_with_another_value_is_updated() -> None:
    observed = Observed(variables={"DEPLOY_RUNNER": "old"})
    (change,) = [c for c in plan(DESIRED, observed) if c.kind == "variable"]
    assert (change.action, change.detail) == ("update", "'old' -> 'mlops-deploy'")


def test_a_missing_branch_cannot_be_protected() -> None:
    """Without the branch, doctor says to push it first and setup plans no protection."""
    observed = Observed(branch_exists=False)
    assert findings(DESIRED, observed)[0].requirement == "branch main exists"
    assert [c for c in plan(DESIRED, observed) if c.kind == "protection"] == []


def test_no_gate_job_is_a_finding_setup_cannot_fix() -> None:
    found = findings(replace(DESIRED, gate_check=None), Observed())
    assert (found[0].ok, found[0].by_setup) == (False, False)
    assert "mlops gate" in found[0].detail


def test_runner_checks() -> None:
    """An offline runner fails; a hosted label needs no runner; an unset variable leaves the
    runner unchecked; a configured label overrides the variable."""
    offline = replace(RUNNER, online=False)
    variables = {"DEPLOY_RUNNER": "mlops-deploy"}

    def runner_finding(desired: Desired, observed: Observed):  # type: ignore[no-untyped-def]
        return findings(desired, observed)[-1]

    found = runner_finding(DESIRED, Observed(runners=(offline,), variables=variables))
    assert (found.ok, found.detail) == (
        False, "offline: serving-1 (for main.yml: staging; variable DEPLOY_RUNNER)",
    )  # fmt: skip
    hosted = replace(DESIRED, variables={"DEPLOY_RUNNER": "ubuntu-latest"})
    assert runner_finding(hosted, Observed()).ok is None
    unset = replace(DESIRED, variables={"DEPLOY_RUNNER": None})
    found = runner_finding(unset, Observed())
    assert (found.ok, found.required) == (None, False)
    override = replace(DESIRED, runner_label="gpu")
    found = runner_finding(override, Observed(runners=(RUNNER,)))
    assert (found.requirement, found.ok) == ("online self-hosted runner labelled gpu", False)
    literal = replace(
        DESIRED, runners=(RunnerNeed(("w.yml: a",), ("self-hosted", "MLOPS-deploy")),)
    )
    assert runner_finding(literal, Observed(runners=(RUNNER,))).ok is True
