"""One run lifecycle for every measurement kind.

A measurement kind (:class:`Measurement`) is its settings, its :meth:`~Measurement.check`, its
:meth:`~Measurement.variables` and its :meth:`~Measurement.loop`.  :func:`execute` does the
rest, the same way for every kind (in the spirit of Bluesky's ``run_wrapper`` and
``finalize_wrapper`` and of PyMeasure's procedure worker):

1. **check** the settings against the bench — every limit the run will meet, sending
   nothing; a :class:`~nvsense.measure.settings.SettingsError` or
   :class:`~nvsense.instruments.LimitError` ends it there, with no run;
2. **connect** the bench (if it is not connected; it is closed again at the end) and take the
   instruments' **snapshot** (:meth:`nvsense.instruments.Bench.snapshot`);
3. **create the run**: publish its :class:`~nvsense.measure.documents.RunStarted` document
   with the declared variables, the parameters, the caller's metadata (``md``) and the
   snapshot; the run-file writer (:class:`~nvsense.measure.run_file.RunFileWriter`), the
   first subscriber, creates the file and its catalogue row;
4. run the kind's **loop**, which publishes one document per record or block (written to the
   file, flushed, before any other subscriber sees it) and honours stop requests;
5. on every exit — normal end, a stop request, Ctrl-C, an instrument fault, a bug — stop what
   the loop started (:meth:`Measurement.stop`), leave the **bench safe** (RF off, laser off or
   standby), let the kind **conclude** (its results), and publish the
   :class:`~nvsense.measure.documents.RunFinished` document with the **status and reason**
   (``completed``; ``aborted`` with why: the user, a fault, a bug), which closes the file.

A minimal kind (``docs/development.md``, "Writing a measurement kind")::

    class CountRate(Measurement):
        kind = "rate"
        def check(self, bench): ...                   # LimitError / SettingsError
        def variables(self, bench): return RunSchema(...)
        def loop(self, run):
            while not run.stop_requested:
                run.record(time=..., counts=...)

    outcome = execute(CountRate(settings), bench, data_dir="nvsense-data")
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..instruments.errors import InstrumentError, LimitError
from .control import STOPPED_BY_USER, RunControl
from .documents import Event, Record, RunFinished, RunStarted, VariablesAdded
from .events import EventBus
from .session import bench_clock, connected

__all__ = [
    "Conclusion",
    "Measurement",
    "Run",
    "RunAborted",
    "RunOutcome",
    "StopRequested",
    "execute",
    "run_md",
]

log = logging.getLogger(__name__)


class RunAborted(Exception):
    """Raised by a loop to end its run as ``aborted`` with ``reason`` (a lost lock, a failed
    calibration); what was recorded is kept.  ``error``, if given, is the fault the front ends
    report (the CLI exits 1 for an instrument fault)."""

    def __init__(self, reason: str, error: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class StopRequested(Exception):
    """Raised by :meth:`Run.check_stop` when a stop was requested: the run ends ``aborted``
    with the stop's reason ("stopped by user")."""


@dataclass
class Conclusion:
    """What a kind adds at the end of its run: key results (with units for those the
    catalogue does not know) and global attributes of the run file."""

    results: dict[str, Any] = field(default_factory=dict)
    result_units: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


class Measurement(ABC):
    """A measurement kind: its settings, check, variables and loop.

    Parameters
    ----------
    settings
        The kind's validated settings (a pydantic model, or anything the kind reads).

    Attributes
    ----------
    kind
        The run kind (``"odmr"``): file names, catalogue, documents.
    parameter_units
        Units of the parameters the run file records (:meth:`parameters`).
    open_at_start
        The run (and its file) is created before :meth:`loop` runs, with :meth:`variables`.
        A kind that learns its layout only during the loop (the tracking magnetometer, after
        its calibration) sets False and calls :meth:`Run.open` itself.
    """

    kind: ClassVar[str]
    parameter_units: ClassVar[Mapping[str, str]] = {}
    open_at_start: ClassVar[bool] = True

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @abstractmethod
    def check(self, bench: Any) -> None:
        """Check every setting the run will use against the instruments' and the bench's
        limits, sending nothing.

        Raises
        ------
        SettingsError, LimitError
            Naming the setting, the value and the limit.
        """

    @abstractmethod
    def variables(self, bench: Any) -> Any:
        """The run file's layout (:class:`nvsense.storage.RunSchema`): every variable the
        records carry, declared once (name, dims, dtype, units, long name)."""

    @abstractmethod
    def loop(self, run: Run) -> None:
        """Measure: set the instruments up, then publish records until done or until
        :attr:`Run.stop_requested`.  Raise :class:`RunAborted` to end the run as aborted."""

    def parameters(self) -> dict[str, Any]:
        """The parameters the run file records (JSON-ready, SI): the settings."""
        settings = self.settings
        if hasattr(settings, "as_record"):
            return dict(settings.as_record())
        if hasattr(settings, "model_dump"):
            return dict(settings.model_dump(mode="json"))
        return dict(settings or {})

    def attrs(self, bench: Any) -> dict[str, Any]:
        """Global attributes of the run file beyond the common ones."""
        return {}

    def file_writer(self, catalog: Any) -> Callable[[Event], None]:
        """The run's first subscriber, which writes its file and catalogue row (default:
        :class:`~nvsense.measure.run_file.RunFileWriter`; a widefield run writes a cube)."""
        from .run_file import RunFileWriter

        return RunFileWriter(catalog)

    def stop(self, run: Run) -> None:  # noqa: B027 - an optional hook
        """Stop what the loop started (a list, a dither) before the bench is made safe;
        called on every exit."""

    def conclude(self, run: Run, status: str, reason: str | None) -> Conclusion:
        """The run's results, after the bench was made safe (the run may still publish: an
        ODMR run adds the fits of sweeps it had not fitted yet)."""
        return Conclusion()


@dataclass
class RunOutcome:
    """How a run ended.

    Attributes
    ----------
    run_id, file
        The run and its file (``None`` when the run ended before it was created).
    status, reason
        ``"completed"``, or ``"aborted"`` with why.
    error
        The instrument fault that aborted the run, if any.
    safe_report
        What leaving the bench safe did, one line per instrument.
    results, result_units
        The key results the run file and the catalogue got.
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    error: BaseException | None
    safe_report: list[str]
    results: dict[str, Any]
    result_units: dict[str, str] = field(default_factory=dict)


def execute(
    measurement: Measurement,
    bench: Any,
    *,
    catalog: Any = None,
    data_dir: str | Path | None = None,
    subscribers: Iterable[Callable[[Event], None]] = (),
    control: RunControl | None = None,
    md: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Run ``measurement`` on ``bench`` through the whole lifecycle (see the module).

    Parameters
    ----------
    measurement
        The kind with its settings.
    bench
        A :class:`nvsense.instruments.Bench`; connected here if it is not already (and then
        closed at the end).
    catalog, data_dir
        Where the run file and its catalogue row go (``catalog`` wins; default data folder:
        :func:`nvsense.storage.resolve_data_dir`).
    subscribers
        Called with every document in the measurement thread, after the run-file writer;
        wrap slow ones (a display) in :class:`nvsense.measure.events.Mailbox`.
    control
        Lets another thread (or a Ctrl-C handler) stop the run.
    md
        Metadata recorded with the run: ``campaign`` and ``campaign_point`` become the run
        file's attributes and catalogue columns; ``units`` gives the units of the other keys,
        which are recorded among the run's parameters (searchable: ``Catalog.runs(key=...)``).

    Raises
    ------
    SettingsError, LimitError
        From :meth:`Measurement.check`: before anything is sent, and no run is created.
    KeyboardInterrupt
        A second Ctrl-C (or one outside :func:`~nvsense.measure.stop_on_sigint`): the run was
        closed as aborted and the bench left safe first.
    """
    from ..storage import Catalog

    measurement.check(bench)
    catalog = catalog if catalog is not None else Catalog(data_dir)
    with connected(bench):
        run = Run(measurement, bench, measurement.file_writer(catalog), subscribers=subscribers,
                  control=control, md=md)
        return run.execute()


class Run:
    """One run of a measurement, as its loop sees it.

    The loop reads :attr:`bench`, :attr:`control` (or :attr:`stop_requested`) and
    :meth:`clock`, publishes its records with :meth:`record` / :meth:`record_block` (or its
    own documents with :meth:`publish`), and may :meth:`open` the run itself (kinds with
    ``open_at_start = False``) or :meth:`add_variables` to it.
    """

    def __init__(self, measurement: Measurement, bench: Any, writer: Any, *,
                 subscribers: Iterable[Callable[[Event], None]] = (),
                 control: RunControl | None = None,
                 md: Mapping[str, Any] | None = None) -> None:
        self.measurement = measurement
        self.bench = bench
        self.writer = writer
        self.control = control or RunControl()
        self.md = dict(md or {})
        self.bus = EventBus(primary=writer)
        for callback in subscribers:
            self.bus.subscribe(callback)
        self.clock: Callable[[], float] = bench_clock(bench)
        self.run_id: str | None = None
        self.file: Path | None = None
        self.started: RunStarted | None = None
        self.records = 0
        self.snapshot: dict[str, Any] | None = None

    # -- for the loop -------------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        """The run (and its file) has been created."""
        return self.started is not None

    @property
    def stop_requested(self) -> bool:
        return self.control.stop_requested

    def check_stop(self) -> None:
        """Raise :class:`StopRequested` if a stop was requested (between sweeps of a
        calibration, say, where the loop cannot simply return)."""
        if self.control.stop_requested:
            raise StopRequested(self.control.reason or STOPPED_BY_USER)

    def open(self, variables: Any = None, *, parameters: Mapping[str, Any] | None = None,
             attrs: Mapping[str, Any] | None = None) -> RunStarted:
        """Create the run: publish its start document (the writer creates the file).

        Parameters
        ----------
        variables
            The layout (:class:`nvsense.storage.RunSchema`); default
            :meth:`Measurement.variables`.
        parameters
            Default :meth:`Measurement.parameters`.
        attrs
            Added to :meth:`Measurement.attrs`.
        """
        from ..storage.errors import RunFileError
        from ..storage.times import local_now, to_iso

        if self.started is not None:
            raise RuntimeError(f"run {self.run_id} is open already")
        m, bench = self.measurement, self.bench
        schema = variables if variables is not None else m.variables(bench)
        meta = bench.metadata()
        common = {
            "kind": m.kind,
            "parameters": dict(parameters if parameters is not None else m.parameters()),
            "identities": bench.identities(),
            "layout": schema.as_dict(),
            "parameter_units": dict(m.parameter_units),
            "attrs": {**m.attrs(bench), **dict(attrs or {})},
            "md": dict(self.md),
            "bench": {"bench_config": meta.get("bench_config"),
                      "bench_source": meta.get("bench_source") or "built-in"},
            "snapshot": self.snapshot,
        }
        for attempt in range(100):
            start = local_now()
            run_id, path = self.writer.reserve(m.kind, start)
            doc = RunStarted(run_id=run_id, file=str(path), start_time=to_iso(start), **common)
            try:
                self.bus.publish(doc)
                break
            except RunFileError:
                # another process took this id in the same second: draw again
                if not path.exists() or attempt == 99:
                    raise
        self.started, self.run_id, self.file = doc, doc.run_id, path
        return doc

    def publish(self, document: Event) -> None:
        """Publish a record document (``values`` go to the file first) or any other
        document of this run."""
        if self.started is None:
            raise RuntimeError(f"{self.measurement.kind}: publish after the run is open "
                               "(Run.open, or open_at_start)")
        self.bus.publish(document)
        if getattr(document, "values", None) and not isinstance(document, VariablesAdded):
            self.records += 1

    def record(self, **values: Any) -> Record:
        """Publish one record: ``values`` by declared variable name."""
        doc = Record(run_id=self.run_id or "", index=self.records, values=values)
        self.publish(doc)
        return doc

    def record_block(self, **values: Any) -> Record:
        """Publish a block of records (arrays whose first axis are the records)."""
        doc = Record(run_id=self.run_id or "", index=self.records, values=values, block=True)
        self.publish(doc)
        return doc

    def add_variables(self, variables: Any, values: Mapping[str, Any], *,
                      attrs: Mapping[str, Any] | None = None,
                      parameters: Mapping[str, Any] | None = None) -> None:
        """Add variables to the open run, with their values for the records so far
        (:class:`~nvsense.measure.documents.VariablesAdded`)."""
        self.publish(VariablesAdded(run_id=self.run_id or "", layout=variables.as_dict(),
                                    values=dict(values), attrs=dict(attrs or {}),
                                    parameters=dict(parameters or {})))

    # -- the lifecycle ------------------------------------------------------------------------

    def execute(self) -> RunOutcome:
        """Loop, then end the run whatever happened (see the module docstring)."""
        status, reason, error = "completed", None, None
        try:
            self.snapshot = self._snapshot()
            if self.measurement.open_at_start:
                self.open()
            self.measurement.loop(self)
            if self.control.stop_requested:
                status, reason = "aborted", self.control.reason or STOPPED_BY_USER
        except StopRequested:
            status, reason = "aborted", self.control.reason or STOPPED_BY_USER
        except RunAborted as exc:
            status, reason, error = "aborted", exc.reason, exc.error
            log.warning("%s run aborted: %s", self.measurement.kind, exc.reason)
        except (InstrumentError, LimitError) as exc:
            # a LimitError here is one the check could not know of (a driver's limit known
            # only once connected): the run ends, its records kept
            status, reason, error = "aborted", str(exc), exc
            log.error("%s run aborted: %s", self.measurement.kind, exc)
        except KeyboardInterrupt:
            self._end("aborted", f"{STOPPED_BY_USER} (interrupted)")
            raise
        except BaseException as exc:
            self._end("aborted", f"{type(exc).__name__}: {exc}")
            raise
        return self._end(status, reason, error)

    def _snapshot(self) -> dict[str, Any]:
        try:
            return self.bench.snapshot()
        except Exception as exc:  # a snapshot must never stop a run
            log.warning("instrument snapshot failed: %s", exc)
            return {"error": f"{type(exc).__name__}: {exc}"}

    def _end(self, status: str, reason: str | None,
             error: BaseException | None = None) -> RunOutcome:
        m = self.measurement
        try:
            m.stop(self)
        except Exception as exc:  # the bench is made safe below in any case
            log.warning("%s: could not stop cleanly: %s", m.kind, exc)
        safe_report = list(self.bench.safe())
        conclusion = Conclusion()
        try:
            conclusion = m.conclude(self, status, reason)
        except Exception:  # the run's end must still be written
            log.exception("%s: could not conclude the run", m.kind)
        attrs = {"safe_state_report": "; ".join(safe_report), **conclusion.attrs}
        doc = RunFinished(run_id=self.run_id or "", status=status, reason=reason,
                          results=dict(conclusion.results), file=str(self.file or ""),
                          safe_report=tuple(safe_report),
                          result_units=dict(conclusion.result_units), attrs=attrs)
        try:
            self.bus.publish(doc)
        except Exception:  # the file could not be closed: the others still hear of the end
            log.exception("%s: could not close the run file %s", m.kind, self.file)
            self.bus.deliver(doc)
        return RunOutcome(run_id=self.run_id, file=self.file, status=status, reason=reason,
                          error=error, safe_report=safe_report,
                          results=dict(conclusion.results),
                          result_units=dict(conclusion.result_units))


def run_md(md: Mapping[str, Any] | None, campaign: str | None = None,
           campaign_point: int | None = None) -> dict[str, Any]:
    """``md`` with a run function's ``campaign`` and ``campaign_point`` arguments added."""
    out = dict(md or {})
    if campaign is not None:
        out["campaign"] = campaign
    if campaign_point is not None:
        out["campaign_point"] = campaign_point
    return out
