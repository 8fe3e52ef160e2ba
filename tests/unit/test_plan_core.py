"""Planning from changed paths: pure rules, no git."""

from __future__ import annotations

from mlops.core.plan import is_shared, make_plan, registry_changes

SHARED = ["policies/", "src/", "pyproject.toml"]


def plan(
    changed: list[str], before: set[str], after: set[str], registry: dict[str, str] | None = None
):
    return make_plan(
        base="b", head="h", changed=changed, models_before=before, models_after=after,
        registry_changed=registry or {}, shared_paths=SHARED,
    )  # fmt: skip


def test_shared_paths_match_folders_and_files_exactly() -> None:
    """A trailing '/' is a folder; other entries match one file; prefixes do not leak."""
    assert is_shared("policies/promotion.yaml", SHARED)
    assert is_shared("pyproject.toml", SHARED)
    assert not is_shared("pyproject.toml.bak", SHARED)
    assert not is_shared("policies", SHARED)
    assert not is_shared("srcs/x.py", SHARED)


def test_files_at_the_top_of_models_touch_no_model() -> None:
    """`models/README.md` belongs to no model."""
    assert plan(["models/README.md"], {"a"}, {"a"}).models == []


def test_reasons_accumulate_per_model() -> None:
    """A model touched several ways lists every reason once."""
    result = plan(
        ["models/a/train.py", "models/a/params.yaml", "src/mlops/cli.py"],
        {"a", "b"},
        {"a", "b"},
        {"a": "registry stages changed"},
    )
    assert [(m.name, m.reasons) for m in result.models] == [
        ("a", ["2 file(s) changed in models/a/", "registry stages changed",
               "shared path changed: src/mlops/cli.py"]),
        ("b", ["shared path changed: src/mlops/cli.py"]),
    ]  # fmt: skip
    assert result.all_models


def test_registry_changes_say_what_changed() -> None:
    """Entries added, removed, or with versions or stages changed."""
    base = {"a": {"versions": {}, "stages": {}}, "b": {"versions": {}, "stages": {}}}
    head = {
        "a": {"versions": {"1": {}}, "stages": {"staging": "1"}},
        "c": {"versions": {}, "stages": {}},
    }
    assert registry_changes(base, head) == {
        "a": "registry versions and stages changed",
        "b": "registry entry removed",
        "c": "registry entry added",
    }
    assert registry_changes(base, base) == {}
