"""The tracking magnetometer: lock onto NV resonances and report B(t) at a steady rate.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure import TrackSettings, run_track
>>> with load_bench() as bench:                                      # doctest: +SKIP
...     result = run_track(bench, TrackSettings(duration=10, both_lines=True))
>>> result.summary()["noise_floor_t_per_rthz"]                      # doctest: +SKIP

The procedure:

1. an initial sweep finds the lines and assigns them to NV axes
   (:func:`~nvsense.measure.tracking_calibration.select_lines`);
2. fine sweeps over the lines to lock measure width, contrast and count rate at the tracking
   MW power; from their fit come the dither depth δ (steepest slope), the discriminator slope
   and the lock thresholds (:func:`~nvsense.measure.tracking_calibration.calibrate_line`);
3. the run file is created with that calibration in its attributes, and the lock runs:
   square-wave dithering f0 ± δ of every locked line within each sample
   (:mod:`~nvsense.measure.tracking_dither`), a PI loop on the error signal
   (:mod:`~nvsense.measure.tracking_loop`), the field from the locked frequencies with the exact
   Hamiltonian (:mod:`~nvsense.measure.tracking_field`);
4. every block of samples (~20 per second of bench time) is written to the file (flushed)
   and then published as a :class:`~nvsense.measure.events.TrackingBlock`;
5. a loss of lock ends the run (aborted, with the reason) or, with ``reacquire``, triggers a
   new sweep and a fresh lock.

Whatever happens — normal end, a stop request, Ctrl-C, an instrument fault, a bug — the bench
is made safe (RF off, laser off or standby) and the run file closed with its status before
:func:`run_track` returns or raises.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..fitting import FitInputError, NoDipFoundError
from ..instruments.errors import InstrumentError, LimitError
from ..storage import Catalog, RunWriter
from .analysis import SweepAnalysis, analyse_spectrum, count_dips
from .control import STOPPED_BY_USER, RunControl
from .events import Event, EventBus, RunFinished, RunStarted, TrackingBlock
from .resonance import check_resonance
from .session import bench_clock, connected, event_bus
from .settings import FrequencyRange, SettingsError
from .sweeps import make_sweeper
from .tracking_budget import noise_budget, quality_sigma
from .tracking_calibration import (
    CalibrationError,
    LineCalibration,
    LineSelection,
    LineShape,
    calibrate_line,
    reference_frequency,
    select_lines,
)
from .tracking_dither import make_dither
from .tracking_field import LockedLine, LockedLineModel
from .tracking_file import file_attributes, track_schema
from .tracking_loop import LockLoop
from .tracking_noise import summarise_noise
from .tracking_result import RESULT_UNITS, TrackCalibration, TrackResult, results_record
from .tracking_settings import PARAMETER_UNITS, TrackSettings

__all__ = ["TrackCalibration", "TrackResult", "TrackSettings", "run_track"]

log = logging.getLogger(__name__)

#: Blocks of samples per second of bench time (events and file flushes).
BLOCKS_PER_SECOND = 20
#: Samples kept in memory for the result's summary (the file has them all): 5.8 h at 100 Hz.
MEMORY_SAMPLES = 2 ** 21
#: Points of each fine calibration sweep, over ±(4 FWHM + hyperfine span) around the line.
CALIBRATION_POINTS = 81
_HF_SPAN = {"lorentzian": 0.0, "gaussian": 0.0, "14n": 2.2e6}
_BRANCH = ("lower", "upper")


def run_track(
    bench: Any,
    settings: TrackSettings | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    campaign: str | None = None,
    campaign_point: int | None = None,
) -> TrackResult:
    """Run the tracking magnetometer on ``bench`` and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench`; connected here if it is not already (and then
        closed at the end).
    settings
        :class:`TrackSettings` or a mapping of them (quantities with units accepted).
    data_dir, catalog
        Where the run file and its catalogue row go (``catalog`` wins).
    subscribers
        Called with every event in the measurement thread (RunStarted, one TrackingBlock per
        block of samples, RunFinished); wrap slow ones in
        :class:`nvsense.measure.events.Mailbox`.
    control
        Lets another thread (or a Ctrl-C handler) stop the run; honoured within one block
        (within the sweep, while re-acquiring).
    campaign, campaign_point
        Recorded in the run file and the catalogue for campaign runs.

    Returns
    -------
    TrackResult
        Also when the run was aborted (a stop, a lost lock, a failed calibration, an
        instrument fault): ``status``, ``reason`` and ``error`` say so.

    Raises
    ------
    SettingsError, LimitError
        Invalid settings or settings outside the instrument's or the bench's limits; raised
        before anything is sent to an instrument.
    """
    if not isinstance(settings, TrackSettings):
        settings = TrackSettings.parse(dict(settings or {}))
    limits = getattr(getattr(bench, "limits", None), "frequency", None)
    survey = settings.sweep_range(limits)
    bench.check_settings(frequencies=survey.frequencies(), mw_power=settings.mw_power,
                         laser_power=settings.laser_power)
    if settings.mode == "list" and not getattr(bench.mw, "supports_list", False):
        raise SettingsError(f"{getattr(bench.mw, 'name', 'mw')}: this microwave source has no "
                            "list mode; use mode 'stepped' (or 'auto')")
    catalog = catalog if catalog is not None else Catalog(data_dir)
    with connected(bench):
        return _Run(bench, settings, survey, catalog, event_bus(subscribers),
                    control or RunControl(), campaign, campaign_point).execute()


class _LockLost(Exception):
    """Raised inside the tracking loop when the lock is lost and not re-acquired."""


class _Stopped(Exception):
    """Raised between the calibration's sweeps when a stop was requested."""


class _Run:
    """One tracking run's state; :meth:`execute` is the whole procedure."""

    def __init__(self, bench: Any, settings: TrackSettings, survey: FrequencyRange,
                 catalog: Catalog, bus: EventBus, control: RunControl, campaign: str | None,
                 campaign_point: int | None) -> None:
        self.bench, self.settings, self.survey_range = bench, settings, survey
        self.catalog, self.bus, self.control = catalog, bus, control
        self.campaign, self.campaign_point = campaign, campaign_point
        self.clock = bench_clock(bench)
        self.counts_kind = getattr(bench.counter, "kind", "counts") == "counts"
        self.writer: RunWriter | None = None
        self.calibration: TrackCalibration | None = None
        self.selection: LineSelection | None = None
        self.model: LockedLineModel | None = None
        self.survey_record: dict[str, Any] = {}
        self.time_origin = float("nan")
        self.n_samples = 0
        self.memory: list[dict[str, NDArray[Any]]] = []
        self.memory_size = 0
        self.lock_losses: list[dict[str, Any]] = []
        self.dither = None
        self.labels = [f"axis {a} {_BRANCH[b]}" for a, b in settings.locked_lines]

    # -- the procedure ------------------------------------------------------------------------

    def execute(self) -> TrackResult:
        s, bench = self.settings, self.bench
        status, reason, error = "completed", None, None
        try:
            if s.laser_power is not None:
                bench.laser.power = s.laser_power
            bench.laser.on = True
            self.calibration = self._calibrate()
            self._open_file()
            self._track()
            if self.control.stop_requested:
                status, reason = "aborted", self.control.reason or STOPPED_BY_USER
        except _Stopped:
            status, reason = "aborted", self.control.reason or STOPPED_BY_USER
        except (CalibrationError, _LockLost) as exc:
            status, reason = "aborted", str(exc)
            log.warning("tracking run aborted: %s", exc)
        except LimitError as exc:  # a centre drifted out of the limits: keep what we have
            status, reason = "aborted", f"limit reached while tracking: {exc}"
            log.error("tracking run aborted: %s", exc)
        except InstrumentError as exc:
            status, reason, error = "aborted", str(exc), exc
            log.error("tracking run aborted: %s", exc)
        except KeyboardInterrupt:
            self._finish("aborted", f"{STOPPED_BY_USER} (interrupted)")
            raise
        except BaseException as exc:
            self._finish("aborted", f"{type(exc).__name__}: {exc}")
            raise
        return self._finish(status, reason, error)

    # -- calibration --------------------------------------------------------------------------

    def _sweep(self, frequencies: NDArray[np.float64], dwell: float, sweeps: int
               ) -> NDArray[np.float64]:
        """Average ``sweeps`` sweeps over ``frequencies``; RF on during the sweeps."""
        s = self.settings
        sweeper = make_sweeper(self.bench.mw, self.bench.counter, frequencies, dwell,
                               s.mw_power, s.mode)
        sweeper.prepare()
        if sweeper.mode == "stepped":
            self.bench.mw.frequency = float(frequencies[0])
        self.bench.mw.output = True
        total = np.zeros(frequencies.size)
        try:
            for _ in range(sweeps):
                total += sweeper.sweep()
                if self.control.stop_requested:  # within one sweep, as ODMR runs
                    raise _Stopped
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
        config = getattr(getattr(self.bench, "sample", None), "config", None)
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

    # -- the run file ---------------------------------------------------------------------------

    def _open_file(self, error: str | None = None) -> None:
        s, cal = self.settings, self.calibration
        parameters = s.as_record()
        meta = self.bench.metadata()
        attrs = file_attributes(s, cal, self.survey_record, error, self.counts_kind)
        self.writer = self.catalog.new_run(
            "track", track_schema(s, self.labels, self.counts_kind), parameters=parameters,
            parameter_units=PARAMETER_UNITS, bench_config=meta.get("bench_config"),
            bench_source=meta.get("bench_source") or "built-in",
            instruments=self.bench.identities(), campaign=self.campaign,
            campaign_point=self.campaign_point, attrs=attrs)
        calibration = (cal.record() if cal is not None
                       else {"survey": self.survey_record, "error": error})
        self.bus.publish(RunStarted(
            run_id=self.writer.run_id, kind="track", file=str(self.writer.path),
            parameters={**parameters, "calibration": calibration},
            identities=self.bench.identities()))

    # -- tracking -----------------------------------------------------------------------------

    def _track(self) -> None:
        s, cal = self.settings, self.calibration
        assert cal is not None and self.model is not None and self.writer is not None
        self.dither = make_dither(self.bench.mw, self.bench.counter, len(cal.lines),
                                  s.dither_periods, s.rate, s.mw_power, s.mode)
        deltas = np.array([c.delta for c in cal.lines])
        loop = self._lock_loop(cal)
        reference = cal.reference_frequency
        self.dither.prepare()
        self.bench.mw.output = True
        block_size = max(1, round(s.rate / BLOCKS_PER_SECOND))
        half_sample = 0.5 / s.rate
        t0 = self.clock()
        self.time_origin = t0
        state = "locked"
        while True:
            rows = []
            lost = None
            for _ in range(block_size):
                plus, minus, ref = self.dither.acquire(loop.centers, deltas, reference)
                t = self.clock() - t0 - half_sample
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
            if self.control.stop_requested or done:
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
            if self.control.stop_requested:
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
        """Write a block of samples (flushed), then publish it."""
        assert self.writer is not None and self.model is not None
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
        self.writer.append_block(**values)  # flushed: a crash from here on keeps the block
        self.n_samples += t.size
        self._remember(t, b, d, locked)
        info = {
            "state": state, "lost": lost, "samples": self.n_samples,
            "samples_planned": s.n_samples, "elapsed": float(t[-1]),
            "duration": s.duration, "field_kind": s.field_kind, "lines": list(self.labels),
            "dither_center": values["dither_center"], "lock_quality": values["lock_quality"],
            "lock_losses": len(self.lock_losses) + (1 if lost else 0),
        }
        self.bus.publish(TrackingBlock(run_id=self.writer.run_id, time=t, field=b,
                                       frequencies=freq, error_signal=error, locked=locked,
                                       D=d if self.model.fits_D else None, info=info))

    def _remember(self, t: NDArray[np.float64], b: NDArray[np.float64],
                  d: NDArray[np.float64], locked: NDArray[np.bool_]) -> None:
        self.memory.append({"time": t, "field": b, "D": d, "locked": locked})
        self.memory_size += t.size
        while self.memory_size - self.memory[0]["time"].size >= MEMORY_SAMPLES:
            self.memory_size -= self.memory.pop(0)["time"].size

    # -- the end ------------------------------------------------------------------------------

    def _finish(self, status: str, reason: str | None,
                error: Exception | None = None) -> TrackResult:
        if self.dither is not None:
            try:
                self.dither.finish()
            except Exception as exc:  # the bench is made safe below in any case
                log.warning("could not stop the dither cleanly: %s", exc)
        safe_report = list(self.bench.safe())
        if self.writer is None and self.survey_record:
            try:  # keep the sweep that was measured, with the reason the run stopped
                self._open_file(error=reason)
            except Exception as exc:
                log.error("could not write the run file of the failed calibration: %s", exc)
        s = self.settings
        arrays = _concatenate(self.memory, s.field_kind)
        noise = summarise_noise(arrays["time"], arrays["field"], arrays["D"], arrays["locked"],
                                s.rate, self.calibration.shot_noise_limit
                                if self.calibration else None)
        results = results_record(noise, self.calibration, self.n_samples, self.lock_losses, s)
        writer = self.writer
        if writer is not None:
            writer.close(status, reason, results=results, result_units=RESULT_UNITS)
        result = TrackResult(
            run_id=writer.run_id if writer else None, file=writer.path if writer else None,
            status=status, reason=reason, settings=s, error=error, samples=self.n_samples,
            time=arrays["time"], field=arrays["field"], D=arrays["D"],
            locked=arrays["locked"], calibration=self.calibration, noise=noise,
            lock_losses=list(self.lock_losses), time_origin=self.time_origin,
            safe_report=safe_report)
        self.bus.publish(RunFinished(run_id=result.run_id or "", status=status, reason=reason,
                                     results=results, file=str(result.file or ""),
                                     safe_report=tuple(safe_report)))
        return result


def _concatenate(memory: list[dict[str, NDArray[Any]]], kind: str) -> dict[str, NDArray[Any]]:
    if not memory:
        shape = (0, 3) if kind == "vector" else (0,)
        return {"time": np.zeros(0), "field": np.zeros(shape), "D": np.zeros(0),
                "locked": np.zeros(0, bool)}
    return {key: np.concatenate([m[key] for m in memory]) for key in memory[0]}
