"""The tracking magnetometer as a measurement kind: its check, its variables and its loop.

The run lifecycle (:mod:`nvsense.measure.lifecycle`) checks the settings, connects the bench,
leaves it safe (RF off, laser off or standby) whatever happens and closes the run file with its
status.  The kind learns its layout only from its calibration, so it opens the run itself
(``open_at_start = False``):

1. an initial sweep finds the lines and assigns them to NV axes
   (:func:`~nvsense.measure.tracking.calibration.select_lines`);
2. fine sweeps over the lines to lock measure width, contrast and count rate at the tracking
   MW power; from their fit come the dither depth δ (steepest slope), the discriminator slope
   and the lock thresholds (:func:`~nvsense.measure.tracking.calibration.calibrate_line`);
   steps 1 and 2 are :class:`~nvsense.measure.tracking.lock_setup.LockSetup`;
3. the run is opened with that calibration in its attributes, and the lock runs: square-wave
   dithering f0 ± δ of every locked line within each sample
   (:mod:`~nvsense.measure.tracking.dither`), a PI loop on the error signal
   (:mod:`~nvsense.measure.tracking.loop`), the field from the locked frequencies with the
   exact Hamiltonian (:mod:`~nvsense.measure.tracking.field`);
4. every block of samples (~20 per second of bench time) is published as a
   :class:`~nvsense.measure.documents.TrackingBlock` document, which the run-file writer
   stores (flushed) before any other subscriber sees it;
5. a loss of lock ends the run (aborted, with the reason) or, with ``reacquire``, triggers a
   new sweep and a fresh lock.

A calibration that fails still leaves a run file: the initial sweep, with the reason.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...instruments.errors import CapabilityError, LimitError
from ..documents import RunStarted, TrackingBlock
from ..lifecycle import Conclusion, Measurement, Run, RunAborted, RunOutcome
from ..preflight import CALIBRATION_POINTS, check_track_plan
from ..settings import FrequencyRange, SettingsError
from .budget import quality_sigma
from .calibration import (
    CalibrationError,
    LineSelection,
    reference_frequency,
)
from .dither import make_dither
from .field import LockedLineModel
from .file import file_attributes, track_schema
from .lock_setup import HF_SPAN, LockSetup
from .loop import LockLoop
from .noise import summarise_noise
from .result import RESULT_UNITS, TrackCalibration, TrackResult, results_record
from .settings import PARAMETER_UNITS, TrackSettings

__all__ = ["BLOCKS_PER_SECOND", "CALIBRATION_POINTS", "MEMORY_SAMPLES", "TrackMeasurement",
           "calibration_record", "check_track"]

log = logging.getLogger(__name__)

#: Blocks of samples per second of bench time (documents and file flushes).
BLOCKS_PER_SECOND = 20
#: Samples kept in memory for the result's summary (the file has them all): 5.8 h at 100 Hz.
MEMORY_SAMPLES = 2 ** 21
_BRANCH = ("lower", "upper")


def check_track(bench: Any, settings: TrackSettings) -> FrequencyRange:
    """Check every planned setting of a tracking run against the instruments' and the
    bench's limits, sending nothing (:meth:`TrackMeasurement.check`).  Returns the initial
    sweep.

    Raises
    ------
    LimitError, SettingsError
    """
    measurement = TrackMeasurement(settings)
    measurement.check(bench)
    assert measurement.survey_range is not None
    return measurement.survey_range


def calibration_record(started: RunStarted) -> dict[str, Any]:
    """The calibration a tracking run locked with, from its start document (the run file's
    ``calibration`` attribute: :meth:`TrackCalibration.record`, or the initial sweep and the
    error of a failed calibration); empty when the document has none."""
    text = started.attrs.get("calibration")
    if not text:
        return {}
    try:
        value = json.loads(text) if isinstance(text, str) else dict(text)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


class _LockLost(Exception):
    """Raised inside the tracking loop when the lock is lost and not re-acquired."""


class TrackMeasurement(Measurement):
    """The tracking magnetometer: calibrate, lock, report B(t) at a steady rate.

    Parameters
    ----------
    settings
        Validated :class:`~nvsense.measure.tracking.TrackSettings`.
    """

    kind = "track"
    parameter_units = PARAMETER_UNITS
    open_at_start = False  # the layout needs the calibration's lines

    def __init__(self, settings: TrackSettings) -> None:
        super().__init__(settings)
        self.survey_range: FrequencyRange | None = None
        self.mode: str | None = None
        self.run: Run | None = None
        self.bench: Any = None
        self.counts_kind = True
        self.calibration: TrackCalibration | None = None
        self.selection: LineSelection | None = None
        self.model: LockedLineModel | None = None
        self.setup: LockSetup | None = None
        self.time_origin = float("nan")
        self.n_samples = 0
        self.memory: list[dict[str, NDArray[Any]]] = []
        self.memory_size = 0
        self.lock_losses: list[dict[str, Any]] = []
        self.dither: Any = None
        self.noise: dict[str, Any] = {}
        self.labels = [f"axis {a} {_BRANCH[b]}" for a, b in settings.locked_lines]

    # -- the kind -------------------------------------------------------------------------

    def check(self, bench: Any) -> None:
        """The initial sweep's frequencies, the powers, the sweep mode against the bench's
        capabilities, and every acquisition and frequency list of the sweeps and of the
        lock's dither (:func:`nvsense.measure.preflight.check_track_plan`).

        Raises
        ------
        LimitError, SettingsError
        """
        s = self.settings
        limits = getattr(getattr(bench, "limits", None), "frequency", None)
        survey = s.sweep_range(limits)
        bench.check_settings(frequencies=survey.frequencies(), mw_power=s.mw_power,
                             laser_power=s.laser_power)
        try:
            self.mode = bench.sweep_mode(s.mode)
        except CapabilityError as exc:
            raise SettingsError(str(exc)) from None
        check_track_plan(bench, s, survey, self.mode)
        self.survey_range = survey

    def variables(self, bench: Any) -> Any:
        """The run file's layout for the locked lines (:func:`.file.track_schema`)."""
        return track_schema(self.settings, self.labels, self._counts(bench))

    def parameters(self) -> dict[str, Any]:
        return {**self.settings.as_record(), "sweep_mode": self.mode}

    def attrs(self, bench: Any) -> dict[str, Any]:
        return file_attributes(self.settings, self.calibration, self.survey_record, None,
                               self._counts(bench))

    @staticmethod
    def _counts(bench: Any) -> bool:
        return getattr(bench.counter, "kind", "counts") == "counts"

    def loop(self, run: Run) -> None:
        s, bench = self.settings, run.bench
        self.run, self.bench = run, bench
        self.counts_kind = self._counts(bench)
        if self.survey_range is None or self.mode is None:  # a loop run without execute's check
            self.check(bench)
        try:
            if s.laser_power is not None:
                bench.laser.power = s.laser_power
            bench.laser.on = True
            assert self.survey_range is not None and self.mode is not None
            self.setup = LockSetup(bench, s, self.mode, self.survey_range, self.labels,
                                   run.check_stop)
            self.calibration, self.selection, self.model = self.setup.calibrate()
            run.open()
            self._track()
        except (CalibrationError, _LockLost) as exc:
            raise RunAborted(str(exc)) from None
        except LimitError as exc:  # a centre drifted out of the limits: keep what we have
            raise RunAborted(f"limit reached while tracking: {exc}") from None

    def stop(self, run: Run) -> None:
        if self.dither is not None:
            self.dither.finish()

    def conclude(self, run: Run, status: str, reason: str | None) -> Conclusion:
        if not run.opened and self.survey_record:
            # the calibration failed: keep the sweep that was measured, with the reason
            try:
                run.open(attrs=file_attributes(self.settings, None, self.survey_record, reason,
                                               self.counts_kind))
            except Exception as exc:
                log.error("could not write the run file of the failed calibration: %s", exc)
        s = self.settings
        arrays = _concatenate(self.memory, s.field_kind)
        self.noise = summarise_noise(arrays["time"], arrays["field"], arrays["D"],
                                     arrays["locked"], s.rate,
                                     self.calibration.shot_noise_limit
                                     if self.calibration else None)
        results = results_record(self.noise, self.calibration, self.n_samples,
                                 self.lock_losses, s)
        return Conclusion(results=results, result_units=dict(RESULT_UNITS))

    def result(self, outcome: RunOutcome) -> TrackResult:
        """The :class:`TrackResult` of the run that ended with ``outcome``."""
        arrays = _concatenate(self.memory, self.settings.field_kind)
        error = outcome.error if isinstance(outcome.error, Exception) else None
        return TrackResult(
            run_id=outcome.run_id, file=outcome.file, status=outcome.status,
            reason=outcome.reason, settings=self.settings, error=error,
            samples=self.n_samples, time=arrays["time"], field=arrays["field"], D=arrays["D"],
            locked=arrays["locked"], calibration=self.calibration, noise=self.noise,
            lock_losses=list(self.lock_losses), time_origin=self.time_origin,
            safe_report=list(outcome.safe_report))

    @property
    def survey_record(self) -> dict[str, Any]:
        """The latest initial sweep (:attr:`LockSetup.survey_record`), or empty."""
        return self.setup.survey_record if self.setup is not None else {}

    # -- the run, as the loop sees it ------------------------------------------------------

    @property
    def _stop_requested(self) -> bool:
        return self.run is not None and self.run.stop_requested

    def _clock(self) -> float:
        assert self.run is not None
        return self.run.clock()

    # -- tracking -----------------------------------------------------------------------------

    def _track(self) -> None:
        s, cal = self.settings, self.calibration
        assert cal is not None and self.model is not None
        self.dither = make_dither(self.bench.mw, self.bench.counter, len(cal.lines),
                                  s.dither_periods, s.rate, s.mw_power, self.mode or s.mode)
        deltas = np.array([c.delta for c in cal.lines])
        loop = self._lock_loop(cal)
        reference = cal.reference_frequency
        self.dither.prepare()
        self.bench.mw.output = True
        block_size = max(1, round(s.rate / BLOCKS_PER_SECOND))
        half_sample = 0.5 / s.rate
        t0 = self._clock()
        self.time_origin = t0
        state = "locked"
        while True:
            rows = []
            lost = None
            for _ in range(block_size):
                plus, minus, ref = self.dither.acquire(loop.centers, deltas, reference)
                t = self._clock() - t0 - half_sample
                out = loop.update(plus, minus, ref, self.dither.bin_time, self.dither.periods)
                rows.append((t, out, plus, minus, ref))
                if out.lost is not None:
                    lost = out.lost
                    break
                if s.duration is not None and t + half_sample >= s.duration - 1e-9:
                    break
            done = s.duration is not None and rows[-1][0] + half_sample >= s.duration - 1e-9
            self._record(rows, state if lost is None else "lost", lost)
            state = "locked"
            if self._stop_requested or done:
                return
            if lost is not None:
                t_lost = rows[-1][0]
                if not s.reacquire:
                    self.lock_losses.append({"time": t_lost, "reason": lost,
                                             "reacquired": False})
                    raise _LockLost(f"lock lost at t = {t_lost:.3f} s: {lost} (set reacquire "
                                    "to sweep and lock again)")
                reference = self._reacquire(loop, t_lost, lost)
                if reference is None:  # stopped while re-acquiring
                    return
                self.dither.prepare()
                self.bench.mw.output = True
                state = "reacquired"

    def _lock_loop(self, cal: TrackCalibration) -> LockLoop:
        """The lock loop with its detector windows and noise levels."""
        s = self.settings
        bins = 2 * len(cal.lines) * s.dither_periods + 1
        ref_window = cal.reference_window
        if not self.counts_kind:
            level = self._reference_volts() * (1 - max(c.lock_depth for c in cal.lines))
            return LockLoop(cal.lines, ki=s.ki, kp=s.kp, window=cal.loss_window,
                            reference_window=ref_window, counts=False, locked_level=level)
        bin_time = 1.0 / (s.rate * bins)
        own = np.array([quality_sigma(c, s.dither_periods, bin_time, 1, math.inf)
                        for c in cal.lines])
        per_reference = np.array([quality_sigma(c, s.dither_periods, bin_time, math.inf, 1)
                                  for c in cal.lines])
        level = float(np.min([c.count_rate * (1 - c.lock_depth) for c in cal.lines]))
        return LockLoop(cal.lines, ki=s.ki, kp=s.kp, window=cal.loss_window,
                        reference_window=ref_window, locked_level=level,
                        quality_noise=(own, per_reference))

    def _reference_volts(self) -> float:
        """Off-resonance photodiode level of the calibration (V)."""
        baseline = self.survey_record.get("signal")
        return float(np.max(baseline)) if baseline else 0.0

    def _reacquire(self, loop: LockLoop, t_lost: float, why: str) -> float | None:
        """Sweep and lock again; returns the new reference frequency (None when stopped)."""
        s = self.settings
        assert self.dither is not None and self.calibration is not None
        assert self.setup is not None
        self.dither.finish()
        failures = []
        # the field of the last lock keeps the axes' assignment (8 lines) where it was
        guess = None
        if self.model is not None and self.selection is not None \
                and self.selection.assignment is not None:
            guess = self.model.operating_field
        for attempt in range(1, s.reacquire_attempts + 1):
            if self._stop_requested:
                return None
            try:
                fit, selection = self.setup.survey(guess)
            except CalibrationError as exc:
                failures.append(str(exc))
                log.warning("re-acquisition sweep %d failed: %s", attempt, exc)
                continue
            centers = []
            for a, b in s.locked_lines:
                centers.append(float(fit.centers[selection.indices[s.axes.index(a)][b]]))
            centers_arr = np.array(centers)
            self.selection = selection
            self.model = self.setup.line_model(selection, centers_arr)
            loop.reset(centers_arr)
            self.lock_losses.append({"time": t_lost, "reason": why, "reacquired": True,
                                     "attempts": attempt})
            log.info("lock re-acquired after %d sweep(s): %s", attempt, why)
            return reference_frequency(fit.centers, fit.widths, span=HF_SPAN[s.model],
                                       allowed=self.setup.allowed)
        self.lock_losses.append({"time": t_lost, "reason": why, "reacquired": False})
        raise _LockLost(f"lock lost at t = {t_lost:.3f} s: {why}; {s.reacquire_attempts} "
                        f"re-acquisition sweep(s) failed: {failures[-1]}")

    def _record(self, rows: list[tuple[Any, ...]], state: str, lost: str | None) -> None:
        """Publish a block of samples: the run-file writer stores it (flushed) before any
        other subscriber sees it."""
        assert self.run is not None and self.model is not None
        s = self.settings
        t = np.array([r[0] for r in rows])
        outs = [r[1] for r in rows]
        freq = np.array([o.frequency for o in outs])
        params = self.model.solve(freq)
        b = self.model.field(params)
        d = self.model.D(params)
        locked = np.array([o.locked for o in outs])
        error = np.array([o.error for o in outs])
        values: dict[str, Any] = {
            "time": t, "D": d, "frequency_locked": freq, "error_signal": error,
            "locked": locked, "dither_center": np.array([o.center for o in outs]),
            "counts": np.stack([np.column_stack([r[2], r[3]]) for r in rows]),
            "counts_reference": np.array([r[4] for r in rows]),
            "lock_quality": np.array([o.quality for o in outs]),
        }
        values["field_parallel" if s.field_kind == "parallel" else "field"] = b
        info = {
            "state": state, "lost": lost, "samples": self.n_samples + t.size,
            "samples_planned": s.n_samples, "elapsed": float(t[-1]),
            "duration": s.duration, "field_kind": s.field_kind, "lines": list(self.labels),
            "dither_center": values["dither_center"], "lock_quality": values["lock_quality"],
            "lock_losses": len(self.lock_losses) + (1 if lost else 0),
        }
        self.run.publish(TrackingBlock(run_id=self.run.run_id or "", time=t, field=b,
                                       frequencies=freq, error_signal=error, locked=locked,
                                       D=d if self.model.fits_D else None, info=info,
                                       values=values))
        self.n_samples += t.size  # on disk: the writer stored the block first
        self._remember(t, b, d, locked)

    def _remember(self, t: NDArray[np.float64], b: NDArray[np.float64],
                  d: NDArray[np.float64], locked: NDArray[np.bool_]) -> None:
        self.memory.append({"time": t, "field": b, "D": d, "locked": locked})
        self.memory_size += t.size
        while self.memory_size - self.memory[0]["time"].size >= MEMORY_SAMPLES:
            self.memory_size -= self.memory.pop(0)["time"].size


def _concatenate(memory: list[dict[str, NDArray[Any]]], kind: str) -> dict[str, NDArray[Any]]:
    if not memory:
        shape = (0, 3) if kind == "vector" else (0,)
        return {"time": np.zeros(0), "field": np.zeros(shape), "D": np.zeros(0),
                "locked": np.zeros(0, bool)}
    return {key: np.concatenate([m[key] for m in memory]) for key in memory[0]}
