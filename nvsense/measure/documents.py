"""The documents a run publishes: plain data that subscribers, files and other processes read.

Every run (:mod:`nvsense.measure.lifecycle`) publishes, in order:

- one :class:`RunStarted`: the run's id, kind, file, parameters with their units, the bench and
  the instruments' snapshot, and the **declaration of its variables** (``layout``: name, dims,
  dtype, units and long name of each, as :meth:`nvsense.storage.RunSchema.as_dict` gives it) —
  like a Bluesky start and descriptor document in one;
- one document per record or block of records: :class:`SweepDone` (an ODMR sweep),
  :class:`TrackingBlock` (tracking samples) or the generic :class:`Record`; each carries in
  ``values`` exactly what the run file gets (variable name -> value) besides what a display
  needs;
- a widefield run publishes :class:`WidefieldSweep` (the sweep's record) and then
  :class:`WidefieldMap` (the live binned field map of the accumulated cube) per sweep;
- :class:`VariablesAdded` when a run learns part of its layout after its first records (an
  ODMR run's number of lines);
- one :class:`RunFinished`: status (``completed`` / ``aborted``), reason, results, what was
  done to leave the bench safe.

Documents are frozen dataclasses of numbers, strings, numpy arrays and dicts or lists of them,
so they cross threads and processes: :func:`to_dict` / :func:`from_dict` (and :func:`to_json`
/ :func:`from_json`) turn them into JSON-ready data and back.  A fit travels as a
:class:`FitSummary` (its numbers and its curve as arrays), never as a fit object, so a display
draws it without evaluating a model.

The run-file writer (:class:`nvsense.measure.run_file.RunFileWriter`) is the first subscriber:
a record is on disk before any other subscriber sees it.  A stored run replays as the same
documents (:mod:`nvsense.measure.replay`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DOCUMENT_TYPES",
    "Event",
    "FitSummary",
    "Record",
    "RunFinished",
    "RunStarted",
    "SweepDone",
    "TrackingBlock",
    "VariablesAdded",
    "WidefieldMap",
    "WidefieldSweep",
    "from_dict",
    "from_json",
    "to_dict",
    "to_json",
]


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    """Base class of every document: the run it belongs to."""

    run_id: str


@dataclass(frozen=True)
class RunStarted(Event):
    """A run has started: its kind, file, parameters and declared variables.

    Attributes
    ----------
    kind, file, parameters
        The run kind (``"odmr"``), its file and its parameters (SI values, JSON-ready).
    identities
        Instrument identities by slot (``*IDN?`` answers).
    layout
        The run file's layout as plain data (:meth:`nvsense.storage.RunSchema.as_dict`):
        the declaration of every variable the run's records carry (:meth:`schema`).
    parameter_units, attrs
        Units of the parameters; the kind's global attributes of the run file.
    md
        Metadata the caller gave the run (``campaign``, ``campaign_point`` and anything
        else, recorded among the parameters).
    bench
        ``bench_config`` (mapping) and ``bench_source`` of the bench file.
    snapshot
        :meth:`nvsense.instruments.Bench.snapshot` taken as the run started (the run file's
        ``instrument_snapshot``).
    start_time
        ISO 8601 start time (the run id's time).
    """

    kind: str
    file: str | None
    parameters: dict[str, Any]
    identities: dict[str, str] = field(default_factory=dict)
    wall_time: float = field(default_factory=_now)
    layout: dict[str, Any] | None = None
    parameter_units: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    md: dict[str, Any] = field(default_factory=dict)
    bench: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None
    start_time: str | None = None

    @property
    def variables(self) -> list[dict[str, Any]]:
        """The declared variables (name, dims, dtype, units, long_name, ...)."""
        return list((self.layout or {}).get("variables", ()))

    def schema(self) -> Any:
        """The declared layout as a :class:`nvsense.storage.RunSchema`."""
        from ..storage.schema import RunSchema

        if self.layout is None:
            raise ValueError(f"run {self.run_id}: the start document declares no variables")
        return RunSchema.from_dict(self.layout)


@dataclass(frozen=True)
class VariablesAdded(Event):
    """The run adds variables to its layout, with their values for the records so far.

    ``layout`` is the whole new layout; ``values`` has one entry per added variable, its
    first axis the records written so far; ``attrs`` and ``parameters`` are added to the
    run file's (an ODMR run's ``field_kind`` and ``n_lines`` once its lines are counted).
    """

    layout: dict[str, Any]
    values: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    wall_time: float = field(default_factory=_now)


@dataclass(frozen=True)
class Record(Event):
    """One record (``block=False``) or a block of records of a run: ``values`` maps each
    declared variable to its value (a block: arrays whose first axis are the records).

    The document of a measurement kind that needs nothing more for its display; ODMR sweeps
    and tracking blocks have their own types (:class:`SweepDone`, :class:`TrackingBlock`)
    with the same ``values``.
    """

    index: int
    values: dict[str, Any]
    block: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    wall_time: float = field(default_factory=_now)


@dataclass(frozen=True)
class FitSummary:
    """What a display shows of one fit: numbers and curves, no fit object (all SI; NaN where
    unknown).

    Attributes
    ----------
    kind
        ``"vector"``, ``"parallel"`` or ``"none"``: which field the lines give.
    success, message
        The fit converged and its lines are significant; else why not.
    centers, center_errors, widths, width_errors, contrasts, contrast_errors
        One value per fitted line (Hz, Hz FWHM, fraction).
    redchi
        Reduced χ².
    field, field_errors
        Field vector (T, crystal frame), for ``"vector"``.
    field_parallel, field_parallel_error
        B∥ (T), for ``"parallel"``.
    D, D_error
        Zero-field splitting (Hz).
    best_fit
        The fitted model on the sweep's frequencies (residuals).
    curve_frequencies, curve_values
        The fitted model on a fine grid (the drawn curve; empty when not computed), with NaN
        between separate frequency ranges.
    resonance_found
        The verdict of :func:`nvsense.measure.resonance.check_resonance` on the fitted
        spectrum: ``False`` when it shows no resonance (then ``success`` is ``False`` and
        ``message`` says why: the fitted lines are noise); ``None`` when not judged.
    """

    kind: str
    success: bool
    message: str
    centers: NDArray[np.float64]
    center_errors: NDArray[np.float64]
    widths: NDArray[np.float64]
    width_errors: NDArray[np.float64]
    contrasts: NDArray[np.float64]
    contrast_errors: NDArray[np.float64]
    redchi: float
    field: NDArray[np.float64]
    field_errors: NDArray[np.float64]
    field_parallel: float
    field_parallel_error: float
    D: float
    D_error: float
    best_fit: NDArray[np.float64]
    curve_frequencies: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    curve_values: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    resonance_found: bool | None = None


@dataclass(frozen=True)
class SweepDone(Event):
    """One ODMR sweep is complete (and written to the run file), fitted and turned into field.

    ``fit`` and ``average_fit`` are :class:`FitSummary` documents of the sweep's and the
    running average's fits (the average's with its curve), or ``None`` when fitting failed or
    while ``lines_pending``: the number of lines is not known yet (see
    :mod:`nvsense.measure.odmr`).  ``values`` is the sweep's record in the run file.  Arrays
    are not copied, so subscribers must not modify them.
    """

    block: ClassVar[bool] = False

    index: int
    frequencies: NDArray[np.float64]
    counts: NDArray[np.float64]
    average: NDArray[np.float64]
    fit: FitSummary | None
    average_fit: FitSummary | None
    elapsed: float
    sweeps_planned: int | None = None
    wall_time: float = field(default_factory=_now)
    lines_pending: bool = False
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackingBlock(Event):
    """A block of tracking-magnetometer samples (all arrays share their first axis);
    ``values`` is the block's records in the run file."""

    block: ClassVar[bool] = True

    time: NDArray[np.float64]
    field: NDArray[np.float64]
    frequencies: NDArray[np.float64]
    error_signal: NDArray[np.float64]
    locked: NDArray[np.bool_]
    D: NDArray[np.float64] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    wall_time: float = field(default_factory=_now)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WidefieldSweep(Event):
    """One widefield sweep is complete and written to the run file (its frames, their
    bookkeeping, the drift): ``values`` is the sweep's record (:func:`nvsense.storage.
    cube_writer.sweep_record`); arrays are not copied, so subscribers must not modify them.

    Attributes
    ----------
    index, sweeps_planned, elapsed
        Sweep number (from 0), sweeps asked for, s since the run start.
    frequencies
        The sweep's points, Hz.
    drift, shift, drift_confidence
        Registered drift (dy, dx) of the sweep against the first (NaN: not registered),
        the shift undone in the cube (pixels), the registration's confidence.
    missing, remeasured, marked
        Frames of the sweep that did not arrive (lost, missed, rejected), frames measured
        again, frequency points left out of the cube.
    saturated
        Pixels of the sweep's frames at the camera's full scale (their counts are clipped:
        shorten the exposure).
    """

    block: ClassVar[bool] = False

    index: int
    frequencies: NDArray[np.float64]
    elapsed: float
    drift: tuple[float, float]
    shift: tuple[float, float]
    drift_confidence: float
    sweeps_planned: int | None = None
    missing: int = 0
    remeasured: int = 0
    marked: int = 0
    saturated: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    wall_time: float = field(default_factory=_now)


@dataclass(frozen=True)
class WidefieldMap(Event):
    """The live field map of a widefield run: the accumulated cube binned and fitted after a
    sweep (nothing of it goes to the run file; ``nvsense widefield fit`` fits the full
    resolution afterwards).

    Attributes
    ----------
    index, n_sweeps
        The sweep after which the map was made (from 0), and the sweeps it averages.
    binning
        Camera pixels per map pixel along each axis.
    frequencies
        The sweep, Hz.
    field_parallel, field_parallel_error
        (rows, columns) |B∥| of the outermost line pair and its standard error, T; NaN
        where the fit failed.
    success
        (rows, columns) fits to trust.
    spectra, curves
        (rows, columns, frequency) each map pixel's summed spectrum (counts) and its fitted
        curve (NaN where the fit failed): what a display shows under the cursor.
    fit_seconds
        Wall time of the fit.
    message
        Why there is no map yet (empty arrays then), else empty.
    partial_points
        0 for the map after a completed sweep; else the map is a refresh during sweep
        ``index`` (not completed yet) and includes its first ``partial_points`` measured
        points: at those points the average has ``n_sweeps`` sweeps, at the others one less
        (NaN, and no pixel a success, while the first sweep is under way).
    """

    index: int
    n_sweeps: int
    binning: int
    frequencies: NDArray[np.float64]
    field_parallel: NDArray[np.float64]
    field_parallel_error: NDArray[np.float64]
    success: NDArray[np.bool_]
    spectra: NDArray[np.float32]
    curves: NDArray[np.float32]
    fit_seconds: float = 0.0
    message: str = ""
    wall_time: float = field(default_factory=_now)
    partial_points: int = 0


@dataclass(frozen=True)
class RunFinished(Event):
    """The run has ended; ``status`` is ``"completed"`` or ``"aborted"`` (with ``reason``).

    ``results`` and ``result_units`` are the run's key results, ``attrs`` the global
    attributes known only at the end, ``safe_report`` what leaving the bench safe did.
    """

    status: str
    reason: str | None
    results: dict[str, Any]
    file: str | None = None
    safe_report: tuple[str, ...] = ()
    wall_time: float = field(default_factory=_now)
    result_units: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


#: Document classes by name (what :func:`from_dict` can read).
DOCUMENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    RunStarted, VariablesAdded, Record, SweepDone, TrackingBlock, RunFinished, FitSummary,
    WidefieldSweep, WidefieldMap)}

_ARRAY = "__ndarray__"
_DOC = "document"


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {_ARRAY: value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _ARRAY in value:
            array = np.array(value[_ARRAY], dtype=np.dtype(value["dtype"]))
            return array.reshape(value["shape"])
        if _DOC in value and value[_DOC] in DOCUMENT_TYPES:
            return from_dict(value)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def to_dict(document: Any) -> dict[str, Any]:
    """A document as JSON-ready data: ``{"document": "<type>", <field>: <value>, ...}``, arrays
    as ``{"__ndarray__": [...], "dtype": ..., "shape": [...]}``."""
    if type(document).__name__ not in DOCUMENT_TYPES:
        raise TypeError(f"{type(document).__name__} is not a document type")
    out: dict[str, Any] = {_DOC: type(document).__name__}
    for f in dataclasses.fields(document):
        out[f.name] = _encode(getattr(document, f.name))
    return out


def from_dict(data: dict[str, Any]) -> Any:
    """The document :func:`to_dict` gave.

    Raises
    ------
    ValueError
        ``data`` is not a document.
    """
    name = data.get(_DOC) if isinstance(data, dict) else None
    cls = DOCUMENT_TYPES.get(str(name))
    if cls is None:
        raise ValueError(f"not a document (its 'document' is {name!r}; known: "
                         f"{', '.join(DOCUMENT_TYPES)})")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = _decode(data[f.name])
            if isinstance(value, list) and str(f.type).startswith("tuple"):
                value = tuple(value)
            values[f.name] = value
    return cls(**values)


def to_json(document: Any) -> str:
    """A document as JSON text (NaN written as ``NaN``, as Python's json module does)."""
    return json.dumps(to_dict(document))


def from_json(text: str) -> Any:
    """The document :func:`to_json` gave."""
    return from_dict(json.loads(text))
