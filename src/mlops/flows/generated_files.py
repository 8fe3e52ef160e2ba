"""Files the platform generates from the models (CODEOWNERS, batch.yml): what is committed."""

from __future__ import annotations

from pathlib import Path

from mlops.adapters import gha
from mlops.core.diagnostics import Diagnostic
from mlops.errors import InvalidInput


def read_committed(root: Path, path: str) -> str | None:
    """The file's text in the checkout, None when there is none ("" when it is not UTF-8)."""
    try:
        return (root / path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""


def stale(path: str, current: str | None, out_of_date: str, verb: str, *, as_json: bool
          ) -> InvalidInput:  # fmt: skip
    """The error for a generated file that is missing or `out_of_date`, annotated on the file
    itself in Actions (on stderr with --json, so stdout stays JSON); `verb` regenerates it."""
    message = f"{path} {'is missing' if current is None else out_of_date}"
    if gha.in_actions():
        found = Diagnostic(path, (), f"{message}: run `mlops {verb}`")
        gha.annotate(found, title=f"mlops {verb}", stderr=as_json)
    return InvalidInput(message, hint=f"run `mlops {verb}`")
