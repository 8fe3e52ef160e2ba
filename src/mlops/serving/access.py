"""Who may call this server: the platform's own key (MLOPS_SERVE_API_KEY, which the deployer's
smoke checks use, logged as `platform`) and the clients' keys in the keys file
(MLOPS_SERVE_KEYS, `mlops.core.api_keys`).

The keys file is checked for a change on every request (one `stat`, a microsecond) and reread
when it changed, so a key revoked on the deploy host is refused from the next request on,
without a restart. A keys file that cannot be read or parsed keeps the keys last read (a
half-written copy must not open the door, nor shut it): the problem is logged once.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from mlops.core import api_keys
from mlops.core.api_keys import KeyEntry, Verdict

log = logging.getLogger("bentoml.mlops")
PLATFORM = "platform"


class Access:
    """The keys one serving process accepts, for one model in one environment."""

    def __init__(self, model: str, environment: str, platform_key: str | None,
                 keys_file: Path | None) -> None:  # fmt: skip
        self.model, self.environment = model, environment
        self.platform_key = platform_key
        self.keys_file = keys_file
        self.keys: dict[str, KeyEntry] = {}
        self.seen: tuple[int, int, int] | None = None  # the file's inode, size and mtime read
        self.lock = threading.Lock()

    @property
    def required(self) -> bool:
        return self.platform_key is not None or self.keys_file is not None

    def check(self, authorization: str | None, api_key_header: str | None) -> Verdict:
        """Whether the request's key may call this model here; its key id when it is one."""
        offered = api_keys.offered_key(None, api_key_header) or api_keys.offered_key(
            authorization, None
        )
        if (
            offered is not None
            and self.platform_key is not None
            and hmac.compare_digest(offered.encode(), self.platform_key.encode())
        ):
            return Verdict(PLATFORM)
        return api_keys.verdict(self._current(), offered, self.model, self.environment,
                                datetime.now(UTC))  # fmt: skip

    def _current(self) -> dict[str, KeyEntry]:
        if self.keys_file is None:
            return self.keys
        try:
            stat = self.keys_file.stat()
        except FileNotFoundError:
            stat = None
        found = None if stat is None else (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if found != self.seen:
            with self.lock:
                if found != self.seen:
                    self._read(found)
        return self.keys

    def _read(self, found: tuple[int, int, int] | None) -> None:
        self.seen = found
        if found is None:
            self.keys = {}
            return
        try:
            data = json.loads(Path(self.keys_file or "").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("cannot read the keys file %s (keeping the keys read before): %s",
                      self.keys_file, exc)  # fmt: skip
            return
        entries, problems = api_keys.parse_entries(data)
        for path, problem in problems:
            log.error("keys file %s at %s: %s (that key is refused)", self.keys_file,
                      "/".join(map(str, path)), problem)  # fmt: skip
        self.keys = {entry.id: entry for entry in entries}
