"""Safe YAML loading with positions: every broken input becomes a diagnostic, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.adapters import yaml_files
from mlops.adapters.yaml_files import load_yaml_file, parse_yaml_bytes, parse_yaml_text
from mlops.core.bounds import MANIFEST_BYTES, POLICY_BYTES, REGISTRY_BYTES, YAML_BYTES
from mlops.core.diagnostics import Position


def problems(text: str) -> list[str]:
    return [d.render() for d in parse_yaml_text(text, "f.yaml").diagnostics]


def test_it_records_the_position_of_every_value_and_key() -> None:
    """Positions are 1-based and point at the value, or at the key when asked."""
    doc = parse_yaml_text("a:\n  b: [1, {c: x}]\n", "f.yaml").document
    assert doc is not None
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert doc.position_of(("a", "b", 1, "c")) == Position(2, 14)
    assert doc.position_of(("a", "b"), key=True) == Position(2, 3)
    assert doc.position_of(("a", "b", 1, "missing")) == Position(2, 10)


def test_it_reports_duplicate_keys_and_keeps_the_first() -> None:
    """A duplicate key is an error naming the line of the first definition."""
    result = parse_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert result.document is not None and result.document.data == {"a": 1, "b": 2}
    assert [d.render() for d in result.diagnostics] == [
        "f.yaml:3:1: $.a: duplicate key 'a' (first defined on line 1)"
    ]


def test_it_refuses_numeric_keys_and_says_to_quote_them() -> None:
    """Versions are strings: `1:` as a key is an error with the fix."""
    assert problems("versions:\n  1: {}\n") == [
        'f.yaml:2:3: $.versions["1"]: key 1 is read as an integer; keys must be strings: '
        'quote it as "1"'
    ]


def test_timestamps_stay_text() -> None:
    """Dates are not converted, so the schema checks their format as strings."""
    doc = parse_yaml_text("created: 2024-01-02T03:04:05Z\n", "f.yaml").document
    assert doc is not None and doc.data == {"created": "2024-01-02T03:04:05Z"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "f.yaml:1:1: $: file is empty: expected a YAML mapping"),
        ("# only a comment\n", "f.yaml:1:1: $: file is empty: expected a YAML mapping"),
        ("a:\n\t- b\n", "f.yaml:2:1: $: invalid YAML: a tab character; YAML indentation must use spaces"),
        ("a: [1, 2\n", "f.yaml:2:1: $: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence)"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1: $: expected a single YAML document; a second one starts here"),
        ("a: !!python/object:os.system x\n", "f.yaml:1:4: $.a: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system': use plain strings, numbers, booleans, lists and mappings"),
        ("a: *nowhere\n", "f.yaml:1:4: $: alias *nowhere names no earlier anchor"),
        ("? [a, b]\n: c\n", "f.yaml:1:3: $: mapping keys must be plain strings, not lists or mappings"),
    ],
)  # fmt: skip
def test_broken_yaml_becomes_one_positioned_diagnostic(text: str, expected: str) -> None:
    """Syntax errors, tabs, empty files, extra documents and unsafe tags are reported in place."""
    assert problems(text) == [expected]


def test_deep_nesting_is_refused_without_recursion_errors() -> None:
    """Nesting beyond the limit stops parsing with a clear message, however deep the input."""
    deep = "[" * 100_000
    assert problems(deep) == [
        f"f.yaml:1:{yaml_files.MAX_DEPTH + 1}: $: nested more than 64 levels deep"
    ]


def test_alias_bombs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A billion-laughs document stops at the expansion limit instead of exhausting memory."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    found = problems("\n".join(lines) + "\n")
    assert len(found) == 1
    assert "document expands to more than 1000000 values (through aliases?)" in found[0]


def test_merge_keys_apply_with_explicit_keys_winning() -> None:
    """`<<: *base` merges a mapping; keys written out take precedence."""
    doc = parse_yaml_text("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n", "f.yaml").document
    assert doc is not None and doc.data["d"] == {"y": 3, "x": 1}


def test_binary_and_mis_encoded_input_is_named() -> None:
    """NUL bytes and invalid UTF-8 are reported with their position, not decoded."""
    nul = parse_yaml_bytes(b"a: 1\nb: \x00\n", "f.yaml").diagnostics
    assert [d.render() for d in nul] == [
        "f.yaml:2:4: $: binary data (a NUL byte): expected UTF-8 YAML text"
    ]
    latin = parse_yaml_bytes(b"name: caf\xe9\n", "f.yaml").diagnostics
    assert [d.render() for d in latin] == [
        "f.yaml:1:10: $: not valid UTF-8 text: expected a UTF-8 YAML file"
    ]
    bom = parse_yaml_bytes("\ufeffa: 1\n".encode(), "f.yaml")
    assert bom.document is not None and bom.document.data == {"a": 1}


def test_files_over_their_size_limit_are_not_read(tmp_path: Path) -> None:
    """A file larger than the limit for its kind is refused by its size, before it is read
    or parsed; the message names the size and the limit. The kind comes from the path."""
    big = tmp_path / "big.yaml"
    size = MANIFEST_BYTES.bytes + 1
    with big.open("wb") as fh:
        fh.truncate(size)  # sparse: NUL bytes, which would be refused too if ever read
    assert [d.render() for d in load_yaml_file(big, "models/x/model.yaml").diagnostics] == [
        f"models/x/model.yaml: $: file is {size} bytes; a manifest is at most "
        f"{MANIFEST_BYTES.bytes} bytes"
    ]
    assert [d.message for d in load_yaml_file(big, "policies/promotion.yaml").diagnostics] == [
        f"file is {size} bytes; a policy file is at most {POLICY_BYTES.bytes} bytes"
    ]
    with big.open("r+b") as fh:
        fh.truncate(REGISTRY_BYTES.bytes + 1)
    assert [d.message for d in load_yaml_file(big, "registry.yaml").diagnostics] == [
        f"file is {REGISTRY_BYTES.bytes + 1} bytes; registry.yaml is at most "
        f"{REGISTRY_BYTES.bytes} bytes"
    ]


def test_a_registry_may_be_larger_than_a_manifest(tmp_path: Path) -> None:
    """A registry over the manifest limit (but within its own) is read and parsed."""
    registry = tmp_path / "registry.yaml"
    line = b"# a registry with thousands of versions is legitimately large\n"
    registry.write_bytes(line * (MANIFEST_BYTES.bytes // len(line) + 1) + b"models: {}\n")
    loaded = load_yaml_file(registry, "registry.yaml", positions=False)
    assert loaded.diagnostics == []
    assert loaded.document is not None and loaded.document.data == {"models": {}}


def test_bytes_over_the_generic_limit_are_not_parsed() -> None:
    """Bytes from elsewhere (a git revision) are held to the limit of their kind too."""
    raw = b"#" * (YAML_BYTES.bytes + 1)
    assert [d.message for d in parse_yaml_bytes(raw, "dvc.lock").diagnostics] == [
        f"file is {len(raw)} bytes; a YAML file is at most {YAML_BYTES.bytes} bytes"
    ]


def test_missing_files_and_folders_are_diagnostics(tmp_path: Path) -> None:
    """Unreadable paths are reported, not raised."""
    assert [d.message for d in load_yaml_file(tmp_path / "nope.yaml", "nope.yaml").diagnostics] == [
        "file not found"
    ]
    assert [d.message for d in load_yaml_file(tmp_path, "dir").diagnostics] == [
        "expected a YAML file, found a directory"
    ]
