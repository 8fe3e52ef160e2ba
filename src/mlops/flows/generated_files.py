"""Files the platform generates from the models (CODEOWNERS, batch.yml): what is committed."""

from __future__ import annotations

from pathlib import Path


def read_committed(root: Path, path: str) -> str | None:
    """The file's text in the checkout, None when there is none ("" when it is not UTF-8)."""
    try:
        return (root / path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""
