"""mlops: run the whole machine-learning model lifecycle from one Git repository."""

__version__ = "0.1.0"
