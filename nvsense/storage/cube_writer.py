"""Streaming widefield cubes: one crash-safe run file per widefield measurement.

A widefield run is a run file (:mod:`nvsense.storage.writer`: NetCDF4/HDF5, SWMR, the
append coordinate written last) of kind ``"widefield"`` that grows by one record per sweep,
plus the accumulated cube that ``nvsense widefield fit`` reads:

===========================================  ======  =====================================
variable                                     unit    what
===========================================  ======  =====================================
``pl (y, x, frequency)``                     counts  photo-electrons summed over the sweeps,
                                                     drift-corrected and normalised (below)
``reference (y, x, frequency)``              counts  the reference frames likewise (with
                                                     ``reference="every"``)
``frames (sweep, frequency, y, x)``          ADU     every sweep's frames as the camera gave
                                                     them (uint16, one frame per point)
``ref_frames (sweep, frequency, y, x)``      ADU     every sweep's reference frames
``point_valid (sweep, frequency)``           1       the point's frame is in ``pl``
``ref_valid (sweep, frequency)``             1       its reference frame arrived
``frame_number (sweep, frequency)``          1       camera frame counter (−1 missing, −2
                                                     measured again); ``ref_frame_number``
``frame_time (sweep, frequency)``            s       camera timestamp
``norm (sweep, frequency)``                  1       intensity normalisation applied
``drift_y, drift_x (sweep)``                 pixel   registered drift of the sweep
``shift_y, shift_x (sweep)``                 pixel   the shift applied to it in ``pl``
``drift_confidence (sweep)``                 1       registration peak height (σ)
``time (sweep)``                             s       sweep end since the run start
===========================================  ======  =====================================

``pl`` is computed as the sweeps arrive: each sweep's frames are converted to
photo-electrons (:class:`~nvsense.instruments.camera.PixelCalibration`), multiplied by the
normalisation ``norm`` (with reference frames: the mean reference level of the sweep over
the point's reference level, which cancels laser-power drifts between frames without adding
the reference's shot noise), shifted back by the drift (whole pixels by default, which keeps
the counts Poisson), and summed.  A pixel or point missing from some sweeps (outside the
image after the shift, or marked) is scaled up from the sweeps that have it, so that every
value of ``pl`` stands for the same number of sweeps and Poisson weights stay right.

The raw frames keep the camera's layout (frame by frame): appending a sweep is then a plain
copy, and the sums too; only ``pl`` is transposed to the cube layout when it is written.

Crash safety: a sweep is complete in the file once its record is appended (the run file's
rule).  ``pl`` is then rewritten in place and the attribute ``pl_sweeps`` set to the number of
sweeps it holds.  A reader that finds ``pl_sweeps`` below the number of records (a crash
during the rewrite) rebuilds ``pl`` from the records: :func:`open_widefield_run` does that.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from .errors import RunFileError, SchemaError
from .hdf5_access import is_open_for_write_error, open_swmr_reader
from .schema import CoordSpec, RunSchema, VariableSpec
from .writer import RunWriter

if TYPE_CHECKING:
    from ..instruments.frame_sync import SweepFrames

__all__ = [
    "KIND",
    "CubeAccumulator",
    "CubeWriter",
    "applied_shift",
    "open_widefield_run",
    "sweep_norm",
    "sweep_record",
    "widefield_schema",
]

#: Run kind of widefield runs.
KIND = "widefield"
#: Rows per chunk of the accumulated cube (as :func:`nvsense.analysis.write_cube`).
ROWS_PER_CHUNK = 32
#: How :class:`CubeAccumulator` shifts sweeps back (see
#: :func:`nvsense.analysis.registration.shift_frames`).
SHIFT_METHODS = ("integer", "fourier", "linear")


def widefield_schema(frequency: Sequence[float] | NDArray[np.float64],
                     frame_shape: tuple[int, int], *, reference: bool = False,
                     pixel_size: float | None = None) -> RunSchema:
    """Layout of the per-sweep records of a widefield run.

    Parameters
    ----------
    frequency
        The sweep's frequency points, Hz, strictly increasing (the order the list measures
        them in is the :class:`~nvsense.instruments.frame_sync.SweepPlan`'s business).
    frame_shape
        (rows, columns) of the frames.
    reference
        Whether the sweeps hold reference frames.
    pixel_size
        Frame pixel pitch in the sample plane, m (binning included); ``None``: ``y`` and
        ``x`` count pixels.
    """
    freq = np.asarray(frequency, dtype=float)
    if freq.ndim != 1 or freq.size < 8 or not np.all(np.isfinite(freq)) \
            or not np.all(np.diff(freq) > 0):
        raise SchemaError("frequency must be at least 8 finite, strictly increasing values in "
                          "Hz (a cube's frequency coordinate); measure them in another order "
                          "with SweepPlan(order=...)")
    ny, nx = (int(n) for n in frame_shape)
    if ny < 1 or nx < 1:
        raise SchemaError(f"frame_shape must be two sizes ≥ 1, not {frame_shape!r}")
    if pixel_size is not None and not (math.isfinite(pixel_size) and pixel_size > 0):
        raise SchemaError(f"pixel_size must be a positive length in m, not {pixel_size!r}")
    unit, step = ("m", float(pixel_size)) if pixel_size is not None else ("pixel", 1.0)
    coords = [
        CoordSpec("y", np.arange(ny) * step, unit, "image row position"),
        CoordSpec("x", np.arange(nx) * step, unit, "image column position"),
        CoordSpec("frequency", freq, "Hz", "microwave frequency"),
    ]
    stack, per_point = ("sweep", "frequency", "y", "x"), ("sweep", "frequency")
    variables = [
        VariableSpec("time", ("sweep",), "s", "sweep end time since the run start",
                     coordinate=True),
        VariableSpec("frames", stack, "ADU", "frames of the sweep as the camera gave them",
                     dtype="uint16"),
        VariableSpec("point_valid", per_point, "1", "the point's frame is in pl", dtype="bool"),
        VariableSpec("frame_number", per_point, "1",
                     "camera frame counter (-1: missing, -2: measured again)", dtype="int64"),
        VariableSpec("frame_time", per_point, "s", "camera timestamp of the frame"),
        VariableSpec("norm", per_point, "1", "intensity normalisation applied in pl"),
        VariableSpec("drift_y", ("sweep",), "pixel", "registered drift of the sweep, rows"),
        VariableSpec("drift_x", ("sweep",), "pixel", "registered drift of the sweep, columns"),
        VariableSpec("shift_y", ("sweep",), "pixel", "shift applied in pl, rows"),
        VariableSpec("shift_x", ("sweep",), "pixel", "shift applied in pl, columns"),
        VariableSpec("drift_confidence", ("sweep",), "1",
                     "registration peak height over the correlation surface, robust sigma"),
    ]
    if reference:
        variables += [
            VariableSpec("ref_frames", stack, "ADU", "reference frames of the sweep",
                         dtype="uint16"),
            VariableSpec("ref_valid", per_point, "1", "the reference frame arrived",
                         dtype="bool"),
            VariableSpec("ref_frame_number", per_point, "1",
                         "camera frame counter of the reference (-1: missing)", dtype="int64"),
        ]
    return RunSchema(append_dim="sweep", append_units="1", append_long_name="sweep index",
                     coords=coords, variables=variables)


class CubeAccumulator:
    """The running, drift-corrected, normalised sum of sweeps (``pl`` of a widefield run).

    Sums are kept frame by frame, (points, rows, columns), the layout frames arrive in.

    Parameters
    ----------
    frame_shape, n_points
        Frame (rows, columns) and frequency points.
    electrons_per_adu, offset
        Grey levels → photo-electrons.
    reference
        Whether reference frames are accumulated too.
    shift_method
        ``"integer"`` (default), ``"fourier"`` or ``"linear"``.
    """

    def __init__(self, frame_shape: tuple[int, int], n_points: int, *,
                 electrons_per_adu: float, offset: float, reference: bool = False,
                 shift_method: str = "integer") -> None:
        if shift_method not in SHIFT_METHODS:
            raise ValueError(f"shift_method must be one of {', '.join(SHIFT_METHODS)}, not "
                             f"{shift_method!r}")
        self.shape = (n_points, *frame_shape)
        self.gain = np.float32(electrons_per_adu)
        self.offset = np.float32(offset)
        self.shift_method = shift_method
        self.n_sweeps = 0
        self._sum = np.zeros(self.shape, np.float32)
        self._ref_sum = np.zeros(self.shape, np.float32) if reference else None
        # sweeps that cover every pixel and point count as a number; the others per element
        self._full = [0, 0]
        self._count = np.zeros(self.shape, np.uint16)
        self._ref_count = np.zeros(self.shape, np.uint16) if reference else None

    def add(self, frames: NDArray[np.uint16], valid: ArrayLike, *, norm: ArrayLike | None = None,
            shift: tuple[float, float] = (0.0, 0.0), reference: NDArray[np.uint16] | None = None,
            reference_valid: ArrayLike | None = None) -> tuple[float, float]:
        """Add one sweep ((points, rows, columns) ADU); return the (rows, columns) shift
        applied (rounded for the integer method)."""
        valid = np.asarray(valid, bool)
        if frames.shape != self.shape:
            raise ValueError(f"sweep of shape {frames.shape}, expected {self.shape}")
        factor = np.ones(self.shape[0], np.float32) if norm is None \
            else np.asarray(norm, np.float32)
        applied = self._add(0, self._sum, self._count, frames, valid, factor, shift)
        if self._ref_sum is not None and self._ref_count is not None and reference is not None:
            ref_valid = np.ones(self.shape[0], bool) if reference_valid is None \
                else np.asarray(reference_valid, bool)
            self._add(1, self._ref_sum, self._ref_count, reference, ref_valid, factor, shift)
        if valid.any():
            self.n_sweeps += 1
        return applied

    def _add(self, which: int, total: NDArray[np.float32], count: NDArray[np.uint16],
             frames: NDArray[np.uint16], valid: NDArray[np.bool_], factor: NDArray[np.float32],
             shift: tuple[float, float]) -> tuple[float, float]:
        dy, dx = float(shift[0]), float(shift[1])
        scale = (self.gain * factor)[:, None, None]
        _, ny, nx = self.shape
        if self.shift_method == "integer":
            # a whole-pixel shift is a re-indexing: add the overlap straight into the sum
            dy, dx = float(round(dy)), float(round(dx))
            (src_y, dst_y), (src_x, dst_x) = _overlap(ny, int(dy)), _overlap(nx, int(dx))
            electrons = np.subtract(frames[:, src_y, src_x], self.offset, dtype=np.float32)
            electrons *= scale
            if not valid.all():
                electrons[~valid] = 0.0
            total[:, dst_y, dst_x] += electrons
            inside = None
            if dy or dx:
                inside = np.zeros((ny, nx), bool)
                inside[dst_y, dst_x] = True
        else:
            from ..analysis.registration import shift_frames  # numpy only; lazy: heavy package

            electrons = np.subtract(frames, self.offset, dtype=np.float32)
            electrons *= scale
            inside = None
            if dy or dx:
                electrons, inside = shift_frames(electrons, (dy, dx), method=self.shift_method,
                                                 axes=(1, 2))  # zero outside
            if not valid.all():
                electrons[~valid] = 0.0
            total += electrons
        if inside is not None and inside.all():
            inside = None
        if inside is None and valid.all():
            self._full[which] += 1
        else:
            use = valid[:, None, None] if inside is None \
                else valid[:, None, None] & inside[None]
            count += use
        return dy, dx

    def frames(self, which: str = "pl") -> NDArray[np.float32]:
        """The accumulated frames (points, rows, columns), counts of :attr:`n_sweeps` sweeps
        (NaN where no sweep has the pixel and point)."""
        index = 0 if which == "pl" else 1
        total, count = (self._sum, self._count) if index == 0 else (self._ref_sum,
                                                                   self._ref_count)
        if total is None or count is None:
            raise ValueError("no reference frames are accumulated")
        covered = count.astype(np.float32)
        covered += np.float32(self._full[index])
        with np.errstate(invalid="ignore", divide="ignore"):
            out = total * np.float32(self.n_sweeps)
            out /= covered
        out[covered == 0] = np.nan
        return out

    def cube(self, which: str = "pl") -> NDArray[np.float32]:
        """The accumulated cube (rows, columns, points), as ``pl`` is stored.

        Computed in blocks of rows, each scaled and transposed while it is in cache.
        """
        index = 0 if which == "pl" else 1
        total, count = (self._sum, self._count) if index == 0 else (self._ref_sum,
                                                                   self._ref_count)
        if total is None or count is None:
            raise ValueError("no reference frames are accumulated")
        n_points, ny, nx = self.shape
        out = np.empty((ny, nx, n_points), np.float32)
        full = np.float32(self._full[index])
        n = np.float32(self.n_sweeps)
        partial = bool(count.any())
        rows = max(1, 2**18 // max(n_points * nx, 1))  # ~1 MB of float32 per block
        for r0 in range(0, ny, rows):
            r1 = min(r0 + rows, ny)
            block = total[:, r0:r1]
            if partial:
                covered = count[:, r0:r1].astype(np.float32)
                covered += full
                with np.errstate(invalid="ignore", divide="ignore"):
                    block = block * n / covered
                block[covered == 0] = np.nan
            elif full > 0:
                block = block * (n / full)
            else:
                block = np.full(block.shape, np.nan, np.float32)
            out[r0:r1] = block.transpose(1, 2, 0)
        return out


class CubeWriter(RunWriter):
    """Writes a widefield run sweep by sweep: raw frames, bookkeeping and the accumulated cube.

    Parameters
    ----------
    path
        The run file (``.nc``); it must not exist.
    frequency
        The sweep's frequency points, Hz, strictly increasing.
    frame_shape
        (rows, columns) of the frames.
    electrons_per_adu, offset
        The camera's conversion (``camera.calibration``).
    reference
        Whether sweeps carry reference frames.
    pixel_size
        Frame pixel pitch in the sample plane, m.
    shift_method
        How drift is undone in ``pl`` (see :class:`CubeAccumulator`).
    **options
        Passed to :class:`~nvsense.storage.RunWriter`: ``run_id``, ``parameters``,
        ``parameter_units``, ``bench_config``, ``bench_source``, ``instruments``, ``attrs``,
        ``start_time``, ``on_close`` ...

    Examples
    --------
    >>> with CubeWriter("run.nc", freqs, cam.frame_shape, reference=True,   # doctest: +SKIP
    ...                 electrons_per_adu=0.46, offset=100) as run:
    ...     for sweep in assembler.add(cam.read_frames()):
    ...         run.append_sweep(sweep, shift=tracker.update(sweep.signal.mean(0)).shift)
    """

    def __init__(self, path: str | os.PathLike[str], frequency: Sequence[float] | NDArray[Any],
                 frame_shape: tuple[int, int], *, electrons_per_adu: float, offset: float,
                 reference: bool = False, pixel_size: float | None = None,
                 shift_method: str = "integer", **options: Any) -> None:
        self.frequency = np.asarray(frequency, dtype=float)
        self.frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
        self.reference = bool(reference)
        schema = widefield_schema(self.frequency, self.frame_shape, reference=reference,
                                  pixel_size=pixel_size)
        if not (math.isfinite(electrons_per_adu) and electrons_per_adu > 0):
            raise SchemaError(f"electrons_per_adu must be positive, not {electrons_per_adu!r}")
        self.accumulator = CubeAccumulator(self.frame_shape, self.frequency.size,
                                           electrons_per_adu=electrons_per_adu, offset=offset,
                                           reference=reference, shift_method=shift_method)
        attrs = dict(options.pop("attrs", None) or {})
        attrs.update({"electrons_per_adu": float(electrons_per_adu), "offset_adu": float(offset),
                      "shift_method": shift_method,
                      "reference_frames": "every" if reference else "none"})
        super().__init__(path, KIND, schema, attrs=attrs, **options)
        self._pl = self._file["pl"].id  # type: ignore[index]
        self._ref = self._file["reference"].id if reference else None  # type: ignore[index]

    # -- layout: the fixed cubes, created before SWMR forbids new objects --------------------

    def _write_layout(self, part: Path, header: Mapping[str, Any]) -> None:
        super()._write_layout(part, header)
        ny, nx = self.frame_shape
        nf = self.frequency.size
        with h5py.File(part, "r+", libver="latest") as f:
            dim_ids = {d: int(f[d].attrs["_Netcdf4Dimid"][()]) for d in ("y", "x", "frequency")}
            names = [("pl", "photo-luminescence: photo-electrons summed over sweeps")]
            if self.reference:
                names.append(("reference", "reference frames: photo-electrons summed over "
                                           "sweeps"))
            for name, long_name in names:
                dset = f.create_dataset(name, shape=(ny, nx, nf), dtype=np.float32,
                                        chunks=(min(ROWS_PER_CHUNK, ny), nx, nf),
                                        fillvalue=np.float32(np.nan), track_order=True)
                self._attach(f, dset, ("y", "x", "frequency"), dim_ids)
                dset.attrs["_FillValue"] = np.array([np.nan], dtype=np.float32)
                dset.attrs["units"] = "counts"
                dset.attrs["long_name"] = long_name
                dset.attrs["comment"] = ("drift-corrected and normalised; points or pixels "
                                         "missing from some sweeps are scaled to all sweeps")
            f.attrs.create("pl_sweeps", np.int64(0))

    # -- appending ---------------------------------------------------------------------------

    @property
    def n_sweeps(self) -> int:
        """Sweeps in the file."""
        return self.n_records

    def append_sweep(self, sweep: SweepFrames, *, shift: tuple[float, float] = (0.0, 0.0),
                     drift_confidence: float = math.nan, time: float | None = None) -> None:
        """Store one sweep and add it to ``pl``.

        Parameters
        ----------
        sweep
            The sweep (:class:`~nvsense.instruments.frame_sync.SweepFrames`): its valid,
            unmarked points go into ``pl``.
        shift
            Its registered drift (dy, dx), pixels, undone in ``pl``.
        drift_confidence
            The registration's confidence, stored with it.
        time
            Sweep end time since the run start, s (default: now).
        """
        self.append_record(sweep, shift=shift, drift_confidence=drift_confidence, time=time)
        self.update_cube()

    def append_record(self, sweep: SweepFrames, *, shift: tuple[float, float] = (0.0, 0.0),
                      drift_confidence: float = math.nan, time: float | None = None) -> None:
        """First half of :meth:`append_sweep`: the record (complete, crash-safe) and the
        in-memory sum; ``pl`` in the file is brought up to date by :meth:`update_cube`."""
        if sweep.signal.shape[1:] != self.frame_shape or sweep.n_points != self.frequency.size:
            raise SchemaError(f"sweep of {sweep.n_points} points × {sweep.signal.shape[1:]} "
                              f"pixels does not fit this run ({self.frequency.size} points × "
                              f"{self.frame_shape})")
        if self.reference != (sweep.reference is not None):
            raise SchemaError("this run " + ("needs" if self.reference else "has no") +
                              " reference frames")
        acc = self.accumulator
        values = sweep_record(sweep, drift=shift,
                              shift=applied_shift(shift, acc.shift_method),
                              drift_confidence=drift_confidence,
                              time=self.elapsed() if time is None else float(time),
                              electrons_per_adu=float(acc.gain), offset=float(acc.offset))
        self.append_values(values)

    def append_values(self, values: Mapping[str, Any]) -> None:
        """Append one sweep's record as :func:`sweep_record` gives it and add it to the
        in-memory sum (shifted by its ``shift_y``, ``shift_x``); ``pl`` in the file is brought
        up to date by :meth:`update_cube`.

        The record is appended first: once it is in the file the sweep is safe, whatever
        happens to ``pl`` (see :func:`open_widefield_run`).
        """
        self.append(**values)
        self.accumulator.add(
            values["frames"], values["point_valid"], norm=values["norm"],
            shift=(float(values["shift_y"]), float(values["shift_x"])),
            reference=values.get("ref_frames") if self.reference else None,
            reference_valid=values.get("ref_valid") if self.reference else None)

    def update_cube(self) -> None:
        """Rewrite ``pl`` (and ``reference``) from the in-memory sum, then ``pl_sweeps``."""
        if self._file is None:
            raise RunFileError(self.path, "is closed; cannot update its cube")
        cube = self.accumulator.cube("pl")
        cube.flags.writeable = False
        self._cube = (self.accumulator.n_sweeps, cube)
        _write_all(self._pl, cube)
        if self._ref is not None:
            _write_all(self._ref, self.accumulator.cube("reference"))
        self._file.flush()
        attr = h5py.h5a.open(self._file.id, b"pl_sweeps")
        attr.write(np.array(self.n_records, dtype=np.int64))
        self._file.flush()

    def accumulated(self, which: str = "pl") -> NDArray[np.float32]:
        """The current accumulated cube (rows, columns, points) from memory, read-only (for
        live maps; no file read)."""
        cached = getattr(self, "_cube", None)
        if which == "pl" and cached is not None and cached[0] == self.accumulator.n_sweeps:
            return cached[1]
        return self.accumulator.cube(which)


def applied_shift(drift: tuple[float, float], method: str = "integer") -> tuple[float, float]:
    """The shift :class:`CubeAccumulator` applies for a registered ``drift`` (dy, dx):
    rounded to whole pixels by the ``"integer"`` method, as it is by the others."""
    dy, dx = float(drift[0]), float(drift[1])
    if not (math.isfinite(dy) and math.isfinite(dx)):
        return 0.0, 0.0
    if method == "integer":
        return float(round(dy)), float(round(dx))
    return dy, dx


def sweep_norm(sweep: SweepFrames, electrons_per_adu: float,
               offset: float) -> NDArray[np.float64]:
    """Per-point intensity normalisation of a sweep from its reference frames (1 without):
    the sweep's mean reference level over each point's (a missing reference takes its
    neighbours' level, in point order)."""
    if sweep.reference is None or sweep.reference_valid is None \
            or not sweep.reference_valid.any():
        return np.ones(sweep.n_points)
    levels = np.full(sweep.n_points, np.nan)
    ok = sweep.reference_valid
    levels[ok] = sweep.reference[ok].mean(axis=(1, 2), dtype=np.float64)
    levels = (levels - float(offset)) * float(electrons_per_adu)
    idx = np.arange(levels.size)
    good = np.isfinite(levels) & (levels > 0)
    if not good.any():
        return np.ones(sweep.n_points)
    levels = np.interp(idx, idx[good], levels[good])
    return levels.mean() / levels


def sweep_record(sweep: SweepFrames, *, drift: tuple[float, float],
                 shift: tuple[float, float], drift_confidence: float, time: float,
                 electrons_per_adu: float, offset: float) -> dict[str, Any]:
    """The record of one sweep in a widefield run (:func:`widefield_schema`), by variable.

    Parameters
    ----------
    sweep
        The sweep: its valid, unmarked points are the ones in ``pl``.
    drift
        Its registered drift (dy, dx), pixels (NaN: not registered).
    shift
        The shift undone in ``pl`` (:func:`applied_shift` of the drift, or of an earlier
        sweep's when this one could not be registered).
    drift_confidence
        The registration's confidence.
    time
        Sweep end since the run start, s.
    electrons_per_adu, offset
        The camera's conversion (for the normalisation).
    """
    values: dict[str, Any] = {
        "time": float(time),
        "frames": sweep.signal,
        "point_valid": sweep.valid,
        "frame_number": sweep.frame_number,
        "frame_time": sweep.timestamp,
        "norm": sweep_norm(sweep, electrons_per_adu, offset),
        "drift_y": float(drift[0]),
        "drift_x": float(drift[1]),
        "shift_y": float(shift[0]),
        "shift_x": float(shift[1]),
        "drift_confidence": float(drift_confidence),
    }
    if sweep.reference is not None:
        values |= {"ref_frames": sweep.reference, "ref_valid": sweep.reference_valid,
                   "ref_frame_number": sweep.reference_frame_number}
    return values


def _overlap(n: int, s: int) -> tuple[slice, slice]:
    """(source, destination) of ``out[i] = data[i + s]`` within 0..n."""
    if s >= 0:
        return slice(min(s, n), n), slice(0, max(n - s, 0))
    return slice(0, max(n + s, 0)), slice(min(-s, n), n)


def _write_all(dsid: h5py.h5d.DatasetID, data: NDArray[np.float32]) -> None:
    data = np.ascontiguousarray(data, dtype=np.float32)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


# --- reading -------------------------------------------------------------------------------


def open_widefield_run(path: str | os.PathLike[str], *, sweeps: bool = False) -> xr.Dataset:
    """Open a widefield run as a cube Dataset, also while it is written or after a crash.

    Returns ``pl (y, x, frequency)`` (and ``reference``) up to date with every complete sweep
    (rebuilt from the records when the file's ``pl`` is behind: a crash during its update),
    the per-sweep bookkeeping (``point_valid``, ``frame_number``, ``drift_y`` ...) and the
    run's attributes; the raw ``frames``/``ref_frames`` only with ``sweeps=True`` (they are
    large).
    The result is loaded in memory and fits with :func:`nvsense.analysis.fit_cube`, or is
    written as a plain cube with :func:`nvsense.analysis.write_cube`.

    Raises
    ------
    RunFileError
        Missing, damaged, or not a widefield run.
    """
    path = Path(path)
    if not path.exists():
        raise RunFileError(path, "no such widefield run file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        if not is_open_for_write_error(exc):
            raise RunFileError(path, f"cannot be read ({exc})") from None
        f = open_swmr_reader(path)
    with f:
        attrs = {k: _decode(v) for k, v in f.attrs.items() if not k.startswith("_")}
        if attrs.get("kind") != KIND or "pl" not in f:
            raise RunFileError(path, f"is not a widefield run (kind {attrs.get('kind')!r}); "
                                     "open it with nvsense.open_run")
        n = int(f["sweep"].shape[0])
        stored = int(np.asarray(f.attrs["pl_sweeps"]).reshape(-1)[0])
        reference = "reference" in f
        coords = {name: (name, f[name][()], _var_attrs(f[name]))
                  for name in ("y", "x", "frequency")}
        coords["sweep"] = ("sweep", f["sweep"][:n], _var_attrs(f["sweep"]))
        coords["time"] = ("sweep", f["time"][:n], _var_attrs(f["time"]))
        data: dict[str, Any] = {}
        if stored == n:
            data["pl"] = (("y", "x", "frequency"), f["pl"][()], _var_attrs(f["pl"]))
            if reference:
                data["reference"] = (("y", "x", "frequency"), f["reference"][()],
                                     _var_attrs(f["reference"]))
        else:
            acc = _rebuild(f, n, attrs, reference)
            data["pl"] = (("y", "x", "frequency"), acc.cube("pl"), _var_attrs(f["pl"]))
            if reference:
                data["reference"] = (("y", "x", "frequency"), acc.cube("reference"),
                                     _var_attrs(f["reference"]))
        big = {"frames", "ref_frames"}
        for name, obj in f.items():
            if not isinstance(obj, h5py.Dataset) or name in data or name in coords:
                continue
            if name in big and not sweeps:
                continue
            if obj.maxshape and obj.maxshape[0] is None:
                dims = ("sweep", "frequency", "y", "x") if name in big else \
                    ("sweep", "frequency") if obj.ndim == 2 else ("sweep",)
                values = obj[:n]
                var_attrs = _var_attrs(obj)
                if var_attrs.pop("dtype", None) == "bool":
                    values = values.astype(bool)
                data[name] = (dims, values, var_attrs)
    attrs["pl_sweeps"] = n
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds.encoding["source"] = str(path)
    return ds


#: Attributes of the netCDF-4 / HDF5 dimension-scale machinery, not metadata.
_INTERNAL = {"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "_Netcdf4Dimid",
             "_Netcdf4Coordinates", "_nc3_strict", "_NCProperties", "_FillValue"}


def _decode(value: Any) -> Any:
    """An attribute as xarray gives it: text as ``str``, one-element arrays as scalars."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace").rstrip("\x00")
    return value


def _var_attrs(obj: h5py.Dataset) -> dict[str, Any]:
    return {k: _decode(v) for k, v in obj.attrs.items() if k not in _INTERNAL}


def _rebuild(f: h5py.File, n: int, attrs: Mapping[str, Any], reference: bool) -> CubeAccumulator:
    """``pl`` from the first ``n`` records, sweep by sweep (bounded memory)."""
    ny, nx, nf = f["pl"].shape
    acc = CubeAccumulator((ny, nx), nf, electrons_per_adu=float(attrs["electrons_per_adu"]),
                          offset=float(attrs["offset_adu"]), reference=reference,
                          shift_method=str(attrs.get("shift_method", "integer")))
    for i in range(n):
        acc.add(f["frames"][i], f["point_valid"][i].astype(bool), norm=f["norm"][i],
                shift=(float(f["shift_y"][i]), float(f["shift_x"][i])),
                reference=f["ref_frames"][i] if reference else None,
                reference_valid=f["ref_valid"][i].astype(bool) if reference else None)
    return acc
