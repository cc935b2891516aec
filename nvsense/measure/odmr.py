"""The CW-ODMR measurement: sweep, fit every sweep as it arrives, report the field, keep every
sample on disk.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure import OdmrSettings, run_odmr
>>> with load_bench() as bench:                                  # doctest: +SKIP
...     result = run_odmr(bench, OdmrSettings(sweeps=10), data_dir="nvsense-data")
>>> result.final.field                                          # doctest: +SKIP

Each sweep is written to the run file (and flushed) before it is published to subscribers, so a
crash keeps every completed sweep.  (When the number of lines is not given, the first sweeps wait
in memory until the running average shows its dips — at most :data:`DETECT_SWEEPS` sweeps —
because the file's ``line`` dimension needs that number; give ``n_lines`` to write from the
first sweep.)  Whatever happens — normal end, a stop request, Ctrl-C, an
instrument fault, a bug — the bench is made safe (RF off, laser off or standby) and the run
file closed with its status before :func:`run_odmr` returns or raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..instruments.errors import InstrumentError
from ..storage import Catalog, RunWriter, odmr_schema
from .analysis import SweepAnalysis, analyse_spectrum, count_dips, field_kind
from .bench_defaults import odmr_settings_for
from .control import STOPPED_BY_USER, RunControl
from .events import Event, EventBus, RunFinished, RunStarted, SweepDone
from .resonance import RESONANCE_KEY, ResonanceCheck, check_resonance
from .session import bench_clock, connected, event_bus
from .settings import OdmrSettings
from .sweeps import make_sweeper

__all__ = ["OdmrResult", "run_odmr"]

log = logging.getLogger(__name__)

#: With the number of lines not given, sweeps wait in memory until dips are found in the running
#: average, for at most this many sweeps; then the run is recorded without fits.
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


@dataclass
class OdmrResult:
    """What an ODMR run produced.

    Attributes
    ----------
    status
        ``"completed"`` or ``"aborted"`` (``reason`` says why).
    final
        The fit of the final running average (lines, field, D), or None if no sweep completed.
    error
        The instrument error that aborted the run, if any (the CLI exits 1 for it).
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    sweeps: int
    settings: OdmrSettings
    frequencies: NDArray[np.float64]
    average: NDArray[np.float64] | None
    final: SweepAnalysis | None
    safe_report: list[str] = field(default_factory=list)
    error: Exception | None = None
    resonance: ResonanceCheck | None = None

    @property
    def resonance_found(self) -> bool | None:
        """Whether the run measured a resonance (:func:`~nvsense.measure.resonance.
        check_resonance` on the final average); ``None`` if no sweep completed."""
        return None if self.resonance is None else self.resonance.found

    @property
    def warnings(self) -> list[str]:
        """What the person at the bench must know about the result (no resonance measured,
        lines sampled too coarsely)."""
        return [] if self.resonance is None else self.resonance.notes()

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``nvsense odmr --json``."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "file": str(self.file) if self.file else None,
            "status": self.status,
            "reason": self.reason,
            "sweeps": self.sweeps,
            "lines_hz": None,
            "line_errors_hz": None,
            "field_t": None,
            "field_errors_t": None,
            "d_hz": None,
            "d_error_hz": None,
        }
        out[RESONANCE_KEY] = self.resonance_found
        out["warnings"] = self.warnings
        fit = self.final
        if fit is None:
            return out
        out["lines_hz"] = [_num(c) for c in fit.centers]
        out["line_errors_hz"] = [_num(e) for e in fit.center_errors]
        out["fit_success"] = fit.success
        if fit.kind == "vector":
            out["field_t"] = [_num(b) for b in fit.field]
            out["field_errors_t"] = [_num(e) for e in fit.field_errors]
        elif fit.kind == "parallel":
            out["field_t"] = _num(fit.field_parallel)
            out["field_errors_t"] = _num(fit.field_parallel_error)
        out["field_kind"] = fit.kind
        if fit.kind != "none":
            out["d_hz"] = _num(fit.D)
            out["d_error_hz"] = _num(fit.D_error)
        return out


def _num(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def run_odmr(
    bench: Any,
    settings: OdmrSettings | Mapping[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    campaign: str | None = None,
    campaign_point: int | None = None,
) -> OdmrResult:
    """Measure CW-ODMR on ``bench`` and return the result.

    Parameters
    ----------
    bench
        A :class:`nvsense.instruments.Bench`; connected here if it is not already (and then
        closed at the end).
    settings
        :class:`OdmrSettings` or a mapping of them (quantities with units accepted); settings
        a mapping leaves out come from the bench file's ``defaults.odmr``, if any, else from
        :class:`OdmrSettings`.
    data_dir, catalog
        Where the run file and its catalogue row go (``catalog`` wins; default data folder:
        see :func:`nvsense.storage.resolve_data_dir`).
    subscribers
        Called with every event in the measurement thread; wrap slow ones (a GUI) in
        :class:`nvsense.measure.events.Mailbox` so the measurement never waits on them.
    control
        Lets another thread (or a Ctrl-C handler) stop the run after the current sweep.
    campaign, campaign_point
        Recorded in the run file and the catalogue for campaign runs.

    Raises
    ------
    SettingsError, LimitError
        Invalid settings or settings outside the instrument's or the bench's limits; raised
        before anything is sent to an instrument.
    """
    if not isinstance(settings, OdmrSettings):  # what is not given: the bench file's defaults
        settings = odmr_settings_for(bench, settings)
    frequencies = settings.frequencies()
    # every planned setting is checked before any command is sent
    bench.check_settings(frequencies=frequencies, mw_power=settings.mw_power,
                         laser_power=settings.laser_power)
    catalog = catalog if catalog is not None else Catalog(data_dir)
    with connected(bench):
        return _Run(bench, settings, frequencies, catalog, event_bus(subscribers),
                    control or RunControl(), campaign, campaign_point).execute()


def _better_fit(a: SweepAnalysis | None, b: SweepAnalysis | None) -> SweepAnalysis | None:
    """The successful one, else the one with the lower χ² (ties keep ``a``)."""
    if a is None or b is None:
        return a if b is None else b
    if a.success != b.success:
        return a if a.success else b
    chi_a, chi_b = float(a.fit.chisqr), float(b.fit.chisqr)
    if not np.isfinite(chi_a):
        return b
    return b if np.isfinite(chi_b) and chi_b < chi_a * (1 - 1e-9) else a


class _Run:
    """One ODMR run's state; :meth:`execute` is the whole procedure."""

    def __init__(self, bench: Any, settings: OdmrSettings, frequencies: NDArray[np.float64],
                 catalog: Catalog, bus: EventBus, control: RunControl, campaign: str | None,
                 campaign_point: int | None) -> None:
        self.bench, self.settings, self.frequencies = bench, settings, frequencies
        self.catalog, self.bus, self.control = catalog, bus, control
        self.campaign, self.campaign_point = campaign, campaign_point
        self.clock = bench_clock(bench)
        self.writer: RunWriter | None = None
        self.sum: NDArray[np.float64] | None = None
        self.n_sweeps = 0
        self.n_lines: int | None = settings.n_lines
        self.last: SweepAnalysis | None = None
        self.last_average: SweepAnalysis | None = None
        self.pending: list[tuple[NDArray[np.float64], float]] = []
        self.dips_found = -1
        self.field_guess = (np.asarray(settings.field_guess, dtype=float)
                            if settings.field_guess is not None else None)
        sample = getattr(bench, "sample", None)
        self.axes = None
        if settings.model == "hamiltonian" and sample is not None:
            self.axes = getattr(sample, "axes", None)
        counter_kind = getattr(bench.counter, "kind", "counts")
        self.sigma = "poisson" if counter_kind == "counts" else None
        self.signal_units = "1" if counter_kind == "counts" else "V"

    # -- the procedure ------------------------------------------------------------------------

    def execute(self) -> OdmrResult:
        s, bench = self.settings, self.bench
        status, reason, error = "completed", None, None
        sweeper = make_sweeper(bench.mw, bench.counter, self.frequencies, s.dwell, s.mw_power,
                               s.mode)
        try:
            if s.laser_power is not None:
                bench.laser.power = s.laser_power
            bench.laser.on = True
            sweeper.prepare()
            if sweeper.mode == "stepped":
                bench.mw.frequency = float(self.frequencies[0])
            bench.mw.output = True
            t0 = self.clock()
            if self.n_lines is not None or s.model == "hamiltonian":
                self._open_file(sweeper.mode)
            while True:
                counts = sweeper.sweep()
                elapsed = self.clock() - t0
                self._record(counts, elapsed, sweeper.mode)
                if self.control.stop_requested:
                    status, reason = "aborted", self.control.reason or STOPPED_BY_USER
                    break
                if s.sweeps is not None and self.n_sweeps >= s.sweeps:
                    break
                if s.duration is not None and elapsed >= s.duration:
                    break
        except InstrumentError as exc:
            status, reason, error = "aborted", str(exc), exc
            log.error("ODMR run aborted: %s", exc)
        except KeyboardInterrupt:
            status, reason = "aborted", f"{STOPPED_BY_USER} (interrupted)"
            self._finish(sweeper, status, reason)
            raise
        except BaseException as exc:
            status, reason = "aborted", f"{type(exc).__name__}: {exc}"
            self._finish(sweeper, status, reason)
            raise
        return self._finish(sweeper, status, reason, error)

    def _open_file(self, mode: str) -> None:
        s = self.settings
        n_lines = self.n_lines if s.model != "hamiltonian" else 2 * (
            4 if self.axes is None else len(self.axes))
        self.n_lines = n_lines
        kind = field_kind(s.model, n_lines)
        schema = odmr_schema(self.frequencies, n_lines, field=kind, average=True,
                             signal_units=self.signal_units,
                             signal_long_name="photon counts" if self.signal_units == "1"
                             else "photodiode voltage")
        parameters = s.as_record()
        parameters["n_lines"] = n_lines
        parameters["sweep_mode"] = mode
        meta = self.bench.metadata()
        self.writer = self.catalog.new_run(
            "odmr", schema, parameters=parameters, parameter_units=PARAMETER_UNITS,
            bench_config=meta.get("bench_config"), bench_source=meta.get("bench_source") or
            "built-in", instruments=self.bench.identities(), campaign=self.campaign,
            campaign_point=self.campaign_point,
            attrs={"field_kind": kind, "fit_model": s.model, "counter_kind": self.signal_units},
        )
        self.bus.publish(RunStarted(run_id=self.writer.run_id, kind="odmr",
                                    file=str(self.writer.path), parameters=parameters,
                                    identities=self.bench.identities()))

    def _record(self, counts: NDArray[np.float64], elapsed: float, mode: str) -> None:
        self.n_sweeps += 1
        self.sum = counts.copy() if self.sum is None else self.sum + counts
        average = self.sum / self.n_sweeps
        if self.writer is None:  # number of lines not given: find the dips first
            self.pending.append((counts, elapsed))
            if not self._detect_lines(average, mode):
                return
            pending, self.pending = self.pending, []
            running = np.zeros_like(counts)
            for k, (sweep_counts, sweep_elapsed) in enumerate(pending[:-1]):
                running += sweep_counts
                self._store(sweep_counts, running / (k + 1), sweep_elapsed, k + 1)
        self._store(counts, average, elapsed, self.n_sweeps)

    def _detect_lines(self, average: NDArray[np.float64], mode: str) -> bool:
        """Find the number of dips in the running average and open the run file; until dips
        stand out of the noise (up to DETECT_SWEEPS sweeps) the sweeps wait in memory."""
        try:
            found = count_dips(self.frequencies, average, self.settings.model)
        except Exception as exc:
            found, reason = 0, exc
        # a weak line may pass the threshold a sweep after a strong one: wait until two
        # successive averages agree on the number of dips
        stable = found > 0 and found == self.dips_found
        self.dips_found = found
        if not stable and self.n_sweeps < DETECT_SWEEPS and not self._last_chance():
            return False
        if found == 0:  # the run's final check reports it (OdmrResult.warnings)
            log.info("no resonance found in %d sweeps (%s); recording without fits",
                     self.n_sweeps, reason)
        self.n_lines = max(found, 1)
        self._open_file(mode)
        return True

    def _last_chance(self) -> bool:
        """Whether this sweep is the last of the run (then the file must be written now)."""
        s = self.settings
        return self.control.stop_requested or (s.sweeps is not None
                                               and self.n_sweeps >= s.sweeps)

    def _store(self, counts: NDArray[np.float64], average: NDArray[np.float64],
               elapsed: float, n_averaged: int) -> None:
        """Fit one sweep and the running average, write them, then publish them."""
        s = self.settings
        assert self.writer is not None and self.n_lines is not None
        seed = self.last_average.fit if self.last_average is not None else None
        guess_field = self._field_guess()
        sweep_fit = self._analyse(counts, seed, guess_field, weight=1)
        avg_fit = self._analyse(average, seed, guess_field, weight=n_averaged)
        if seed is not None:
            # a fit seeded by the last one stays in that one's minimum, so an early sweep's
            # wrong minimum (a 14N triplet fitted one hyperfine spacing off) would stick for
            # the whole run: a fresh start competes, the better fit wins
            avg_fit = _better_fit(avg_fit, self._analyse(average, None, guess_field,
                                                         weight=n_averaged))
        if avg_fit is not None and avg_fit.success:
            self.last_average = avg_fit
        self.last = avg_fit
        values: dict[str, Any] = {"time": elapsed, "counts": counts}
        if sweep_fit is not None:
            values.update(sweep_fit.record())
        if avg_fit is not None:
            values.update(avg_fit.record("avg_"))
        self.writer.append(**values)  # flushed: a crash from here on keeps this sweep
        self.bus.publish(SweepDone(run_id=self.writer.run_id, index=n_averaged - 1,
                                   frequencies=self.frequencies, counts=counts, average=average,
                                   fit=sweep_fit, average_fit=avg_fit, elapsed=elapsed,
                                   sweeps_planned=s.sweeps))

    def _field_guess(self) -> NDArray[np.float64] | None:
        """The user's guess, else the last field: keeps the 8-line assignment consistent from
        sweep to sweep instead of hopping between symmetry-equivalent vectors."""
        if self.field_guess is not None:
            return self.field_guess
        last = self.last_average
        if last is not None and last.kind == "vector" and np.all(np.isfinite(last.field)):
            return last.field
        return None

    def _analyse(self, signal: NDArray[np.float64], seed: Any,
                 guess_field: NDArray[np.float64] | None, weight: int) -> SweepAnalysis | None:
        sigma: Any = self.sigma
        if sigma == "poisson" and weight > 1:
            # the average of n sweeps of Poisson counts has variance mean / n
            sigma = np.sqrt(np.maximum(signal, 1.0) / weight)
        try:
            return analyse_spectrum(self.frequencies, signal, model=self.settings.model,
                                    n_lines=int(self.n_lines or 1), sigma=sigma, guess=seed,
                                    field_guess=guess_field, axes=self.axes)
        except Exception:  # a fit problem must never cost data
            log.exception("fit of sweep %d failed", self.n_sweeps)
            return None

    def _check_resonance(self, average: NDArray[np.float64] | None) -> ResonanceCheck | None:
        """Judge the final average (see :mod:`.resonance`); a fit of a spectrum without a
        resonance is marked failed, so nothing reports it as a measurement."""
        if average is None:
            return None
        try:
            check = check_resonance(self.frequencies, average, self.last, sweeps=self.n_sweeps,
                                    counts=self.sigma == "poisson", dwell=self.settings.dwell)
        except Exception:  # a check must never cost the run
            log.exception("could not check the spectrum for a resonance")
            return None
        if not check.found:
            log.info("ODMR run: %s", check.message)  # the front ends print result.warnings
            if self.last is not None:
                self.last = replace(self.last, success=False, message=check.message)
        return check

    def _finish(self, sweeper: Any, status: str, reason: str | None,
                error: Exception | None = None) -> OdmrResult:
        try:
            sweeper.finish()
        except Exception as exc:  # the bench is made safe below in any case
            log.warning("could not stop the sweep cleanly: %s", exc)
        safe_report = list(self.bench.safe())
        if self.pending:  # stopped while still looking for dips: keep those sweeps too
            try:
                self.n_lines = self.n_lines or 1
                self._open_file(sweeper.mode)
                pending, self.pending = self.pending, []
                running = np.zeros_like(pending[0][0])
                for k, (counts, elapsed) in enumerate(pending):
                    running += counts
                    self._store(counts, running / (k + 1), elapsed, k + 1)
            except Exception:
                log.exception("could not write the sweeps taken before the dips were found")
        writer = self.writer
        average = self.sum / self.n_sweeps if self.sum is not None else None
        resonance = self._check_resonance(average)
        results: dict[str, Any] = {"sweeps": self.n_sweeps}
        if self.last is not None:
            results.update(self.last.results())
        if resonance is not None:
            results[RESONANCE_KEY] = resonance.found
        if writer is not None:
            attrs = {"safe_state_report": "; ".join(safe_report)}
            if resonance is not None and resonance.notes():
                attrs["warnings"] = "; ".join(resonance.notes())
            writer.close(status, reason, results=results, attrs=attrs)
        result = OdmrResult(
            run_id=writer.run_id if writer else None, file=writer.path if writer else None,
            status=status, reason=reason, sweeps=self.n_sweeps, settings=self.settings,
            frequencies=self.frequencies, average=average, final=self.last,
            safe_report=safe_report, error=error, resonance=resonance)
        self.bus.publish(RunFinished(run_id=result.run_id or "", status=status, reason=reason,
                                     results=results, file=str(result.file or ""),
                                     safe_report=tuple(safe_report)))
        return result
