"""The lock-in tracking magnetometer as a measurement kind: check, calibrate, lock, record.

The kind learns its layout only after the calibration (which sensors, whether there is a
gradient), so it opens the run itself (``open_at_start = False``).  Each acquisition block is
subtracted, demodulated, turned into field and written (a block of records at the output
rate) before the loop moves the control value; the lifecycle stops the FM drive and the
acquisition and leaves the bench safe on every exit.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...instruments.errors import CapabilityError
from ...instruments.limits import out_of_range
from ...physics import GAMMA_NV_HZ_PER_T, hyperfine_offsets
from ...physics.lockin_sensitivity import ELEMENTARY_CHARGE_C
from ...units import format_quantity
from ..lifecycle import Conclusion, Measurement, Run, RunAborted
from ..settings import SettingsError
from .calibration import (
    LockinCalibration,
    coarse_resonances,
    measure_line,
    optimise_depth,
)
from .loop import ControlFilter, closed_loop_bandwidth, gain_for_bandwidth
from .pipeline import sensor_names
from .probe import Actuator, Probe
from .result import LockinTrackResult, summarise
from .settings import PARAMETER_UNITS, LockinTrackSettings

__all__ = ["LockinTracking", "check_lockin_track"]

log = logging.getLogger(__name__)

#: Field samples kept in memory for the end-of-run analysis (the newest; 17 min at 2 kS/s).
KEEP_SAMPLES = 1 << 21
#: Largest line offset from the control, in FWHM, that still counts as locked.
CAPTURE_FWHM = 0.5
#: Consecutive blocks out of lock that end the run.
LOST_BLOCKS = 20
#: Records are written (and published) in blocks of this much bench time, s: writing each
#: 1 ms acquisition block on its own would cost more than the block lasts.
WRITE_TIME = 0.05
#: Sample rate used on a bench whose analog input does not fix one.
DEFAULT_SAMPLE_RATE = 200e3


def check_lockin_track(bench: Any, settings: LockinTrackSettings) -> None:
    """Check a lock-in tracking run against the bench, sending nothing
    (:meth:`LockinTracking.check`)."""
    LockinTracking(settings).check(bench)


def _chain(ai: Any) -> Any:
    """The simulated photodiode chain behind a simulated analog input (else ``None``)."""
    inner = getattr(ai, "inner", ai)
    chain = getattr(inner, "bench", None)
    return chain if hasattr(chain, "sensors") and hasattr(chain, "sample_rate") else None


class LockinTracking(Measurement):
    """Photodiode lock-in tracking: FM, software lock-in, reference subtraction, closed loop.

    Parameters
    ----------
    settings
        Validated :class:`~nvsense.measure.lockin.LockinTrackSettings`.
    """

    kind = "lockin_tracking"
    parameter_units = PARAMETER_UNITS
    open_at_start = False

    def __init__(self, settings: LockinTrackSettings) -> None:
        super().__init__(settings)
        self.sensors: list[str] = []
        self.channels: list[str] = []
        self.sample_rate = DEFAULT_SAMPLE_RATE
        self.block_size = 0
        self.decimation = 0
        self.ki = 0.0
        self.bandwidth = 0.0
        self.hyperfine = [0.0]
        self.probe: Probe | None = None
        self.actuator: Actuator | None = None
        self.summary: dict[str, Any] = {}
        self.calibration: LockinCalibration | None = None
        self.gain_match: float | None = None
        self.transimpedance: list[float | None] = []
        self.chunks: dict[str, list[NDArray[np.float64]]] = {}
        self.kept = 0
        # running sums over the tracking blocks: photodiode levels (signal, reference ×
        # sensor), the subtraction gain of each sensor, and the block count
        self.dc_sum: NDArray[np.float64] | None = None
        self.gain_sum: NDArray[np.float64] | None = None
        self.tracked_blocks = 0
        self.lock_losses = 0
        self.suppression: dict[str, float] | None = None
        self.samples = 0
        self.pending: list[dict[str, Any]] = []
        self.run: Run | None = None

    # -- the kind -------------------------------------------------------------------------

    def check(self, bench: Any) -> None:
        """The lock-in instruments, the rates and filters, the schemes the source must support
        and every frequency and power against the limits.

        Raises
        ------
        SettingsError, LimitError
        """
        s = self.settings
        try:
            ai, fm = bench.require("analog_input", "fm_drive")
        except CapabilityError as exc:
            raise SettingsError(f"lock-in detection: {exc}") from None
        if not getattr(fm, "shares_sample_clock", True):
            raise SettingsError("lock-in detection needs an FM drive on the analog input's "
                                "clock (fm_drive driver nidaq or simulated); the source's "
                                "internal FM has no phase known to the acquisition")
        available = tuple(getattr(ai, "available_channels", ()) or
                          getattr(ai, "channel_names", ()) or ())
        self.sensors = sensor_names(available)
        if not self.sensors:
            raise SettingsError("the analog input has no '<sensor>.signal' and "
                                "'<sensor>.reference' channels (name them so in the bench "
                                f"file's analog_input.channels); it has {list(available)}")
        if s.gradiometer:
            if len(self.sensors) < 2:
                raise SettingsError(
                    "gradiometer: the analog input has one sensor "
                    f"({self.sensors[0]}); a gradiometer needs two (signal and reference "
                    "channels of s0 and s1; on the simulated bench: sample.photodiode.sensors: "
                    "[s0, s1])")
            self.sensors = self.sensors[:2]
        else:
            self.sensors = self.sensors[:1]
        self.channels = [c for n in self.sensors for c in (f"{n}.signal", f"{n}.reference")]
        if "trigger" in available:
            self.channels.append("trigger")
        chain = _chain(ai)
        self.sample_rate = chain.sample_rate if chain is not None else DEFAULT_SAMPLE_RATE
        fs = self.sample_rate
        ratio = fs / s.rate
        if abs(ratio - round(ratio)) > 1e-9 * ratio:
            raise SettingsError(f"rate: {s.rate:g} Hz does not divide the analog input's "
                                f"{fs:g} S/s; nearest valid: {fs / max(round(ratio), 1):g} Hz")
        self.decimation = round(ratio)
        block = s.block_time * fs
        if abs(block - round(block)) > 1e-6 or round(block) % self.decimation:
            raise SettingsError(
                f"block_time: {s.block_time:g} s is not a whole number of output samples at "
                f"{s.rate:g} Hz (multiples of {self.decimation / fs:g} s)")
        self.block_size = round(block)
        limits = fm.limits
        if not limits.frequency_min <= s.modulation_frequency <= limits.frequency_max:
            raise SettingsError(
                f"modulation_frequency: {s.modulation_frequency:g} Hz is outside the FM "
                f"drive's {limits.frequency_min:g}-{limits.frequency_max:g} Hz")
        if 2 * s.modulation_frequency >= fs / 2:
            raise SettingsError(f"modulation_frequency: {s.modulation_frequency:g} Hz is too "
                                f"high for {fs:g} S/s (2f must stay below {fs / 2:g} Hz)")
        outputs = self.block_size // self.decimation
        try:
            self.ki = gain_for_bandwidth(s.bandwidth, s.block_time, s.tau, s.filter_order,
                                         outputs)
        except ValueError as exc:
            raise SettingsError(f"bandwidth: {exc}") from None
        self.bandwidth = closed_loop_bandwidth(self.ki, s.block_time, s.tau, s.filter_order,
                                               outputs)
        if s.dual_resonance or s.hyperfine_drive:
            try:
                has_tones = callable(getattr(bench.mw, "set_tones", None))
            except AttributeError:
                has_tones = False
            if not has_tones:
                scheme = "dual resonance" if s.dual_resonance else "the hyperfine drive"
                raise SettingsError(f"{scheme} drives several tones at once: this bench's "
                                    "microwave source cannot (it has no set_tones)")
        self.hyperfine = [0.0]
        if s.hyperfine_drive:
            nucleus = getattr(bench.sample_info, "nucleus", None)
            if nucleus not in (None, "14N"):
                raise SettingsError(f"hyperfine_drive drives the three 14N lines; the bench's "
                                    f"sample declares nucleus {nucleus} (set sample.nucleus: "
                                    "14N, or leave the hyperfine drive off)")
            self.hyperfine = [float(v) for v in hyperfine_offsets("14N")]
        # every frequency the run may use: the sweep, its ends ± the largest deviation and
        # the hyperfine tones
        freqs = s.sweep.frequencies()
        margin = (s.deviation if s.deviation is not None else 0.0) + max(self.hyperfine)
        bench.check_settings(frequencies=np.concatenate([freqs, [freqs[0] - margin,
                                                                 freqs[-1] + margin]]),
                             mw_power=s.mw_power, laser_power=s.laser_power)
        if not hasattr(bench.mw, "set_fm"):
            raise SettingsError("lock-in detection frequency-modulates the microwave source: "
                                "this bench's source has no FM")
        max_deviation = getattr(bench.mw, "fm_max_deviation", None)
        if s.deviation is not None and max_deviation and s.deviation > max_deviation:
            # the source would refuse it only once the FM starts, after the calibration sweeps
            raise out_of_range(
                f"deviation {format_quantity(s.deviation, 'Hz')} is above the "
                f"{format_quantity(max_deviation, 'Hz')} the microwave source's FM takes; "
                "give a smaller --deviation (or none: it is then optimised); nothing was sent",
                quantity="fm_deviation", value=s.deviation, low=0.0, high=max_deviation,
                unit="Hz", instrument=getattr(bench.mw, "name", "mw"))
        self.transimpedance = [
            s.transimpedance if s.transimpedance is not None else
            (chain.sensors[[x.name for x in chain.sensors].index(n)].config.transimpedance
             if chain is not None and n in [x.name for x in chain.sensors] else None)
            for n in self.sensors]

    def variables(self, bench: Any) -> Any:
        from ...storage import CoordSpec, RunSchema, VariableSpec

        per_sensor = [
            ("field", "T", "field along the NV axis, B∥ (line position through the slope)"),
            ("error", "V", "error signal: cleaned first harmonic, rotated into phase"),
            ("signal_x", "V", "signal photodiode, first harmonic X (peak)"),
            ("signal_y", "V", "signal photodiode, first harmonic Y (peak)"),
            ("reference_x", "V", "reference photodiode, first harmonic X (peak)"),
            ("reference_y", "V", "reference photodiode, first harmonic Y (peak)"),
            ("cleaned_x", "V", "signal minus fitted reference, first harmonic X (peak)"),
            ("cleaned_y", "V", "signal minus fitted reference, first harmonic Y (peak)"),
            ("subtraction_gain", "1", "fitted gain of the reference subtraction"),
        ]
        specs = [VariableSpec(name, ("time", "sensor"), units, long)
                 for name, units, long in per_sensor]
        specs.append(VariableSpec("control", ("time",), "Hz",
                                  "control value: carrier frequency, or the tone splitting "
                                  "with dual resonance"))
        specs.append(VariableSpec("locked", ("time",), "1", "line within the capture range",
                                  dtype="bool"))
        if len(self.sensors) > 1:
            specs.append(VariableSpec("gradient", ("time",), "T",
                                      "B1 − g·B2 with the calibrated gain match g"))
        if "trigger" in self.channels:
            specs.append(VariableSpec("trigger", ("time",), "V",
                                      "trigger line (largest value per output sample)"))
        return RunSchema(
            append_dim="time", append_units="s", append_long_name="time since the start",
            append_dtype="float64", append_is_index=False,
            coords=[CoordSpec("sensor", list(self.sensors), "1", "sensor head")],
            variables=specs)

    # -- the loop --------------------------------------------------------------------------

    def loop(self, run: Run) -> None:
        s, bench = self.settings, run.bench
        ai, fm = bench.require("analog_input", "fm_drive")
        if s.laser_power is not None:
            bench.laser.power = s.laser_power
        bench.laser.on = True
        bench.mw.power = s.mw_power
        bench.mw.frequency = float(s.sweep.frequencies()[0])
        bench.mw.output = True
        probe = Probe(bench, ai, fm, self.channels, self.sensors, s, self.sample_rate,
                      self.block_size)
        self.probe = probe
        # 1. coarse sweep, FM off
        ai.configure(list(self.channels), self.sample_rate,
                     max(1, round(s.sweep_dwell * self.sample_rate)))
        ai.start()
        resonances, width0 = coarse_resonances(probe, s.sweep.frequencies(), run)
        ai.stop()
        k = s.axis
        if len(resonances) < 2 * (k + 1):
            raise RunAborted(f"the coarse sweep found {len(resonances)} resonance(s) "
                             f"({', '.join(f'{r / 1e6:.2f}' for r in resonances)} MHz); axis "
                             f"{k} needs {2 * (k + 1)}: widen --sweep, raise the power or "
                             "check the laser")
        lines = (resonances[k], resonances[-1 - k])
        width0 = width0 or 1e6
        self.calibration = self._calibrate(run, probe, resonances, lines, width0)
        cal = self.calibration
        if s.gradiometer:
            self.gain_match = self._match_gains(run, probe, cal)
        run.open(self.variables(bench), attrs=self._attrs(cal))
        self._track(run, probe, cal)

    def _calibrate(self, run: Run, probe: Probe, resonances: list[float],
                   lines: tuple[float, float], width0: float) -> LockinCalibration:
        s, bench = self.settings, run.bench
        locked = "both" if s.dual_resonance else s.line
        first = lines[1] if s.line == "upper" and not s.dual_resonance else lines[0]
        plain = Actuator(bench, [0.0], None)
        small = s.deviation if s.deviation is not None else 0.2 * width0
        plain.check(first + np.array([-2.0, 2.0]) * width0, small)
        probe.start(small)
        shape = measure_line(probe, plain, first, width0, run)
        # a fit that took in neighbouring lines (a hyperfine multiplet) keeps the rough width
        width = shape.width if shape.fit_success and 0.5 * width0 < shape.width < 2 * width0 \
            else width0
        scan: list[list[float]] = []
        deviation = small
        if s.deviation is None:
            deviation, scan = optimise_depth(probe, plain, shape.centre, width, run)
            probe.set_deviation(deviation)
        actuator = Actuator(bench, self.hyperfine, None)
        actuator.check(shape.centre + np.array([-2.0, 2.0]) * width, deviation)
        single = measure_line(probe, plain, shape.centre, width, run)
        lock = single
        hf_gain = None
        if s.hyperfine_drive:
            lock = measure_line(probe, actuator, single.centre, width, run)
            hf_gain = abs(lock.slope[0]) / abs(single.slope[0])
        zfs = 0.5 * (lines[0] + lines[1])
        dual_gain = None
        per_control = -1.0 / GAMMA_NV_HZ_PER_T if locked == "lower" else 1.0 / GAMMA_NV_HZ_PER_T
        if s.dual_resonance:
            other = measure_line(probe, actuator, lines[1], width, run)
            low = lock
            split = other.centre - low.centre
            centre = 0.5 * (other.centre + low.centre)
            dual = Actuator(bench, self.hyperfine, centre)
            dual.check(split + np.array([-2.0, 2.0]) * width, deviation)
            lock = measure_line(probe, dual, split, width, run)
            dual_gain = 2 * abs(lock.slope[0]) / abs(low.slope[0])
            zfs = centre
            per_control = 1.0 / (2 * GAMMA_NV_HZ_PER_T)
            self.actuator = dual
        else:
            zfs = 0.5 * (lock.centre + (lines[1] if locked == "lower" else lines[0]))
            self.actuator = actuator
        self.actuator.set(lock.centre)
        probe.pipeline.set_phase(lock.phase)
        warnings = []
        if not lock.fit_success:
            warnings.append("the Lorentzian-derivative fit of the lock-in sweep failed; the "
                            "lock point is the sweep's zero crossing")
        return LockinCalibration(
            resonances=resonances, lines=lines, zfs=zfs, locked_line=locked,
            deviation=deviation, lock=lock, field_per_control=per_control, depth_scan=scan,
            single=single if lock is not single else None, hyperfine_gain=hf_gain,
            dual_resonance_gain=dual_gain, warnings=warnings)

    def _field(self, cal: LockinCalibration, position: NDArray[np.float64]
               ) -> NDArray[np.float64]:
        """B∥ from the line position (or splitting), T."""
        if cal.locked_line == "both":
            return position * cal.field_per_control
        return (position - cal.zfs) * cal.field_per_control

    def _positions(self, cal: LockinCalibration, seen: NDArray[np.float64],
                   error: NDArray[np.float64]) -> NDArray[np.float64]:
        """Line position (control units) of each sensor at each output sample:
        ``LPF(p) − X/k``."""
        return seen[None, :] - error / cal.lock.slope[:, None]

    def _match_gains(self, run: Run, probe: Probe, cal: LockinCalibration) -> float:
        """Lock for ``match_time`` and fit the gain g that best cancels B1 − g·B2."""
        s = self.settings
        b1, b2 = [], []
        blocks = max(4, round(s.match_time / s.block_time))
        control, ref = float(cal.lock.centre), float(cal.lock.centre)
        seen_filter = ControlFilter(s.filter_order, s.tau, self.sample_rate, self.decimation)
        for i in range(blocks):
            if i % 50 == 0:
                run.check_stop()
            out = probe.read()
            seen = ref + seen_filter(control - ref, self.block_size)
            pos = self._positions(cal, seen, out.error)
            field = self._field(cal, pos)
            b1.append(field[0])
            b2.append(field[1])
            control += self.ki * float(np.mean(pos[0] - control))
            self.actuator.set(control)
        x, y = np.concatenate(b1), np.concatenate(b2)
        x, y = x - x.mean(), y - y.mean()
        corr = float(np.dot(x, y) / math.sqrt(np.dot(x, x) * np.dot(y, y) + 1e-300))
        if corr < 0.5:
            cal.warnings.append(f"gradiometer: the sensors share little field (correlation "
                                f"{corr:.2f}); gain match left at 1")
            return 1.0
        return float(np.dot(x, y) / np.dot(y, y))

    def _attrs(self, cal: LockinCalibration) -> dict[str, Any]:
        lock = cal.lock
        out: dict[str, Any] = {
            "modulation_frequency_hz": float(self.probe.modulation_frequency or 0.0),
            "fm_deviation_hz": cal.deviation,
            "lock_bandwidth_hz": self.bandwidth,
            "integral_gain": self.ki,
            "lock_centre_hz": lock.centre,
            "lock_width_hz": lock.width,
            "lock_slope_v_per_hz": [float(v) for v in lock.slope],
            "lock_phase_rad": [float(v) for v in lock.phase],
            "zfs_hz": cal.zfs,
            "locked_line": cal.locked_line,
            "resonances_hz": list(cal.resonances),
        }
        if cal.hyperfine_gain is not None:
            out["hyperfine_gain"] = cal.hyperfine_gain
        if cal.dual_resonance_gain is not None:
            out["dual_resonance_gain"] = cal.dual_resonance_gain
        if self.gain_match is not None:
            out["gradiometer_gain_match"] = self.gain_match
        last = self.probe.last if self.probe is not None else None
        tia = self.transimpedance[0] if self.transimpedance else None
        if last is not None and tia is not None and lock.slope[0] != 0:
            # the limit from the calibration's last block (the run's end reports the mean)
            g = float(last.gain[0]) if self.settings.reference_subtraction else 0.0
            volts = max(float(last.dc_signal[0]), 0.0) + g * g * max(
                float(last.dc_reference[0]), 0.0)
            out["shot_noise_limit_estimate_t_per_rthz"] = math.sqrt(
                4 * ELEMENTARY_CHARGE_C * tia * volts) * abs(cal.field_per_control) / abs(
                lock.slope[0])
        return out

    def _track(self, run: Run, probe: Probe, cal: LockinCalibration) -> None:
        s = self.settings
        control = ref = float(cal.lock.centre)
        capture = CAPTURE_FWHM * cal.lock.width
        seen_filter = ControlFilter(s.filter_order, s.tau, self.sample_rate, self.decimation)
        t0: float | None = None
        out_of_lock = 0
        probe.pipeline.restart_record()
        while not run.stop_requested:
            out = probe.read()
            if out.time.size == 0:
                continue
            if t0 is None:
                t0 = float(out.time[0]) - 1.0 / s.rate
            seen = ref + seen_filter(control - ref, self.block_size)
            pos = self._positions(cal, seen, out.error)
            field = self._field(cal, pos)
            offset = float(np.mean(pos[0] - control))
            locked = abs(offset) <= capture
            values: dict[str, Any] = {
                "time": out.time - t0,
                "field": field.T,
                "error": out.error.T,
                "signal_x": out.signal.real.T, "signal_y": out.signal.imag.T,
                "reference_x": out.reference.real.T, "reference_y": out.reference.imag.T,
                "cleaned_x": out.cleaned.real.T, "cleaned_y": out.cleaned.imag.T,
                "subtraction_gain": np.repeat(out.gain[None, :], out.time.size, axis=0),
                "control": np.full(out.time.size, control),
                "locked": np.full(out.time.size, locked),
            }
            if len(self.sensors) > 1:
                values["gradient"] = field[0] - (self.gain_match or 1.0) * field[1]
            if "trigger" in self.channels:
                values["trigger"] = (out.trigger if out.trigger is not None
                                     else np.zeros(out.time.size))
            self.pending.append(values)
            if len(self.pending) * s.block_time >= WRITE_TIME - 1e-12:
                self._flush(run)
            self._keep(values, out)
            if locked:
                out_of_lock = 0
                control += self.ki * offset
                self.actuator.set(control)
            else:
                out_of_lock += 1
                if out_of_lock == 1:
                    self.lock_losses += 1
                if out_of_lock >= LOST_BLOCKS:
                    raise RunAborted(f"lost lock: the line is {offset / 1e3:.1f} kHz from the "
                                     f"control value (capture range {capture / 1e3:.1f} kHz)")
            if s.duration is not None and float(values["time"][-1]) >= s.duration:
                break
        self._flush(run)
        self.suppression = probe.pipeline.suppression()

    def _flush(self, run: Run) -> None:
        """Write (and publish) the records not yet written, as one block."""
        if not self.pending or not run.opened:
            self.pending = []
            return
        pending, self.pending = self.pending, []
        run.record_block(**{k: np.concatenate([np.asarray(p[k]) for p in pending])
                            for k in pending[0]})

    def _keep(self, values: dict[str, Any], out: Any) -> None:
        for key in ("time", "field", "gradient", "locked", "trigger"):
            if key in values:
                self.chunks.setdefault(key, []).append(np.asarray(values[key]))
        dc = np.vstack([out.dc_signal, out.dc_reference])
        self.dc_sum = dc if self.dc_sum is None else self.dc_sum + dc
        self.gain_sum = out.gain.copy() if self.gain_sum is None else self.gain_sum + out.gain
        self.tracked_blocks += 1
        self.kept += values["time"].size
        self.samples += values["time"].size
        while self.kept - self.chunks["time"][0].size >= KEEP_SAMPLES:
            self.kept -= self.chunks["time"][0].size
            for key in self.chunks:
                self.chunks[key].pop(0)

    # -- the end ---------------------------------------------------------------------------

    def stop(self, run: Run) -> None:
        """Write what is pending, then stop the acquisition and the FM drive (the drive at
        0 V, the source's FM off)."""
        try:
            self._flush(run)
        except Exception as exc:  # the bench is made safe whatever the file does
            log.warning("lock-in run: the last records could not be written: %s", exc)
        if self.probe is not None:
            if self.suppression is None and self.probe.pipeline is not None:
                self.suppression = self.probe.pipeline.suppression()
            self.probe.stop()
        try:
            tones = getattr(run.bench.mw, "set_tones", None)
        except AttributeError:
            tones = None
        if callable(tones) and (self.settings.dual_resonance or self.settings.hyperfine_drive):
            tones([0.0])

    def arrays(self) -> dict[str, NDArray[np.float64]]:
        """The kept samples (newest :data:`KEEP_SAMPLES`)."""
        return {k: np.concatenate(v) for k, v in self.chunks.items() if v}

    def conclude(self, run: Run, status: str, reason: str | None) -> Conclusion:
        summary = summarise(self, run)
        self.summary = summary
        keys = ("noise_floor_t_per_rthz", "shot_noise_limit_t_per_rthz", "rin_suppression_db",
                "modulation_frequency_hz", "bandwidth_hz", "common_mode_rejection_db",
                "gradient_noise_floor_t_per_rthz", "field_mean_t")
        units = {"noise_floor_t_per_rthz": "T/√Hz", "shot_noise_limit_t_per_rthz": "T/√Hz",
                 "rin_suppression_db": "dB", "modulation_frequency_hz": "Hz",
                 "bandwidth_hz": "Hz", "common_mode_rejection_db": "dB",
                 "gradient_noise_floor_t_per_rthz": "T/√Hz", "field_mean_t": "T"}
        results = {k: summary[k] for k in keys if summary.get(k) is not None}
        return Conclusion(results=results,
                          result_units={k: units[k] for k in results})

    def result(self, outcome: Any) -> LockinTrackResult:
        """The run's result from the lifecycle's outcome."""
        return LockinTrackResult(run_id=outcome.run_id, file=outcome.file,
                                 status=outcome.status, reason=outcome.reason,
                                 error=outcome.error, settings=self.settings,
                                 calibration=self.calibration,
                                 summary=self.summary,
                                 data=self.arrays())
