"""What an analyst reaches from a notebook, in a few calls on a checkout of this repository.

    from mlops.flows import analyst

    model = analyst.load("breast-cancer", "production")       # an MLflow pyfunc model
    rows = analyst.holdout("breast-cancer")                   # held-out rows, features only
    analyst.card_sections("breast-cancer")["Overview"]        # the model card, by section
    analyst.lineage("breast-cancer", "2")                     # commit, data hashes, params
    analyst.metrics("breast-cancer", ["1", "2"])              # held-out metrics side by side

Every call reads the same tracking store the `mlops` commands use (the embedded store under
`.mlops/`, or `MLFLOW_TRACKING_URI`), and finds the repository at or above `root` (default:
the working folder, which is the notebook's own folder in Jupyter).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from mlops.adapters import dvc, tracking
from mlops.adapters.repository import find_root
from mlops.adapters.settings import Settings, load_settings
from mlops.core import layout
from mlops.core.card import card_path
from mlops.errors import InvalidInput, MlopsError
from mlops.flows import candidates
from mlops.flows.repository import checked_models, manifest_data


def repository(root: Path | str | None = None) -> Path:
    """The checkout's root: the nearest folder at or above `root` (default: the working
    folder) holding registry.yaml or models/."""
    return find_root(Path(root) if root is not None else None)


def stage_version(model: str, stage: str, root: Path | str | None = None) -> str:
    """The version that holds `stage` (staging, production, canary) in the tracking store:
    the MLflow alias `mlops reconcile --apply` set from registry.yaml."""
    _connect(root)
    aliases, _ = tracking.aliases_and_versions([model])
    version = aliases.get(model, {}).get(stage)
    if version is None:
        raise MlopsError(
            f"no version of {model!r} holds the stage {stage!r} in the tracking store",
            hint="promote one in registry.yaml and run `mlops reconcile --apply`",
        )
    return version


def load(model: str, stage: str = "production", root: Path | str | None = None) -> Any:
    """`model` at `stage` as an MLflow pyfunc model: `.predict(frame)` scores a DataFrame,
    whatever language the model is written in."""
    version = stage_version(model, stage, root)
    # MLflow's download progress and tqdm's advice to install Jupyter widgets are noise here.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tracking.load_model(model, version)


def holdout(model: str, root: Path | str | None = None, *, target: bool = False) -> Any:
    """The model's held-out rows as a DataFrame (the manifest's `role: holdout` input),
    features only unless `target`. A fresh clone fetches them from the data remote first."""
    import pandas as pd

    base = repository(root)
    manifest = manifest_data(checked_models(base, [model], "read"), model)
    inputs = [i for i in manifest["data"]["inputs"] if i.get("role") == "holdout"]
    if not inputs:
        raise InvalidInput(f"{layout.manifest_path(model)}: no data input has `role: holdout`")
    path = base / layout.model_dir(model) / str(inputs[0]["path"])
    if not path.exists():
        dvc.pull(base, model)  # the data version dvc.lock records
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    name = manifest["data"]["target"]["name"]
    return frame if target else frame.drop(columns=[name])


def card_sections(model: str, root: Path | str | None = None) -> dict[str, str]:
    """The model card (`mlops card`) split at its `## ` headings: title -> Markdown, in order."""
    path = repository(root) / card_path(model)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MlopsError(
            f"{card_path(model)} is missing", hint=f"run `mlops card {model}`"
        ) from None
    return split_sections(text)


def split_sections(card: str) -> dict[str, str]:
    """A card's `## ` sections (each with its heading), leaving out the front matter and title."""
    sections: dict[str, str] = {}
    title: str | None = None
    for line in card.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            sections[title] = ""
        if title is not None:
            sections[title] += line + "\n"
    return {k: v.strip() + "\n" for k, v in sections.items()}


def lineage(model: str, version: str, root: Path | str | None = None) -> dict[str, Any]:
    """What produced `model` `version`, as the tracking store recorded it at training: its
    registry entry (run id, git commit, DVC data hashes, params hash, held-out metrics,
    artifact digests, creation time) with the commit's dirty flag, the runtime, the seed and
    the parameters themselves (params.yaml as trained)."""
    settings = _connect(root)
    record = candidates.of_version(settings, model, version)
    tags, _ = tracking.run_data(record["run_id"])
    params = tracking.run_text(record["run_id"], "lineage/params.yaml")
    return {
        **{k: v for k, v in record.items() if k not in ("tracking_uri", "model")},
        "git_dirty": tags.get("mlops.git_dirty") == "true",
        "runtime": tags.get("mlops.runtime", ""),
        "seed": tags.get("mlops.seed", ""),
        "params": yaml.safe_load(params) if params else {},
    }


def metrics(model: str, versions: Iterable[str], root: Path | str | None = None) -> Any:
    """The versions' held-out metrics as a DataFrame: one row per version, one column per
    metric, as recorded when each was trained (the numbers registry.yaml keeps)."""
    import pandas as pd

    settings = _connect(root)
    rows = {str(v): candidates.of_version(settings, model, str(v))["metrics"] for v in versions}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "version"
    return frame


def _connect(root: Path | str | None) -> Settings:
    settings = load_settings(repository(root))
    tracking.connect(settings)
    return settings
