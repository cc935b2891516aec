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

from ...fitting import FitInputError, NoDipFoundError
from ...instruments.errors import CapabilityError, LimitError
from ..analysis import SweepAnalysis, analyse_spectrum, count_dips
from ..documents import RunStarted, TrackingBlock
from ..lifecycle import Conclusion, Measurement, Run, RunAborted, RunOutcome
from ..preflight import CALIBRATION_POINTS, check_track_plan
from ..resonance import check_resonance
from ..settings import FrequencyRange, SettingsError
from ..sweeps import make_sweeper
from .budget import noise_budget, quality_sigma
from .calibration import (
    CalibrationError,
    LineCalibration,
    LineSelection,
    LineShape,
    calibrate_line,
    reference_frequency,
    select_lines,
)
from .dither import make_dither
from .field import LockedLine, LockedLineModel
from .file import file_attributes, track_schema
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
_HF_SPAN = {"lorentzian": 0.0, "gaussian": 0.0, "14n": 2.2e6}
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
        self.survey_record: dict[str, Any] = {}
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
            self.calibration = self._calibrate()
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

    # -- the run, as the loop sees it ------------------------------------------------------

    @property
    def _stop_requested(self) -> bool:
        return self.run is not None and self.run.stop_requested

    def _check_stop(self) -> None:
        if self.run is not None:
            self.run.check_stop()

    def _clock(self) -> float:
        assert self.run is not None
        return self.run.clock()

    # -- calibration --------------------------------------------------------------------------

    def _sweep(self, frequencies: NDArray[np.float64], dwell: float, sweeps: int
               ) -> NDArray[np.float64]:
        """Average ``sweeps`` sweeps over ``frequencies``; RF on during the sweeps."""
        s = self.settings
        sweeper = make_sweeper(self.bench.mw, self.bench.counter, frequencies, dwell,
                               s.mw_power, self.mode or s.mode)
        sweeper.prepare()
        if sweeper.mode == "stepped":
            self.bench.mw.frequency = float(frequencies[0])
        self.bench.mw.output = True
        total = np.zeros(frequencies.size)
        try:
            for _ in range(sweeps):
                total += sweeper.sweep()
                self._check_stop()  # within one sweep, as ODMR runs
        finally:
            sweeper.finish()
        return total / sweeps

    def _fit(self, frequencies: NDArray[np.float64], signal: NDArray[np.float64], sweeps: int,
             n_lines: int, guess: Any = None) -> SweepAnalysis:
        sigma: Any = None
        if self.counts_kind:
            sigma = np.sqrt(np.maximum(signal, 1.0) / sweeps)
        return analyse_spectrum(frequencies, signal, model=self.settings.model, n_lines=n_lines,
                                sigma=sigma, guess=guess)

    def _survey(self, field_guess: NDArray[np.float64] | None
                ) -> tuple[SweepAnalysis, LineSelection]:
        """Initial (or re-acquisition) sweep: fit it and find the tracked axes' lines."""
        s = self.settings
        freqs = self.survey_range.frequencies()
        signal = self._sweep(freqs, s.sweep_dwell, s.sweeps)
        self.survey_record = {"frequencies": [self.survey_range.start, self.survey_range.stop,
                                              self.survey_range.points],
                              "dwell": s.sweep_dwell, "sweeps": s.sweeps,
                              "signal": signal.tolist()}
        try:
            n = s.n_lines or count_dips(freqs, signal, s.model)
        except (NoDipFoundError, FitInputError) as exc:
            raise CalibrationError(f"the initial sweep shows no resonance line ({exc}); check "
                                   "the RF, the laser and the sweep range") from None
        fit = self._fit(freqs, signal, s.sweeps, n)
        if not fit.success:
            raise CalibrationError(f"the fit of the initial sweep failed ({fit.message}); "
                                   "average more sweeps or adjust the sweep range")
        resonance = check_resonance(freqs, signal, fit, sweeps=s.sweeps,
                                    counts=bool(self.counts_kind), dwell=s.sweep_dwell)
        if not resonance.found:  # never lock onto noise
            raise CalibrationError(f"the initial sweep: {resonance.message}")
        guess = field_guess if field_guess is not None else (
            np.asarray(s.field_guess, float) if s.field_guess else None)
        selection = select_lines(fit.centers, fit.center_errors, s.axes, field_guess=guess)
        return fit, selection

    def _calibrate(self) -> TrackCalibration:
        s = self.settings
        fit, selection = self._survey(None)
        self.selection = selection
        line_fits = []
        for a, b in s.locked_lines:
            idx = selection.indices[s.axes.index(a)][b]
            line_fits.append(self._fine_fit(fit, idx))
        lines = []
        for (a, b), label, (shape, center, width, contrast, rate) in zip(
                s.locked_lines, self.labels, line_fits, strict=True):
            lines.append(calibrate_line(shape, center, width, label=label, axis=a, branch=b,
                                        contrast=contrast, count_rate=rate,
                                        capture_range=s.capture_range))
        centers = np.array([c.center for c in lines])
        self.model = self._line_model(selection, centers)
        f_ref = reference_frequency(fit.centers, fit.widths, span=_HF_SPAN[s.model],
                                    allowed=self._allowed)
        self.bench.check_settings(frequencies=np.concatenate(
            [centers + [c.delta for c in lines], centers - [c.delta for c in lines]]))
        return self._budgeted(lines, f_ref, selection)

    def _fine_fit(self, survey: SweepAnalysis, index: int
                  ) -> tuple[LineShape, float, float, float, float]:
        """Fine sweeps over one line: its shape, centre, FWHM, contrast and count rate."""
        s = self.settings
        center, width = float(survey.centers[index]), float(survey.widths[index])
        if s.calibration_time <= 0:
            return self._line_values(survey, index, s.sweep_dwell)
        half = 4.0 * width + _HF_SPAN[s.model]
        freqs = np.linspace(center - half, center + half, CALIBRATION_POINTS)
        per_line = s.calibration_time / len(s.locked_lines)
        sweeps = max(1, round(per_line / (CALIBRATION_POINTS * s.sweep_dwell)))
        self.bench.check_settings(frequencies=freqs)
        signal = self._sweep(freqs, s.sweep_dwell, sweeps)
        inside = np.abs(survey.centers - center) <= half
        guess = {"centers": survey.centers[inside], "widths": survey.widths[inside],
                 "contrasts": survey.contrasts[inside]}
        try:
            fit = self._fit(freqs, signal, sweeps, int(np.count_nonzero(inside)), guess)
        except FitInputError as exc:
            raise CalibrationError(f"the fit of the calibration sweep at {center / 1e6:.3f} MHz "
                                   f"failed ({exc})") from None
        if not fit.success:
            raise CalibrationError(f"the fit of the calibration sweep at {center / 1e6:.3f} MHz "
                                   f"failed ({fit.message}); raise calibration_time")
        return self._line_values(fit, int(np.argmin(np.abs(fit.centers - center))),
                                 s.sweep_dwell)

    def _line_values(self, fit: SweepAnalysis, index: int, dwell: float
                     ) -> tuple[LineShape, float, float, float, float]:
        baseline = float(fit.fit.baseline)
        rate = baseline / dwell if self.counts_kind else float("nan")
        return (LineShape.from_fit(fit.fit), float(fit.centers[index]),
                float(fit.widths[index]), float(fit.contrasts[index]), rate)

    def _allowed(self, frequency: float) -> None:
        self.bench.check_settings(frequencies=frequency)

    def _line_model(self, selection: LineSelection, centers: NDArray[np.float64]
                    ) -> LockedLineModel:
        """The frequency → field model at the operating point of ``centers``."""
        s = self.settings
        lines = [LockedLine(s.axes.index(a), b) for a, b in s.locked_lines]
        model = LockedLineModel(selection.axis_vectors, lines, selection.field, selection.D,
                                vector=s.field_kind == "vector")
        # re-centre on the calibrated line centres (the fine fits are the better measurement)
        p0 = model.solve(centers[None, :])[0]
        if s.field_kind == "vector":
            field0 = p0[:3]
        else:
            n = selection.axis_vectors[0]
            field0 = selection.field + (p0[0] - selection.field @ n) * n
        d0 = float(p0[-1]) if model.fits_D else selection.D
        return LockedLineModel(selection.axis_vectors, lines, field0, d0,
                               vector=s.field_kind == "vector")

    def _budgeted(self, lines: list[LineCalibration], f_ref: float,
                  selection: LineSelection) -> TrackCalibration:
        """The calibration with its noise budget (limits, expected noise, windows)."""
        s, model = self.settings, self.model
        assert model is not None
        config = _bench_file_sample(self.bench)
        budget = noise_budget(lines, model, rate=s.rate, periods=s.dither_periods,
                              counts=self.counts_kind, sample_config=config)
        for text in budget.warnings:
            log.warning("%s", text)
        centers = [c.center for c in lines]
        return TrackCalibration(
            lines=tuple(lines), reference_frequency=f_ref, field0=model.operating_field,
            D0=model.operating_D, axis_vectors=selection.axis_vectors,
            n_lines_found=selection.n_found, shot_noise_limit=budget.limit,
            shot_noise_limit_bench=budget.bench_limit, expected_noise=budget.expected,
            loss_window=budget.loss_window, reference_window=budget.reference_window,
            sample_noise=budget.sample_noise, warnings=budget.warnings,
            survey={**self.survey_record, "line_centers": centers})

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
                fit, selection = self._survey(guess)
            except CalibrationError as exc:
                failures.append(str(exc))
                log.warning("re-acquisition sweep %d failed: %s", attempt, exc)
                continue
            centers = []
            for a, b in s.locked_lines:
                centers.append(float(fit.centers[selection.indices[s.axes.index(a)][b]]))
            centers_arr = np.array(centers)
            self.selection = selection
            self.model = self._line_model(selection, centers_arr)
            loop.reset(centers_arr)
            self.lock_losses.append({"time": t_lost, "reason": why, "reacquired": True,
                                     "attempts": attempt})
            log.info("lock re-acquired after %d sweep(s): %s", attempt, why)
            return reference_frequency(fit.centers, fit.widths, span=_HF_SPAN[s.model],
                                       allowed=self._allowed)
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


def _bench_file_sample(bench: Any) -> Any:
    """The bench file's ``sample:`` section where it describes the sample (a simulated
    bench: linewidth, contrast, count rate), else None: a real bench's sample is what was
    measured, and the measurement never reads the simulator itself."""
    info = getattr(bench, "sample_info", None)
    if info is None or info.source != "simulated sample":
        return None
    return bench.config.sample


def _concatenate(memory: list[dict[str, NDArray[Any]]], kind: str) -> dict[str, NDArray[Any]]:
    if not memory:
        shape = (0, 3) if kind == "vector" else (0,)
        return {"time": np.zeros(0), "field": np.zeros(shape), "D": np.zeros(0),
                "locked": np.zeros(0, bool)}
    return {key: np.concatenate([m[key] for m in memory]) for key in memory[0]}
