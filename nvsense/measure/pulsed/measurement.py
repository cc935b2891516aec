"""The pulsed measurement kind: its check, its variables and its loop.

One run plays one protocol's pulse program (:func:`.settings.build_program`) on the bench's
pulse generator and counts every readout window with its gated counter:

- **check** builds the program and checks it against the pulse generator's limits and the
  bench's (``max_mw_duty_cycle``), the microwave frequency and power and the laser power
  against theirs, and the CW acquisitions of re-tracking — one clear error naming the block
  or the setting, and nothing sent;
- the **loop** uploads the program once, then takes ``averages`` sweeps of τ, each of
  ``repetitions`` passes: arm the counter, start the pulser, read the windows' sums.  Each
  average is one record — the raw counts per τ and window, the running sum's normalised
  signal and its error, the fit of the running signal — written (and flushed) before anyone
  else sees it, so a stop or a fault keeps every completed average;
- between averages it may **re-track** the resonance: a short CW-ODMR sweep around the
  current frequency (the pulser holding laser and microwave on), a fit of its dip, the
  microwave moved to the new centre (:meth:`PulsedMeasurement._retrack`);
- at the end the fit of the final signal gives the results, with their errors.

The run file keeps the program as given (``pulse_program``, JSON) and as compiled for the
device (``compiled_program``, JSON, :meth:`nvsense.instruments.pulser.CompiledProgram.to_dict`),
so that the run can be re-uploaded exactly (:func:`nvsense.measure.pulsed.program_of_run`).
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...instruments.errors import CapabilityError, InstrumentError
from ..lifecycle import Conclusion, Measurement, Run, RunAborted
from ..settings import SettingsError
from .fits import RESULT_UNITS, ProtocolFit, fit_quadratures, fit_signal, result_keys
from .settings import PulsedSettings, build_program

__all__ = ["COMPILED_ATTR", "PARAMETER_UNITS", "PROGRAM_ATTR", "PulsedMeasurement",
           "check_pulsed"]

log = logging.getLogger(__name__)

#: Run-file attribute holding the program as given (JSON).
PROGRAM_ATTR = "pulse_program"
#: Run-file attribute holding the program as compiled for the device (JSON).
COMPILED_ATTR = "compiled_program"

#: Most window values one read of the gated counter returns: an average's repetitions are read
#: in chunks of at most this many values (below every driver's buffer: Time Tagger 5·10⁷).
MAX_VALUES_PER_READ = 10_000_000

#: Units of the pulsed parameters as recorded in run files.
PARAMETER_UNITS = {
    "tau": "s, s, points", "frequencies": "Hz, Hz, points", "mw_frequency": "Hz",
    "detuning": "Hz", "ac_frequency": "Hz", "mw_power": "dBm", "laser_power": "W",
    "pi_pulse": "s", "pi_half": "s",
    "retrack_span": "Hz", "retrack_dwell": "s", "laser_time": "s", "readout_time": "s",
    "gate_delay": "s", "wait_time": "s",
}


def check_pulsed(bench: Any, settings: PulsedSettings) -> None:
    """Check every setting of a pulsed run against the instruments' and the bench's limits,
    sending nothing (:meth:`PulsedMeasurement.check`).

    Raises
    ------
    LimitError, SettingsError
    """
    PulsedMeasurement(settings).check(bench)


def _cw_program() -> Any:
    """Laser and microwave held on (the re-tracking's CW sweep through the pulser's gates)."""
    from ...pulses import Block, PulseProgram

    return PulseProgram([Block("cw", 10_000, on=("laser", "mw"), phase=0.0)], name="cw",
                        protocol="cw")


class PulsedMeasurement(Measurement):
    """A pulsed protocol: upload once, accumulate averages, normalise, fit.

    Parameters
    ----------
    settings
        Validated :class:`PulsedSettings` whose π pulse and microwave frequency are known
        (:func:`nvsense.measure.pulsed.resolve_settings`).
    nucleus
        The sample's nucleus for the Ramsey fit (default: what the bench file declares).
    """

    kind = "pulsed"
    parameter_units = PARAMETER_UNITS

    def __init__(self, settings: PulsedSettings, *, nucleus: str | None = None) -> None:
        super().__init__(settings)
        self.nucleus = nucleus
        self.program: Any = None
        self.compiled: Any = None
        self.sum: NDArray[np.float64] | None = None
        self.averages = 0
        self.signal: NDArray[np.float64] | None = None
        self.error: NDArray[np.float64] | None = None
        self.fit: ProtocolFit | None = None
        self.frequency: float | None = settings.mw_frequency
        self.retracks: list[tuple[int, float, bool]] = []  # (average, frequency, success)
        self.method = ""
        self.quadrature: NDArray[np.float64] | None = None
        self.quadrature_error: NDArray[np.float64] | None = None

    # -- the kind -------------------------------------------------------------------------

    @property
    def x(self) -> NDArray[np.float64]:
        """The sweep values (τ in s, or frequencies in Hz for pulsed ODMR)."""
        return self.settings.sweep_values()

    def _build(self) -> Any:
        if self.program is None:
            from ...pulses.signals import normalisation_method

            s = self.settings
            program = build_program(s)
            if s.randomise:
                seed = s.seed if s.seed is not None else 0
                program = program.shuffled(seed)
            self.program = program
            self.method = normalisation_method(program.readouts)
        return self.program

    def check(self, bench: Any) -> None:
        """The program against the pulser's limits and the bench's duty cycle; frequencies
        and powers against theirs; the re-tracking's CW sweeps against the counter's.

        Raises
        ------
        LimitError, SettingsError
        """
        s = self.settings
        if s.mw_frequency is None and s.protocol != "podmr":
            raise SettingsError("no microwave frequency: give mw_frequency (--frequency, e.g. "
                                "2.87GHz, from an ODMR run), or run pulsed ODMR first (nvsense "
                                "pulsed podmr), whose resonance is then used")
        try:
            pulser, _counter = bench.require("pulser", "gated_counter")
        except CapabilityError as exc:
            raise SettingsError(str(exc)) from None
        program = self._build()
        if s.protocol == "podmr":
            freqs = list(self.x)
        else:
            freqs = [s.mw_frequency + s.detuning]
        if s.retrack_every is not None and s.mw_frequency is not None:
            freqs += [s.mw_frequency - s.retrack_span / 2, s.mw_frequency + s.retrack_span / 2]
        bench.check_settings(frequencies=np.asarray(freqs), mw_power=s.mw_power,
                             laser_power=s.laser_power)
        pulser.check(program)  # PulserLimitError naming the block; nothing sent
        if s.retrack_every is not None:
            from ..preflight import check_plan

            pulser.check(_cw_program())
            mode = bench.sweep_mode("auto")
            check_plan(bench, mode, [s.retrack_points], s.retrack_dwell, "retrack_dwell")
        if s.protocol == "podmr":
            from ..preflight import check_list

            check_list(bench.mw, program.n_points, f"pulsed ODMR of {program.n_points} points")

    def variables(self, bench: Any) -> Any:
        from ...storage import CoordSpec, RunSchema, VariableSpec

        program = self._build()
        podmr = self.settings.protocol == "podmr"
        point = "frequency" if podmr else "tau"
        coords = [
            CoordSpec(point, self.x, "Hz" if podmr else "s",
                      "microwave frequency" if podmr else (program.sweep.label or "τ")),
            CoordSpec("window", list(program.readouts), "1",
                      "readout window (signal, phase-cycled signal, references)"),
        ]
        variables = [
            VariableSpec("time", ("average",), "s", "bench time at the end of the average",
                         coordinate=True),
            VariableSpec("counts", ("average", point, "window"), "1",
                         f"photon counts per readout window, summed over the "
                         f"{self.settings.repetitions} repetitions of this average"),
            VariableSpec("signal", ("average", point), "1",
                         f"normalised signal of the running sum ({self.method})"),
            VariableSpec("signal_error", ("average", point), "1",
                         "photon-shot-noise error of the signal"),
            VariableSpec("fit_curve", ("average", point), "1",
                         "fit of the running signal (NaN: no fit)"),
            VariableSpec("mw_frequency", ("average",), "Hz",
                         "microwave frequency of the average (resonance + detuning)"),
            VariableSpec("fit_success", ("average",), "1",
                         "the fit of the running signal can be trusted", dtype="bool"),
        ]
        if self.settings.ac_mode:
            variables += [
                VariableSpec("quadrature", ("average", point), "1",
                             "second quadrature (last π/2 about −y) of the running sum"),
                VariableSpec("quadrature_error", ("average", point), "1",
                             "photon-shot-noise error of the quadrature")]
        for key in result_keys(self.settings):
            unit = RESULT_UNITS[key]
            variables += [VariableSpec(key, ("average",), unit,
                                       f"{key} from the fit of the running signal"),
                          VariableSpec(f"{key}_error", ("average",), unit,
                                       f"1σ error of {key}")]
        return RunSchema(append_dim="average", append_units="1",
                         append_long_name="average (sweep of all points)", coords=coords,
                         variables=variables)

    def parameters(self) -> dict[str, Any]:
        parameters = self.settings.as_record()
        parameters["normalisation"] = self.method
        return parameters

    def attrs(self, bench: Any) -> dict[str, Any]:
        program = self._build()
        attrs: dict[str, Any] = {"protocol": self.settings.protocol,
                                 "normalisation": self.method,
                                 PROGRAM_ATTR: program.to_json()}
        try:  # the device's form, without I/O: what upload() sends
            attrs[COMPILED_ATTR] = json.dumps(bench.pulser.compile(program).to_dict())
        except Exception as exc:  # never cost the run; upload reports a real problem
            log.warning("could not compile the program for the run file: %s", exc)
        return attrs

    def loop(self, run: Run) -> None:
        s, bench = self.settings, run.bench
        program = self._build()
        pulser, counter = bench.pulser, bench.gated_counter
        if s.laser_power is not None:
            bench.laser.power = s.laser_power
        bench.laser.on = True
        self._set_microwave(bench)
        self.compiled = pulser.upload(program)
        chunk = self._passes_per_read(program, pulser)
        t0 = run.clock()
        for k in range(s.averages):
            if k and s.retrack_every is not None and k % s.retrack_every == 0:
                self._retrack(run, k)
                if run.stop_requested:
                    return
            counts = np.zeros(program.windows_per_pass)
            left = s.repetitions
            while left:  # one average: its repetitions in reads the counter can hold
                n = min(left, chunk)
                counter.configure(program.windows_per_pass, n)
                counter.arm()
                pulser.start(n)
                timeout = 1.5 * program.pass_duration_ns * 1e-9 * n + 10.0
                counts += np.asarray(counter.read(timeout=timeout), dtype=float)
                left -= n
            self._record(run, program.by_point(counts), run.clock() - t0)
            if run.stop_requested:
                return

    def stop(self, run: Run) -> None:
        bench = run.bench
        if bench.has("pulser") and bench.pulser is not None:
            bench.pulser.safe()
        if self.settings.protocol == "podmr":
            bench.mw.stop_list()

    def conclude(self, run: Run, status: str, reason: str | None) -> Conclusion:
        results: dict[str, Any] = {"averages": self.averages}
        units: dict[str, str] = {}
        attrs: dict[str, Any] = {}
        if self.signal is not None and self.settings.fit:
            self.fit = self._fit(self.signal, self.error)
        if self.fit is not None:
            results.update(self.fit.results())
            attrs["fit_report"] = self.fit.report
            for key in list(results):
                base = key.removesuffix("_error")
                if base in RESULT_UNITS:
                    units[key] = RESULT_UNITS[base]
        if self.retracks:
            attrs["retracks"] = json.dumps([{"average": a, "frequency": f, "success": ok}
                                            for a, f, ok in self.retracks])
        return Conclusion(results=results, result_units=units, attrs=attrs)

    # -- what the loop does ---------------------------------------------------------------------

    @staticmethod
    def _passes_per_read(program: Any, pulser: Any) -> int:
        """Passes of one read: within :data:`MAX_VALUES_PER_READ` values and the pulser's
        passes per start."""
        most = max(1, MAX_VALUES_PER_READ // program.windows_per_pass)
        per_start = getattr(pulser.limits, "max_repetitions", None)
        return min(most, per_start) if per_start else most

    def _set_microwave(self, bench: Any) -> None:
        s = self.settings
        if s.protocol == "podmr":
            # the trigger pulse of each point steps the list before its π pulse: loaded
            # rotated by one, entry j + 1 is the j-th point played
            program = self._build()
            played = np.asarray(self.x)[list(program.play_order)]
            bench.mw.load_list(np.roll(played, 1), s.mw_power)
            bench.mw.start_list()
        else:
            assert self.frequency is not None
            bench.mw.frequency = self.frequency + s.detuning
            bench.mw.power = s.mw_power
        bench.mw.output = True

    def _fit(self, signal: NDArray[np.float64],
             error: NDArray[np.float64] | None) -> ProtocolFit | None:
        s = self.settings
        if s.ac_mode:
            if self.quadrature is None or error is None or self.quadrature_error is None:
                return None
            return fit_quadratures(self.x, signal, error, self.quadrature,
                                   self.quadrature_error, s.n_pulses)
        return fit_signal(self.settings.protocol, self.x, signal, error, method=self.method,
                          n_pulses=self.settings.n_pulses, nucleus=self.nucleus)

    def _record(self, run: Run, by_point: NDArray[np.float64], elapsed: float) -> None:
        from ...pulses import normalised_signal

        program = self.program
        self.averages += 1
        self.sum = by_point.copy() if self.sum is None else self.sum + by_point
        self.signal, self.error = normalised_signal(self.sum, program.readouts)
        extra: dict[str, Any] = {}
        if self.settings.ac_mode:
            from .settings import QUADRATURE_LABELS

            labels = list(program.readouts)
            columns = [labels.index(QUADRATURE_LABELS[k]) for k in ("signal", "signal_pc")]
            self.quadrature, self.quadrature_error = normalised_signal(
                self.sum[:, columns], ("signal", "signal_pc"))
            extra = {"quadrature": self.quadrature,
                     "quadrature_error": self.quadrature_error}
        curve = np.full(self.x.shape, np.nan)
        fitted: dict[str, Any] = {"fit_success": False}
        if self.settings.fit:
            fit = self._fit(self.signal, self.error)
            if fit is not None:
                self.fit = fit
                if fit.curve is not None:
                    curve = fit.curve
                fitted = {k: v for k, v in fit.results().items() if k != "fit_message"}
                fitted.pop("pi_half_pulse_s", None)
                fitted.pop("pi_half_pulse_s_error", None)
            else:
                fitted.update({k: np.nan for key in result_keys(self.settings)
                               for k in (key, f"{key}_error")})
        frequency = self.frequency if self.frequency is not None else math.nan
        if self.settings.protocol != "podmr":
            frequency += self.settings.detuning
        run.record(time=elapsed, counts=by_point, signal=self.signal,
                   signal_error=self.error, fit_curve=curve, mw_frequency=frequency,
                   **extra, **fitted)

    def _retrack(self, run: Run, average: int) -> None:
        """Find the resonance again: a CW sweep of ``retrack_points`` over ``retrack_span``
        around the current frequency, with the pulser holding laser and microwave on; the
        microwave moves to the fitted centre if the fit succeeds and the centre lies inside
        the span, else it stays (the attempt is recorded in ``retracks``)."""
        from ...fitting import fit_spectrum
        from ..sweeps import make_sweeper

        s, bench = self.settings, run.bench
        assert self.frequency is not None
        centre = self.frequency
        freqs = np.linspace(centre - s.retrack_span / 2, centre + s.retrack_span / 2,
                            s.retrack_points)
        pulser = bench.pulser
        pulser.upload(_cw_program())
        pulser.start(None)
        sweeper = make_sweeper(bench.mw, bench.counter, freqs, s.retrack_dwell, s.mw_power,
                               bench.sweep_mode("auto"))
        try:
            sweeper.prepare()
            bench.mw.output = True
            counts = sweeper.sweep()
        finally:
            sweeper.finish()
            pulser.stop()
        nucleus = (self.nucleus or "none").lower()
        model = {"14n": "14n", "15n": "15n"}.get(nucleus, "lorentzian")
        found = False
        try:
            fit = fit_spectrum(freqs, counts, model, 1,
                               sigma="poisson" if bench.counter.kind == "counts" else None)
            new = float(fit.centers.mean())
            found = bool(fit.success) and abs(new - centre) < s.retrack_span / 2
        except Exception as exc:  # a failed re-track keeps the frequency
            log.warning("re-tracking before average %d failed: %s", average + 1, exc)
            new = centre
        if found:
            self.frequency = new
        else:
            log.warning("re-tracking before average %d found no resonance; the microwave "
                        "stays at %.6f GHz", average + 1, centre / 1e9)
        self.retracks.append((average, self.frequency, found))
        self._set_microwave(bench)
        try:
            self.compiled = pulser.upload(self.program)
        except InstrumentError as exc:
            raise RunAborted(f"could not upload the program again after re-tracking: {exc}",
                             exc) from exc
