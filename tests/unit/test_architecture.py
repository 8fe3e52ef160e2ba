"""The layering stays visible: each layer imports only the layers below it, core is pure, no
command imports another, and the CLI starts without heavy imports.

The guard reads every module with `ast`, so it sees what a text search misses: imports inside
functions and under TYPE_CHECKING, `from mlops import adapters`, relative imports (resolved),
`importlib.import_module("mlops....")` and, in core, I/O calls such as `open()` or
`Path.read_text()`. The tests at the end feed it each kind of violation.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "mlops"

# What each part of the package may import of ours (beyond itself; commands: see below).
ALLOWED: dict[str, set[str]] = {
    "core": {"core", "errors"},
    "errors": {"core"},  # diagnostics' type only
    "adapters": {"core", "errors", "adapters", "exiting", ""},
    "serving": {"core", "errors", "adapters", "serving"},
    "flows": {"core", "errors", "adapters", "serving", "flows", "output"},
    "commands": {"core", "errors", "adapters", "flows", "output"},
    "testing": {"core", "errors", "adapters", "testing"},
    "output": {"errors"},
    "exiting": set(),
}
# Core works on plain data: no I/O, no processes, no outside systems.
FORBIDDEN_IN_CORE = {
    "os", "subprocess", "shutil", "socket", "pathlib", "io", "tempfile", "urllib", "http",
    "requests", "yaml", "mlflow", "dvc", "bentoml", "docker", "github", "actions_toolkit",
    "copier", "click", "rich", "importlib", "sqlite3", "threading", "multiprocessing",
}  # fmt: skip
IO_CALLS = {"open", "print", "input", "exec", "eval", "__import__", "breakpoint"}
IO_METHODS = {
    "read_text", "write_text", "read_bytes", "write_bytes", "open", "unlink", "mkdir",
    "iterdir", "rglob", "touch", "rmdir", "symlink_to",
}  # fmt: skip
# Entry points wire every layer together.
ENTRY_POINTS = {"cli", "demo", "__main__"}
# Where a module is imported by a computed name, and why that is safe.
COMPUTED_IMPORTS = {
    "mlops.cli": "the lazy loader of `mlops.commands.<verb>` (checked below)",
    "mlops.adapters.preload": "a warm-up list of third-party modules (checked below)",
}
HEAVY = ("mlflow", "bentoml", "dvc", "copier", "jsonschema", "rich", "github", "docker")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str | None:
    """The layer of one of our modules: `mlops.core.plan` -> "core"; `mlops` -> ""."""
    parts = module.split(".")
    return None if parts[0] != "mlops" else (parts[1] if len(parts) > 1 else "")


def imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(module, line) of everything `tree` imports, relative imports resolved, names imported
    from a package counted as its modules, and literal dynamic imports included."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            arg = node.args[0] if node.args else None
            target = arg.value if isinstance(arg, ast.Constant) else "<computed>"
            found.append((str(target), node.lineno))
    return found


def _dynamic_import(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Every layering rule `source` (the text of `module`) breaks, as `module:line: why`."""
    tree = ast.parse(source)
    layer = part_of(module)
    problems = []
    for target, line in imported(tree, module, is_package):
        where = f"{module}:{line}"
        if target == "<computed>":
            if module not in COMPUTED_IMPORTS:
                problems.append(f"{where}: imports a module by a computed name")
            continue
        other = part_of(target)
        if other is None:
            root = target.split(".")[0]
            if layer == "core" and root in FORBIDDEN_IN_CORE:
                problems.append(f"{where}: core imports {target}")
            continue
        if layer in ENTRY_POINTS or (other == layer and layer != "commands"):
            continue  # entry points wire everything; a layer uses itself
        if other == "commands" and layer == "commands":
            if target not in (module, "mlops.commands"):
                problems.append(f"{where}: a command imports another command ({target})")
            continue
        if other not in ALLOWED.get(layer or "", set()) and target != "mlops":
            problems.append(f"{where}: {layer} imports {target}")
    if layer == "core":
        problems += _io_calls(tree, module)
    return problems


def _io_calls(tree: ast.AST, module: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in IO_CALLS:
            found.append(f"{module}:{node.lineno}: core calls {func.id}()")
        elif isinstance(func, ast.Attribute) and func.attr in IO_METHODS:
            found.append(f"{module}:{node.lineno}: core calls .{func.attr}()")
    return found


def test_every_layer_imports_only_what_it_may() -> None:
    """core imports nothing of ours above it and does no I/O; adapters import no flow or
    command; no command imports another command."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        found += violations(module_name(path), source, is_package=path.name == "__init__.py")
    assert found == []


def test_computed_imports_stay_inside_their_bounds() -> None:
    """The CLI loads only modules of mlops.commands; the warm-up imports nothing of ours."""
    from mlops.adapters.preload import WARM_MODULES
    from mlops.cli import COMMANDS

    assert not [m for m in WARM_MODULES if m.split(".")[0] == "mlops"]
    assert all((SRC / "commands" / f"{module}.py").is_file() for module, _ in COMMANDS.values())
    loader = (SRC / "cli.py").read_text(encoding="utf-8")
    assert 'importlib.import_module(f"mlops.commands.{' in loader


def test_commands_are_verbs_only() -> None:
    """Every module in commands/ defines one click command named `command`."""
    for path in sorted((SRC / "commands").glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "command" in names, f"{path.name} holds no command"


def test_it_catches_an_import_of_a_package_from_mlops() -> None:
    assert violations("mlops.core.plan", "from mlops import adapters\n") == [
        "mlops.core.plan:1: core imports mlops.adapters"
    ]


def test_it_resolves_relative_imports() -> None:
    assert violations("mlops.core.plan", "from ..adapters import git\n") == [
        "mlops.core.plan:1: core imports mlops.adapters",
        "mlops.core.plan:1: core imports mlops.adapters.git",
    ]
    assert violations("mlops.core", "from . import plan\n", is_package=True) == []


def test_it_catches_dynamic_imports() -> None:
    source = "import importlib\nm = importlib.import_module('mlops.commands.plan')\n"
    assert violations("mlops.core.plan", source) == [
        "mlops.core.plan:1: core imports importlib",
        "mlops.core.plan:2: core imports mlops.commands.plan",
    ]
    computed = "import importlib\nname = 'x'\nm = importlib.import_module(name)\n"
    assert violations("mlops.flows.plan", computed) == [
        "mlops.flows.plan:3: imports a module by a computed name"
    ]


def test_it_catches_io_in_core() -> None:
    source = "def f(p):\n    with open(p) as fh:\n        return fh.read() + p.read_text()\n"
    assert violations("mlops.core.card", source) == [
        "mlops.core.card:2: core calls open()",
        "mlops.core.card:3: core calls .read_text()",
    ]


def test_it_catches_imports_inside_functions_and_type_checking_blocks() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mlops.flows.plan import Plan\n"
        "def f():\n    from mlops.commands import train\n"
    )
    assert violations("mlops.adapters.git", source) == [
        "mlops.adapters.git:3: adapters imports mlops.flows.plan",
        "mlops.adapters.git:3: adapters imports mlops.flows.plan.Plan",
        "mlops.adapters.git:5: adapters imports mlops.commands",
        "mlops.adapters.git:5: adapters imports mlops.commands.train",
    ]


def test_it_catches_a_command_importing_another() -> None:
    assert violations("mlops.commands.train", "from mlops.commands.plan import x\n") == [
        "mlops.commands.train:1: a command imports another command (mlops.commands.plan)",
        "mlops.commands.train:1: a command imports another command (mlops.commands.plan.x)",
    ]
    assert violations("mlops.commands.gate", "from mlops.flows.gate import gate\n") == []


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
