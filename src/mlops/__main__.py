"""`python -m mlops` is the same as the `mlops` console script."""

from mlops.cli import run

if __name__ == "__main__":  # a worker process started by spawning imports this module too
    run()
