"""`python -m mlops` is the same as the `mlops` console script."""

from mlops.cli import run

run()
