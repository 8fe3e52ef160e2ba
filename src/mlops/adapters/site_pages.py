"""The catalogue's static site: Jinja2 templates (every value escaped) rendered into a folder
that replaces the old one in one rename, so a reader or a failed run never sees half a site.

Model cards are Markdown rendered by markdown-it with raw HTML disabled: a card's text can
never inject markup. A folder is only ever replaced when it is empty or a site this module
wrote (it holds MARKER), so `--out .` cannot wipe a repository.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from mlops.errors import UsageError

MARKER = ".mlops-catalogue"
TEMPLATES = "catalogue"


def markdown_html(text: str, base: str | None = None) -> str:
    """Markdown as HTML, raw HTML in it escaped, links limited to safe schemes. A relative
    link (a card names the model's files) points into `base` (the repository's files on its
    host, ending in `/`) or, without one, becomes plain text: the site holds no such file."""
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(_body(text))
    for block in tokens:
        kept: list[Token] = []
        dropped: list[bool] = []
        for token in block.children or ():
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                relative = not urlsplit(href).scheme and not href.startswith("#")
                drop = relative and base is None
                if relative and base is not None:
                    token.attrSet("href", urljoin(base, href))
                dropped.append(drop)
                if drop:
                    continue
            elif token.type == "link_close" and dropped and dropped.pop():
                continue
            elif token.type == "image":
                src = str(token.attrGet("src") or "")
                if not urlsplit(src).scheme:
                    token.attrSet("src", urljoin(base, src) if base else "")
            kept.append(token)
        if block.children is not None:
            block.children = kept
    return str(md.renderer.render(tokens, md.options, {}))


def _body(text: str) -> str:
    """A card without its YAML front matter (metadata for model hubs) and HTML comments
    (notes for editors): neither is for a reader."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end > 0:
            text = text[end + 5 :]
    return re.sub(r"<!--.*?-->\n?", "", text, flags=re.S)


def _environment() -> Any:
    import jinja2

    folder = Path(str(files("mlops") / "templates" / TEMPLATES))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(pages: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """Each page path (relative, `/`-separated) -> its HTML, from (template, context)."""
    env = _environment()
    out = {}
    for path, (template, context) in pages.items():
        depth = path.count("/")
        out[path] = env.get_template(template).render(**context, root="../" * depth or "./")
    out["style.css"] = (Path(str(files("mlops") / "templates" / TEMPLATES)) / "style.css"
                        ).read_text(encoding="utf-8")  # fmt: skip
    return out


def check_destination(out: Path) -> None:
    """Refuse a destination that is a file, or a folder that is neither empty nor a site
    written here, before any work is done."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder", hint="choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UsageError(
            f"--out {out}: the folder holds other files and no catalogue ({MARKER}):"
            " it is never replaced",
            hint="choose an empty or new folder",
        )


def write_site(out: Path, contents: Mapping[str, str]) -> None:
    """Write `contents` (relative path -> text) as the folder `out`, replacing a previous
    site in one rename; nothing is left behind when writing fails."""
    check_destination(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write there: {exc.strerror or exc}") from None
    old: Path | None = None
    try:
        for relative, text in {**contents, MARKER: "written by `mlops catalogue`\n"}.items():
            target = staging.joinpath(*relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.replace(old / "site")
        staging.replace(out)
    except OSError as exc:
        if old is not None and not out.exists():
            (old / "site").replace(out)
        shutil.rmtree(staging, ignore_errors=True)
        raise UsageError(f"--out {out}: cannot write the site: {exc.strerror or exc}") from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
