"""The run catalogue: one SQLite row per run, searchable from Python and the CLI.

The run files are the record; the catalogue is an index of them that can always be rebuilt
(:meth:`Catalog.rescan`).  A measurement never fails because of the catalogue: if SQLite is
busy for too long or the catalogue is damaged, the run goes on, a
:class:`~nvsense.storage.errors.CatalogWarning` says so, and a rescan adds the run later.

Several processes (a campaign and the GUI, say) may use one catalogue at once: it runs in
WAL mode, every operation is one short transaction on its own connection, and writers wait
up to :data:`BUSY_TIMEOUT_S` for each other.  WAL needs a local file system (not a network
share).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datadir import (
    CATALOG_FILENAME,
    check_kind,
    new_run_id,
    resolve_data_dir,
    run_file_path,
)
from .errors import CatalogError, CatalogWarning, RunFileError
from .metadata import KEY_RESULT_UNITS, STATUSES, from_json, run_metadata, to_json, writer_alive
from .times import local_now, parse_iso, parse_since_until

if TYPE_CHECKING:  # imported where used: listing runs needs neither pandas nor HDF5
    import pandas as pd

    from .schema import RunSchema
    from .writer import RunWriter

__all__ = ["BUSY_TIMEOUT_S", "Catalog", "RescanReport"]

log = logging.getLogger(__name__)

#: How long one catalogue operation waits for another process's write to finish.
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

#: Result columns: each key result and its standard error.
RESULT_COLUMNS: tuple[str, ...] = tuple(
    name for key in KEY_RESULT_UNITS for name in (key, f"{key}_error")
)

_CREATE = f"""
CREATE TABLE IF NOT EXISTS runs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    start_time       TEXT NOT NULL,
    start_ts         REAL NOT NULL,
    end_time         TEXT,
    file             TEXT NOT NULL UNIQUE,
    n_records        INTEGER,
    parameters       TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(parameters)),
    results          TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(results)),
    {", ".join(f'"{c}" REAL' for c in RESULT_COLUMNS)},
    abort_reason     TEXT,
    bench_source     TEXT,
    software_version TEXT,
    campaign         TEXT,
    campaign_point   INTEGER,
    writer_host      TEXT,
    writer_pid       INTEGER,
    indexed_ts       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_start ON runs (start_ts);
CREATE INDEX IF NOT EXISTS runs_campaign ON runs (campaign, campaign_point);
"""

#: Columns of :meth:`Catalog.runs`, in order.
LIST_COLUMNS: tuple[str, ...] = (
    "id",
    "kind",
    "status",
    "start_time",
    "end_time",
    "n_records",
    "campaign",
    "campaign_point",
    *RESULT_COLUMNS,
    "abort_reason",
    "parameters",
    "results",
    "bench_source",
    "software_version",
    "file",
)

_UPDATABLE = {
    "status",
    "end_time",
    "results",
    "abort_reason",
    "campaign",
    "campaign_point",
    "n_records",
}


@dataclass
class RescanReport:
    """What :meth:`Catalog.rescan` did."""

    indexed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class Catalog:
    """The run catalogue of a data folder.

    Parameters
    ----------
    data_dir
        The data folder; ``None`` resolves it with
        :func:`~nvsense.storage.resolve_data_dir` (``$NVSENSE_DATA_DIR`` or
        ``./nvsense-data``).  It and the catalogue are created when first written.

    Examples
    --------
    >>> cat = Catalog("nvsense-data")                                    # doctest: +SKIP
    >>> cat.runs(kind="odmr", status="completed", power_dbm=-10)        # doctest: +SKIP
    >>> cat.runs(since="2026-11-28", campaign="field-map")               # doctest: +SKIP
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.data_dir = resolve_data_dir(data_dir)
        self.path = self.data_dir / CATALOG_FILENAME
        self._ready = False

    def __repr__(self) -> str:
        return f"Catalog({str(self.data_dir)!r})"

    # -- connection -------------------------------------------------------------------------

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One short transaction on a connection of its own (safe across threads and
        processes); ``write`` takes the write lock at once, avoiding lock upgrades.  Only
        writing creates the catalogue."""
        if not self._ready:
            if not write and not self.path.exists():
                raise CatalogError(
                    f"{self.path}: no run catalogue in {self.data_dir}: no run was recorded "
                    "there yet. Check --data-dir or NVSENSE_DATA_DIR; `nvsense runs --rescan "
                    "--data-dir DIR` catalogues run files already in a folder"
                )
            self._create()
        try:
            with closing(self._open()) as con:
                con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield con
                except BaseException:
                    con.rollback()
                    raise
                con.commit()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _open(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    def _error(self, exc: sqlite3.DatabaseError) -> CatalogError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return CatalogError(
                f"{self.path}: the catalogue stayed locked by another process "
                f"for {BUSY_TIMEOUT_S:.0f} s ({exc}); try again"
            )
        return CatalogError(
            f"{self.path}: the run catalogue cannot be used ({exc}). It only indexes the run "
            f"files, so nothing measured is lost: move it aside (e.g. rename it to "
            f"{CATALOG_FILENAME}.bad) and run `nvsense runs --rescan --data-dir "
            f"{self.data_dir}` to rebuild it"
        )

    def _create(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._open()) as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise CatalogError(
                        f"{self.path}: catalogue written by a newer nvsense "
                        f"(schema {version}); upgrade nvsense"
                    )
                # WAL: readers never block the writer; the setting stays with the file.
                con.execute("PRAGMA journal_mode = WAL")
                if version < SCHEMA_VERSION:
                    # IF NOT EXISTS: two processes creating the catalogue at once is harmless.
                    con.executescript(_CREATE + f"PRAGMA user_version = {SCHEMA_VERSION};")
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        self._ready = True

    # -- runs -------------------------------------------------------------------------------

    def new_run(
        self,
        kind: str,
        schema: RunSchema,
        *,
        parameters: Mapping[str, Any] | None = None,
        start_time: datetime | None = None,
        run_id: str | None = None,
        **writer_options: Any,
    ) -> RunWriter:
        """Start a run: give it an id, create its file in the data folder, catalogue it.

        Parameters
        ----------
        kind
            ``"odmr"``, ``"track"``, ...
        schema
            The file layout.
        parameters
            Measurement parameters (catalogued as JSON and searchable:
            ``runs(power_dbm=-10)``).
        start_time
            Defaults to now.
        run_id
            The run's id, made beforehand with :meth:`reserve` (a run's start document
            names its id and file before the file exists); default: a new one.  A given id
            whose file exists raises :class:`~nvsense.storage.RunFileError`.
        **writer_options
            Passed to :class:`~nvsense.storage.RunWriter` (``parameter_units``,
            ``bench_config``, ``bench_source``, ``instruments``, ``campaign``,
            ``campaign_point``, ``attrs``).

        Returns
        -------
        RunWriter
            Open for appending; ``.run_id`` and ``.path`` say where the run is.  Closing it
            updates the catalogue row.
        """
        from .writer import RunWriter

        check_kind(kind)
        start = (start_time or local_now()).astimezone()
        given = run_id
        for attempt in range(100):
            run_id = given or new_run_id(kind, start)
            path = run_file_path(self.data_dir, run_id, start)
            try:
                writer = RunWriter(
                    path,
                    kind,
                    schema,
                    run_id=run_id,
                    parameters=parameters,
                    start_time=start,
                    on_close=self._writer_closed,
                    **writer_options,
                )
                break
            except RunFileError:
                # Another run of this kind started in the same second with the same random
                # suffix (a race with another process): draw again.
                if given or not path.exists() or attempt == 99:
                    raise
        self._index_quietly(writer.path)
        return writer

    def reserve(self, kind: str, start_time: datetime | None = None) -> tuple[str, Path]:
        """A new run id and its file path (not created), for :meth:`new_run`'s ``run_id``.

        The file does not exist when this returns; a run that another process creates in
        the same second with the same random suffix makes :meth:`new_run` raise
        :class:`~nvsense.storage.RunFileError`, and the caller reserves again.
        """
        start = (start_time or local_now()).astimezone()
        for _ in range(100):
            run_id = new_run_id(check_kind(kind), start)
            path = run_file_path(self.data_dir, run_id, start)
            if not path.exists():
                return run_id, path
        raise RunFileError(path, "no free run id in 100 draws")

    def _writer_closed(self, writer: RunWriter) -> None:
        self._index_quietly(writer.path)

    def _index_quietly(self, path: Path) -> None:
        """Index a run file; a catalogue problem becomes a warning, never a failed run."""
        try:
            self.index_file(path)
        except (CatalogError, RunFileError) as exc:
            warnings.warn(
                f"run {path.stem} not (yet) in the catalogue: {exc}. The run file is "
                f"complete; `nvsense runs --rescan` adds it",
                CatalogWarning,
                stacklevel=3,
            )

    def index_file(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Add or refresh the catalogue row of a run file from the file itself.

        Returns
        -------
        dict
            The row as :meth:`get` gives it.

        Raises
        ------
        RunFileError
            The file is missing, damaged or not an nvsense run.
        """
        from .reader import read_run_attrs

        path = Path(path).absolute()
        attrs, n_records = read_run_attrs(path)
        row = self._row_from_attrs(attrs, n_records, path)
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f'"{k}" = excluded."{k}"' for k in row if k != "id")
        with self._connect(write=True) as con:
            con.execute(
                f"INSERT INTO runs ({names}) VALUES ({marks}) "
                f"ON CONFLICT(id) DO UPDATE SET {updates}",
                list(row.values()),
            )
        return self._get_row(row["id"])

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.data_dir).as_posix()
        except ValueError:
            return path.as_posix()  # a run file outside the data folder: keep it absolute

    def _row_from_attrs(
        self, attrs: Mapping[str, Any], n_records: int, path: Path
    ) -> dict[str, Any]:
        info = run_metadata(attrs)
        if not info.run_id or not info.kind or not info.start_time:
            raise RunFileError(path, "nvsense run without run_id, kind or start_time: damaged")
        results = info.results
        row: dict[str, Any] = {
            "id": info.run_id,
            "kind": info.kind,
            "status": info.state,
            "start_time": info.start_time,
            "start_ts": parse_iso(info.start_time).timestamp(),
            "end_time": info.end_time,
            "file": self._relative(path),
            "n_records": n_records,
            "parameters": to_json(info.parameters),
            "results": to_json(results),
        }
        for column in RESULT_COLUMNS:
            value = results.get(column)
            row[column] = float(value) if isinstance(value, int | float) else None
        row.update(
            abort_reason=info.abort_reason,
            bench_source=info.bench_source,
            software_version=info.software_version,
            campaign=info.campaign,
            campaign_point=info.campaign_point,
            writer_host=info.writer_host,
            writer_pid=info.writer_pid,
            indexed_ts=time.time(),
        )
        return row

    def update(self, run_id: str, **fields: Any) -> dict[str, Any]:
        """Change catalogue fields of a run (not its file; :meth:`index_file` or
        :meth:`rescan` put the file's values back).

        Parameters
        ----------
        run_id
            The run.
        **fields
            ``status``, ``end_time``, ``results`` (a dict: key results also fill their
            columns), ``abort_reason``, ``campaign``, ``campaign_point``, ``n_records``.
        """
        unknown = sorted(set(fields) - _UPDATABLE)
        if unknown:
            raise ValueError(f"cannot update {unknown}; fields: {sorted(_UPDATABLE)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {fields['status']!r}")
        values = dict(fields)
        if "end_time" in values and isinstance(values["end_time"], datetime):
            values["end_time"] = values["end_time"].astimezone().isoformat(timespec="milliseconds")
        if "results" in values:
            results = dict(values["results"] or {})
            values["results"] = to_json(results)
            for column in RESULT_COLUMNS:
                value = results.get(column)
                values[column] = float(value) if isinstance(value, int | float) else None
        values["indexed_ts"] = time.time()
        assignments = ", ".join(f'"{k}" = ?' for k in values)
        with self._connect(write=True) as con:
            count = con.execute(
                f"UPDATE runs SET {assignments} WHERE id = ?", [*values.values(), run_id]
            ).rowcount
        if count == 0:
            raise CatalogError(f"{self.path}: no run {run_id!r} in the catalogue")
        return self._get_row(run_id)

    def get(self, run_id: str) -> dict[str, Any]:
        """The catalogue row of a run, with ``parameters`` and ``results`` parsed and
        ``file`` as an absolute path.

        Raises
        ------
        CatalogError
            If the run is not in the catalogue.
        """
        self._mark_interrupted()
        return self._with_live_counts([self._get_row(run_id)])[0]

    def _with_live_counts(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows of runs still being written get the number of records in their file so far
        (the catalogue row is written when the run starts and when it ends).  Reading that
        number opens the file read-only (SWMR), never disturbing the writer."""
        running = [row for row in rows if row.get("status") == "running"]
        if not running:
            return rows
        from .reader import read_run_attrs  # HDF5: only when a run is being written

        for row in running:
            try:
                _, row["n_records"] = read_run_attrs(row["file"])
            except (RunFileError, OSError) as exc:  # being replaced, or gone: keep the row's
                log.debug("records of %s not read: %s", row.get("id"), exc)
        return rows

    def _get_row(self, run_id: str) -> dict[str, Any]:
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise CatalogError(
                f"{self.path}: no run {run_id!r} in the catalogue (list runs "
                "with `nvsense runs`; `nvsense runs --rescan` indexes run files "
                "the catalogue misses)"
            )
        return self._decode_row(dict(row))

    def _decode_row(self, row: dict[str, Any]) -> dict[str, Any]:
        if "parameters" in row:
            row["parameters"] = from_json(row["parameters"], {})
        if "results" in row:
            row["results"] = from_json(row["results"], {})
        file = Path(row["file"])
        row["file"] = str(file if file.is_absolute() else self.data_dir / file)
        return row

    def _mark_interrupted(self) -> None:
        """Refresh runs still 'running' whose writer process is gone from their files: the
        file says 'completed' if only the catalogue update was missed, else the run is
        'interrupted'."""
        if not self.path.exists():
            return
        with self._connect() as con:
            rows = con.execute(
                "SELECT id, file, writer_host, writer_pid FROM runs WHERE status = 'running'"
            ).fetchall()
        for row in rows:
            if writer_alive(row["writer_host"], row["writer_pid"]) is not False:
                continue
            try:
                self.index_file(self._decode_row(dict(row))["file"])
            except RunFileError:
                self._set_status_quietly(row["id"], "interrupted")
            except CatalogError:
                return  # a read-only catalogue (an archive): listing must still work

    def _set_status_quietly(self, run_id: str, status: str) -> None:
        try:
            with self._connect(write=True) as con:
                con.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))
        except CatalogError:
            pass

    def runs(
        self,
        kind: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        since: str | datetime | date | None = None,
        until: str | datetime | date | None = None,
        campaign: str | None = None,
        limit: int | None = None,
        **params: Any,
    ) -> pd.DataFrame:
        """Runs matching all the filters given, oldest first.

        Parameters
        ----------
        kind, status
            One value or a list (``status``: running, completed, aborted, interrupted).
        since, until
            Start time bounds: ``"2026-11-28"`` (a whole local day), ISO date-times, a
            ``datetime``/``date``, or an age such as ``"2 h"`` or ``"3 d"``.
        campaign
            Campaign name.
        limit
            Only the latest ``limit`` runs.
        **params
            Parameter values, compared in the parameters' JSON: ``power_dbm=-10``; nested
            keys with dots (``**{"mw.power": -10}``); a ``(low, high)`` tuple for a range
            (either may be ``None``), a list for any of several values.

        Returns
        -------
        pandas.DataFrame
            Indexed by run id; ``start_time``/``end_time`` as UTC timestamps; key results in
            SI units (``field_x`` ... in T, ``D`` and ``linewidth`` in Hz); ``parameters``
            and ``results`` as dicts; ``file`` as an absolute path for
            :func:`~nvsense.storage.open_run`.
        """
        import pandas as pd

        rows = self.records(kind, status, since, until, campaign, limit, **params)
        frame = pd.DataFrame(rows, columns=list(LIST_COLUMNS))
        for column in ("start_time", "end_time"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        frame[list(RESULT_COLUMNS)] = frame[list(RESULT_COLUMNS)].astype(float)
        frame["n_records"] = frame["n_records"].astype("Int64")
        frame["campaign_point"] = frame["campaign_point"].astype("Int64")
        return frame.set_index("id")

    def records(
        self,
        kind: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        since: str | datetime | date | None = None,
        until: str | datetime | date | None = None,
        campaign: str | None = None,
        limit: int | None = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """The rows :meth:`runs` gives, as JSON-ready dicts with the ISO 8601 times of the
        files (local time and UTC offset)."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("kind", kind), ("status", status), ("campaign", campaign)):
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            args += values
        if since is not None:
            where.append("start_ts >= ?")
            args.append(parse_since_until(since).timestamp())
        if until is not None:
            where.append("start_ts < ?")
            args.append(parse_since_until(until, end=True).timestamp())
        for key, value in params.items():
            clause, clause_args = _param_clause(key, value)
            where.append(clause)
            args += clause_args
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_ts DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if not self.path.exists():
            return []
        self._mark_interrupted()
        with self._connect() as con:
            rows = [dict(r) for r in con.execute(sql, args).fetchall()]
        return self._with_live_counts([
            {k: v for k, v in self._decode_row(r).items() if k in LIST_COLUMNS}
            for r in reversed(rows)
        ])

    def locate(self, run_id: str) -> Path:
        """The file of a run: from the catalogue, else found by name in the data folder (a
        run the catalogue missed, which is then indexed).

        Raises
        ------
        CatalogError
            If no file of that run exists.
        """
        try:
            path = Path(self.get(run_id)["file"])
            if path.exists():
                return path
        except CatalogError:
            path = None
        if self.data_dir.is_dir():
            for found in sorted(self.data_dir.glob(f"*/{run_id}.nc")):
                self._index_quietly(found)
                return found
        where = f"catalogued as {path}, which is gone" if path else "not in the catalogue"
        raise CatalogError(
            f"run {run_id!r} {where}, and no file {run_id}.nc in "
            f"{self.data_dir}; check the id (`nvsense runs`) or --data-dir"
        )

    def rescan(self) -> RescanReport:
        """(Re)index every run file in the data folder, and list runs whose file is gone.

        Use after a crash between a run file's creation and its cataloguing, after copying
        runs into the data folder, or to rebuild a lost catalogue.  Rows whose file is
        missing are reported, not deleted.
        """
        report = RescanReport()
        if not self.data_dir.is_dir():
            raise CatalogError(
                f"{self.data_dir}: no such data folder; check --data-dir or NVSENSE_DATA_DIR"
            )
        with self._connect(write=True) as con:
            known = {r["id"]: r["file"] for r in con.execute("SELECT id, file FROM runs")}
        for path in sorted(self.data_dir.rglob("*.nc")):
            if any(part.startswith(".") for part in path.relative_to(self.data_dir).parts):
                continue  # temporary files of a writer
            try:
                row = self.index_file(path)
            except RunFileError as exc:
                report.unreadable.append((str(path), str(exc)))
                continue
            report.indexed.append(row["id"])
            if row["id"] not in known:
                report.added.append(row["id"])
        seen = set(report.indexed)
        for run_id, file in known.items():
            full = Path(file) if Path(file).is_absolute() else self.data_dir / file
            if run_id not in seen and not full.exists():
                report.missing.append(run_id)
        return report


def _json_path(key: str) -> str:
    """SQLite JSON path for a parameter name; dots separate nested keys."""
    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"parameter name {key!r} is not valid")
    return "$" + "".join("." + json.dumps(p) for p in parts)


def _param_clause(key: str, value: Any) -> tuple[str, list[Any]]:
    target = "json_extract(parameters, ?)"
    path = _json_path(key)
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{key}: a range is a (low, high) tuple, not {value!r}")
        low, high = value
        parts, args = [], []
        if low is not None:
            parts.append(f"{target} >= ?")
            args += [path, low]
        if high is not None:
            parts.append(f"{target} <= ?")
            args += [path, high]
        return "(" + (" AND ".join(parts) or "1") + ")", args
    if isinstance(value, list | set | frozenset):
        values = [_sql_value(v) for v in value]
        return f"{target} IN ({', '.join('?' for _ in values)})", [path, *values]
    if value is None:
        return f"{target} IS NULL", [path]
    return f"{target} = ?", [path, _sql_value(value)]


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)  # json_extract gives JSON true/false as 1/0
    if isinstance(value, int | float | str):
        return value
    raise ValueError(f"cannot compare a parameter with {value!r}; use a number or a string")
