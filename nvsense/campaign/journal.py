"""The campaign journal and lock, in ``<data dir>/campaigns/``.

The catalogue is the record of runs; the journal is the record of the campaign: when each
session started and ended, and each point's outcome, including points that failed before their
run file existed (an instrument fault in the first sweep).  It is JSON lines, appended and
flushed one line at a time, so a killed campaign keeps every line written.

The lock (an OS file lock, released by the OS even after ``kill -9``) keeps two processes from
running the same campaign on one data folder at once.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import CampaignError, CampaignLockedError

try:  # POSIX; elsewhere campaigns run without the lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["CAMPAIGN_DIR", "CampaignJournal"]

log = logging.getLogger(__name__)

#: Folder of the data folder that holds campaign journals and locks.
CAMPAIGN_DIR = "campaigns"


class CampaignJournal:
    """Journal and lock of one campaign in one data folder.

    Parameters
    ----------
    data_dir
        The data folder (the catalogue's).
    name
        The campaign's name.
    """

    def __init__(self, data_dir: Path, name: str) -> None:
        self.folder = Path(data_dir) / CAMPAIGN_DIR
        self.path = self.folder / f"{name}.jsonl"
        self.lock_path = self.folder / f"{name}.lock"
        self.name = name
        self._lock_file: Any = None

    # -- lock -------------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the campaign's lock.

        Raises
        ------
        CampaignLockedError
            Another process holds it (naming that process).
        """
        if fcntl is None or self._lock_file is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.lock_path, "a+")  # held until unlock()
        except OSError as exc:
            raise CampaignError(f"cannot use the data folder {self.folder.parent} for "
                                f"campaign {self.name!r}: {exc}; check --data-dir and its "
                                "permissions") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise CampaignLockedError(
                f"campaign {self.name!r} is already running in {self.folder.parent} "
                f"({holder}); wait for it to finish or stop it, then --resume") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}")
        handle.flush()
        self._lock_file = handle

    def unlock(self) -> None:
        """Release the lock (the OS also releases it when the process dies)."""
        if self._lock_file is not None:
            try:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_file.close()
                self._lock_file = None

    # -- journal ----------------------------------------------------------------------------

    def append(self, event: str, **fields: Any) -> None:
        """Add one line: the time, the event and its fields (JSON-ready values).

        A journal that cannot be written (a full disk) is logged, never raised: the runs
        themselves are in their files and the catalogue, and the campaign must go on."""
        entry = {"time": datetime.now().astimezone().isoformat(timespec="seconds"),
                 "event": event, **fields}
        line = json.dumps(entry, ensure_ascii=False, default=str)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            log.warning("campaign journal %s not written (%s): %s", self.path, exc, line)

    def entries(self) -> list[dict[str, Any]]:
        """Every line of the journal (a line cut short by a crash is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def last_outcomes(self) -> dict[int, dict[str, Any]]:
        """The latest journal line of each point, by point index."""
        return {int(e["index"]): e for e in self.entries()
                if e.get("event") == "point" and e.get("index") is not None}
