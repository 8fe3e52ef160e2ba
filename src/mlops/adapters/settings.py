"""Repository settings: `[tool.mlops]` in pyproject.toml, then environment variables.

    [tool.mlops]
    state_dir = ".mlops"                    # local tracking store and artifacts (git-ignored)
    tracking_uri = "http://127.0.0.1:5000"  # omit for the embedded SQLite store

`MLFLOW_TRACKING_URI` overrides the file, so CI and laptops differ by environment only.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError


@dataclass(frozen=True)
class Settings:
    root: Path
    state_dir: Path
    tracking_uri: str

    @property
    def embedded(self) -> bool:
        """Whether tracking uses the embedded SQLite store (artifacts in the state folder)."""
        return self.tracking_uri.startswith("sqlite:")

    @property
    def artifacts(self) -> Path:
        return self.state_dir / "artifacts"

    @property
    def candidates(self) -> Path:
        return self.state_dir / "candidates"


def load_settings(root: Path) -> Settings:
    config = _tool_config(root / "pyproject.toml")
    state = Path(config.get("state_dir", ".mlops"))
    state_dir = state if state.is_absolute() else root / state
    default_uri = f"sqlite:///{state_dir / 'mlflow.db'}"
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.get("tracking_uri") or default_uri
    return Settings(root, state_dir, str(uri))


def _tool_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MlopsError(f"{path.name}: cannot read [tool.mlops]: {exc}") from exc
    section = data.get("tool", {}).get("mlops", {})
    if not isinstance(section, dict):
        raise MlopsError(f"{path.name}: [tool.mlops] must be a table")
    return section
