"""Lineage helpers: the same inputs give the same hashes on every machine."""

from __future__ import annotations

from mlops.core.lineage import (
    flatten,
    input_hashes,
    lock_hashes,
    metric_table,
    params_hash,
    tree_sha256,
)

LOCK = {
    "schema": "2.0",
    "stages": {
        "ingest": {"deps": [{"path": "ingest.py", "md5": "a" * 32}],
                   "outs": [{"path": "data/train.csv", "md5": "b" * 32}]},
        "train": {"deps": [{"path": "data/train.csv", "md5": "b" * 32}],
                  "outs": [{"path": "model", "md5": "c" * 32 + ".dir"}]},
    },
}  # fmt: skip


def test_params_hash_ignores_key_order() -> None:
    """Reordered YAML gives the same hash; a changed value does not."""
    assert params_hash({"a": 1, "b": {"c": 2}}) == params_hash({"b": {"c": 2}, "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 1.5})
    assert params_hash({}).startswith("sha256:")


def test_flatten_nested_params() -> None:
    """Sections become dotted MLflow parameter names."""
    assert flatten({"train": {"c": 1.0, "opt": {"lr": 0.1}}, "seed": 4}) == {
        "train.c": 1.0,
        "train.opt.lr": 0.1,
        "seed": 4,
    }


def test_lock_and_input_hashes() -> None:
    """Every locked path has its md5; declared inputs pick theirs, unknown ones are skipped."""
    assert lock_hashes(LOCK) == {
        "ingest.py": "a" * 32,
        "data/train.csv": "b" * 32,
        "model": "c" * 32 + ".dir",
    }
    assert input_hashes(LOCK, ["data/train.csv", "data/missing.csv"]) == {
        "data/train.csv": "b" * 32
    }
    assert lock_hashes({"stages": "junk"}) == {}


def test_tree_digest_depends_on_paths_and_contents_not_order() -> None:
    """A directory digest is stable under listing order and changes with any byte or name."""
    files = [("a.txt", b"1"), ("sub/b.bin", b"\x00\x01")]
    assert tree_sha256(files) == tree_sha256(list(reversed(files)))
    assert tree_sha256(files) != tree_sha256([("a.txt", b"2"), ("sub/b.bin", b"\x00\x01")])
    assert tree_sha256(files) != tree_sha256([("A.txt", b"1"), ("sub/b.bin", b"\x00\x01")])


def test_metric_table() -> None:
    """Held-out metrics keep their names, training ones get a prefix; counts are not metrics."""
    assert metric_table({"r2": 0.5, "n_rows": 8, "note": "x"}, {"r2": 0.9}) == {
        "r2": 0.5,
        "train_r2": 0.9,
    }
