"""The `mlops` command line: a click group whose commands load lazily, and one error funnel.

Every MlopsError becomes one red line (plus a hint) and its exit code; anything unexpected
exits 2 with a pointer to `--traceback`. Command modules are imported only when their command
runs, so `mlops --help` stays fast and never imports MLflow, BentoML or DVC.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlops import __version__
from mlops.errors import MlopsError
from mlops.exiting import run_and_exit

if TYPE_CHECKING:
    from mlops.core.diagnostics import Diagnostic

# name -> (module under mlops.commands, one-line help shown by `mlops --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "Check manifests, registry and policies against schemas and rules."),
    "plan": ("plan", "Show which models a change touches (a matrix for CI)."),
    "new": ("new", "Create a model folder from the template."),
    "list": ("listing", "List the models with owners, language and stages."),
    "show": ("show", "Show one model's manifest summary and registry entry."),
    "train": ("train", "Run models' pipelines, track them in MLflow, register versions."),
    "predict": ("predict", "Score a file with a registered model version."),
    "score": ("score", "Batch-score a model's input with its pinned version; publish atomically."),
    "reproduce": ("reproduce", "Retrain a version from its recorded lineage and compare."),
    "card": ("card", "Write models' MODEL_CARD.md from their committed files (or --check)."),
    "codeowners": ("codeowners", "Generate .github/CODEOWNERS from model and platform owners."),
    "schedules": ("schedules", "Generate the batch-scoring workflow from the models' schedules."),
    "evaluate": ("evaluate", "Score candidate and production on the holdout; apply the gates."),
    "report": ("report", "Post evaluations on the pull request: statuses, checks, one comment."),
    "gate": ("gate", "Merge gate: owners approved and every enforced policy gate passes."),
    "promote": ("promote", "Move a version into a stage in registry.yaml (a plan unless --apply)."),
    "build": ("build", "Build a version's image, push it; record it in registry.yaml."),
    "reconcile": ("reconcile", "Make aliases and deployments match registry.yaml (or plan)."),
    "alerts": ("alerts", "SLO alert rules (render); Alertmanager's alerts delivered (receive)."),
    "labels": ("labels", "Attach outcomes to logged predictions (request id, row, label)."),
    "monitor": ("monitor", "Check a model's logged predictions for drift and bad data."),
    "retrain": ("retrain", "Open a retraining pull request when a model is stale or drifting."),
    "audit": ("audit", "Who called a model's API, by key id: calls, outcomes and latency."),
    "keys": ("keys", "Make, list and revoke clients' API keys (a plan unless --apply)."),
    "history": ("history", "Who changed, approved, deployed a model's stages; what served when."),
    "retention": ("retention", "Purge expired logs and batch outputs (a plan unless --apply)."),
    "erase": ("erase", "Erase a data subject's logged rows (a plan unless --apply)."),
    "costs": ("costs", "Show usage and cost per model and cost centre (policies/costs.yaml)."),
    "github": ("github", "Check (doctor) and make (setup) the repository's GitHub settings."),
    "backup": ("backup", "Back up, verify and restore the platform's state (encrypted)."),
    "permissions": ("permissions", "Grant model owners their models on the tracking server."),
    "catalogue": ("catalogue", "Render the model catalogue: a static site (and a Pages branch)."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"mlops.commands.{COMMANDS[cmd_name][0]}")
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlops")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The model repository (default: found from the current folder upwards).",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback of unexpected errors.")
@click.pass_context
def group(ctx: click.Context, repo: Path | None, traceback: bool) -> None:
    """Run the whole machine-learning model lifecycle from this Git repository."""
    ctx.ensure_object(dict).update(
        {"repo": repo, "traceback": traceback, "command": ctx.invoked_subcommand}
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises)."""
    args = list(sys.argv[1:] if argv is None else argv)
    options: dict[str, Any] = {}  # what the group parsed: read by the funnel below
    try:
        group.main(args=args, prog_name="mlops", standalone_mode=False, obj=options)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except MlopsError as exc:
        for diagnostic in getattr(exc, "diagnostics", ()):
            _diagnostic_line(diagnostic, f"mlops {options.get('command') or ''}".strip())
        _error_line(exc.message, exc.hint, annotate=exc.annotate)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # the funnel: anything else is a bug, reported in one line
        show_traceback = bool(options.get("traceback"))
        if show_traceback:
            traceback.print_exc()
        _error_line(
            f"unexpected {type(exc).__name__}: {exc}",
            None if show_traceback else "re-run with `mlops --traceback ...` for details",
        )
        return 2
    return 0


def _error_line(message: str, hint: str | None, *, annotate: bool = True) -> None:
    from mlops.adapters import gha

    click.secho(f"error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    if annotate and gha.in_actions():
        gha.error(message)


def _diagnostic_line(diagnostic: Diagnostic, title: str) -> None:
    """One input problem on stderr, and as an annotation on its line in Actions (on stderr
    too, so that a command's --json output stays parseable)."""
    from mlops.adapters import gha

    click.echo(diagnostic.render(), err=True)
    if gha.in_actions():
        gha.annotate(diagnostic, title=title, stderr=True)


def run(*_: Any) -> None:
    """Console-script entry point: exits with main's code, without the slow module teardown."""
    run_and_exit(main)
