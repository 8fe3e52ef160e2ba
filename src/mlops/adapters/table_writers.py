"""Tables written beside their destination and published in one step: one rename locally,
one server-side copy on S3, so a reader sees the old output or the whole new one, never half
of it."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import uuid
from typing import Any

from mlops.adapters.tables import Location, first_line, sha256
from mlops.core.batch import BatchError


class Staged:
    """A finished file beside its destination (`aside`), published in one step: one rename
    locally, one server-side copy on S3. `folder`, when given, holds `aside` and goes with it
    (a Spark job's output folder)."""

    def __init__(self, location: Location, aside: str, folder: str | None = None) -> None:
        self.location, self.aside, self.folder = location, aside, folder

    def publish(self) -> None:
        """Replace the destination with the finished file, in one step."""
        try:
            self.location.fs.move(self.aside, self.location.path)
        except OSError as exc:
            raise BatchError(f"{self.location.uri}: cannot publish: {first_line(exc)}") from None
        self.drop_folder()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # never written, or already gone
            self.location.fs.delete_file(self.aside)
        self.drop_folder()

    def drop_folder(self) -> None:
        if self.folder is not None:
            with contextlib.suppress(Exception):
                self.location.fs.delete_dir(self.folder)

    def digest(self) -> str:
        return sha256(Location(self.location.uri, self.location.fs, self.aside))


def aside_path(location: Location) -> str:
    """A fresh path beside `location` for a file (or folder) not yet published."""
    return f"{location.path}.partial-{uuid.uuid4().hex[:12]}"


class Writer(Staged):
    """Writes one table (or JSON lines) beside `location`, then publishes it in one step.

    Record batches are encoded and written by a thread of their own (Arrow's writers release
    the interpreter lock), so writing overlaps reading and scoring the next batch; at most
    QUEUED batches wait, so memory stays bounded."""

    QUEUED = 2

    def __init__(self, location: Location, kind: str, schema: Any = None) -> None:
        super().__init__(location, aside_path(location))
        self.kind, self.schema = kind, schema
        self._sink: Any = None
        self._writer: Any = None
        self._queue: queue.Queue[Any] = queue.Queue(self.QUEUED)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.rows = 0

    def __enter__(self) -> Writer:
        parent = self.aside.rsplit("/", 1)[0]
        try:
            if not self.location.remote:
                self.location.fs.create_dir(parent, recursive=True)
            self._sink = self.location.fs.open_output_stream(self.aside)
        except OSError as exc:
            raise BatchError(
                f"{self.location.uri}: cannot write there: {first_line(exc)}"
            ) from None
        return self

    def write_records(self, records: list[dict[str, Any]]) -> None:
        """Append plain records, one JSON line each (a JSON lines file)."""
        text = "".join(json.dumps(item, default=str) + "\n" for item in records)
        self._sink.write(text.encode())
        self.rows += len(records)

    def write(self, batch: Any) -> None:
        """Append a record batch (written by the writer's thread)."""
        self._raise()
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, daemon=True)
            self._thread.start()
        self._queue.put(batch)
        self.rows += batch.num_rows

    def _drain(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep taking batches so that write() never blocks
            try:
                if self._writer is None:
                    self._writer = self._open(batch.schema)
                if self.kind == "parquet":
                    self._writer.write_batch(batch)
                else:
                    self._writer.write(batch)
            except BaseException as exc:  # raised in the caller by the next write or close
                self._error = exc

    def _join(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _raise(self) -> None:
        if self._error is not None:
            raise BatchError(f"{self.location.uri}: cannot write: {first_line(self._error)}")

    def _open(self, schema: Any) -> Any:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetWriter(self._sink, schema)
        if self.kind == "csv":
            from pyarrow import csv

            return csv.CSVWriter(self._sink, schema)
        return _JsonLines(self._sink)

    def close(self) -> None:
        """Finish the file aside (an empty table still gets its header and schema)."""
        self._join()
        self._raise()
        if self._writer is None and self.kind != "jsonl" and self.schema is not None:
            self._writer = self._open(self.schema)
        if self._writer is not None:
            self._writer.close()
        self._sink.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # already closed
            self.close()
        super().discard()

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:
            self.discard()


class _JsonLines:
    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def write(self, batch: Any) -> None:
        frame = batch.to_pandas()
        self.sink.write(frame.to_json(orient="records", lines=True, date_format="iso").encode())
        if len(frame):
            self.sink.write(b"\n")

    def close(self) -> None:
        pass
