"""A stored widefield run, replayed as the documents it published (:mod:`nvsense.measure.replay`
does the other kinds and calls this one for ``widefield`` runs).

A widefield run file (:mod:`nvsense.storage.cube_writer`) keeps every sweep's raw frames and
bookkeeping, but not the live maps (they were fitted for the display only).  The replay reads
the sweeps one at a time, adds each to the accumulated cube exactly as the run's writer did
(:class:`~nvsense.storage.cube_writer.CubeAccumulator`: photo-electrons, normalisation, the
stored drift shift) and publishes, per sweep:

- a :class:`~nvsense.measure.documents.WidefieldSweep` with the stored drift, shift,
  registration confidence and the points that did not arrive;
- a :class:`~nvsense.measure.documents.WidefieldMap` of the accumulated cube, fitted as the live
  map is (:class:`~nvsense.measure.widefield.LiveMapProcessor`, with the run's model, number of
  lines and live binning).

The map a replay shows after sweep *k* is therefore the one the live display showed (in real
time the live display may have skipped maps it had no time for; the replay has all of them).
Memory stays bounded by one sweep's frames and the cube.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .documents import Event, WidefieldSweep

__all__ = ["CUBE_VARIABLES", "is_widefield_file", "open_widefield_replay",
           "widefield_documents"]

#: The accumulated cubes of a widefield run file: not per-sweep records, left out of the
#: replayed start document's layout (they are large).
CUBE_VARIABLES = ("pl", "reference")


def is_widefield_file(path: str | Path) -> bool:
    """Whether ``path`` is a widefield run file (read from its attributes only; ``False`` for
    anything that cannot be read: the ordinary reader reports it)."""
    from ..storage.cube_writer import KIND

    try:
        with _open(Path(path)) as f:
            kind = f.attrs.get("kind")
    except (OSError, ValueError):
        return False
    if isinstance(kind, np.ndarray) and kind.size == 1:
        kind = kind.reshape(-1)[0]
    if isinstance(kind, bytes | np.bytes_):
        kind = bytes(kind).decode("utf-8", errors="replace")
    return str(kind).rstrip("\x00") == KIND


def open_widefield_replay(path: str | Path) -> Any:
    """The run's cube dataset (:func:`~nvsense.storage.cube_writer.open_widefield_run`,
    without the raw frames) for a :class:`~nvsense.measure.replay.StoredRun`."""
    from ..storage.cube_writer import open_widefield_run

    return open_widefield_run(path)


def widefield_documents(stored: Any) -> Iterator[tuple[float, Event]]:
    """The sweep and map documents of a stored widefield run, in order, each with the time
    since the run's start (s) at which the run published it.

    Parameters
    ----------
    stored
        A :class:`~nvsense.measure.replay.StoredRun` of a widefield run.
    """
    from ..storage.cube_writer import CubeAccumulator

    ds, info = stored.data, stored.info
    n = int(ds.sizes.get("sweep", 0))
    if n == 0:
        return
    frequencies = np.asarray(ds["frequency"].values, dtype=float)
    times = np.asarray(ds["time"].values, dtype=float)
    attrs = ds.attrs
    processor = _map_processor(ds, info, frequencies)
    planned = info.parameters.get("sweeps")
    planned = int(planned) if isinstance(planned, int | float) and planned else None
    with _open(Path(stored.path)) as f:
        ny, nx = f["pl"].shape[:2]
        reference = "ref_frames" in f and "ref_valid" in f
        cube = CubeAccumulator((ny, nx), frequencies.size,
                               electrons_per_adu=float(attrs["electrons_per_adu"]),
                               offset=float(attrs["offset_adu"]), reference=reference,
                               shift_method=str(attrs.get("shift_method", "integer")))
        for i in range(n):
            valid = np.asarray(f["point_valid"][i]).astype(bool)
            shift = (float(f["shift_y"][i]), float(f["shift_x"][i]))
            cube.add(f["frames"][i], valid, norm=f["norm"][i], shift=shift,
                     reference=f["ref_frames"][i] if reference else None,
                     reference_valid=np.asarray(f["ref_valid"][i]).astype(bool)
                     if reference else None)
            when = float(times[i])
            yield when, WidefieldSweep(
                run_id=info.run_id, index=i, frequencies=frequencies, elapsed=when,
                drift=(_number(ds, "drift_y", i), _number(ds, "drift_x", i)), shift=shift,
                drift_confidence=_number(ds, "drift_confidence", i), sweeps_planned=planned,
                missing=int(np.count_nonzero(~valid)), values=_sweep_values(ds, i))
            yield when, processor.update(info.run_id, i, cube.n_sweeps, cube.cube("pl"))


def _open(path: Path) -> Any:
    """The file for reading, also while its writer has it open (SWMR)."""
    import h5py

    from ..storage.hdf5_access import is_open_for_write_error, open_swmr_reader

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if not is_open_for_write_error(exc):
            raise
        return open_swmr_reader(path)


def _map_processor(ds: Any, info: Any, frequencies: np.ndarray) -> Any:
    """The live map's fit as the run made it: its model, lines and binning (the default
    binning of the frame size where the run had no live map)."""
    from .widefield import LiveMapProcessor, live_binning

    parameters = info.parameters
    binning = parameters.get("live_binning")
    if not (isinstance(binning, int | float) and binning >= 1):
        binning = live_binning((int(ds.sizes["y"]), int(ds.sizes["x"])))
    n_lines = parameters.get("n_lines")
    x = ds["x"] if "x" in ds.coords else None
    pixel = (float(x.values[1] - x.values[0]) if x is not None and x.size > 1
             and x.attrs.get("units") == "m" else None)
    return LiveMapProcessor(frequencies, binning=int(binning),
                            model=str(parameters.get("model") or "lorentzian"),
                            n_lines=int(n_lines) if isinstance(n_lines, int | float) and n_lines
                            else 2,
                            pixel_size=pixel)


def _number(ds: Any, name: str, i: int) -> float:
    return float(ds[name].values[i]) if name in ds.variables else float("nan")


def _sweep_values(ds: Any, i: int) -> dict[str, Any]:
    """The sweep's bookkeeping as the file holds it (not its raw frames)."""
    return {str(name): ds[name].values[i] for name in ds.data_vars
            if ds[name].dims and ds[name].dims[0] == "sweep"}
