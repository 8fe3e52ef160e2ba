"""Imports that take seconds, started early on a thread of their own."""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading

WARM_MODULES = (
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "sklearn.pipeline",
    # The embedded store's SQLAlchemy layer: two seconds of imports on first use.
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "sqlalchemy.dialects.sqlite",
    # GitPython, with which MLflow tags every run with its commit: 0.2 s.
    "git",
    # What MLflow's tracing loads the first time a model is loaded.
    "mlflow.tracing.processor.otel_metrics_mixin",
)


@functools.cache
def tracking() -> threading.Thread:
    """Import MLflow on a thread of its own, once per process, beside the pipeline's stages.

    Training needs six seconds of imports (MLflow, its SQL store, scikit-learn) once a stage
    has run. DVC and the stages run in other processes, so on a second core those imports
    cost no waiting; when nothing changed, the process simply ends without them.
    """
    thread = threading.Thread(target=_import, name="import-mlflow", daemon=True)
    thread.start()
    return thread


def _import() -> None:
    """Imports, and one cache MLflow builds for itself; nothing the command configures (the
    tracking URI, the environment) is touched from this thread, since a command that finds
    nothing to do returns without waiting for it. A failed import is left for the same import
    on the main thread to report."""
    for module in WARM_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    with contextlib.suppress(Exception):
        # MLflow checks the stated requirements against the installed packages with a module
        # to package map it builds once per process (0.8 s); build it now. A private helper:
        # if a later MLflow drops it, logging only gets slower.
        requirements = importlib.import_module("mlflow.utils.requirements_utils")
        warm = getattr(requirements, "_init_modules_to_packages_map", None)
        if callable(warm):
            warm()
