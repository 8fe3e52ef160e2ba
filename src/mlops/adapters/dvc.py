"""DVC, through its command line: run a model's pipeline, push its data, read its lock."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.adapters.dvc_steps import PROMPT
from mlops.adapters.yaml_files import load_yaml_file
from mlops.core import layout
from mlops.errors import MlopsError


class PipelineFailed(MlopsError):
    """A DVC stage (the model's own code) failed."""


class RemoteFailed(MlopsError):
    """The DVC remote could not store the pipeline's data."""


@dataclass
class ReproResult:
    ran: list[str]
    skipped: list[str]
    output: str


def stage_environment() -> dict[str, str]:
    """The environment the pipeline's stages run in. Stages call `python`: make it this
    interpreter's, which has the platform's libraries, ahead of whatever else is on PATH."""
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}


def _command(*steps: Sequence[str]) -> list[str]:
    """DVC commands run in order by one process (see dvc_steps); -P keeps the repository's
    own folders from shadowing modules."""
    encoded = [json.dumps(list(step)) for step in steps]
    return [sys.executable, "-P", "-m", "mlops.adapters.dvc_steps", *encoded]


def _start(root: Path, command: list[str], stdin: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, cwd=root, env=stage_environment(), stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace",
    )  # fmt: skip


def _dvc(root: Path, *args: str, on_line: Callable[[str], None] | None = None) -> tuple[int, str]:
    process = _start(root, _command(args), subprocess.DEVNULL)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))
    return process.wait(), "".join(lines)


def _pipeline_file(root: Path, model: str) -> str:
    pipeline = f"{layout.model_dir(model)}/dvc.yaml"
    if not (root / pipeline).is_file():
        raise PipelineFailed(f"{pipeline} not found: every model trains through a DVC pipeline")
    return pipeline


def repro(
    root: Path,
    model: str,
    on_line: Callable[[str], None] | None = None,
    force_from: str | None = None,
) -> ReproResult:
    """`dvc repro` of the model's pipeline; unchanged stages are skipped by DVC, except from
    stage `force_from` on, which are run again whatever their state."""
    pipeline = _pipeline_file(root, model)
    if force_from is not None:
        code, output = _dvc(
            root, "repro", "--force", "--downstream", f"{pipeline}:{force_from}", on_line=on_line
        )
    else:
        code, output = _dvc(root, "repro", pipeline, on_line=on_line)
    if code != 0:
        raise _pipeline_failed(model, code, output)
    return _repro_result(output)


def _pipeline_failed(model: str, code: int, output: str) -> PipelineFailed:
    return PipelineFailed(f"the {model} pipeline failed (dvc repro exit {code}):\n{_tail(output)}")


def _repro_result(output: str) -> ReproResult:
    ran = [_stage(line) for line in output.splitlines() if line.startswith("Running stage")]
    skipped = [_stage(line) for line in output.splitlines() if "didn't change, skipping" in line]
    return ReproResult(ran, skipped, output)


class Pipeline:
    """`dvc repro` of a model's pipeline and then, when asked, `dvc push` of its outputs, in
    one DVC process that starts at once: `reproduced()` waits for the first, `push()` starts
    the second, `pushed()` waits for it and `close()` ends whatever is left."""

    def __init__(self, root: Path, model: str, on_line: Callable[[str], None] | None = None):
        self.root, self.model = root, model
        target = _pipeline_file(root, model)
        self._on_line = on_line
        self._answered = False
        self.process = _start(root, _command(["repro", target], ["push", target]), subprocess.PIPE)

    def reproduced(self) -> ReproResult:
        """Block until the pipeline has run; PipelineFailed (with its output's tail) if not."""
        assert self.process.stdout is not None
        lines: list[str] = []
        for line in self.process.stdout:
            if line.startswith(PROMPT):
                return _repro_result("".join(lines))
            lines.append(line)
            if self._on_line is not None:
                self._on_line(line.rstrip("\n"))
        code = self.process.wait()
        raise _pipeline_failed(self.model, code, "".join(lines))

    def push(self) -> None:
        """Start sending the pipeline's outputs to the DVC remote; returns at once."""
        self._answer("go")

    def pushed(self) -> None:
        """Block until the data is stored; RemoteFailed when it could not be."""
        assert self.process.stdout is not None
        output = self.process.stdout.read()
        code = self.process.wait()
        if code != 0:
            raise RemoteFailed(
                f"dvc push failed for {self.model} (exit {code}) to "
                f"{describe_remote(self.root)}:\n{_tail(output)}"
            )

    def close(self) -> None:
        """End the process: it pushes nothing it was not asked to, and a push still running
        (after a failure elsewhere) is stopped."""
        if not self._answered:
            self._answer("stop")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _answer(self, word: str) -> None:
        self._answered = True
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it ended already; its exit code tells why
            self.process.stdin.write(word + "\n")
            self.process.stdin.close()


def read_lock(root: Path, model: str) -> dict[str, Any]:
    path = f"{layout.model_dir(model)}/dvc.lock"
    loaded = load_yaml_file(root / path, path)
    if loaded.document is None or not isinstance(loaded.document.data, dict):
        problems = "; ".join(d.render() for d in loaded.diagnostics)
        raise PipelineFailed(f"{path} cannot be read: {problems}")
    return loaded.document.data


def _stage(line: str) -> str:
    return line.split("'")[1] if "'" in line else line


def _tail(output: str, lines: int = 25) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def default_remote(root: Path) -> tuple[str, dict[str, str]] | None:
    """The default DVC remote's name and options (url, endpointurl...), merged over every
    config level, `.dvc/config.local` included; None when there is no default remote."""
    code, output = _dvc(root, "config", "--list")
    if code != 0:
        return None
    settings: dict[str, str] = {}
    for line in output.splitlines():  # system, global, project, local: later levels win
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    name = settings.get("core.remote")
    if not name:
        return None
    prefix = f"remote.{name}."
    return name, {k.removeprefix(prefix): v for k, v in settings.items() if k.startswith(prefix)}


def describe_remote(root: Path) -> str:
    """The default remote for messages: name, URL and, when set, the endpoint."""
    remote = default_remote(root)
    if remote is None:
        return "the DVC remote (none is configured as the default)"
    name, options = remote
    where = options.get("url", "no url")
    if "endpointurl" in options:
        where += f" at {options['endpointurl']}"
    return f"DVC remote '{name}' ({where})"


CONFIGURED_REMOTE = "shared"


def use_remote(root: Path, url: str, endpoint_url: str | None, sse: str | None = None,
               sse_kms_key_id: str | None = None) -> None:  # fmt: skip
    """Make `url` (at `endpoint_url`) the checkout's default remote, in `.dvc/config.local`
    (untracked): how configuration, not a commit, points a runner at the team's storage;
    `sse` (AES256 or aws:kms, with `sse_kms_key_id`) is the server-side encryption every
    object pushed asks S3 for. Nothing is written when it already is the default."""
    options = {"endpointurl": endpoint_url, "sse": sse, "sse_kms_key_id": sse_kms_key_id}
    wanted = {"url": url, **{k: v for k, v in options.items() if v}}
    current = default_remote(root)
    if current is not None and current[0] == CONFIGURED_REMOTE and current[1] == wanted:
        return
    _dvc_ok(root, "remote", "add", "--local", "--force", "--default", CONFIGURED_REMOTE, url)
    for option, value in wanted.items():
        if option != "url":
            _dvc_ok(root, "remote", "modify", "--local", CONFIGURED_REMOTE, option, value)


def share_storage(root: Path, tree: Path) -> None:
    """Let a worktree use the checkout's DVC cache and default remote with all its options.

    A worktree has no `.dvc/config.local` of its own, where a remote such as S3 with its
    endpoint is usually configured, so the remote is copied into the worktree's. Relative
    remote paths are relative to the config file, so they are made absolute for the worktree.
    """
    _dvc_ok(tree, "cache", "dir", "--local", str(root / ".dvc" / "cache"))
    remote = default_remote(root)
    if remote is None or not remote[1].get("url"):
        return
    name, options = remote
    url = options.pop("url")
    if "://" not in url and not Path(url).is_absolute():
        url = str((root / ".dvc" / url).resolve())
    _dvc_ok(tree, "remote", "add", "--local", "--force", "--default", name, url)
    for option, value in options.items():
        _dvc_ok(tree, "remote", "modify", "--local", name, option, value)


def pull(root: Path, model: str, stages: Sequence[str] = ()) -> None:
    """Restore what dvc.lock records (cache first, then remote): the named stages' outputs
    and what they depend on, or every output of the pipeline when no stage is named."""
    pipeline = f"{layout.model_dir(model)}/dvc.yaml"
    targets = [f"{pipeline}:{s}" for s in stages] or [pipeline]
    extra = ["--with-deps"] if stages else []
    code, output = _dvc(root, "pull", *extra, *targets)
    if code != 0:
        raise RemoteFailed(
            f"dvc pull failed for {model} (exit {code}) from {describe_remote(root)}:\n"
            f"{_tail(output)}"
        )


def _dvc_ok(root: Path, *args: str) -> None:
    code, output = _dvc(root, *args)
    if code != 0:
        raise MlopsError(f"dvc {' '.join(args)} failed:\n{_tail(output)}")


def remote_object(root: Path, md5: str) -> bytes | None:
    """The content the default remote stores under `md5` (DVC 3's `files/md5/xx/...` layout),
    or None when it holds none; a local folder or S3 (with its endpoint) remote."""
    remote = default_remote(root)
    if remote is None or not remote[1].get("url"):
        return None
    url, options = remote[1]["url"], remote[1]
    key = f"files/md5/{md5[:2]}/{md5[2:]}"
    if url.startswith("s3://"):
        import s3fs

        endpoint = options.get("endpointurl")
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint} if endpoint else {})
        where = f"{url.removeprefix('s3://').rstrip('/')}/{key}"
        try:
            with fs.open(where, "rb") as handle:
                return bytes(handle.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RemoteFailed(f"cannot read {md5} from {describe_remote(root)}: {exc}") from None
    if "://" in url:
        return None  # another kind of remote: left to DVC itself
    folder = Path(url) if Path(url).is_absolute() else (root / ".dvc" / url).resolve()
    stored = folder / key
    return stored.read_bytes() if stored.is_file() else None
