"""Fit a StandardScaler + LogisticRegression pipeline and write training-set metrics."""

from __future__ import annotations

import json
import pickle

from common import (
    FEATURES,
    FEATURES_FILE,
    MODEL_FILE,
    InputError,
    Parser,
    classification_metrics,
    fresh_dir,
    positive_float,
    positive_int,
    read_table,
    run,
    write_metrics,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="train.py", description=__doc__)
    parser.add_argument("--train", default="data/train.csv")
    parser.add_argument("--model-dir", default="model")
    parser.add_argument("--metrics", default="metrics.json")
    parser.add_argument("--c", type=positive_float, default=1.0, help="inverse regularisation")
    parser.add_argument("--max-iter", type=positive_int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    x, y = read_table(args.train)
    if len(set(y)) < 2:
        raise InputError(f"{args.train}: training data needs both classes")
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=args.c, max_iter=args.max_iter, random_state=args.seed),
    )
    model.fit(x, y)

    model_dir = fresh_dir(args.model_dir)
    with (model_dir / MODEL_FILE).open("wb") as fh:
        pickle.dump(model, fh, protocol=5)
    (model_dir / FEATURES_FILE).write_text(json.dumps(FEATURES, indent=2) + "\n", encoding="utf-8")

    write_metrics(args.metrics, classification_metrics(y, model.predict_proba(x)[:, 1]))


if __name__ == "__main__":
    run(main)
