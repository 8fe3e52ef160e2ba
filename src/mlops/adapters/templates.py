"""Model folder templates, rendered with copier."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any


def template_dir(name: str = "model") -> Path:
    return Path(str(files("mlops") / "templates" / name))


def render(template: Path, destination: Path, answers: dict[str, Any]) -> list[Path]:
    """Render `template` into the empty folder `destination`; return the files written."""
    import copier

    copier.run_copy(
        str(template),
        destination,
        data=answers,
        defaults=True,
        overwrite=True,
        quiet=True,
        unsafe=False,
        skip_tasks=True,
    )
    return sorted(p for p in destination.rglob("*") if p.is_file())
