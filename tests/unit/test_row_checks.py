"""Record batches checked against the manifest's features: clean rows pass in their model
types, each bad row is rejected with its row number and the first reason, and the rules are
the serving API's."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mlops.adapters.row_checks import check_batch, missing_columns
from mlops.core.batch import BatchError
from mlops.core.features import Feature

FEATURES = [
    Feature("x", "number", minimum=0, maximum=10),
    Feature("n", "integer"),
    Feature("flag", "boolean", nullable=True),
    Feature("colour", "category", categories=("red", "blue")),
]


def numbered(index: int) -> int:
    return index + 1


def test_clean_rows_pass_in_their_model_types() -> None:
    """Integers become int64, numbers float64; extra columns are kept."""
    batch = pa.RecordBatch.from_pydict({
        "id": ["a", "b"], "x": [1, 2], "n": [3.0, 4.0], "flag": [True, None],
        "colour": ["red", "blue"],
    })  # fmt: skip
    checked = check_batch(batch, FEATURES, numbered, text=False)
    assert checked.rejected == []
    assert checked.good.num_rows == 2
    assert checked.good.schema.field("x").type == pa.float64()
    assert checked.good.schema.field("n").type == pa.int64()
    assert checked.good.column("id").to_pylist() == ["a", "b"]


def test_each_bad_row_is_rejected_with_its_first_reason() -> None:
    """Null, out of range, not whole, not finite and unknown category each name the field."""
    batch = pa.RecordBatch.from_pydict({
        "x": [1.0, None, 11.0, 2.0, float("nan"), 3.0],
        "n": [1.0, 1.0, 1.0, 1.5, 1.0, 1.0],
        "flag": [None] * 6,
        "colour": ["red", "red", "red", "red", "red", "green"],
    })  # fmt: skip
    checked = check_batch(batch, FEATURES, numbered, text=False)
    assert checked.good.num_rows == 1
    reasons = {r["row"]: r["reason"] for r in checked.rejected}
    assert reasons == {
        2: "field 'x': got null; expected a number from 0 to 10",
        3: "field 'x': is above the maximum 10; expected a number from 0 to 10",
        4: "field 'n': is not a whole number; expected a whole number",
        5: "field 'x': is not a finite number; expected a number from 0 to 10",
        6: 'field \'colour\': is not a category; expected one of "red", "blue"',
    }
    assert checked.rejected[0]["record"]["x"] is None


def test_csv_text_is_parsed_and_a_value_that_is_not_a_number_is_rejected_alone() -> None:
    """One bad text value rejects its row, not the file."""
    batch = pa.RecordBatch.from_pydict({
        "x": ["1.5", "abc", "2"], "n": ["1", "2", "3"], "flag": ["true", "0", None],
        "colour": ["red", "blue", "blue"],
    })  # fmt: skip
    checked = check_batch(batch, FEATURES, lambda i: i + 10, text=True)
    assert checked.good.column("x").to_pylist() == [1.5, 2.0]
    assert checked.good.column("flag").to_pylist() == [True, None]
    assert [(r["row"], r["reason"]) for r in checked.rejected] == [
        (11, "field 'x': got a string ('abc'); expected a number from 0 to 10")
    ]


def test_a_json_value_of_the_wrong_type_is_rejected() -> None:
    """A boolean where a number belongs is not read as 1."""
    batch = pa.RecordBatch.from_pydict({
        "x": pa.array(['"1"', "true"]), "n": [1, 2], "flag": [False, True],
        "colour": ["red", "red"],
    })  # fmt: skip
    checked = check_batch(batch, FEATURES, numbered, text=False)
    assert checked.good.num_rows == 0
    assert "got a string" in checked.rejected[0]["reason"]


def test_a_missing_feature_column_refuses_the_whole_input() -> None:
    """No row can be scored without a feature: one clear error, naming the column."""
    assert missing_columns(["x"], FEATURES) == (
        "the input lacks feature column(s) n, flag, colour (data.features in model.yaml)"
    )
    with pytest.raises(BatchError, match="lacks feature column"):
        check_batch(pa.RecordBatch.from_pydict({"x": [1.0]}), FEATURES, numbered, text=False)


def test_json_lines_whose_values_differ_in_type_are_checked_value_by_value() -> None:
    """A column of mixed JSON values (6 in one line, "heavy" in the next): the numbers
    pass as numbers, the string is rejected as a string, and its record shows it as it was."""
    from mlops.adapters.table_readers import json_batch

    records = [{"x": 1, "n": 6, "flag": True, "colour": "red"},
               {"x": 2, "n": "heavy", "flag": None, "colour": "blue"},
               {"x": 3, "n": "7", "flag": False, "colour": "red"}]  # fmt: skip
    batch = json_batch(records, ["x", "n", "flag", "colour"])
    checked = check_batch(batch, FEATURES, numbered, text=False)
    assert checked.good.column("n").to_pylist() == [6]
    assert checked.good.schema.field("n").type == pa.int64()
    assert [(r["row"], r["reason"]) for r in checked.rejected] == [
        (2, "field 'n': got a string ('heavy'); expected a whole number"),
        (3, "field 'n': got a string ('7'); expected a whole number"),
    ]
    assert [r["record"]["n"] for r in checked.rejected] == ["heavy", "7"]
