"""Bounds on what bad input costs: byte limits by kind of file, and per-file listing caps."""

from __future__ import annotations

from mlops.core.bounds import (
    EXAMINED_PER_FILE,
    MANIFEST_BYTES,
    POLICY_BYTES,
    REGISTRY_BYTES,
    SHOWN_PER_FILE,
    YAML_BYTES,
    Omission,
    size_limit,
    tally,
    truncate,
)
from mlops.core.diagnostics import Diagnostic, Position, Severity


def problems(file: str, count: int, severity: Severity = "error") -> list[Diagnostic]:
    return [
        Diagnostic(file, ("k", i), f"problem {i}", Position(i + 1, 1), severity)
        for i in range(count)
    ]


def test_it_lists_the_first_problems_of_each_file_and_counts_the_rest() -> None:
    """Each file keeps its first SHOWN_PER_FILE diagnostics, then one line counting the rest;
    a file within the cap is untouched."""
    many = problems("models/a/model.yaml", SHOWN_PER_FILE + 7)
    few = problems("registry.yaml", 3)
    result = truncate([*many, *few])
    assert result[:SHOWN_PER_FILE] == many[:SHOWN_PER_FILE]
    omission = result[SHOWN_PER_FILE]
    assert isinstance(omission, Omission)
    assert omission.render() == (
        f"models/a/model.yaml: $: ... and 7 more error(s) in this file "
        f"(showing the first {SHOWN_PER_FILE})"
    )
    assert result[SHOWN_PER_FILE + 1 :] == few


def test_omitted_warnings_and_earlier_omissions_are_counted() -> None:
    """Warnings past the cap are counted apart from errors, and an omission made earlier (by
    the schema check) is folded into the file's one omission line, keeping its lower bound."""
    file = "models/a/model.yaml"
    earlier = Omission.of(file, shown=SHOWN_PER_FILE, errors=900, exact=False)
    found = [*problems(file, SHOWN_PER_FILE), *problems(file, 2, "warning"), earlier]
    result = truncate(found)
    assert len(result) == SHOWN_PER_FILE + 1
    omission = result[-1]
    assert isinstance(omission, Omission)
    assert (omission.errors, omission.warnings, omission.exact) == (900, 2, False)
    assert omission.message == (
        f"... and at least 900 more error(s) and 2 more warning(s) in this file (showing the "
        f"first {SHOWN_PER_FILE}; counting stops after {EXAMINED_PER_FILE} schema errors)"
    )
    assert omission.summary() == {
        "file": file,
        "shown": SHOWN_PER_FILE,
        "omitted_errors": 900,
        "omitted_warnings": 2,
        "exact": False,
    }


def test_only_warnings_omitted_is_a_warning_line() -> None:
    """A file whose omitted problems are all warnings does not turn into an error."""
    file = "models/a/model.yaml"
    result = truncate(problems(file, SHOWN_PER_FILE + 1, "warning"))
    assert result[-1].severity == "warning"
    assert tally(result) == (0, SHOWN_PER_FILE + 1, 0, True)


def test_tally_counts_listed_and_omitted_problems() -> None:
    """The totals include what the omission lines stand for, so the summary stays true."""
    found = truncate(
        [*problems("models/a/model.yaml", 120), *problems("registry.yaml", 2, "warning")]
    )
    assert len(found) == SHOWN_PER_FILE + 1 + 2
    assert tally(found) == (120, 2, 1, True)


def test_each_kind_of_file_has_its_own_byte_limit() -> None:
    """Manifests, registry.yaml and policies each have a limit; other YAML the generic one."""
    assert size_limit("models/iris/model.yaml") == MANIFEST_BYTES
    assert size_limit("registry.yaml") == REGISTRY_BYTES
    assert size_limit("policies/promotion.yaml") == POLICY_BYTES
    assert size_limit("policies/schemas/model.schema.json") == POLICY_BYTES
    assert size_limit("models/iris/params.yaml") == YAML_BYTES
    assert size_limit("models/iris/model.yaml@0123456789ab") == YAML_BYTES
    assert MANIFEST_BYTES.bytes < REGISTRY_BYTES.bytes


def test_the_refusal_names_the_size_and_the_limit() -> None:
    """The message says how big the file is and what the limit for its kind is."""
    assert MANIFEST_BYTES.problem(MANIFEST_BYTES.bytes) is None
    assert MANIFEST_BYTES.problem(5242880) == (
        "file is 5242880 bytes; a manifest is at most 1048576 bytes"
    )
    assert REGISTRY_BYTES.problem(REGISTRY_BYTES.bytes + 1) == (
        f"file is {REGISTRY_BYTES.bytes + 1} bytes; registry.yaml is at most "
        f"{REGISTRY_BYTES.bytes} bytes"
    )
