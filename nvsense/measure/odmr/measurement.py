"""The CW-ODMR measurement kind: its check, its variables and its loop.

The run lifecycle (:mod:`nvsense.measure.lifecycle`) creates the run file before the loop
starts, and each sweep is written to it (and flushed) before it is published to the other
subscribers, so a crash at any moment keeps every completed sweep.  When the number of lines
is not given, the first sweeps are written raw (``time`` and ``counts``) while the running
average shows its dips — at most :data:`DETECT_SWEEPS` sweeps; once the number is known, the
fits of those sweeps are added with the ``line`` dimension
(:class:`~nvsense.measure.documents.VariablesAdded`) and every later sweep is written with
its fits.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...instruments.errors import CapabilityError
from ..analysis import SweepAnalysis, count_dips, field_kind
from ..documents import SweepDone
from ..lifecycle import Conclusion, Measurement, Run, RunOutcome
from ..preflight import check_plan
from ..resonance import RESONANCE_KEY, ResonanceCheck, check_resonance
from ..settings import OdmrSettings, SettingsError
from ..sweeps import make_sweeper
from .live_fit import LiveFit
from .result import OdmrResult

__all__ = ["DETECT_SWEEPS", "PARAMETER_UNITS", "OdmrMeasurement", "check_odmr"]

log = logging.getLogger(__name__)

#: With the number of lines not given, the first sweeps are written without fits until dips are
#: found in the running average, for at most this many sweeps; then the run goes on with the
#: number found (one line, if none was found).
DETECT_SWEEPS = 10

#: Units of the ODMR parameters as recorded in run files.
PARAMETER_UNITS = {
    "ranges": "Hz, Hz, points",
    "duration": "s",
    "dwell": "s",
    "mw_power": "dBm",
    "laser_power": "W",
    "field_guess": "T",
}


def check_odmr(bench: Any, settings: OdmrSettings, frequencies: Any = None) -> None:
    """Check every planned setting of an ODMR run against the instruments' and the bench's
    limits, sending nothing (:meth:`OdmrMeasurement.check`).

    Raises
    ------
    LimitError, SettingsError
    """
    OdmrMeasurement(settings).check(bench)


class OdmrMeasurement(Measurement):
    """CW-ODMR: sweep, fit every sweep and the running average, turn lines into field.

    Parameters
    ----------
    settings
        Validated :class:`~nvsense.measure.OdmrSettings`.
    """

    kind = "odmr"
    parameter_units = PARAMETER_UNITS

    def __init__(self, settings: OdmrSettings) -> None:
        super().__init__(settings)
        self.frequencies = settings.frequencies()
        self.mode: str | None = None
        self.n_lines: int | None = settings.n_lines
        self.fitter: LiveFit | None = None
        self.sweeper: Any = None
        self.sum: NDArray[np.float64] | None = None
        self.n_sweeps = 0
        self.pending: list[NDArray[np.float64]] = []
        self.dips_found = -1
        self.resonance: ResonanceCheck | None = None
        self.signal_units = "1"

    # -- the kind -------------------------------------------------------------------------

    def check(self, bench: Any) -> None:
        """Frequencies and powers against the limits, the sweep mode against the bench's
        capabilities, and each acquisition and frequency list the run will need
        (:func:`nvsense.measure.preflight.check_plan`).

        Raises
        ------
        LimitError, SettingsError
        """
        s = self.settings
        bench.check_settings(frequencies=self.frequencies, mw_power=s.mw_power,
                             laser_power=s.laser_power)
        try:
            self.mode = bench.sweep_mode(s.mode)
        except CapabilityError as exc:
            raise SettingsError(str(exc)) from None
        check_plan(bench, self.mode, [self.frequencies.size], s.dwell, "dwell")

    def _prepare(self, bench: Any) -> None:
        """What the run needs to know of the bench: its signal and its declared sample."""
        s = self.settings
        counts = bench.counter.kind == "counts"
        self.signal_units = "1" if counts else "V"
        axes = None
        if s.model == "hamiltonian":
            from ...physics import NV_AXES

            declared = bench.sample_info.axes  # what the bench file says, never the simulator
            axes = NV_AXES[list(declared)] if declared is not None else None
            self.n_lines = 2 * (4 if axes is None else len(axes))
        field_guess = (np.asarray(s.field_guess, dtype=float) if s.field_guess is not None
                       else None)
        self.fitter = LiveFit(self.frequencies, s.model, sigma="poisson" if counts else None,
                              axes=axes, field_guess=field_guess)
        self.fitter.n_lines = self.n_lines

    def variables(self, bench: Any) -> Any:
        """The full layout when the number of lines is known, else the raw sweeps."""
        from ...storage import odmr_schema

        if self.fitter is None:
            self._prepare(bench)
        n = self.n_lines
        return odmr_schema(self.frequencies, n,
                           field=field_kind(self.settings.model, n) if n else "none",
                           average=True, signal_units=self.signal_units,
                           signal_long_name="photon counts" if self.signal_units == "1"
                           else "photodiode voltage")

    def parameters(self) -> dict[str, Any]:
        parameters = self.settings.as_record()
        parameters["n_lines"] = self.n_lines
        parameters["sweep_mode"] = self.mode
        return parameters

    def attrs(self, bench: Any) -> dict[str, Any]:
        kind = field_kind(self.settings.model, self.n_lines) if self.n_lines else None
        return {"field_kind": kind, "fit_model": self.settings.model,
                "counter_kind": self.signal_units}

    def loop(self, run: Run) -> None:
        s, bench = self.settings, run.bench
        self.sweeper = make_sweeper(bench.mw, bench.counter, self.frequencies, s.dwell,
                                    s.mw_power, self.mode or s.mode)
        if s.laser_power is not None:
            bench.laser.power = s.laser_power
        bench.laser.on = True
        self.sweeper.prepare()
        if self.sweeper.mode == "stepped":
            bench.mw.frequency = float(self.frequencies[0])
        bench.mw.output = True
        t0 = run.clock()
        while True:
            counts = self.sweeper.sweep()
            elapsed = run.clock() - t0
            self._record(run, counts, elapsed)
            if run.stop_requested:
                return
            if s.sweeps is not None and self.n_sweeps >= s.sweeps:
                return
            if s.duration is not None and elapsed >= s.duration:
                return

    def stop(self, run: Run) -> None:
        if self.sweeper is not None:
            self.sweeper.finish()

    def conclude(self, run: Run, status: str, reason: str | None) -> Conclusion:
        if self.pending and run.opened:
            # stopped while still looking for dips: the raw sweeps are in the file; add the
            # fits with the number of dips the average shows now
            try:
                assert self.sum is not None
                self._detect_lines(run, self.sum / self.n_sweeps, force=True)
                self._add_fits(run)
            except Exception:
                log.exception("could not add the fits of the sweeps taken before the dips "
                              "were found; their raw data are in the file")
        self.resonance = self._check_resonance(self.average)
        results: dict[str, Any] = {"sweeps": self.n_sweeps}
        if self.final is not None:
            results.update(self.final.results())
        attrs: dict[str, Any] = {}
        if self.resonance is not None:
            results[RESONANCE_KEY] = self.resonance.found
            if self.resonance.notes():
                attrs["warnings"] = "; ".join(self.resonance.notes())
        return Conclusion(results=results, attrs=attrs)

    # -- what the loop does with a sweep ------------------------------------------------------

    @property
    def average(self) -> NDArray[np.float64] | None:
        return self.sum / self.n_sweeps if self.sum is not None else None

    @property
    def final(self) -> SweepAnalysis | None:
        """The fit of the latest running average."""
        return self.fitter.last if self.fitter is not None else None

    def _record(self, run: Run, counts: NDArray[np.float64], elapsed: float) -> None:
        """Fit the sweep and the running average (once the number of lines is known), then
        publish the sweep: the writer stores its record before anyone else sees it."""
        assert self.fitter is not None
        self.n_sweeps += 1
        self.sum = counts.copy() if self.sum is None else self.sum + counts
        average = self.sum / self.n_sweeps
        values: dict[str, Any] = {"time": elapsed, "counts": counts}
        if self.n_lines is None and self._detect_lines(run, average):
            self._add_fits(run)  # the layout gets the fits, those of the sweeps written raw
        fits: tuple[SweepAnalysis | None, SweepAnalysis | None] = (None, None)
        pending = self.n_lines is None
        if pending:  # written raw; fitted once the number of lines is known
            self.pending.append(counts)
        else:
            fits = self.fitter.fit_pair(counts, average, self.n_sweeps)
            values.update(self.fitter.record(*fits))
        summaries = self.fitter.summaries(*fits)
        run.publish(SweepDone(run_id=run.run_id or "", index=self.n_sweeps - 1,
                              frequencies=self.frequencies, counts=counts, average=average,
                              fit=summaries[0], average_fit=summaries[1], elapsed=elapsed,
                              sweeps_planned=self.settings.sweeps, lines_pending=pending,
                              values=values))

    def _detect_lines(self, run: Run, average: NDArray[np.float64],
                      force: bool = False) -> bool:
        """Find the number of dips in the running average; until dips stand out of the noise
        (up to DETECT_SWEEPS sweeps, or ``force``) the number stays unknown."""
        reason: Any = None
        try:
            found = count_dips(self.frequencies, average, self.settings.model)
        except Exception as exc:
            found, reason = 0, exc
        # a weak line may pass the threshold a sweep after a strong one: wait until two
        # successive averages agree on the number of dips
        stable = found > 0 and found == self.dips_found
        self.dips_found = found
        s = self.settings
        last_chance = run.stop_requested or (s.sweeps is not None
                                             and self.n_sweeps >= s.sweeps)
        if not (stable or force) and self.n_sweeps < DETECT_SWEEPS and not last_chance:
            return False
        if found == 0:  # the run's final check reports it (OdmrResult.warnings)
            log.info("no resonance found in %d sweeps (%s); recording without fits",
                     self.n_sweeps, reason)
        self.n_lines = max(found, 1)
        assert self.fitter is not None
        self.fitter.n_lines = self.n_lines
        return True

    def _add_fits(self, run: Run) -> None:
        """Fit the sweeps written raw so far and add the fits to the run."""
        assert self.fitter is not None and self.n_lines is not None
        pending, self.pending = self.pending, []
        running = np.zeros(self.frequencies.size)
        records: list[dict[str, Any]] = []
        for k, counts in enumerate(pending):
            running += counts
            records.append(self.fitter.record(*self.fitter.fit_pair(counts, running / (k + 1),
                                                                    k + 1)))
        schema = self.variables(run.bench)
        raw = {"time", "counts"}
        values = {v.name: _stack([r.get(v.name) for r in records], schema, v.name)
                  for v in schema.variables if v.name not in raw}
        run.add_variables(schema, values,
                          attrs={"field_kind": field_kind(self.settings.model, self.n_lines)},
                          parameters={"n_lines": self.n_lines})

    def _check_resonance(self, average: NDArray[np.float64] | None) -> ResonanceCheck | None:
        """Judge the final average (see :mod:`..resonance`); a fit of a spectrum without a
        resonance is marked failed, so nothing reports it as a measurement."""
        if average is None or self.fitter is None:
            return None
        try:
            check = check_resonance(self.frequencies, average, self.fitter.last,
                                    sweeps=self.n_sweeps, counts=self.signal_units == "1",
                                    dwell=self.settings.dwell)
        except Exception:  # a check must never cost the run
            log.exception("could not check the spectrum for a resonance")
            return None
        if not check.found:
            log.info("ODMR run: %s", check.message)  # the front ends print result.warnings
            if self.fitter.last is not None:
                self.fitter.last = replace(self.fitter.last, success=False,
                                           message=check.message)
        return check

    def result(self, outcome: RunOutcome) -> OdmrResult:
        """The :class:`OdmrResult` of the run that ended with ``outcome``."""
        error = outcome.error if isinstance(outcome.error, Exception) else None
        return OdmrResult(
            run_id=outcome.run_id, file=outcome.file, status=outcome.status,
            reason=outcome.reason, sweeps=self.n_sweeps, settings=self.settings,
            frequencies=self.frequencies, average=self.average, final=self.final,
            safe_report=outcome.safe_report, error=error, resonance=self.resonance)


def _stack(rows: list[Any], schema: Any, name: str) -> NDArray[Any]:
    """One variable's values of several records; records without it are NaN (or False)."""
    spec = schema.variable(name)
    shape = schema.record_shape(spec)
    fill = np.nan if spec.is_float else False
    out = np.full((len(rows), *shape), fill, dtype=spec.numpy_dtype)
    for i, row in enumerate(rows):
        if row is not None:
            out[i] = row
    return out
