"""The README's architecture diagram: its Mermaid source renders (mermaid-cli in headless
chromium, to SVG, as GitHub would draw it), and every component it draws has a home in the
repository, so a box cannot name something that does not exist."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import ROOT, require_system

MERMAID_DIR = Path("/opt/mlops-tools/mermaid")  # where scripts/bootstrap installs mermaid-cli
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-background-networking"]
INSTALL = "run scripts/bootstrap (Debian's chromium, and @mermaid-js/mermaid-cli from npm)"

# Each node of the diagram -> what must exist for it: a path from the repository root, or
# `path:Name` for a top-level class, function or assignment of that Python file.
HOMES: dict[str, tuple[str, ...]] = {
    "people": (".github/CODEOWNERS", ".github/pull_request_template.md"),
    "git": ("registry.yaml", "models", "policies"),
    "workflows": tuple(
        f".github/workflows/{name}.yml" for name in ("pr", "main", "batch", "monitor", "retrain")
    ),
    "cli": ("src/mlops/cli.py:main",),
    "dvc": ("src/mlops/adapters/dvc.py:repro", ".dvc/config"),
    "mlflow": ("src/mlops/adapters/tracking.py:connect",),
    "images": ("src/mlops/adapters/image_registry.py:push",),
    "targets": (
        "src/mlops/adapters/local_target.py:LocalTarget",
        "src/mlops/adapters/docker_target.py:DockerTarget",
    ),
    "servers": (
        "src/mlops/serving/service.py:ModelService",
        "src/mlops/adapters/workers.py:WorkerModel",  # R and Julia models
    ),
    "router": ("src/mlops/adapters/nginx.py:Router",),
    "clients": ("policies/api-keys.yaml", "src/mlops/serving/access.py:Access"),
    "logs": ("src/mlops/serving/prediction_logs.py:PredictionLog",),
    "outputs": (
        "src/mlops/flows/batch_scoring.py:score_model",
        "src/mlops/adapters/spark_scoring.py",
    ),
    "monitor": ("src/mlops/commands/monitor.py:command", "src/mlops/adapters/drift_report.py"),
    "prometheus": ("policies/prometheus/prometheus.yml", "policies/prometheus/mlops.rules.yml"),
    "alertmanager": ("policies/prometheus/alertmanager.yml",),
    "issues": ("src/mlops/flows/alerting.py:deliver", "src/mlops/adapters/notify.py"),
    "retrain": ("src/mlops/commands/retrain.py:command",),
    "backups": ("src/mlops/commands/backup.py:command", "src/mlops/adapters/backup_s3.py"),
}

ARROW = re.compile(r"\s*(?:<-->|-->|---|==>|-\.->|&)\s*")
NODE = re.compile(r"^([A-Za-z_][\w-]*)\s*(.*)$")
SHAPE = re.compile(r'^(\[\(|\(\[|\[\[|\(\(|\[|\(|\{)"([^"]*)"(\)\]|\]\)|\]\]|\)\)|\]|\)|\})$')
KEYWORDS = ("flowchart", "graph", "%%", "classDef", "class ", "style ", "linkStyle", "click ")


def readme_diagram() -> str:
    """The first ```mermaid block of README.md."""
    found = re.search(r"^```mermaid\n(.*?)^```", (ROOT / "README.md").read_text(), re.S | re.M)
    assert found, "README.md has no ```mermaid block"
    return found.group(1)


def statement_parts(line: str) -> list[str]:
    """The node references of one statement, split at its arrows: edge labels dropped, and
    quoted labels kept whole (an `&` or `-->` inside quotes is text, not syntax)."""
    masked = re.sub(r'"[^"]*"', lambda m: '"' + "x" * (len(m.group()) - 2) + '"', line)
    for edge in re.finditer(r"\|[^|]*\|", masked):
        blank = " " * (edge.end() - edge.start())
        line = line[: edge.start()] + blank + line[edge.end() :]
        masked = masked[: edge.start()] + blank + masked[edge.end() :]
    cuts = [0] + [i for arrow in ARROW.finditer(masked) for i in arrow.span()] + [len(line)]
    return [line[a:b].strip() for a, b in zip(cuts[::2], cuts[1::2], strict=True)]


def diagram_nodes(source: str) -> dict[str, str]:
    """Node id -> label ('' when a node is only referred to) of a flowchart written with
    `id["label"]`, `id[("label")]`, `id(["label"])` nodes and `-->|label|` edges."""
    lines = [line.strip() for line in source.splitlines()]
    assert lines[0].split()[0] in ("flowchart", "graph"), f"not a flowchart: {lines[0]!r}"
    nodes: dict[str, str] = {}
    for line in lines[1:]:
        if not line or line.startswith(KEYWORDS):
            continue
        assert not re.match(r"(subgraph\b|end$)", line), f"subgraphs are not parsed: {line!r}"
        for part in statement_parts(line):
            node = NODE.match(part)
            assert node, f"cannot read a node in {part!r} of {line!r}"
            name, shape = node.groups()
            label = SHAPE.match(shape.strip()) if shape.strip() else None
            assert label or not shape.strip(), f"cannot read {name}'s shape {shape!r}"
            if label or name not in nodes:
                nodes[name] = label.group(2) if label else ""
    return nodes


def missing_home(entry: str) -> str | None:
    """Why `entry` (a path, or `path:Name`) does not exist in the repository, else None."""
    path, _, symbol = entry.partition(":")
    if not (ROOT / path).exists():
        return f"{path} does not exist"
    if not symbol:
        return None
    tree = ast.parse((ROOT / path).read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
              if isinstance(t, ast.Name)}  # fmt: skip
    return None if symbol in names else f"{path} defines no {symbol}"


def test_every_component_the_diagram_draws_exists_in_the_code() -> None:
    """Each box of the diagram has an entry in HOMES, and every path or symbol listed there
    exists: a new box needs a real home, and a moved or deleted module fails here."""
    nodes = diagram_nodes(readme_diagram())
    assert len(nodes) >= 15, nodes
    assert all(nodes.values()), f"nodes without a label: {[n for n, v in nodes.items() if not v]}"
    assert sorted(set(nodes) - set(HOMES)) == [], "diagram nodes with no entry in HOMES"
    assert sorted(set(HOMES) - set(nodes)) == [], "HOMES entries the diagram no longer draws"
    problems = [f"{name}: {why}" for name, entries in HOMES.items()
                for why in map(missing_home, entries) if why]  # fmt: skip
    assert problems == []


def test_the_node_reader_reads_each_shape_and_refuses_what_it_cannot_read() -> None:
    """It reads the three shapes and edge labels, and stops on a shape it does not know
    rather than silently leaving a node out."""
    source = (
        'flowchart LR\n  a(["A"]) -->|x| b[("B | R & Julia")]\n  b <--> c["C --> D"]\n  c --> a\n'
    )
    assert diagram_nodes(source) == {"a": "A", "b": "B | R & Julia", "c": "C --> D"}
    with pytest.raises(AssertionError, match="shape"):
        diagram_nodes('flowchart LR\n  a>"flag"] --> b["B"]\n')
    assert missing_home("src/mlops/cli.py:main") is None
    assert missing_home("src/mlops/cli.py:nothing") == "src/mlops/cli.py defines no nothing"
    assert missing_home("src/mlops/nothing.py") == "src/mlops/nothing.py does not exist"


def mmdc() -> str:
    """mermaid-cli: MLOPS_MMDC, else the bootstrap's folder, else `mmdc` on PATH."""
    candidates = [os.environ.get("MLOPS_MMDC"), str(MERMAID_DIR / "node_modules/.bin/mmdc"),
                  shutil.which("mmdc")]  # fmt: skip
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    require_system("mermaid-cli (mmdc)", found is not None and shutil.which("node") is not None,
                   INSTALL)  # fmt: skip
    assert found is not None
    return found


def chromium() -> str:
    """The browser mermaid-cli renders in: MLOPS_CHROMIUM, else Debian's chromium."""
    candidates = [os.environ.get("MLOPS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    require_system("chromium", found is not None, INSTALL)
    assert found is not None
    return found


def render(source: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`mmdc` renders `source` to folder/diagram.svg in headless chromium (no sandbox, no
    background networking; the browser puppeteer would download is never used)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": chromium(), "args": CHROMIUM_ARGS}))
    (folder / "diagram.mmd").write_text(source)
    command = [mmdc(), "--quiet", "--puppeteerConfigFile", str(config),
               "--input", str(folder / "diagram.mmd"), "--output", str(folder / "diagram.svg")]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.system  # chromium and mermaid-cli
def test_the_readme_diagram_renders_to_an_svg_with_every_node(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """mermaid-cli parses the README's diagram and draws every node it names, with its label;
    the SVG stays under pytest's base temp folder to look at."""
    source = readme_diagram()
    folder = tmp_path_factory.mktemp("architecture-diagram")
    done = render(source, folder)
    assert done.returncode == 0, done.stdout + done.stderr
    svg = folder / "diagram.svg"
    print(f"rendered README diagram: {svg}")
    assert svg.is_file()
    text = svg.read_text()
    assert text.lstrip().startswith("<svg") and "http://www.w3.org/2000/svg" in text
    assert 'aria-roledescription="flowchart' in text
    nodes = diagram_nodes(source)
    drawn = set(re.findall(r'class="node[^"]*" id="[\w-]*?-flowchart-([\w-]+)-\d+"', text))
    assert drawn == set(nodes), "mermaid drew other nodes than the diagram names"
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    missing = [label for label in nodes.values() if " ".join(label.split()) not in words]
    assert missing == [], "labels missing from the SVG"


@pytest.mark.system  # chromium and mermaid-cli
def test_a_broken_diagram_fails_to_render(tmp_path: Path) -> None:
    """An unclosed bracket is a parse error: mmdc exits non-zero and writes no SVG, so the
    rendering check above can fail."""
    done = render('flowchart LR\n    a["unclosed --> b\n', tmp_path)
    assert done.returncode != 0
    assert "Parse error" in done.stdout + done.stderr
    assert not (tmp_path / "diagram.svg").exists()
