"""Score the saved model on the holdout set and write holdout metrics plus n_rows."""

from __future__ import annotations

from common import Parser, classification_metrics, read_table, run, write_metrics
from predict import load_model


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="evaluate.py", description=__doc__)
    parser.add_argument("--model-dir", default="model")
    parser.add_argument("--holdout", default="data/holdout.csv")
    parser.add_argument("--metrics", default="evaluation.json")
    args = parser.parse_args(argv)

    model, features = load_model(args.model_dir)
    x, y = read_table(args.holdout)
    metrics: dict[str, float | int] = dict(
        classification_metrics(y, model.predict_proba(x[features])[:, 1])
    )
    metrics["n_rows"] = len(y)
    write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    run(main)
