"""notebooks/analyst.ipynb runs from top to bottom in a real kernel, so it cannot rot.

One scratch repository trains breast-cancer twice (versions 1 and 2), promotes version 2 to
staging and production and reconciles the MLflow aliases (deploy target `none`: no server).
The committed notebook then runs there with nbclient in an IPython kernel on this Python, from
the scratch repository's `notebooks/` folder, as an analyst's Jupyter would run it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from support import ROOT, commit_all, make_repository, run_cli, two_versions

MODEL = "breast-cancer"
NOTEBOOK = ROOT / "notebooks" / "analyst.ipynb"
KERNEL = "mlops-tests"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Versions 1 and 2 trained; version 2 in staging and production, aliases reconciled."""
    root = make_repository(tmp_path_factory.mktemp("notebook") / "repo", (MODEL,))
    two_versions(root)
    for stage in ("staging", "production"):
        assert run_cli("--repo", root, "promote", MODEL, "2", "--to", stage, "--apply") == 0
    commit_all(root, "promote 2")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DEPLOY_TARGET", "none")
        assert run_cli("--repo", root, "reconcile", "--apply") == 0
    return root


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A kernel spec that starts IPython on this very Python (the tests' environment), found
    through JUPYTER_PATH rather than whatever kernels the machine has installed."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "mlops tests", "language": "python",
    }))  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        patch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))  # connection files
        patch.setenv("IPYTHONDIR", str(folder / "ipython"))
        yield folder


@dataclass
class Run:
    notebook: Any  # the notebook as it ran, outputs included
    kernel: Any  # the kernel manager that started its kernel


@pytest.fixture(scope="module")
def run(repository: Path, kernel_dir: Path) -> Run:
    """The committed notebook run in the scratch repository's notebooks/ folder."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    folder = repository / "notebooks"
    folder.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    client = NotebookClient(
        notebook, kernel_name=KERNEL, timeout=300, startup_timeout=120,
        resources={"metadata": {"path": str(folder)}},
    )  # fmt: skip
    kernel = client.create_kernel_manager()
    client.execute(env=env)
    return Run(notebook, kernel)


@pytest.fixture(scope="module")
def executed(run: Run) -> Any:
    return run.notebook


def tagged(notebook: Any, tag: str) -> Any:
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


def shown(cell: Any) -> str:
    """The text/plain of what the cell displayed as its result."""
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return str(result.data["text/plain"])


def test_the_committed_notebook_has_no_outputs() -> None:
    """The file in Git holds code and prose only, so its diffs stay readable."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_every_cell_runs_in_a_real_kernel(run: Run) -> None:
    """No cell raised, every code cell ran, and the kernel was this Python's (the tests'
    environment, where mlops is installed)."""
    cells = run.notebook.cells
    errors = [o for c in cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert all(c.execution_count for c in cells if c.cell_type == "code")
    assert run.kernel.kernel_name == KERNEL
    assert run.kernel.kernel_spec.argv[0] == sys.executable


def test_it_scores_rows_with_the_production_version(executed: Any) -> None:
    """Ten held-out rows get a 0/1 prediction from production, version 2."""
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert f"{MODEL}: production is version 2" in printed
    lines = shown(tagged(executed, "scored")).splitlines()
    assert lines[0].split()[0] == "prediction"
    rows = [line.split() for line in lines[1:] if line.strip()]
    assert [r[0] for r in rows] == [str(i) for i in range(10)]
    assert {r[1] for r in rows} <= {"0", "1"}


def test_it_compares_both_versions_metrics_and_charts_them(executed: Any, repository: Path) -> None:
    """The comparison has a row for versions 1 and 2 with the held-out metrics, and the
    chart is a PNG beside the notebook."""
    lines = shown(tagged(executed, "comparison")).splitlines()
    assert {"roc_auc", "accuracy", "f1", "log_loss"} <= set(lines[0].split())
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert all(re.fullmatch(r"[0-9.]+", v) for line in lines[2:] for v in line.split()[1:])
    chart = repository / "notebooks" / f"{MODEL}-metrics.png"
    assert chart.read_bytes()[:8] == PNG_SIGNATURE
    outputs = tagged(executed, "chart").outputs
    assert any("image/png" in o.get("data", {}) for o in outputs)  # shown inline too
