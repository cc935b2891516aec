"""Setting a lock up: the sweeps and fits before the tracking magnetometer locks.

:class:`LockSetup` runs the initial (or re-acquisition) sweep and finds the tracked axes'
lines in it, measures each locked line with fine sweeps at the tracking MW power, calibrates
it (:func:`~nvsense.measure.tracking.calibration.calibrate_line`), builds the frequency ->
field model at the operating point and the noise budget.  A sweep that shows no resonance, or
a fit that fails, is a :class:`~nvsense.measure.tracking.calibration.CalibrationError`: the
lock never starts on noise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...fitting import FitInputError, NoDipFoundError
from ..analysis import SweepAnalysis, analyse_spectrum, count_dips
from ..preflight import CALIBRATION_POINTS
from ..resonance import check_resonance
from ..settings import FrequencyRange
from ..sweeps import make_sweeper
from .budget import noise_budget
from .calibration import (
    CalibrationError,
    LineCalibration,
    LineSelection,
    LineShape,
    calibrate_line,
    reference_frequency,
    select_lines,
)
from .field import LockedLine, LockedLineModel
from .result import TrackCalibration
from .settings import TrackSettings

__all__ = ["HF_SPAN", "LockSetup"]

log = logging.getLogger(__name__)

#: Frequency span of one line's hyperfine structure, by line model (Hz).
HF_SPAN = {"lorentzian": 0.0, "gaussian": 0.0, "14n": 2.2e6}


class LockSetup:
    """The sweeps and fits that set a tracking lock up.

    Parameters
    ----------
    bench
        The connected bench.
    settings
        The run's :class:`~nvsense.measure.tracking.TrackSettings`.
    mode
        The sweep mode the check decided (``"list"`` or ``"stepped"``).
    survey_range
        The initial sweep (within the bench's limits).
    labels
        The locked lines' labels, in lock order.
    check_stop
        Raises :class:`~nvsense.measure.lifecycle.StopRequested` when a stop was requested
        (called after every sweep).

    Attributes
    ----------
    survey_record
        The latest initial sweep as plain data (frequencies, dwell, sweeps, signal): kept in
        the run file, also when the calibration fails.
    """

    def __init__(self, bench: Any, settings: TrackSettings, mode: str,
                 survey_range: FrequencyRange, labels: list[str],
                 check_stop: Callable[[], None]) -> None:
        self.bench, self.settings, self.mode = bench, settings, mode
        self.survey_range, self.labels, self.check_stop = survey_range, labels, check_stop
        self.counts_kind = getattr(bench.counter, "kind", "counts") == "counts"
        self.survey_record: dict[str, Any] = {}

    def sweep(self, frequencies: NDArray[np.float64], dwell: float, sweeps: int
               ) -> NDArray[np.float64]:
        """Average ``sweeps`` sweeps over ``frequencies``; RF on during the sweeps."""
        s = self.settings
        sweeper = make_sweeper(self.bench.mw, self.bench.counter, frequencies, dwell,
                               s.mw_power, self.mode)
        sweeper.prepare()
        if sweeper.mode == "stepped":
            self.bench.mw.frequency = float(frequencies[0])
        self.bench.mw.output = True
        total = np.zeros(frequencies.size)
        try:
            for _ in range(sweeps):
                total += sweeper.sweep()
                self.check_stop()  # within one sweep, as ODMR runs
        finally:
            sweeper.finish()
        return total / sweeps

    def fit(self, frequencies: NDArray[np.float64], signal: NDArray[np.float64], sweeps: int,
             n_lines: int, guess: Any = None) -> SweepAnalysis:
        sigma: Any = None
        if self.counts_kind:
            sigma = np.sqrt(np.maximum(signal, 1.0) / sweeps)
        return analyse_spectrum(frequencies, signal, model=self.settings.model, n_lines=n_lines,
                                sigma=sigma, guess=guess)

    def survey(self, field_guess: NDArray[np.float64] | None
                ) -> tuple[SweepAnalysis, LineSelection]:
        """Initial (or re-acquisition) sweep: fit it and find the tracked axes' lines."""
        s = self.settings
        freqs = self.survey_range.frequencies()
        signal = self.sweep(freqs, s.sweep_dwell, s.sweeps)
        self.survey_record = {"frequencies": [self.survey_range.start, self.survey_range.stop,
                                              self.survey_range.points],
                              "dwell": s.sweep_dwell, "sweeps": s.sweeps,
                              "signal": signal.tolist()}
        try:
            n = s.n_lines or count_dips(freqs, signal, s.model)
        except (NoDipFoundError, FitInputError) as exc:
            raise CalibrationError(f"the initial sweep shows no resonance line ({exc}); check "
                                   "the RF, the laser and the sweep range") from None
        fit = self.fit(freqs, signal, s.sweeps, n)
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

    def calibrate(self) -> tuple[TrackCalibration, LineSelection, LockedLineModel]:
        """The initial sweep, then each locked line's fine sweeps: the calibration, the
        lines' assignment to NV axes and the frequency -> field model."""
        s = self.settings
        fit, selection = self.survey(None)
        line_fits = []
        for a, b in s.locked_lines:
            idx = selection.indices[s.axes.index(a)][b]
            line_fits.append(self.fine_fit(fit, idx))
        lines = []
        for (a, b), label, (shape, center, width, contrast, rate) in zip(
                s.locked_lines, self.labels, line_fits, strict=True):
            lines.append(calibrate_line(shape, center, width, label=label, axis=a, branch=b,
                                        contrast=contrast, count_rate=rate,
                                        capture_range=s.capture_range))
        centers = np.array([c.center for c in lines])
        model = self.line_model(selection, centers)
        f_ref = reference_frequency(fit.centers, fit.widths, span=HF_SPAN[s.model],
                                    allowed=self.allowed)
        self.bench.check_settings(frequencies=np.concatenate(
            [centers + [c.delta for c in lines], centers - [c.delta for c in lines]]))
        return self.budgeted(lines, f_ref, selection, model), selection, model

    def fine_fit(self, survey: SweepAnalysis, index: int
                  ) -> tuple[LineShape, float, float, float, float]:
        """Fine sweeps over one line: its shape, centre, FWHM, contrast and count rate."""
        s = self.settings
        center, width = float(survey.centers[index]), float(survey.widths[index])
        if s.calibration_time <= 0:
            return self.line_values(survey, index, s.sweep_dwell)
        half = 4.0 * width + HF_SPAN[s.model]
        freqs = np.linspace(center - half, center + half, CALIBRATION_POINTS)
        per_line = s.calibration_time / len(s.locked_lines)
        sweeps = max(1, round(per_line / (CALIBRATION_POINTS * s.sweep_dwell)))
        self.bench.check_settings(frequencies=freqs)
        signal = self.sweep(freqs, s.sweep_dwell, sweeps)
        inside = np.abs(survey.centers - center) <= half
        guess = {"centers": survey.centers[inside], "widths": survey.widths[inside],
                 "contrasts": survey.contrasts[inside]}
        try:
            fit = self.fit(freqs, signal, sweeps, int(np.count_nonzero(inside)), guess)
        except FitInputError as exc:
            raise CalibrationError(f"the fit of the calibration sweep at {center / 1e6:.3f} MHz "
                                   f"failed ({exc})") from None
        if not fit.success:
            raise CalibrationError(f"the fit of the calibration sweep at {center / 1e6:.3f} MHz "
                                   f"failed ({fit.message}); raise calibration_time")
        return self.line_values(fit, int(np.argmin(np.abs(fit.centers - center))),
                                 s.sweep_dwell)

    def line_values(self, fit: SweepAnalysis, index: int, dwell: float
                     ) -> tuple[LineShape, float, float, float, float]:
        baseline = float(fit.fit.baseline)
        rate = baseline / dwell if self.counts_kind else float("nan")
        return (LineShape.from_fit(fit.fit), float(fit.centers[index]),
                float(fit.widths[index]), float(fit.contrasts[index]), rate)

    def allowed(self, frequency: float) -> None:
        """Raise :class:`~nvsense.instruments.LimitError` for a frequency outside the limits."""
        self.bench.check_settings(frequencies=frequency)

    def line_model(self, selection: LineSelection, centers: NDArray[np.float64]
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

    def budgeted(self, lines: list[LineCalibration], f_ref: float, selection: LineSelection,
                 model: LockedLineModel) -> TrackCalibration:
        """The calibration with its noise budget (limits, expected noise, windows)."""
        s = self.settings
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


def _bench_file_sample(bench: Any) -> Any:
    """The bench file's ``sample:`` section where it describes the sample (a simulated
    bench: linewidth, contrast, count rate), else None: a real bench's sample is what was
    measured, and the measurement never reads the simulator itself."""
    info = getattr(bench, "sample_info", None)
    if info is None or info.source != "simulated sample":
        return None
    return bench.config.sample
