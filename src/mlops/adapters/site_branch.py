"""Publishing a folder as the next commit of a branch that GitHub Pages serves ("deploy from a
branch"), without touching the working tree, the index or HEAD: the files become git objects,
the commit's parent is the branch as the remote has it, and the push is a fast-forward.
History stays append-only: nothing is ever force-pushed."""

from __future__ import annotations

from pathlib import Path

from mlops.adapters.git import BOT_IDENTITY, run_git
from mlops.errors import GitError


def _tree(root: Path, folder: Path) -> str:
    """The tree object of `folder` (files and subfolders, recursively)."""
    lines = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            lines.append(f"040000 tree {_tree(root, path)}\t{path.name}")
        elif path.is_file():
            blob = run_git(root, "hash-object", "-w", "--stdin", input_bytes=path.read_bytes())
            lines.append(f"100644 blob {blob.decode().strip()}\t{path.name}")
    listing = "".join(f"{line}\n" for line in lines).encode()
    return run_git(root, "mktree", input_bytes=listing).decode().strip()


def _remote_tip(root: Path, remote: str, branch: str) -> str | None:
    out = run_git(root, "ls-remote", "--heads", remote, f"refs/heads/{branch}").decode()
    if not out.strip():
        return None
    run_git(root, "fetch", "-q", "--no-tags", remote, f"refs/heads/{branch}")
    return out.split()[0]


def publish(root: Path, folder: Path, branch: str, message: str, remote: str = "origin") -> str:
    """Commit `folder`'s files as the tip of `remote`'s `branch` and push it; the commit.
    An unchanged site is not committed again (the current tip is returned)."""
    parent = _remote_tip(root, remote, branch)
    tree = _tree(root, folder)
    if parent is not None:
        current = run_git(root, "rev-parse", f"{parent}^{{tree}}").decode().strip()
        if current == tree:
            return parent
    try:
        run_git(root, "config", "--get", "user.email")
        identity: tuple[str, ...] = ()
    except GitError:
        identity = BOT_IDENTITY
    parents = ("-p", parent) if parent else ()
    commit = run_git(root, *identity, "commit-tree", tree, *parents, "-m", message)
    sha = commit.decode().strip()
    run_git(root, "push", "-q", remote, f"{sha}:refs/heads/{branch}")
    return sha
