"""The live map of a widefield run: a processor in the measurement thread.

After each sweep the accumulated cube is binned and fitted (:class:`~nvsense.analysis.
widefield_live.LiveMapper`: ``fit_batch``, the same procedure as the offline fit) and the map
is published as a :class:`~nvsense.measure.documents.WidefieldMap` document: the field with
its error, the success mask, and each map pixel's spectrum with its fitted curve, so that a
display draws the spectrum under its cursor without evaluating a model.  During a sweep,
every :data:`LIVE_MAP_PERIOD`, the map is refreshed with the sweep's frames so far
(:meth:`LiveMapProcessor.refresh`: the binned cube of the sweeps before plus this sweep's
measured points, ``partial_points`` of them), so that a slow sweep's map keeps moving.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..documents import WidefieldMap
from .settings import LIVE_MAP_PIXELS

__all__ = ["LIVE_MAP_PERIOD", "BackgroundLiveMap", "LiveMapProcessor", "PartialSweep",
           "fitted_curves", "live_binning"]

log = logging.getLogger(__name__)

#: While a sweep is under way, a live map including its frames so far is made when this long
#: has passed since the last map (and the map's thread is free), s: a slow sweep's map keeps
#: moving.
LIVE_MAP_PERIOD = 0.5


@dataclass(frozen=True)
class PartialSweep:
    """The sweep under way, as far as it is measured, for a refreshed live map.

    Attributes
    ----------
    index
        The run's sweep number (from 0): the sweeps before it are in the accumulated cube.
    sweep
        Its frames (:class:`~nvsense.instruments.frame_sync.SweepFrames`) with the point masks
        copied when taken (:meth:`take`): the frames of the points valid then do not change.
    shift
        The whole-pixel (rows, columns) shift the cube applies to it (the last registered).
    electrons_per_adu, offset
        The camera's conversion.
    """

    index: int
    sweep: Any
    shift: tuple[float, float]
    electrons_per_adu: float
    offset: float

    @classmethod
    def take(cls, index: int, sweep: Any, shift: tuple[float, float],
             electrons_per_adu: float, offset: float) -> PartialSweep:
        """Snapshot of ``sweep`` (the masks copied, the frames shared: the reader only ever
        fills points not valid yet), cheap enough for the thread that reads the camera."""
        copy = {"signal_valid": sweep.signal_valid.copy(), "marked": sweep.marked.copy()}
        if sweep.reference_valid is not None:
            copy["reference_valid"] = sweep.reference_valid.copy()
        return cls(index, dataclasses.replace(sweep, **copy), shift, electrons_per_adu,
                   offset)

    @property
    def points(self) -> NDArray[np.int64]:
        """The points measured (valid) so far."""
        return np.flatnonzero(self.sweep.valid)


def live_binning(frame_shape: tuple[int, int], pixels: int = LIVE_MAP_PIXELS) -> int:
    """The smallest binning that leaves a map of ``frame_shape`` at most ``pixels`` pixels."""
    ny, nx = frame_shape
    b = max(1, math.ceil(math.sqrt(ny * nx / pixels)))
    while (ny // b) * (nx // b) > pixels:
        b += 1
    return b


def fitted_curves(result: Any, frequency: NDArray[np.float64]) -> NDArray[np.float32]:
    """The fitted model of every pixel of a :func:`~nvsense.analysis.fit_cube` result on
    ``frequency``: (rows, columns, frequency), NaN where the fit failed.

    Evaluates the same lines as :meth:`~nvsense.analysis.widefield_live.LiveMap.spectrum`
    (baseline times one minus the sum of the dips), for every pixel at once.
    """
    from ...fitting.models import gaussian, lorentzian
    from ...physics import hyperfine_offsets

    model = str(result.attrs.get("model", "lorentzian"))
    shape = gaussian if model == "gaussian" else lorentzian
    offsets = np.asarray(hyperfine_offsets({"14n": "14N", "15n": "15N"}.get(model)), float)
    centers = result["center"].values[..., None, :, None]      # (y, x, 1, line, 1)
    widths = result["width"].values[..., None, :, None]
    contrasts = result["contrast"].values[..., None, :, None]
    f = np.asarray(frequency, float)[:, None, None]              # (f, 1, 1)
    depth = (contrasts * shape((f - centers - offsets) / widths)).sum(axis=(-2, -1))
    curves = result["baseline"].values[..., None] * (1.0 - depth)
    curves[~result["success"].values.astype(bool)] = np.nan
    return curves.astype(np.float32)


class LiveMapProcessor:
    """Fits the accumulated cube after each sweep and makes the map document.

    Parameters
    ----------
    frequency
        The sweep, Hz.
    binning
        Camera pixels per map pixel along each axis.
    model, n_lines
        The fit (an even number of lines: the map shows the outermost pair's |B∥|).
    pixel_size
        Frame pixel pitch, m.
    """

    def __init__(self, frequency: NDArray[np.float64], *, binning: int, model: str,
                 n_lines: int, pixel_size: float | None = None) -> None:
        from ...analysis.widefield_live import LiveMapper

        self.frequency = np.asarray(frequency, float)
        self.binning = int(binning)
        self.mapper = LiveMapper(self.frequency, binning=self.binning, model=model,
                                 n_lines=n_lines, pixel_size=pixel_size)
        self.last: WidefieldMap | None = None
        #: (index of the last sweep in it, binned accumulated spectra) of the last
        #: :meth:`update`: what a refresh during the next sweep adds its frames to.
        self.base: tuple[int, NDArray[np.float64]] | None = None

    def can_refresh(self, index: int) -> bool:
        """Whether a refresh during sweep ``index`` has the cube of every sweep before it."""
        base = self.base
        return index == 0 or (base is not None and base[0] == index - 1)

    def partial_spectra(self, part: PartialSweep) -> NDArray[np.float64] | None:
        """Binned spectra (rows, columns, points) averaging the accumulated sweeps and the
        measured points of the sweep under way, scaled as the cube is (sums over
        ``index + 1`` sweeps): (accumulated + this sweep's frame) where this sweep has the
        point, accumulated × (n + 1)/n elsewhere, NaN there in the first sweep; ``None`` if
        the accumulated cube of the sweeps before is not at hand."""
        from ...storage.cube_writer import _overlap, sweep_norm

        n = part.index
        base = self.base
        if not self.can_refresh(n):
            return None
        sweep = part.sweep
        points = part.points
        _, ny, nx = sweep.signal.shape
        b = self.binning
        nby, nbx = ny // b, nx // b
        if n:
            assert base is not None
            out = base[1] * ((n + 1) / n)
        else:
            out = np.full((nby, nbx, self.frequency.size), np.nan)
        if points.size == 0:
            return out
        # electrons as the cube adds them: gain, offset, the reference normalisation (the
        # references not measured yet take their neighbours' level, as a missing one does),
        # the whole-pixel shift (zero outside the overlap)
        norm = sweep_norm(sweep, part.electrons_per_adu, part.offset)[points]
        dy, dx = round(float(part.shift[0])), round(float(part.shift[1]))
        (src_y, dst_y), (src_x, dst_x) = _overlap(ny, dy), _overlap(nx, dx)
        electrons = np.zeros((points.size, ny, nx), np.float32)
        frames = sweep.signal[points][:, src_y, src_x]
        electrons[:, dst_y, dst_x] = (frames - np.float32(part.offset)) \
            * (np.float32(part.electrons_per_adu) * norm.astype(np.float32))[:, None, None]
        inside = np.zeros((ny, nx), bool)
        inside[dst_y, dst_x] = True
        binned = electrons[:, :nby * b, :nbx * b].reshape(points.size, nby, b, nbx, b).sum(
            axis=(2, 4), dtype=np.float64).transpose(1, 2, 0)
        # a map pixel partly outside this sweep's shifted frame keeps the other sweeps only
        whole = inside[:nby * b, :nbx * b].reshape(nby, b, nbx, b).all(axis=(1, 3))
        added = binned if not n else out[..., points] * (n / (n + 1)) + binned
        out[..., points] = np.where(whole[..., None], added, out[..., points])
        return out

    def refresh(self, run_id: str, part: PartialSweep) -> WidefieldMap | None:
        """The live map during sweep ``part.index``: the accumulated cube and the sweep's
        frames so far (:meth:`partial_spectra`), ``partial_points`` saying how many;
        ``None`` if the cube of the sweeps before is not at hand.  While the first sweep is
        under way no spectrum is complete: the map has the spectra and no fit."""
        spectra = self.partial_spectra(part)
        if spectra is None:
            return None
        index, n_points = part.index, int(part.points.size)
        common = {"run_id": run_id, "index": index, "n_sweeps": index + 1,
                  "binning": self.binning, "frequencies": self.frequency,
                  "partial_points": n_points}
        if not np.isfinite(spectra).all(axis=-1).any():  # nothing to fit yet
            nan = np.full(spectra.shape[:2], np.nan)
            return WidefieldMap(
                **common, field_parallel=nan, field_parallel_error=nan.copy(),
                success=np.zeros(spectra.shape[:2], bool), spectra=spectra.astype(np.float32),
                curves=np.full(spectra.shape, np.nan, np.float32))
        try:
            live = self.mapper.fit_spectra(spectra, n_sweeps=index + 1)
            curves = fitted_curves(live.result, self.frequency)
        except Exception as exc:  # a live map must never cost the run
            log.info("no live map during sweep %d: %s", index + 1, exc)
            return None
        return WidefieldMap(
            **common, field_parallel=np.asarray(live.field, float),
            field_parallel_error=np.asarray(live.field_error, float),
            success=live.success, spectra=live.spectra.astype(np.float32), curves=curves,
            fit_seconds=live.fit_seconds)

    def update(self, run_id: str, index: int, n_sweeps: int,
               pl: NDArray[np.float32]) -> WidefieldMap:
        """The map of the accumulated cube ``pl`` (rows, columns, points) after sweep
        ``index``; a cube that cannot be fitted yet (no lines in its image average) gives a
        map document without a map, its ``message`` saying why."""
        try:
            spectra = self.mapper.bin(pl)
            self.base = (index, spectra)
            live = self.mapper.fit_spectra(spectra, n_sweeps=n_sweeps)
            curves = fitted_curves(live.result, self.frequency)
        except Exception as exc:  # a live map must never cost the run
            log.info("no live map after sweep %d: %s", index + 1, exc)
            empty = np.zeros((0, 0))
            doc = WidefieldMap(
                run_id=run_id, index=index, n_sweeps=n_sweeps, binning=self.binning,
                frequencies=self.frequency, field_parallel=empty, field_parallel_error=empty,
                success=np.zeros((0, 0), bool), spectra=np.zeros((0, 0, 0), np.float32),
                curves=np.zeros((0, 0, 0), np.float32), message=f"no live map yet: {exc}")
            return doc
        field = getattr(live, "field_parallel", None)
        error = getattr(live, "field_parallel_error", None)
        if field is None:  # LiveMap before the one-name-per-quantity rename
            field, error = live.field, live.field_error
        doc = WidefieldMap(
            run_id=run_id, index=index, n_sweeps=n_sweeps, binning=self.binning,
            frequencies=self.frequency, field_parallel=np.asarray(field, float),
            field_parallel_error=np.asarray(error, float), success=live.success,
            spectra=live.spectra.astype(np.float32), curves=curves,
            fit_seconds=live.fit_seconds)
        self.last = doc
        return doc


class BackgroundLiveMap:
    """A :class:`LiveMapProcessor` in a thread of its own, for runs in real time: the thread
    that records the sweeps (the sweep pipeline's) hands over each sweep's cube and goes on at
    once; the fit works on the newest cube handed over (older ones it had no time for are
    skipped), and that thread publishes each finished map at its next sweep (every document of
    the run's sweeps comes from one thread, in order).

    Parameters
    ----------
    processor
        The map maker.
    """

    def __init__(self, processor: LiveMapProcessor) -> None:
        self.processor = processor
        self._lock = threading.Condition()
        self._job: tuple[Any, ...] | None = None
        self._done: list[WidefieldMap] = []
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="nvsense-live-map", daemon=True)
        self._thread.start()

    @property
    def last(self) -> WidefieldMap | None:
        return self.processor.last

    @property
    def idle(self) -> bool:
        """No fit under way and none waiting."""
        return self._job is None and not self._busy

    def submit(self, run_id: str, index: int, n_sweeps: int, pl: NDArray[np.float32]) -> None:
        """Fit ``pl`` (not modified afterwards: the writer makes a new cube each sweep) when
        the thread is free, replacing a cube still waiting."""
        with self._lock:
            self._job = (run_id, index, n_sweeps, pl)
            self._lock.notify_all()

    def submit_refresh(self, run_id: str, part: PartialSweep) -> bool:
        """Map the sweep under way (:meth:`LiveMapProcessor.refresh`) if the thread is idle;
        whether it was taken (a busy thread skips the refresh: never a queue of them)."""
        with self._lock:
            if not self.idle or self._closed:
                return False
            self._job = (run_id, part)
            self._lock.notify_all()
            return True

    def finished(self) -> list[WidefieldMap]:
        """The maps finished since the last call, oldest first."""
        with self._lock:
            done, self._done = self._done, []
        return done

    def wait(self, timeout: float | None = None) -> list[WidefieldMap]:
        """Wait until the cube handed over last is fitted; the maps finished meanwhile."""
        with self._lock:
            self._lock.wait_for(lambda: (self._job is None and not self._busy) or self._closed,
                                timeout)
        return self.finished()

    def close(self) -> None:
        """Stop the thread (a fit under way finishes on its own)."""
        with self._lock:
            self._closed = True
            self._job = None
            self._lock.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                job, self._job = self._job, None
                self._busy = True
            assert job is not None
            doc: WidefieldMap | None = None
            try:
                doc = self.processor.update(*job) if len(job) == 4 \
                    else self.processor.refresh(*job)
            finally:
                with self._lock:
                    self._busy = False
                    if not self._closed and doc is not None:
                        self._done.append(doc)
                    self._lock.notify_all()
