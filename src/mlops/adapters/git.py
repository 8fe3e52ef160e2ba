"""Git, through the `git` program: the one place that runs it."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlops.errors import GitError


def run_git(root: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            input=input_bytes,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {detail[-1] if detail else 'no message'}")
    return done.stdout


def resolve(root: Path, ref: str) -> str:
    """The commit a ref names, or a GitError saying the ref is unknown."""
    try:
        return (
            run_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
        )
    except GitError:
        raise GitError(
            f"unknown git revision {ref!r}",
            hint="fetch it first (e.g. `git fetch origin main`) or pass a branch, tag or commit",
        ) from None


def merge_base(root: Path, base: str, head: str) -> str:
    return run_git(root, "merge-base", base, head).decode().strip()


def changed_files(root: Path, base: str, head: str) -> list[str]:
    """Paths that differ between two commits, both sides of renames included."""
    out = run_git(root, "diff", "--name-only", "--no-renames", "-z", base, head, "--")
    return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})


def subfolders(root: Path, rev: str, folder: str) -> list[str]:
    """Names of the folders directly inside `folder` at `rev`."""
    try:
        out = run_git(root, "ls-tree", "-d", "--name-only", "-z", f"{rev}:{folder}")
    except GitError:
        return []  # the folder does not exist at that revision
    return sorted(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p)


def read_files(root: Path, rev: str, paths: Sequence[str]) -> dict[str, bytes | None]:
    """The contents of many files at `rev` in one `git cat-file` call; None when missing."""
    return dict(zip(paths, _cat(root, [f"{rev}:{p}" for p in paths]), strict=True))


def _cat(root: Path, objects: Sequence[str]) -> list[bytes | None]:
    """The blobs `rev:path` names, in one `git cat-file --batch` call; None when missing."""
    if not objects:
        return []
    request = "".join(f"{name}\n" for name in objects).encode("utf-8", "surrogateescape")
    out = run_git(root, "cat-file", "--batch", input_bytes=request)
    result: list[bytes | None] = []
    pos = 0
    for _ in objects:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing" or len(header) < 3:
            result.append(None)
            continue
        size = int(header[2])
        result.append(out[pos : pos + size] if header[1] == b"blob" else None)
        pos += size + 1
    return result


@dataclass(frozen=True)
class Revision:
    """A commit that changed a file, and the file's content after it (None: deleted)."""

    commit: str
    time: datetime
    author: str
    subject: str
    content: bytes | None


def file_history(root: Path, path: str, ref: str = "HEAD") -> list[Revision]:
    """The commits along `ref`'s first-parent line that changed `path`, oldest first, with the
    commit time and author, and the file as each left it. The first-parent line is what
    reached the branch: a merged pull request is its merge (or squash) commit."""
    fields = "%H%x1f%cI%x1f%an%x1f%s"
    out = run_git(root, "log", "--first-parent", f"--format={fields}", "-z", ref, "--", path)
    found = []
    for record in out.decode("utf-8", "replace").split("\0"):
        if record.strip():
            commit, when, author, subject = record.strip("\n").split("\x1f", 3)
            found.append((commit, datetime.fromisoformat(when), author, subject))
    found.reverse()
    blobs = _cat(root, [f"{commit}:{path}" for commit, *_ in found])
    return [Revision(*meta, blob) for meta, blob in zip(found, blobs, strict=True)]


def head_commit(root: Path) -> str:
    return run_git(root, "rev-parse", "HEAD").decode().strip()


def changes(root: Path, folder: str) -> dict[str, str]:
    """Uncommitted files under `folder` (untracked included, ignored excluded), each with a
    digest of its content ("deleted" when gone): compare two of them to see what changed
    in between."""
    import hashlib

    out = run_git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", folder)
    found: dict[str, str] = {}
    entries = iter(out.decode("utf-8", "surrogateescape").split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        if entry[0] in "RC":
            next(entries, None)  # a rename's or copy's source path follows it
        path = entry[3:]
        try:
            found[path] = hashlib.sha256((root / path).read_bytes()).hexdigest()
        except (FileNotFoundError, IsADirectoryError):
            found[path] = "deleted"
    return found


def worktree_add(root: Path, path: Path, commit: str) -> None:
    run_git(root, "worktree", "add", "--detach", "--force", str(path), commit)


def worktree_remove(root: Path, path: Path) -> None:
    run_git(root, "worktree", "remove", "--force", str(path))


def worktree_branch(root: Path, path: Path, branch: str, start: str) -> None:
    """A worktree at `path` on a new branch `branch` starting at `start`."""
    run_git(root, "worktree", "add", "-b", branch, str(path), start)


BOT_IDENTITY = ("-c", "user.name=mlops", "-c", "user.email=mlops@users.noreply.github.com")


def commit_paths(root: Path, paths: Sequence[str], message: str) -> str:
    """Commit what changed under `paths`; the new commit. Where git knows no author (a CI
    runner), the platform's own identity signs it."""
    run_git(root, "add", "--", *paths)
    try:
        run_git(root, "config", "--get", "user.email")
        identity: tuple[str, ...] = ()
    except GitError:
        identity = BOT_IDENTITY
    run_git(root, *identity, "commit", "-q", "-m", message, "--", *paths)
    return head_commit(root)


def push_branch(root: Path, branch: str, remote: str = "origin") -> None:
    run_git(root, "push", "-q", remote, f"refs/heads/{branch}:refs/heads/{branch}")


def delete_branch(root: Path, branch: str) -> None:
    run_git(root, "branch", "-q", "-D", branch)
