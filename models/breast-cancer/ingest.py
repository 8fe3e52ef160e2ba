"""Write the breast-cancer data set as data/train.csv and data/holdout.csv (stratified split)."""

from __future__ import annotations

from pathlib import Path

from common import FEATURES, TARGET, InputError, Parser, fraction, run
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="ingest.py", description=__doc__)
    parser.add_argument("--out-dir", default="data")
    parser.add_argument("--holdout-fraction", type=fraction, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data
    names = [name.replace(" ", "_") for name in frame.columns]
    if names != FEATURES:
        raise InputError("scikit-learn's feature names differ from the expected list")
    frame.columns = names
    # sklearn codes 0 = malignant, 1 = benign; we predict malignancy, so flip it.
    frame[TARGET] = 1 - bunch.target.astype(int)

    train, holdout = train_test_split(
        frame,
        test_size=args.holdout_fraction,
        random_state=args.seed,
        stratify=frame[TARGET],
    )
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("holdout", holdout)):
        part.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    run(main)
