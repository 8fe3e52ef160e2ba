"""Backups of the platform's state, and their restore: what this checkout's configuration
says the tracking store, its artifacts, the DVC remote and the prediction logs are, into one
encrypted archive (`mlops.core.backup` describes it), and back.

Only what lives here can be taken: a tracking *server* (http://) keeps its own store, so a
backup is made where its database is (run with that database's URI as the tracking URI:
`pg_dump` of it then, while its artifacts stay where its experiments put them, S3 on a
scale-out site); a DVC remote on S3 is storage of its own: named in the notes, not copied.

A restore reads the archive twice: once to check it whole and plan, once to extract into
staging places beside the targets; only when every member is in and matches its manifest
do the staged copies replace the targets, all together (a PostgreSQL store loads in one
transaction). A restore into another place than the backup's rewrites the artifact
locations the tracking store records, so the restored models load from where they now are.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from mlops.adapters import backup_archive, backup_s3, backup_stores
from mlops.adapters.backup_archive import Verified, Written
from mlops.adapters.settings import Settings, load_settings
from mlops.core import backup
from mlops.core.backup import BackupError, RestorePlan, Target
from mlops.core.progress import QUIET, Reporter

__all__ = [
    "Created",
    "RestoreRefused",
    "Restored",
    "Verified",
    "create",
    "restore",
    "verify",
]


@dataclass(frozen=True)
class Places:
    """Where each component lives under the current configuration."""

    settings: Settings
    database: Path | None  # the embedded SQLite store
    postgres: str | None  # a PostgreSQL store's URI
    folders: dict[str, Path]  # artifacts, dvc-remote, prediction-logs
    notes: list[str] = field(default_factory=list)  # what is not taken, and why

    @property
    def artifact_root(self) -> str | None:
        folder = self.folders.get(backup.ARTIFACTS)
        return folder.as_uri() if folder else None


def places(root: Path) -> Places:
    settings = load_settings(root)
    uri, notes = settings.tracking_uri, []
    database = postgres = None
    folders = {backup.PREDICTION_LOGS: settings.prediction_logs}
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        folders[backup.ARTIFACTS] = settings.artifacts
    elif uri.startswith(("postgresql:", "postgresql+", "postgres:")):
        postgres = uri
        notes.append("artifacts of a PostgreSQL store are where its experiments say (S3 on a"
                     " scale-out site): they are not copied")  # fmt: skip
    else:
        notes.append(f"tracking store {uri.split('@')[-1]} is not taken: back it up where its"
                     " database is")  # fmt: skip
    remote = _dvc_remote(root, settings)
    if remote is not None and "://" not in remote:
        folders[backup.DVC_REMOTE] = Path(remote)
    elif remote is not None:
        notes.append(f"DVC remote {remote} is not copied: it is storage of its own")
    return Places(settings, database, postgres, folders, notes)


def _dvc_remote(root: Path, settings: Settings) -> str | None:
    """The DVC remote's URL, a local one as an absolute path (DVC reads a relative one
    from the folder of the config file that names it: `.dvc/`)."""
    url: str | None = None
    if settings.data_remote is not None:
        url = settings.data_remote.url
    else:
        from mlops.adapters import dvc

        found = dvc.default_remote(root) if (root / ".dvc").is_dir() else None
        url = found[1].get("url") if found else None
    if not url or "://" in url:
        return url
    path = Path(url).expanduser()
    base = root if settings.data_remote is not None else root / ".dvc"
    return str((path if path.is_absolute() else base / path).resolve())


def key(settings: Settings) -> bytes:
    variable = settings.backup.key_env
    return backup.parse_key(os.environ.get(variable), variable)


def destination(settings: Settings, given: str | None) -> str:
    """Where backups go: `given`, else the configured place, else the folder `mlops-backups`
    beside the checkout; a folder or an s3:// URL."""
    where = given or settings.backup.destination
    if where is None:
        return str(settings.root.resolve().parent / "mlops-backups")
    if where.startswith("s3://"):
        backup_s3.split(where)  # well-formed
        return where
    path = Path(where)
    return str(path if path.is_absolute() else settings.root / path)


def latest(settings: Settings) -> str:
    """The newest archive in the configured destination."""
    where = destination(settings, None)
    if where.startswith("s3://"):
        return backup_s3.latest(where)
    found = sorted(Path(where).glob(f"{backup_s3.PREFIX}*{backup.SUFFIX}"))
    if not found:
        raise BackupError(f"no backup in {where}", hint="name the archive to use")
    return str(found[-1])


@contextmanager
def _fetched(settings: Settings, archive: str | None) -> Iterator[tuple[str, Path]]:
    """(where the archive is, a local path to read it at): `archive`, else the newest in
    the destination; one on S3 is downloaded into a temporary folder first."""
    location = archive or latest(settings)
    if not location.startswith("s3://"):
        yield location, Path(location)
        return
    with tempfile.TemporaryDirectory(prefix="mlops-backup-") as folder:
        yield location, backup_s3.download(location, Path(folder))


@dataclass
class Created:
    written: Written
    location: str  # the archive's path or s3:// URL
    notes: list[str]  # what was not taken, and why


def create(root: Path, where: str | None = None, progress: Reporter = QUIET) -> Created:
    """Back up every component the configuration places here; `progress` counts the bytes."""
    found = places(root)
    secret = key(found.settings)
    target = destination(found.settings, where)
    remote = target.startswith("s3://")
    with tempfile.TemporaryDirectory(prefix="mlops-backup-") as scratch:
        folder = Path(scratch) / "out" if remote else Path(target)
        written = _write(found, secret, folder, Path(scratch), progress)
        encryption = found.settings.s3_encryption
        sse = encryption.upload_args() if encryption else None
        location = backup_s3.upload(written.path, target, sse) if remote else str(written.path)
    return Created(written, location, found.notes)


def _write(
    found: Places, secret: bytes, folder: Path, scratch: Path, progress: Reporter
) -> Written:
    now = datetime.now(UTC)
    name = f"{backup_s3.PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}{backup.SUFFIX}"
    files = {c: backup_stores.folder_files(p) for c, p in found.folders.items()}
    total = sum(path.stat().st_size for listed in files.values() for path, _ in listed)
    sources = {c: str(p) for c, p in found.folders.items()}
    snapshot = _snapshot(found, scratch, sources)
    if snapshot is not None:
        total += snapshot[0].stat().st_size
    with (
        progress.meter("backing up", total or None, unit="bytes") as bytes_done,
        backup_archive.ArchiveWriter(folder / name, secret, bytes_done.advance) as writer,
    ):
        if snapshot is not None:
            writer.add_file(*snapshot)
        for component, listed in files.items():
            for path, relative in listed:
                writer.add_file(path, component, relative)
        return writer.finish(now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                             sources, found.artifact_root)  # fmt: skip


def _snapshot(found: Places, scratch: Path,
              sources: dict[str, str]) -> tuple[Path, str, str] | None:  # fmt: skip
    """The tracking store copied consistently into `scratch`: (file, component, path)."""
    if found.database is not None:
        if not found.database.is_file():
            raise BackupError(f"no tracking store at {found.database}: nothing to back up",
                              hint="train a model first, or check state_dir")  # fmt: skip
        copy = scratch / backup.TRACKING_FILE
        backup_stores.sqlite_snapshot(found.database, copy)
        sources[backup.TRACKING_DB] = str(found.database)
        return copy, backup.TRACKING_DB, backup.TRACKING_FILE
    if found.postgres is not None:
        dump = scratch / backup.DUMP_FILE
        backup_stores.pg_dump(found.postgres, dump)
        sources[backup.TRACKING_DUMP] = found.postgres.split("@")[-1]
        return dump, backup.TRACKING_DUMP, backup.DUMP_FILE
    return None


def verify(root: Path, archive: str | None, progress: Reporter = QUIET) -> Verified:
    """Read the archive (default: the newest) whole with the configured key; its problems,
    if any. `progress` counts the bytes read."""
    settings = load_settings(root)
    secret = key(settings)
    with _fetched(settings, archive) as (location, path):
        return _verify(secret, location, path, progress)


def _verify(secret: bytes, location: str, path: Path, progress: Reporter) -> Verified:
    size = path.stat().st_size if path.is_file() else 0
    with progress.meter("verifying", size or None, unit="bytes") as done:
        result = backup_archive.read_archive(path, secret, progress=done.advance)
    result.location = location
    return result


def _checked(result: Verified) -> backup.Manifest:
    if not result.ok or result.manifest is None:
        raise BackupError(f"{result.path.name} is damaged: " + "; ".join(result.problems),
                          hint="nothing was restored; use another backup")  # fmt: skip
    return result.manifest


def _targets(found: Places) -> dict[str, Target]:
    targets = {c: Target(c, str(p), backup_stores.entries(p)) for c, p in found.folders.items()}
    if found.database is not None:
        targets[backup.TRACKING_DB] = Target(
            backup.TRACKING_DB, str(found.database), backup_stores.sqlite_entries(found.database)
        )
        targets[backup.TRACKING_DUMP] = Target(
            backup.TRACKING_DUMP, str(found.database), 0,
            "a PostgreSQL dump restores into PostgreSQL only: set the tracking URI to an empty"
            " database",
        )  # fmt: skip
    if found.postgres is not None:
        where = found.postgres.split("@")[-1]
        entries = backup_stores.pg_entries(found.postgres)
        targets[backup.TRACKING_DUMP] = Target(backup.TRACKING_DUMP, where, entries)
        targets[backup.TRACKING_DB] = Target(
            backup.TRACKING_DB, where, 0,
            "a SQLite store restores into the embedded store only: unset the tracking URI",
        )  # fmt: skip
    return targets


class RestoreRefused(BackupError):
    """A place the archive would fill cannot take it: nothing was restored."""

    def __init__(self, done: Restored) -> None:
        refused = "; ".join(f"{s.component}: {s.why}" for s in done.plan.refused)
        super().__init__(f"restore refused: {refused}", hint="nothing was restored")
        self.done = done


@dataclass
class Restored:
    archive: Verified
    plan: RestorePlan
    applied: bool
    relocated: int = 0  # artifact locations rewritten in the tracking store


def restore(root: Path, archive: str | None, *, force: bool, apply: bool,
            only: frozenset[str] | None = None,
            progress: Reporter = QUIET) -> Restored:  # fmt: skip
    """Check the archive (default: the newest) whole and plan each of its components (or
    those in `only`) into its place here; with `apply`, restore. BackupError when the archive
    is damaged, and RestoreRefused when a place cannot take its part: nothing is changed.
    `progress` counts the bytes read, checking and restoring."""
    found = places(root)
    secret = key(found.settings)
    with _fetched(found.settings, archive) as (location, path):
        checked = _verify(secret, location, path, progress)
        plan = backup.restore_plan(_checked(checked), _targets(found), force, only)
        done = Restored(checked, plan, apply and not plan.refused)
        if plan.refused:
            raise RestoreRefused(done)
        if apply:
            done.relocated = _apply(found, secret, path, _checked(checked), only, progress)
    return done


def _apply(found: Places, secret: bytes, archive: Path, manifest: backup.Manifest,
           only: frozenset[str] | None, progress: Reporter) -> int:  # fmt: skip
    chosen = [c for c in manifest.components if only is None or c in only]
    targets = {c: p for c, p in found.folders.items() if c in chosen}
    if backup.TRACKING_DB in chosen and found.database is not None:
        targets[backup.TRACKING_DB] = found.database
    scratch = Path(tempfile.mkdtemp(prefix="mlops-restore-"))
    try:
        with backup_stores.staged(list(targets.values())) as staging:
            for place in staging.values():
                place.parent.mkdir(parents=True, exist_ok=True)
            byname = {c: staging[p] for c, p in targets.items()}
            byname[backup.TRACKING_DUMP] = scratch

            def sink(component: str, path: str) -> IO[bytes]:
                if component not in chosen:  # read whole, to check it, and dropped
                    return Path(os.devnull).open("wb")  # the reader closes it
                if component == backup.TRACKING_DB:
                    return byname[component].open("wb")
                out = byname[component] / path
                out.parent.mkdir(parents=True, exist_ok=True)
                return out.open("wb")

            with progress.meter("restoring", archive.stat().st_size or None,
                                unit="bytes") as restored:  # fmt: skip
                again = backup_archive.read_archive(archive, secret, sink, restored.advance)
            _checked(again)  # changed since it was planned: nothing is in place yet
            for component in chosen:  # an empty folder is a folder
                if component in targets and component != backup.TRACKING_DB:
                    byname[component].mkdir(parents=True, exist_ok=True)
            moved = 0
            if backup.TRACKING_DB in targets and manifest.artifact_root and found.artifact_root:
                moved = backup_stores.sqlite_relocate(byname[backup.TRACKING_DB],
                                                      manifest.artifact_root,
                                                      found.artifact_root)  # fmt: skip
            if backup.TRACKING_DUMP in chosen and found.postgres is not None:
                backup_stores.pg_restore(found.postgres, scratch / backup.DUMP_FILE,
                                         replace=True)  # fmt: skip
            database = targets.pop(backup.TRACKING_DB, None)
            backup_stores.swap({target: staging[target] for target in targets.values()},
                               (database, staging[database]) if database else None)  # fmt: skip
            return moved
    finally:
        backup_stores.discard(scratch)
