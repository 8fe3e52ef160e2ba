"""The layering stays visible: core is pure, and the CLI starts without heavy imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "mlops"
# Core works on plain data: no I/O, no processes, no outside systems.
FORBIDDEN_IN_CORE = {
    "os", "subprocess", "shutil", "socket", "pathlib", "io", "tempfile", "urllib", "http",
    "requests", "yaml", "mlflow", "dvc", "bentoml", "docker", "github", "actions_toolkit",
    "copier", "click", "rich", "mlops.adapters", "mlops.commands", "mlops.cli",
}  # fmt: skip
HEAVY = ("mlflow", "bentoml", "dvc", "copier", "jsonschema", "rich", "github", "docker")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _calls_open(path: Path) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_core_is_pure() -> None:
    """No module in mlops.core imports an I/O library, an outside system or an outer layer."""
    offenders = {}
    for path in sorted((SRC / "core").glob("*.py")):
        bad = {
            name
            for name in _imports(path)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE)
        }
        if bad or _calls_open(path):
            offenders[path.name] = sorted(bad) or ["open()"]
    assert offenders == {}


def test_help_imports_no_heavy_library() -> None:
    """`mlops --help` loads neither MLflow, BentoML, DVC nor the command modules' dependencies."""
    probe = (
        "import sys\n"
        "from mlops.cli import main\n"
        "code = main(['--help'])\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 []"
    assert "validate" in done.stdout and "plan" in done.stdout
