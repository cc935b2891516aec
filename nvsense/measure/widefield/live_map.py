"""The live map of a widefield run: a processor in the measurement thread.

After each sweep the accumulated cube is binned and fitted (:class:`~nvsense.analysis.
widefield_live.LiveMapper`: ``fit_batch``, the same procedure as the offline fit) and the map
is published as a :class:`~nvsense.measure.documents.WidefieldMap` document: the field with
its error, the success mask, and each map pixel's spectrum with its fitted curve, so that a
display draws the spectrum under its cursor without evaluating a model.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..documents import WidefieldMap
from .settings import LIVE_MAP_PIXELS

__all__ = ["BackgroundLiveMap", "LiveMapProcessor", "fitted_curves", "live_binning"]

log = logging.getLogger(__name__)


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

    def update(self, run_id: str, index: int, n_sweeps: int,
               pl: NDArray[np.float32]) -> WidefieldMap:
        """The map of the accumulated cube ``pl`` (rows, columns, points) after sweep
        ``index``; a cube that cannot be fitted yet (no lines in its image average) gives a
        map document without a map, its ``message`` saying why."""
        try:
            live = self.mapper.update(pl, n_sweeps=n_sweeps)
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
        self._job: tuple[str, int, int, NDArray[np.float32]] | None = None
        self._done: list[WidefieldMap] = []
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="nvsense-live-map", daemon=True)
        self._thread.start()

    @property
    def last(self) -> WidefieldMap | None:
        return self.processor.last

    def submit(self, run_id: str, index: int, n_sweeps: int, pl: NDArray[np.float32]) -> None:
        """Fit ``pl`` (not modified afterwards: the writer makes a new cube each sweep) when
        the thread is free, replacing a cube still waiting."""
        with self._lock:
            self._job = (run_id, index, n_sweeps, pl)
            self._lock.notify_all()

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
            try:
                doc = self.processor.update(*job)
            finally:
                with self._lock:
                    self._busy = False
                    if not self._closed:
                        self._done.append(doc)
                    self._lock.notify_all()
