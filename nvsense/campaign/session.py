"""The campaign runner: points measured one after the other on one bench connection.

:class:`CampaignSession` is the runner behind ``nvsense campaign run`` and the Python API for
custom loops (a notebook that chooses the next point from the last result)::

    from nvsense.campaign import CampaignSession

    with CampaignSession("coil-scan", measurement="odmr", bench="simulated",
                         settings={"sweeps": 3}, data_dir="nvsense-data", resume=True) as s:
        for current in ["0 A", "0.5 A", "1 A"]:
            outcome = s.measure(coil_current=current)
            print(outcome.status, outcome.results.get("field_z"))

Each point is validated (settings and the bench's limits) before it runs, recorded in the
catalogue with the campaign's name, its point index and its key (``--resume`` matches on
them), and the bench is made safe after it by the measurement itself.  A stepped coil current
is set and the coil output turned on just before the point's run.  On every exit — normal, an
exception, Ctrl-C — the session leaves the bench safe and releases the campaign.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ..instruments import Bench, BenchConfigError, InstrumentError, LimitError, load_bench
from ..measure.bench_defaults import check_bench_defaults, defaults_for
from ..measure.control import STOPPED_BY_USER, RunControl
from ..measure.settings import SettingsError
from ..storage import Catalog, CatalogError, resolve_data_dir
from .campaign_file import ON_ERROR, check_name
from .errors import CampaignError
from .events import CampaignFinished, CampaignStarted, PointFinished, PointStarted, publish
from .history import POINT_KEY, campaign_runs, completed_points
from .journal import CampaignJournal
from .measurements import COIL_CURRENT, Measurement, get_measurement
from .outcomes import CampaignResult, PointOutcome
from .points import CampaignPoint, PointInvalid, build_point, check_limits

__all__ = ["CampaignSession"]

log = logging.getLogger(__name__)


class CampaignSession:
    """Run campaign points on one bench connection.

    Parameters
    ----------
    name
        The campaign's name (recorded with every run; letters, digits, ``.``, ``_``, ``-``).
    measurement
        ``"odmr"`` or ``"track"``.
    settings
        Settings common to every point (quantities with units accepted); may include
        ``coil_current``.
    bench
        A :class:`~nvsense.instruments.Bench`, a bench file or built-in bench name (default:
        the simulated bench).  Connected by the session if it is not already, and closed
        again at the end.
    data_dir, catalog
        Where the runs go (``catalog`` wins).
    resume
        Skip points that have a completed run in the catalogue with the same key; without it,
        a campaign that already has runs is refused (so two campaigns never mix).
    on_error
        ``"continue"``: record a failed point and go on; ``"stop"``: end the campaign there.
    control
        Stops the current point after its current sweep, and the campaign with it.
    subscribers
        Called with the campaign's events and every measurement event.
    """

    def __init__(
        self,
        name: str,
        *,
        measurement: str | Measurement = "odmr",
        settings: Mapping[str, Any] | None = None,
        bench: str | Path | Mapping[str, Any] | Bench | None = None,
        data_dir: str | Path | None = None,
        catalog: Catalog | None = None,
        resume: bool = False,
        on_error: str = "continue",
        control: RunControl | None = None,
        subscribers: Iterable[Callable[[Any], None]] = (),
    ) -> None:
        self.name = check_name(name)
        try:
            self.measurement = (measurement if isinstance(measurement, Measurement)
                                else get_measurement(measurement))
        except ValueError as exc:
            raise CampaignError(f"measurement: {exc}") from None
        if on_error not in ON_ERROR:
            raise CampaignError(f"on_error: {on_error!r} is not allowed; use "
                                f"{' or '.join(ON_ERROR)}")
        try:
            self.bench = bench if isinstance(bench, Bench) else load_bench(bench)
            check_bench_defaults(self.bench, self.measurement.name)
        except (BenchConfigError, SettingsError) as exc:
            raise CampaignError(f"bench: {exc}") from None
        self.fixed = dict(settings or {})
        data = catalog.data_dir if catalog is not None else resolve_data_dir(data_dir)
        self.catalog = catalog if catalog is not None else Catalog(data)
        self.resume = resume
        self.on_error = on_error
        self.control = control or RunControl()
        self.subscribers = list(subscribers)
        self.journal = CampaignJournal(self.catalog.data_dir, self.name)
        self.outcomes: list[PointOutcome] = []
        self.stopped_reason: str | None = None
        self.total: int | None = None
        self._rows: list[dict[str, Any]] = []
        self._done: dict[int, dict[str, Any]] | None = None
        self._next_index = 0
        self._opened_bench = False
        self._active = False

    # -- start and finish -------------------------------------------------------------------

    def __enter__(self) -> CampaignSession:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish()

    def start(self, points: Sequence[CampaignPoint] | None = None) -> None:
        """Take the campaign's lock, check its history, connect the bench.

        Parameters
        ----------
        points
            The campaign's planned points, if known: with ``resume``, every point is matched
            against the catalogue now, so an edited campaign file is refused before the first
            point runs.

        Raises
        ------
        CampaignError
            The campaign already has runs and ``resume`` is not set;
            :class:`~.errors.CampaignMismatchError` if resuming would mix in runs measured
            with other parameters; :class:`~.errors.CampaignLockedError` if another process
            runs the campaign.
        InstrumentError
            The bench could not be connected (nothing was measured).
        """
        if self._active:
            return
        self.journal.lock()
        try:
            self._rows = campaign_runs(self.catalog, self.name)
            if self._rows and not self.resume:
                done = sum(r["status"] == "completed" for r in self._rows)
                raise CampaignError(
                    f"campaign {self.name!r} already has {len(self._rows)} run(s) in "
                    f"{self.catalog.data_dir} ({done} completed); add --resume (Python: "
                    "resume=True) to continue it where it stopped, or give the campaign a new "
                    "name; nothing was run")
            if points is not None:
                self.total = len(points)
                self._done = completed_points(points, self._rows, self.name) if self.resume \
                    else {}
            if not self.bench.connected:
                self.bench.connect()
                self._opened_bench = True
            if points is not None:
                self._recheck_limits(points)
        except BaseException:
            if self._opened_bench:
                try:
                    self.bench.safe()
                finally:
                    self.bench.close()
                    self._opened_bench = False
            self.journal.unlock()
            raise
        self._active = True
        self.journal.append("start", points=self.total, resume=self.resume,
                            measurement=self.measurement.name, bench=self.bench.label,
                            done=len(self._done or {}))
        publish(self.subscribers, CampaignStarted(self.name, self.total, len(self._done or {})))

    def _recheck_limits(self, points: Sequence[CampaignPoint]) -> None:
        """Check every point again now that the instruments are connected: some drivers
        only know their own limits (a source's frequency range) once they are."""
        problems: dict[str, list[int]] = {}
        for point in points:
            for problem in check_limits(self.bench, point):
                problems.setdefault(problem.text(), []).append(point.index)
        if problems:
            listed = [f"points {', '.join(map(str, idx[:8]))}{' ...' if len(idx) > 8 else ''}: "
                      f"{text}" for text, idx in problems.items()]
            raise CampaignError(f"campaign {self.name!r}: the connected instruments refuse "
                                "some points:\n  " + "\n  ".join(listed) + "\nnothing was run")

    def finish(self) -> CampaignResult:
        """Leave the bench safe (closing it if the session connected it), record the end in
        the journal and release the campaign.  Safe to call more than once."""
        if not self._active:
            return self.result()
        self._active = False
        try:
            self.bench.safe()
        finally:
            try:
                if self._opened_bench:
                    self.bench.close()
                    self._opened_bench = False
            finally:
                result = self.result()
                self.journal.append("end", reason=self.stopped_reason,
                                    **{s.replace(" ", "_"): result.count(s) for s in
                                       ("completed", "skipped", "failed", "stopped")})
                self.journal.unlock()
        publish(self.subscribers, CampaignFinished(self.name, result))
        return result

    def result(self) -> CampaignResult:
        """The outcomes so far."""
        return CampaignResult(self.name, list(self.outcomes), self.stopped_reason)

    # -- points -----------------------------------------------------------------------------

    def point(self, values: Mapping[str, Any] | None = None, *, index: int | None = None,
              **more: Any) -> CampaignPoint:
        """Validate a point: the session's settings overridden by ``values``.

        Parameters
        ----------
        values, **more
            Parameters of this point (any setting of the measurement, ``coil_current``).
        index
            Its point index; default: one after the last point.

        Raises
        ------
        CampaignError
            Naming the point, the parameter and the fix; nothing is sent to the bench.
        """
        values = {**(values or {}), **more}
        index = self._next_index if index is None else int(index)
        # what neither the session's settings nor the point give: the bench file's defaults
        fixed = {**defaults_for(self.bench, self.measurement.name,
                                set(self.fixed) | set(values)), **self.fixed}
        try:
            point = build_point(self.measurement, index, fixed, values)
        except PointInvalid as exc:
            raise CampaignError(f"campaign {self.name!r}, point {index}: {exc}") from None
        problems = check_limits(self.bench, point)
        if problems:
            raise CampaignError(f"campaign {self.name!r}, point {index} ({point.label()}): "
                                + "; ".join(p.text() for p in problems))
        return point

    def measure(self, values: Mapping[str, Any] | None = None, *, index: int | None = None,
                **more: Any) -> PointOutcome:
        """Validate and run one point (see :meth:`point` and :meth:`run`)."""
        return self.run(self.point(values, index=index, **more))

    def run(self, point: CampaignPoint) -> PointOutcome:
        """Run one validated point, unless it is done already (``resume``) or the campaign
        has stopped.

        Returns
        -------
        PointOutcome
            ``completed``, ``skipped`` (done earlier), ``failed`` (with the reason; recorded
            in the journal, and in the catalogue if its run file was made), ``stopped`` or
            ``not run``.

        Raises
        ------
        KeyboardInterrupt
            A second Ctrl-C: the bench has been made safe and the point recorded as stopped.
        """
        if not self._active:
            raise RuntimeError("start the session first: use it in a `with` block")
        self._next_index = max(self._next_index, point.index + 1)
        if self.stopped_reason is None and self.control.stop_requested:
            self.stopped_reason = self.control.reason or STOPPED_BY_USER
        if self.stopped_reason is not None:
            outcome = PointOutcome(point, "not run", reason=self.stopped_reason)
            self.outcomes.append(outcome)
            self._finished(outcome)
            return outcome
        done = self._completed_run(point)
        if done is not None:
            outcome = PointOutcome(point, "skipped", reason=f"run {done['id']} of an earlier "
                                   "session", run_id=done["id"],
                                   file=Path(done["file"]), results=dict(done["results"] or {}))
            self._finished(outcome)  # the journal has every point of every session
        else:
            outcome = self._measure(point)
        self.outcomes.append(outcome)
        publish(self.subscribers, PointFinished(self.name, outcome, self.total))
        return outcome

    def _completed_run(self, point: CampaignPoint) -> dict[str, Any] | None:
        if not self.resume:
            return None
        if self._done is not None:
            return self._done.get(point.index)
        rows = [r for r in self._rows if r.get("campaign_point") == point.index]
        return completed_points([point], rows, self.name).get(point.index)

    def _measure(self, point: CampaignPoint) -> PointOutcome:
        publish(self.subscribers, PointStarted(self.name, point, self.total))
        self.journal.append("point_start", index=point.index, key=point.key,
                            values=point.label())
        t0 = time.monotonic()
        result: Any = None
        error: BaseException | None = None
        try:
            if point.coil_current is not None:
                self._coil_on(point.coil_current)
            result = self.measurement.run(
                self.bench, point.settings, catalog=self.catalog, subscribers=self.subscribers,
                control=self.control, md=self._run_md(point))
        except KeyboardInterrupt:
            self.bench.safe()
            outcome = PointOutcome(point, "stopped", f"{STOPPED_BY_USER} (interrupted)",
                                   elapsed=time.monotonic() - t0)
            self.outcomes.append(outcome)
            self.stopped_reason = outcome.reason
            self._finished(outcome)
            raise
        except (InstrumentError, LimitError) as exc:
            # a limit only the connected instrument knows, or the coil failing
            error = exc
        except Exception as exc:  # a bug must not take the bench down unsafe or lose the log
            log.exception("campaign %s: point %d failed", self.name, point.index)
            error = exc
        outcome = self._outcome(point, result, error, time.monotonic() - t0)
        if outcome.status == "failed":
            self._after_failure(outcome)
        elif outcome.status == "stopped":
            self.stopped_reason = outcome.reason
        self._finished(outcome)
        return outcome

    def _run_md(self, point: CampaignPoint) -> dict[str, Any]:
        """The run's metadata: the campaign, the point's index and key (``--resume`` matches
        on them) and its coil current, recorded in the run file itself (so a rescan of the
        data folder keeps them, and ``Catalog.runs(coil_current=0.5)`` finds them)."""
        md: dict[str, Any] = {"campaign": self.name, "campaign_point": point.index,
                              POINT_KEY: point.key}
        if point.coil_current is not None:
            md[COIL_CURRENT] = point.coil_current
            md["units"] = {COIL_CURRENT: "A"}
        return md

    def _coil_on(self, current: float) -> None:
        coil = self.bench.coil
        if coil is None:  # validated before; a bench swapped under a session would land here
            raise LimitError("coil current given, but this bench has no coil")
        coil.current = current
        coil.output = True

    def _outcome(self, point: CampaignPoint, result: Any, error: BaseException | None,
                 elapsed: float) -> PointOutcome:
        if result is None:
            reason = str(error) if isinstance(error, InstrumentError | LimitError) else \
                f"{type(error).__name__}: {error}"
            return PointOutcome(point, "failed", reason, elapsed=elapsed, error=error)
        if result.status == "completed":
            status = "completed"
        elif (result.reason or "").startswith(STOPPED_BY_USER) and result.error is None:
            status = "stopped"
        else:
            status = "failed"
        return PointOutcome(point, status, result.reason, run_id=result.run_id,
                            file=result.file, results=self._results(result), elapsed=elapsed,
                            error=result.error, result=result)

    def _results(self, result: Any) -> dict[str, Any]:
        """Key results as the catalogue has them (the same for points measured now and
        points resumed), else from the result itself."""
        if result.run_id is not None:
            try:
                return dict(self.catalog.get(result.run_id).get("results") or {})
            except CatalogError as exc:
                log.warning("campaign %s: %s", self.name, exc)
        final = getattr(result, "final", None)
        if final is not None and hasattr(final, "results"):
            return dict(final.results())
        return dict(result.summary())

    def _after_failure(self, outcome: PointOutcome) -> None:
        """Leave the bench safe; after an instrument fault, connect it again for the next
        point (a lost connection would fail every later point otherwise)."""
        self.bench.safe()
        if self.on_error == "stop":
            self.stopped_reason = (f"point {outcome.point.index} failed ({outcome.reason}); "
                                   "the campaign file says on_error: stop")
            return
        if isinstance(outcome.error, InstrumentError):
            try:
                self.bench.close()
                self.bench.connect()
            except InstrumentError as exc:
                self.stopped_reason = (f"the bench could not be connected again after point "
                                       f"{outcome.point.index} failed: {exc}")

    def _finished(self, outcome: PointOutcome) -> None:
        self.journal.append("point", index=outcome.point.index, key=outcome.point.key,
                            values=outcome.point.label(), status=outcome.status,
                            reason=outcome.reason, run_id=outcome.run_id,
                            elapsed=round(outcome.elapsed, 3))
