"""The CW-ODMR measurement: sweep, fit every sweep as it arrives, report the field, keep every
sample on disk.

>>> from nvsense.instruments import load_bench
>>> from nvsense.measure import OdmrSettings, run_odmr
>>> with load_bench() as bench:                                  # doctest: +SKIP
...     result = run_odmr(bench, OdmrSettings(sweeps=10), data_dir="nvsense-data")
>>> result.final.field                                          # doctest: +SKIP

The run file is created when the run starts, and each sweep is written to it (and flushed)
before it is published to subscribers, so a crash at any moment keeps every completed sweep.
When the number of lines is not given, the first sweeps are written raw (``time`` and
``counts``) while the running average shows its dips — at most :data:`DETECT_SWEEPS` sweeps;
once the number is known, the fits of those sweeps are added with the ``line`` dimension
(:meth:`nvsense.storage.RunWriter.extend`) and every later sweep is written with its fits.
Whatever happens — normal end, a stop request, Ctrl-C, an instrument fault, a bug — the bench
is made safe (RF off, laser off or standby) and the run file closed with its status before
:func:`run_odmr` returns or raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..instruments.errors import InstrumentError, LimitError
from ..storage import Catalog, RunSchema, RunWriter, odmr_schema
from .analysis import SweepAnalysis, analyse_spectrum, count_dips, field_kind
from .bench_defaults import odmr_settings_for
from .control import STOPPED_BY_USER, RunControl
from .events import Event, EventBus, RunFinished, RunStarted, SweepDone
from .preflight import check_odmr_plan
from .resonance import RESONANCE_KEY, ResonanceCheck, check_resonance
from .session import bench_clock, connected, event_bus
from .settings import OdmrSettings, SettingsError
from .sweeps import make_sweeper

__all__ = ["OdmrResult", "check_odmr", "run_odmr"]

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
        Invalid settings or settings outside the instrument's or the bench's limits (also
        the counter's bin times and the source's list length the run needs); raised before
        anything is sent to an instrument.
    """
    if not isinstance(settings, OdmrSettings):  # what is not given: the bench file's defaults
        settings = odmr_settings_for(bench, settings)
    frequencies = settings.frequencies()
    check_odmr(bench, settings, frequencies)
    catalog = catalog if catalog is not None else Catalog(data_dir)
    with connected(bench):
        return _Run(bench, settings, frequencies, catalog, event_bus(subscribers),
                    control or RunControl(), campaign, campaign_point).execute()


def check_odmr(bench: Any, settings: OdmrSettings, frequencies: Any = None) -> None:
    """Check every planned setting of an ODMR run against the instruments' and the bench's
    limits, sending nothing: frequencies, powers, and each acquisition and frequency list the
    run will need (:func:`nvsense.measure.preflight.check_odmr_plan`).

    Raises
    ------
    LimitError, SettingsError
    """
    frequencies = settings.frequencies() if frequencies is None else frequencies
    bench.check_settings(frequencies=frequencies, mw_power=settings.mw_power,
                         laser_power=settings.laser_power)
    if settings.mode == "list" and not getattr(bench.mw, "supports_list", False):
        raise SettingsError(f"{getattr(bench.mw, 'name', 'mw')}: this microwave source has no "
                            "list mode; use mode 'stepped' (or 'auto')")
    check_odmr_plan(bench, settings, frequencies)


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
        except (InstrumentError, LimitError) as exc:
            # a LimitError here is one the checks before the run could not know of (a
            # driver's limit known only once connected): the run ends, its sweeps kept
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
        """Create the run file: with the fits' variables when the number of lines is known,
        else with the raw sweeps only (the fits are added once the number is known)."""
        s = self.settings
        if s.model == "hamiltonian":
            self.n_lines = 2 * (4 if self.axes is None else len(self.axes))
        parameters = s.as_record()
        parameters["n_lines"] = self.n_lines
        parameters["sweep_mode"] = mode
        kind = field_kind(s.model, self.n_lines) if self.n_lines is not None else None
        schema = self._schema() if self.n_lines is not None else self._raw_schema()
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

    def _schema(self) -> RunSchema:
        """The full layout: raw sweeps, fits of each sweep and of the running average."""
        assert self.n_lines is not None
        return odmr_schema(self.frequencies, self.n_lines,
                           field=field_kind(self.settings.model, self.n_lines), average=True,
                           signal_units=self.signal_units,
                           signal_long_name="photon counts" if self.signal_units == "1"
                           else "photodiode voltage")

    def _raw_schema(self) -> RunSchema:
        """The layout while the number of lines is not known: ``time`` and ``counts``."""
        full = odmr_schema(self.frequencies, 1, field="none", average=False,
                           signal_units=self.signal_units,
                           signal_long_name="photon counts" if self.signal_units == "1"
                           else "photodiode voltage")
        return RunSchema(append_dim=full.append_dim, append_units=full.append_units,
                         append_long_name=full.append_long_name, coords=full.coords,
                         variables=[full.variable("time"), full.variable("counts")])

    def _record(self, counts: NDArray[np.float64], elapsed: float, mode: str) -> None:
        self.n_sweeps += 1
        self.sum = counts.copy() if self.sum is None else self.sum + counts
        average = self.sum / self.n_sweeps
        if self.n_lines is not None:
            self._store(counts, average, elapsed, self.n_sweeps)
            return
        # number of lines not known yet: the raw sweep goes to the file first (flushed)
        assert self.writer is not None
        self.writer.append(time=elapsed, counts=counts)
        self.pending.append((counts, elapsed))
        fits: tuple[SweepAnalysis | None, SweepAnalysis | None] = (None, None)
        if self._detect_lines(average):
            fits = self._add_fits()
        self.bus.publish(SweepDone(run_id=self.writer.run_id, index=self.n_sweeps - 1,
                                   frequencies=self.frequencies, counts=counts, average=average,
                                   fit=fits[0], average_fit=fits[1], elapsed=elapsed,
                                   sweeps_planned=self.settings.sweeps,
                                   lines_pending=self.n_lines is None))

    def _detect_lines(self, average: NDArray[np.float64], force: bool = False) -> bool:
        """Find the number of dips in the running average; until dips stand out of the noise
        (up to DETECT_SWEEPS sweeps, or ``force``) the number stays unknown."""
        try:
            found = count_dips(self.frequencies, average, self.settings.model)
        except Exception as exc:
            found, reason = 0, exc
        # a weak line may pass the threshold a sweep after a strong one: wait until two
        # successive averages agree on the number of dips
        stable = found > 0 and found == self.dips_found
        self.dips_found = found
        if not (stable or force) and self.n_sweeps < DETECT_SWEEPS and not self._last_chance():
            return False
        if found == 0:  # the run's final check reports it (OdmrResult.warnings)
            log.info("no resonance found in %d sweeps (%s); recording without fits",
                     self.n_sweeps, reason)
        self.n_lines = max(found, 1)
        return True

    def _last_chance(self) -> bool:
        """Whether this sweep is the last of the run (then the fits must be written now)."""
        s = self.settings
        return self.control.stop_requested or (s.sweeps is not None
                                               and self.n_sweeps >= s.sweeps)

    def _add_fits(self) -> tuple[SweepAnalysis | None, SweepAnalysis | None]:
        """Fit the sweeps written raw so far and add the fits to the file; returns the fits
        of the last one (sweep, running average)."""
        assert self.writer is not None and self.n_lines is not None
        pending, self.pending = self.pending, []
        running = np.zeros_like(pending[0][0])
        records: list[dict[str, Any]] = []
        fits: tuple[SweepAnalysis | None, SweepAnalysis | None] = (None, None)
        for k, (counts, _elapsed) in enumerate(pending):
            running += counts
            fits = self._fit_pair(counts, running / (k + 1), k + 1)
            records.append(_fit_values(*fits))
        schema = self._schema()
        raw = set(self.writer.schema.variable_names)
        names = [v.name for v in schema.variables if v.name not in raw]
        values = {name: _stack([r.get(name) for r in records], schema, name) for name in names}
        self.writer.extend(schema, values,
                           attrs={"field_kind": field_kind(self.settings.model, self.n_lines)},
                           parameters={"n_lines": self.n_lines})
        return fits

    def _fit_pair(self, counts: NDArray[np.float64], average: NDArray[np.float64],
                  n_averaged: int) -> tuple[SweepAnalysis | None, SweepAnalysis | None]:
        """Fits of one sweep and of the running average (seeded by the last good one)."""
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
        return sweep_fit, avg_fit

    def _store(self, counts: NDArray[np.float64], average: NDArray[np.float64],
               elapsed: float, n_averaged: int) -> None:
        """Fit one sweep and the running average, write them, then publish them."""
        s = self.settings
        assert self.writer is not None and self.n_lines is not None
        sweep_fit, avg_fit = self._fit_pair(counts, average, n_averaged)
        values: dict[str, Any] = {"time": elapsed, "counts": counts}
        values.update(_fit_values(sweep_fit, avg_fit))
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
        try:  # (n_averages: the average of n sweeps of Poisson counts has variance mean / n)
            return analyse_spectrum(self.frequencies, signal, model=self.settings.model,
                                    n_lines=int(self.n_lines or 1), sigma=self.sigma,
                                    guess=seed, field_guess=guess_field, axes=self.axes,
                                    n_averages=weight)
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
        if self.pending and self.writer is not None and not self.writer.closed:
            # stopped while still looking for dips: the raw sweeps are in the file; add the
            # fits with the number of dips the average shows now
            try:
                assert self.sum is not None
                self._detect_lines(self.sum / self.n_sweeps, force=True)
                self._add_fits()
            except Exception:
                log.exception("could not add the fits of the sweeps taken before the dips "
                              "were found; their raw data are in the file")
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


def _fit_values(sweep_fit: SweepAnalysis | None, avg_fit: SweepAnalysis | None
                ) -> dict[str, Any]:
    """The run-file values of one sweep's fits (the sweep's and the running average's)."""
    values: dict[str, Any] = {}
    for fit, prefix in ((sweep_fit, ""), (avg_fit, "avg_")):
        if fit is None:
            continue
        values.update(fit.record(prefix))
        # every fit gives the errors of width and contrast too
        values.setdefault(f"{prefix}line_width_error", fit.fit.width_errors)
        values.setdefault(f"{prefix}line_contrast_error", fit.fit.contrast_errors)
    return values


def _stack(rows: list[Any], schema: RunSchema, name: str) -> NDArray[Any]:
    """One variable's values of several records; records without it are NaN (or False)."""
    spec = schema.variable(name)
    shape = schema.record_shape(spec)
    fill = np.nan if spec.is_float else False
    out = np.full((len(rows), *shape), fill, dtype=spec.numpy_dtype)
    for i, row in enumerate(rows):
        if row is not None:
            out[i] = row
    return out
