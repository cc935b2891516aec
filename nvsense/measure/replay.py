"""A stored run, replayed as the documents it published.

A run publishes documents (:mod:`nvsense.measure.documents`) that its file records; this module
turns the file back into the same documents, in the same order, so that whatever displays a
live run (the GUI's window, the CLI's progress, any subscriber) shows a finished one through
the same path: ``nvsense gui --replay RUN``.

- :class:`~nvsense.measure.documents.RunStarted`: id, kind, file, parameters with their units,
  identities, bench, instruments' snapshot and the declaration of every variable of the file;
- per record: a :class:`~nvsense.measure.documents.SweepDone` per ODMR sweep (its counts, the
  running average, the stored fits of the sweep and of the average as
  :class:`~nvsense.measure.documents.FitSummary` with the curve to draw, the verdict on a
  resonance) or a :class:`~nvsense.measure.documents.TrackingBlock` per
  :data:`TRACKING_BLOCK_S` of tracking samples; for a widefield run, per sweep a
  :class:`~nvsense.measure.documents.WidefieldSweep` and the live map
  (:class:`~nvsense.measure.documents.WidefieldMap`) of the cube so far, fitted as the live
  map was (:mod:`nvsense.measure.replay_widefield`);
- :class:`~nvsense.measure.documents.RunFinished` with the stored status, reason, results and
  warnings (a file its writer never closed ends as it is: ``running`` or ``interrupted``).

The fits are the stored numbers, never fitted again.  The file keeps each fit's lines (centres,
widths, contrasts) but not its baseline, so the drawn curve is the stored lines on the
baseline that fits the spectrum best given them (weighted linear least squares: one number,
exact when the stored fit is the optimum).  ``values`` of each record are what the file holds
for it, so a replayed run written by :class:`~nvsense.measure.run_file.RunFileWriter` gives
the same file again.  The resonance verdict of the last sweep is the run's own (its results);
that of an earlier running average is :func:`~nvsense.measure.resonance.check_resonance` on
the stored fit, which knows only whether the fit succeeded (not why it did not), so a fit the
live run judged usable but not significant counts as failed there.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .analysis import fine_grid
from .control import RunControl
from .documents import Event, FitSummary, RunFinished, RunStarted, SweepDone, TrackingBlock
from .resonance import RESONANCE_KEY, check_resonance

__all__ = [
    "REPLAYABLE_KINDS",
    "TRACKING_BLOCK_S",
    "ReplayError",
    "StoredRun",
    "fit_curve",
    "replay_documents",
    "replay_run",
    "replay_source",
]

#: The run kinds a stored run of which replays.
REPLAYABLE_KINDS = ("odmr", "track", "widefield")

#: Tracking samples replayed per block, in seconds of the run.
TRACKING_BLOCK_S = 0.1

_NAN3 = np.full(3, np.nan)


class ReplayError(ValueError):
    """The file cannot be replayed (not a run of a replayable kind); the message says why."""


@dataclass(frozen=True)
class StoredRun:
    """A run file opened for replay: its data (``xarray.Dataset``) and decoded metadata
    (:class:`nvsense.storage.RunInfo`)."""

    path: Path
    data: Any
    info: Any

    @property
    def kind(self) -> str:
        return str(self.info.kind)


def replay_source(path: str | os.PathLike[str]) -> StoredRun:
    """Open a run file for :func:`replay_run`.

    Raises
    ------
    nvsense.storage.RunFileError
        The file is missing or damaged, or not a run file.
    ReplayError
        The run's kind does not replay (:data:`REPLAYABLE_KINDS`).
    """
    from ..storage import RunNotClosedWarning, open_run, run_metadata
    from .replay_widefield import is_widefield_file, open_widefield_replay

    path = Path(path)
    if is_widefield_file(path):  # its cube, without the raw frames (read sweep by sweep)
        data = open_widefield_replay(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunNotClosedWarning)  # replayed as far as it got
            data = open_run(path)
    info = run_metadata(data)
    if info.kind not in REPLAYABLE_KINDS:
        raise ReplayError(f"{path}: a {info.kind or 'unknown'} run does not replay; replay "
                          f"shows {', '.join(REPLAYABLE_KINDS[:-1])} and "
                          f"{REPLAYABLE_KINDS[-1]} runs")
    return StoredRun(path, data, info)


def replay_documents(stored: StoredRun) -> Iterator[tuple[float, Event]]:
    """The run's documents in order, each with the time since the run's start (s) at which
    the run published it."""
    from .replay_widefield import widefield_documents

    yield 0.0, _run_started(stored)
    records = {"odmr": _odmr_documents, "widefield": widefield_documents}.get(
        stored.kind, _tracking_documents)
    end = 0.0
    for when, document in records(stored):
        end = max(end, when)
        yield when, document
    yield end, _run_finished(stored)


def replay_run(source: StoredRun | str | os.PathLike[str],
               subscribers: Iterable[Callable[[Event], None]], *,
               speed: float | None = None, control: RunControl | None = None
               ) -> RunFinished | None:
    """Publish a stored run's documents to ``subscribers``, in the thread that calls this.

    Parameters
    ----------
    source
        The run file, or a :class:`StoredRun` from :func:`replay_source`.
    subscribers
        Called with each document, in order.
    speed
        ``1.0``: at the pace the run published them (``2.0`` twice as fast); ``None``: as
        fast as the subscribers take them.
    control
        Stops the replay (between two documents) when a stop is requested.

    Returns
    -------
    RunFinished or None
        The run's last document, or ``None`` when the replay was stopped before it.
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be a positive factor (1.0: as recorded), not {speed!r}")
    stored = source if isinstance(source, StoredRun) else replay_source(source)
    control = control or RunControl()
    subscribers = list(subscribers)
    start = time.monotonic()
    for when, document in replay_documents(stored):
        if speed is not None:
            wait = start + when / speed - time.monotonic()
            if wait > 0 and control.wait(wait):
                return None
        if control.stop_requested:
            return None
        for subscriber in subscribers:
            subscriber(document)
        if isinstance(document, RunFinished):
            return document
    return None  # pragma: no cover - replay_documents always ends with RunFinished


# -- the documents ---------------------------------------------------------------------------


def _run_started(stored: StoredRun) -> RunStarted:
    from .replay_widefield import CUBE_VARIABLES

    info, attrs = stored.info, stored.data.attrs
    data = stored.data.drop_vars(CUBE_VARIABLES, errors="ignore")  # widefield: not records
    snapshot = attrs.get("instrument_snapshot")
    try:
        snapshot = json.loads(snapshot) if isinstance(snapshot, str) else None
    except ValueError:
        snapshot = None
    kind_attrs = {k: _plain(attrs[k]) for k in ("field_kind", "fit_model", "counter_kind",
                                                 "calibration") if k in attrs}
    return RunStarted(
        run_id=info.run_id, kind=info.kind, file=str(stored.path),
        parameters=dict(info.parameters), identities=dict(info.instruments),
        layout=_layout(data), parameter_units=dict(info.parameter_units),
        attrs=kind_attrs, md={"replay_of": str(stored.path)},
        bench={"bench_config": info.bench_config, "bench_source": info.bench_source},
        snapshot=snapshot, start_time=info.start_time or None)


def _run_finished(stored: StoredRun) -> RunFinished:
    info = stored.info
    attrs = {"warnings": str(stored.data.attrs["warnings"])} \
        if "warnings" in stored.data.attrs else {}
    reason = info.abort_reason
    if not info.closed:
        reason = reason or ("the run file was never closed: its writer stopped (crash, kill "
                            "or power cut)" if info.state == "interrupted"
                            else "the run is still being written")
    safe = str(stored.data.attrs.get("safe_state_report") or "")
    return RunFinished(run_id=info.run_id, status=info.state, reason=reason,
                       results=dict(info.results), file=str(stored.path),
                       safe_report=tuple(p for p in safe.split("; ") if p),
                       result_units=dict(info.result_units), attrs=attrs)


def _layout(ds: Any) -> dict[str, Any]:
    """The file's variables as a layout (:meth:`nvsense.storage.RunSchema.as_dict`)."""
    dim = str(ds.attrs.get("append_dim", "sweep"))
    append = ds[dim] if dim in ds.variables else None
    coords, variables, sizes = [], [], {}
    for name in ds.variables:
        var = ds[name]
        entry = {"name": str(name), "dims": list(var.dims),
                 "units": str(var.attrs.get("units", "1")),
                 "long_name": str(var.attrs.get("long_name", name))}
        if name == dim:
            continue
        if var.dims and var.dims[0] == dim:
            dtype = "bool" if var.dtype == bool else str(np.dtype(var.dtype).name)
            variables.append({**entry, "dtype": dtype, "attrs": {},
                              "coordinate": name in ds.coords})
        elif dim not in var.dims:
            values = var.values
            coords.append({**entry, "values": values.tolist(), "attrs": {}})
    for name, size in ds.sizes.items():
        if name != dim and name not in ds.variables:
            sizes[str(name)] = int(size)
    return {"append_dim": dim,
            "append_units": str(append.attrs.get("units", "1")) if append is not None else "1",
            "append_long_name": str(append.attrs.get("long_name", dim))
            if append is not None else dim,
            "append_dtype": "float64" if dim == "time" else "int64",
            "append_is_index": dim != "time",
            "coords": coords, "dim_sizes": sizes, "variables": variables}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _seconds(values: Any) -> NDArray[np.float64]:
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.timedelta64):
        return values / np.timedelta64(1, "s")
    return values.astype(float)


def _record_values(ds: Any, dim: str, index: int | slice) -> dict[str, Any]:
    """What the file holds for one record (or a block of them), by variable name: its
    variables along ``dim`` (with ``dim`` itself where the records give its values, as the
    ``time`` of tracking samples; an index the writer numbers is left out)."""
    out: dict[str, Any] = {}
    indexed = dim != "time"
    for name in ds.variables:
        var = ds[name]
        if var.dims and var.dims[0] == dim and not (indexed and name == dim):
            value = var.values[index]
            if np.issubdtype(np.asarray(value).dtype, np.timedelta64):
                value = _seconds(value)
            out[str(name)] = value
    return out


# -- ODMR ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StoredFit:
    """A stored fit as :func:`check_resonance` reads one."""

    centers: NDArray[np.float64]
    widths: NDArray[np.float64]
    contrasts: NDArray[np.float64]
    contrast_errors: NDArray[np.float64]
    success: bool


def _odmr_documents(stored: StoredRun) -> Iterator[tuple[float, SweepDone]]:
    ds, info = stored.data, stored.info
    f = np.asarray(ds["frequency"].values, dtype=float)
    counts = np.asarray(ds["counts"].values, dtype=float)
    n = counts.shape[0]
    times = _seconds(ds["time"].values) if "time" in ds.variables else np.arange(n, dtype=float)
    model = str(ds.attrs.get("fit_model", info.parameters.get("model", "lorentzian")))
    kind = str(ds.attrs.get("field_kind") or "none")
    photon_counts = str(ds.attrs.get("counter_kind", "1")) == "1"
    grid = fine_grid(f)
    planned = info.parameters.get("sweeps")
    total = np.zeros(f.size)
    for i in range(n):
        total += counts[i]
        average = total / (i + 1)
        sweep_fit = _summary(ds, i, "", kind, model, f, counts[i], photon_counts, None)
        avg_fit = _summary(ds, i, "avg_", kind, model, f, average, photon_counts, grid)
        if avg_fit is not None:
            verdict = _verdict(ds, info, i, n, f, average, avg_fit, photon_counts)
            if verdict is not None:
                found, message = verdict
                avg_fit = _with_verdict(avg_fit, found, message)
        yield float(times[i]), SweepDone(
            run_id=info.run_id, index=i, frequencies=f, counts=counts[i], average=average,
            fit=sweep_fit, average_fit=avg_fit, elapsed=float(times[i]),
            sweeps_planned=int(planned) if isinstance(planned, int | float) and planned
            else None,
            values=_record_values(ds, "sweep", i))


def _summary(ds: Any, i: int, prefix: str, kind: str, model: str, f: NDArray[np.float64],
             signal: NDArray[np.float64], photon_counts: bool,
             grid: NDArray[np.float64] | None) -> FitSummary | None:
    """The stored fit of record ``i`` (``prefix`` "avg_": of the running average), or
    ``None`` where the run stored none (a failed fit, a run without fits)."""
    name = f"{prefix}line_center"
    if name not in ds.variables:
        return None

    def get(var: str, default: Any = math.nan) -> Any:
        key = f"{prefix}{var}"
        return ds[key].values[i] if key in ds.variables else default

    centers = np.asarray(get("line_center"), dtype=float)
    success = bool(get("fit_success", False))
    if not np.any(np.isfinite(centers)) and not success:
        return None
    widths = np.asarray(get("line_width"), dtype=float)
    contrasts = np.asarray(get("line_contrast"), dtype=float)
    best = fit_curve(f, signal, centers, widths, contrasts, model=model, counts=photon_counts)
    curve_x, curve_y = np.zeros(0), np.zeros(0)
    if grid is not None and best.size:
        curve_x = grid
        curve_y = fit_curve(grid, signal, centers, widths, contrasts, model=model,
                            counts=photon_counts, data_frequencies=f)
    field = np.asarray(get("field", _NAN3), dtype=float) if kind == "vector" else _NAN3
    field_err = np.asarray(get("field_error", _NAN3), dtype=float) if kind == "vector" else _NAN3
    return FitSummary(
        kind=kind, success=success, message="" if success else "the stored fit did not succeed",
        centers=centers, center_errors=np.asarray(get("line_center_error"), dtype=float),
        widths=widths, width_errors=np.asarray(get("line_width_error"), dtype=float),
        contrasts=contrasts, contrast_errors=np.asarray(get("line_contrast_error"), dtype=float),
        redchi=float(get("redchi")), field=field, field_errors=field_err,
        field_parallel=float(get("field_parallel")) if kind == "parallel" else math.nan,
        field_parallel_error=float(get("field_parallel_error"))
        if kind == "parallel" else math.nan,
        D=float(get("D")), D_error=float(get("D_error")),
        best_fit=best if best.size else np.full(f.shape, np.nan),
        curve_frequencies=curve_x, curve_values=curve_y)


def _verdict(ds: Any, info: Any, i: int, n: int, f: NDArray[np.float64],
             average: NDArray[np.float64], fit: FitSummary, photon_counts: bool
             ) -> tuple[bool, str] | None:
    """The resonance verdict the run's display had on sweep ``i``: the run's own final verdict
    on its last sweep (stored in its results and warnings), the check of the stored fit of the
    running average before."""
    if i == n - 1 and RESONANCE_KEY in info.results:
        found = bool(info.results[RESONANCE_KEY])
        return found, "" if found else str(ds.attrs.get("warnings") or "no resonance measured")
    try:
        check = check_resonance(f, average, _StoredFit(fit.centers, fit.widths, fit.contrasts,
                                                       fit.contrast_errors, fit.success),
                                sweeps=i + 1, counts=photon_counts)
    except Exception:  # a verdict is a courtesy of the display here
        return None
    return check.found, check.message


def _with_verdict(fit: FitSummary, found: bool, message: str) -> FitSummary:
    from dataclasses import replace

    return replace(fit, resonance_found=found, success=fit.success and found,
                   message=fit.message if found else message)


def fit_curve(frequencies: NDArray[np.float64], signal: NDArray[np.float64],
              centers: NDArray[np.float64], widths: NDArray[np.float64],
              contrasts: NDArray[np.float64], *, model: str, counts: bool = True,
              data_frequencies: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """A stored fit's model on ``frequencies`` (NaN entries stay NaN): its lines
    (:func:`nvsense.fitting.dip_spectrum` with the model's line shape and hyperfine
    multiplet) on the constant baseline that fits ``signal`` best given them, by weighted
    linear least squares (Poisson weights for photon ``counts``).

    Parameters
    ----------
    frequencies
        Where to evaluate the model (Hz).
    signal
        The fitted spectrum, on ``data_frequencies`` (default: ``frequencies``).
    centers, widths, contrasts
        The stored lines (Hz, Hz FWHM, fraction); lines with a NaN are left out.
    model
        The run's fit model (``fit_model``): ``lorentzian``, ``gaussian``, ``14n``, ``15n``,
        ``hamiltonian``.

    Returns
    -------
    ndarray
        Empty when no line is finite.
    """
    from ..fitting import dip_spectrum
    from ..physics import hyperfine_offsets

    c, w, a = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (centers, widths, contrasts))
    ok = np.isfinite(c) & np.isfinite(w) & np.isfinite(a) & (w > 0)
    if not np.any(ok):
        return np.zeros(0)
    shape = "gaussian" if model == "gaussian" else "lorentzian"
    offsets = hyperfine_offsets({"14n": "14N", "15n": "15N"}.get(model))
    x_data = np.asarray(frequencies if data_frequencies is None else data_frequencies, float)
    y = np.asarray(signal, dtype=float)
    f_ref = 0.5 * (np.nanmin(x_data) + np.nanmax(x_data))

    def unit(x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.full(x.shape, np.nan)
        finite = np.isfinite(x)
        out[finite] = dip_spectrum(x[finite], c[ok], w[ok], a[ok], offset=1.0,
                                   lineshape=shape, offsets=offsets, f_ref=f_ref)
        return out

    s = unit(x_data)
    good = np.isfinite(s) & np.isfinite(y)
    weight = 1.0 / np.maximum(y[good], 1.0) if counts else np.ones(int(good.sum()))
    denominator = float(np.sum(weight * s[good] ** 2))
    if not denominator > 0:
        return np.zeros(0)
    baseline = float(np.sum(weight * y[good] * s[good])) / denominator
    model_on_data = baseline * s
    if data_frequencies is None:
        return model_on_data
    return baseline * unit(np.asarray(frequencies, dtype=float))


# -- tracking --------------------------------------------------------------------------------


def _tracking_documents(stored: StoredRun) -> Iterator[tuple[float, TrackingBlock]]:
    ds, info = stored.data, stored.info
    t = _seconds(ds["time"].values)
    n = t.size
    if n == 0:
        return
    if "field" in ds.variables:
        field = np.asarray(ds["field"].values, dtype=float)
    elif "field_parallel" in ds.variables:
        field = np.asarray(ds["field_parallel"].values, dtype=float)
    else:
        field = np.full(n, np.nan)
    frequencies = np.asarray(ds["frequency_locked"].values, dtype=float)
    error = np.asarray(ds["error_signal"].values, dtype=float)
    locked = np.asarray(ds["locked"].values, dtype=bool)
    d = np.asarray(ds["D"].values, dtype=float) if "D" in ds.variables else None
    if d is not None and not np.any(np.isfinite(d)):
        d = None
    rate = info.parameters.get("rate")
    step = float(np.median(np.diff(t))) if n > 1 else 0.0
    if not (isinstance(rate, int | float) and rate > 0):
        rate = 1.0 / step if step > 0 else 1.0
    size = max(1, round(TRACKING_BLOCK_S * float(rate)))
    duration = info.parameters.get("duration")
    planned = round(float(duration) * float(rate)) \
        if isinstance(duration, int | float) and duration else None
    losses = 0
    for begin in range(0, n, size):
        part = slice(begin, min(begin + size, n))
        previous = bool(locked[begin - 1]) if begin else True
        losses += int(previous and not locked[part][0]) + int(
            np.sum(locked[part][:-1] & ~locked[part][1:]))
        info_dict = {"state": "locked" if locked[part][-1] else "lost",
                     "samples": part.stop, "lock_losses": losses}
        if planned:
            info_dict["samples_planned"] = planned
        yield float(t[part.stop - 1]), TrackingBlock(
            run_id=info.run_id, time=t[part], field=field[part],
            frequencies=frequencies[part], error_signal=error[part], locked=locked[part],
            D=d[part] if d is not None else None, info=info_dict,
            values=_record_values(ds, "time", part))
