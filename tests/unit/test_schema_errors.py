"""Schema errors of a huge or hostile file: listed up to a cap, counted past it, and found
with bounded work (never one expensive step per error, never quadratic)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mlops.adapters.schemas import CompiledSchema, compile_schema, load_schemas
from mlops.adapters.yaml_files import parse_yaml_text
from mlops.core.bounds import EXAMINED_PER_FILE, SHOWN_PER_FILE, Omission
from mlops.core.document import Document
from mlops.core.schema_errors import schema_diagnostics

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests/data/validate/valid/minimal-python/models/iris/model.yaml"


@pytest.fixture(scope="module")
def model_schema() -> CompiledSchema:
    return load_schemas(ROOT).schemas["model"]


def unknown_keys(count: int) -> str:
    """A valid manifest followed by `count` unknown top-level keys."""
    extra = "".join(f"unknown_field_{i:06d}: value {i}\n" for i in range(count))
    return MANIFEST.read_text() + extra


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls of difflib's close-match search (the did-you-mean hint)."""
    calls = [0]
    original: Callable[..., list[str]] = difflib.get_close_matches

    def wrapper(*args: Any, **kwargs: Any) -> list[str]:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", wrapper)
    return calls


def test_unknown_keys_of_a_multi_megabyte_manifest_are_capped_with_the_true_total(
    model_schema: CompiledSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100,000 unknown keys (3 MB) give the first SHOWN_PER_FILE diagnostics and one omission
    counting every other key exactly; the did-you-mean hint is worked out only for the listed
    ones."""
    keys = 100_000
    text = unknown_keys(keys)
    assert len(text.encode()) > 3_000_000
    document = parse_yaml_text(text, "models/iris/model.yaml", positions=False).document
    assert document is not None
    calls = counting(monkeypatch)
    found = model_schema.diagnostics(document)
    assert len(found) == SHOWN_PER_FILE + 1
    assert [d.json_path for d in found[:2]] == ["$.unknown_field_000000", "$.unknown_field_000001"]
    omission = found[-1]
    assert isinstance(omission, Omission)
    assert (omission.errors, omission.exact, omission.shown) == (
        keys - SHOWN_PER_FILE,
        True,
        SHOWN_PER_FILE,
    )
    assert calls[0] <= SHOWN_PER_FILE


def test_schema_errors_examined_stop_past_the_bound() -> None:
    """However many errors the schema yields, at most EXAMINED_PER_FILE (+1, to know that
    more exist) are taken from the generator; the count is then a lower bound."""
    items = 50_000
    validator = Draft202012Validator({"type": "array", "items": {"type": "string"}})
    taken = [0]

    def errors() -> Iterator[ValidationError]:
        for error in validator.iter_errors(list(range(items))):
            taken[0] += 1
            yield error

    document = Document("f.yaml", list(range(items)))
    found = schema_diagnostics(document, errors())
    assert taken[0] <= EXAMINED_PER_FILE + 1
    assert len(found) == SHOWN_PER_FILE + 1
    omission = found[-1]
    assert isinstance(omission, Omission)
    assert omission.exact is False
    assert EXAMINED_PER_FILE - SHOWN_PER_FILE <= omission.errors < items
    assert omission.render().startswith("f.yaml: $: ... and at least ")


class CountingMapping(dict[str, Any]):
    """A mapping that counts how often its items are read (each comparison reads them)."""

    reads = 0

    def items(self) -> Any:
        CountingMapping.reads += 1
        return super().items()

    def keys(self) -> Any:
        CountingMapping.reads += 1
        return super().keys()


def test_unique_items_of_many_mappings_is_not_quadratic() -> None:
    """Checking that 2,000 mappings are all different reads each a bounded number of times,
    instead of comparing every pair (4 million comparisons, tens of seconds)."""
    schema = compile_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string"},
        }
    )
    count = 2_000
    data = [CountingMapping(a=i) for i in range(count)] + [CountingMapping(a=0)]
    CountingMapping.reads = 0
    found = schema.diagnostics(Document("f.yaml", data))
    assert CountingMapping.reads <= 10 * len(data)
    assert [d.message for d in found if d.json_path == "$" and not isinstance(d, Omission)] == [
        'expected every item to be different; repeated: {"a": 0}'
    ]


@pytest.mark.parametrize(
    ("items", "repeated"),
    [
        ([1, 1.0, 2], "1.0"),
        ([True, 1, False, 0], None),
        ([{"a": [1, 2]}, {"a": [1, 2]}, {"a": [2, 1]}], '{"a": [1, 2]}'),
        (["x", "y", "x", "y", "x"], '"x", "y"'),
    ],
)
def test_unique_items_uses_json_equality(items: list[Any], repeated: str | None) -> None:
    """1 and 1.0 are the same JSON value, true and 1 are not; each repeat is named once."""
    schema = compile_schema(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "uniqueItems": True}
    )
    found = [d.message for d in schema.diagnostics(Document("f.yaml", items))]
    expected = (
        [] if repeated is None else [f"expected every item to be different; repeated: {repeated}"]
    )
    assert found == expected
