"""The places a backup reads and a restore fills: the tracking store (SQLite through its
online backup API, PostgreSQL through `pg_dump` and `psql`) and plain folders, and the swap
that puts restored copies in place all together or not at all."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

from mlops.core.backup import BackupError, relocated
from mlops.errors import first_line

# Where the MLflow schema names the artifact store: rewritten when a restore moves it.
ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"), ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"), ("model_versions", "storage_location"),
    ("model_versions", "source"),
)  # fmt: skip


def sqlite_snapshot(database: Path, into: Path) -> None:
    """A consistent copy of a SQLite database that may be in use (its backup API copies
    pages under the database's own locks), never a raw file copy."""
    try:
        source = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
        try:
            copy = sqlite3.connect(into)
            with contextlib.closing(copy):
                source.backup(copy)
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the tracking store {database}: {exc}") from None


def sqlite_entries(database: Path) -> int:
    """Runs and registered models in a tracking store (0: missing or empty)."""
    if not database.is_file() or database.stat().st_size == 0:
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("runs", "registered_models") if t in tables)  # fmt: skip
    except sqlite3.Error:
        return 1  # something that is not an empty store: never overwritten silently


def sqlite_relocate(database: Path, old_root: str, new_root: str) -> int:
    """Point the store's artifact locations under `old_root` at `new_root`; rows changed."""
    changed = 0
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.create_function("relocated", 1, lambda v: v if v is None else
                           relocated(str(v), old_root, new_root))  # fmt: skip
        for table, column in ARTIFACT_COLUMNS:
            present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column in present:
                cursor = db.execute(
                    f"UPDATE {table} SET {column} = relocated({column})"
                    f" WHERE {column} IS NOT relocated({column})"
                )
                changed += cursor.rowcount
    return changed


def _libpq(uri: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg2://...`) as libpq reads it."""
    scheme, sep, rest = uri.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


def _postgres(command: list[str], doing: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"cannot {doing}: {command[0]} is not installed",
            hint="install PostgreSQL's client (scripts/bootstrap)",
        ) from None
    if done.returncode != 0:
        raise BackupError(f"cannot {doing}: {command[0]} exit {done.returncode}: "
                          f"{first_line(RuntimeError(done.stderr))}")  # fmt: skip
    return done.stdout


def pg_dump(uri: str, into: Path) -> None:
    """The PostgreSQL tracking store as SQL (`pg_dump`: one consistent snapshot)."""
    _postgres(["pg_dump", "--no-owner", "--no-privileges", "--dbname", _libpq(uri), "--file",
               str(into)], "dump the tracking store")  # fmt: skip


def pg_entries(uri: str) -> int:
    """Tables in the database's public schema (0: an empty database)."""
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    out = _postgres(["psql", "-X", "-A", "-t", "-d", _libpq(uri), "-c", query],
                    "read the tracking store")  # fmt: skip
    return int(out.strip() or 0)


def pg_restore(uri: str, dump: Path, replace: bool) -> None:
    """Load the dump in one transaction (after emptying the schema when `replace`): any
    error leaves the database as it was."""
    wipe = ["-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"] if replace else []
    _postgres(["psql", "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-d",
               _libpq(uri), *wipe, "-f", str(dump)], "restore the tracking store")  # fmt: skip


def folder_files(folder: Path) -> list[tuple[Path, str]]:
    """Every regular file under `folder` with its "/"-separated relative path, sorted."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sorted((p, p.relative_to(folder).as_posix()) for p in found)


def entries(path: Path) -> int:
    """What is at `path` now: the entries of a folder, 1 for a file, 0 when absent."""
    if path.is_dir():
        return sum(1 for _ in path.iterdir())
    return 1 if path.exists() else 0


def staging_path(target: Path) -> Path:
    """A fresh place beside `target` (same file system, so a rename puts it in place)."""
    return target.parent / f".{target.name}.restoring-{uuid.uuid4().hex[:8]}"


def discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def staged(targets: list[Path]) -> Iterator[dict[Path, Path]]:
    """Staging places for `targets` (target -> staging); whatever is still staged when the
    block ends (an error) is removed."""
    places = {target: staging_path(target) for target in targets}
    try:
        yield places
    finally:
        for place in places.values():
            discard(place)


def sqlite_load(staged_copy: Path, database: Path) -> None:
    """Replace a database's content with a staged copy's through SQLite's backup API: one
    transaction on the database, so its open connections (a running server) see the whole
    new content, and a failure leaves it as it was."""
    try:
        source, target = sqlite3.connect(staged_copy), sqlite3.connect(database)
        with contextlib.closing(source), contextlib.closing(target):
            source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore the tracking store {database}: {exc}") from None


def swap(pairs: dict[Path, Path], database: tuple[Path, Path] | None = None) -> None:
    """Put each staged folder in place of its target (target -> staged), then load the
    staged tracking store (`database`: target, staged) into its place. Targets are first
    renamed aside; if any step fails, every target is put back as it was."""
    moved: list[tuple[Path, Path | None]] = []  # (target, what it was renamed to)
    target = next(iter(pairs), None)
    try:
        for target, staged_copy in pairs.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            aside = None
            if target.exists() or target.is_symlink():
                aside = target.parent / f".{target.name}.replaced-{uuid.uuid4().hex[:8]}"
                target.rename(aside)
            moved.append((target, aside))
            staged_copy.rename(target)
        if database is not None:
            target, staged_copy = database
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                sqlite_load(staged_copy, target)
            else:
                staged_copy.rename(target)
    except (OSError, BackupError) as exc:
        for folder, aside in reversed(moved):
            discard(folder)  # the restored copy, when it got there
            if aside is not None:
                aside.rename(folder)
        why = exc.message if isinstance(exc, BackupError) else exc.strerror or str(exc)
        raise BackupError(f"cannot put the restored copy in place of {target}: {why};"
                          " everything was left as it was") from None  # fmt: skip
    for _, aside in moved:
        if aside is not None:
            discard(aside)
