"""The data folder: where it is, how runs are named and where their files go.

Layout::

    <data dir>/
        catalog.sqlite                      the run catalogue (an index of the files)
        2026-11-28/                         one folder per local start date
            20261128-140455-odmr-3f2a.nc    one file per run, named by its run id
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from pathlib import Path

from .errors import SchemaError

__all__ = [
    "CATALOG_FILENAME",
    "DATA_DIR_ENV",
    "DEFAULT_DATA_DIR",
    "new_run_id",
    "resolve_data_dir",
    "run_file_path",
]

#: Environment variable naming the data folder.
DATA_DIR_ENV = "NVSENSE_DATA_DIR"
#: Data folder used when neither ``--data-dir`` nor the environment variable is set.
DEFAULT_DATA_DIR = "nvsense-data"
#: File name of the catalogue inside the data folder.
CATALOG_FILENAME = "catalog.sqlite"

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
RUN_ID_PATTERN = re.compile(r"^\d{8}-\d{6}-[a-z][a-z0-9_]*-[0-9a-f]{4}$")


def resolve_data_dir(arg: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``arg`` (``--data-dir``) if given, else ``$NVSENSE_DATA_DIR``, else
    ``./nvsense-data`` in the current folder.  ``~`` is expanded; the path is made absolute
    (so that a later change of the working folder does not move it) but not created."""
    if arg is None or str(arg) == "":
        arg = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(arg).expanduser().absolute()


def check_kind(kind: str) -> str:
    """Run kinds appear in file names: lower-case letters, digits and '_' only."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise SchemaError(
            f"run kind {kind!r} is not valid: use lower-case letters, digits "
            "and '_', e.g. 'odmr' or 'track'"
        )
    return kind


def new_run_id(kind: str, start: datetime) -> str:
    """A new run id, ``<local start date>-<time>-<kind>-<4 random hex digits>``, e.g.
    ``20261128-140455-odmr-3f2a``: sorts by start time, readable, unique in practice."""
    return f"{start:%Y%m%d-%H%M%S}-{check_kind(kind)}-{secrets.token_hex(2)}"


def run_file_path(data_dir: Path, run_id: str, start: datetime) -> Path:
    """Where the file of run ``run_id`` goes: ``<data dir>/<YYYY-MM-DD>/<run id>.nc``."""
    return data_dir / f"{start:%Y-%m-%d}" / f"{run_id}.nc"
