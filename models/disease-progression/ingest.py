"""Write sklearn's diabetes data set as data/train.csv and data/holdout.csv (random split).

This is the one Python stage of the otherwise Julia model: the data ships with scikit-learn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
TARGET = "progression"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = Parser(prog="ingest.py", description=__doc__)
    parser.add_argument("--out-dir", default="data")
    parser.add_argument("--holdout-fraction", type=fraction, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    bunch = load_diabetes(as_frame=True)  # features are sklearn's mean-centred, scaled values
    frame = bunch.data
    if list(frame.columns) != FEATURES:
        sys.exit("ingest.py: error: scikit-learn's feature names differ from the expected list")
    frame[TARGET] = bunch.target

    train, holdout = train_test_split(
        frame, test_size=args.holdout_fraction, random_state=args.seed
    )
    out = Path(args.out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, part in (("train", train), ("holdout", holdout)):
            part.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
    except OSError as exc:
        sys.exit(f"ingest.py: error: {exc}")


if __name__ == "__main__":
    main()
