"""The reconcile plan: registry.yaml's stages against the aliases the tracking store has."""

from __future__ import annotations

from mlops.core.reconcile import alias_actions, desired_aliases

REGISTRY = {
    "m": {
        "versions": {},
        "stages": {"staging": "3", "production": "2", "canary": {"version": "3", "weight": 10}},
    }
}


def kinds(actions: list) -> list[tuple[str, str, str | None]]:
    return [(a.kind, a.alias, a.version) for a in actions]


def test_every_stage_becomes_an_alias_of_the_same_name() -> None:
    assert desired_aliases(REGISTRY["m"], None) == {
        "staging": "3",
        "production": "2",
        "canary": "3",
    }
    assert desired_aliases(REGISTRY["m"], "staging") == {"staging": "3"}


def test_missing_and_moved_aliases_are_set() -> None:
    """From an empty store: three aliases to set; a moved one reports old -> new."""
    versions = {"m": {"1", "2", "3"}}
    plan = alias_actions(REGISTRY, {}, versions)
    assert kinds(plan) == [("set-alias", "canary", "3"), ("set-alias", "production", "2"),
                           ("set-alias", "staging", "3")]  # fmt: skip
    moved = alias_actions(REGISTRY, {"m": {"production": "1", "staging": "3", "canary": "3"}},
                          versions)  # fmt: skip
    assert [(a.kind, a.detail) for a in moved] == [("set-alias", "1 -> 2")]


def test_a_matching_store_needs_nothing() -> None:
    observed = {"m": {"production": "2", "staging": "3", "canary": "3"}}
    assert alias_actions(REGISTRY, observed, {"m": {"2", "3"}}) == []


def test_aliases_of_stages_no_longer_held_are_removed() -> None:
    """A reverted promotion: the alias the registry no longer asks for goes away."""
    registry = {"m": {"versions": {}, "stages": {"staging": "3"}}}
    observed = {"m": {"staging": "3", "production": "2", "champion": "1"}}
    plan = alias_actions(registry, observed, {"m": {"2", "3"}})
    assert kinds(plan) == [("remove-alias", "production", "2")]  # unmanaged aliases stay


def test_a_stage_naming_an_unknown_version_blocks() -> None:
    plan = alias_actions(REGISTRY, {}, {"m": {"2"}})
    assert [a.blocking for a in plan] == [True, False, True]
    assert "no such version" in plan[0].detail


def test_one_environment_touches_only_its_aliases() -> None:
    observed = {"m": {"production": "1"}}
    plan = alias_actions(REGISTRY, observed, {"m": {"1", "2", "3"}}, "staging")
    assert kinds(plan) == [("set-alias", "staging", "3")]
