"""Hardware-neutral pulse programs: channels, blocks, repeats, a sweep, readout windows.

A :class:`PulseProgram` describes one *shot* (initialise, manipulate the spin, read it out) as a
list of :class:`Block` and :class:`Repeat` elements, and optionally a :class:`Sweep` of one
parameter (τ, a pulse length, a phase, or a microwave frequency stepped by the trigger line)
across a list of values.  One *pass* of the program plays the shot once for every sweep point,
in the sweep's play order; a pulse generator repeats the pass.

Channels are logical names, mapped to a device's outputs by its driver:

=========  ===========================================================================
``laser``  laser / AOM gate (initialisation and readout)
``mw``     microwave switch; a block with ``mw`` on is a pulse with a ``phase`` (degrees)
           that the device realises on its I/Q outputs (``mw_i``, ``mw_q``) or phase lines
``gate``   counter gate: a block with ``gate`` on is a readout window with a label
           (``"signal"``, ``"ref0"`` for the ms=0 reference, ``"ref1"`` for ms=±1, or any name)
``trigger``  a marker, e.g. to step a microwave list for pulsed ODMR
``spare``  free lines (``spare``, ``spare1``, ``spare2``, ...)
=========  ===========================================================================

Durations are whole nanoseconds, either constant or linear in the swept parameter
(:class:`Param`): ``duration = offset + scale × value`` with the value in s (converted to ns).
Phases are degrees, constant or linear in a swept phase.

Everything serialises to plain JSON (:meth:`PulseProgram.to_json`) and back, so a run file can
hold the program exactly as it was given.

>>> from nvsense.pulses import Block, Param, PulseProgram, Sweep
>>> shot = [Block("mw_pulse", Param("tau"), on=("mw",), phase=0.0),
...         Block("readout", 300, on=("laser", "gate"), readout="signal"),
...         Block("init", 2700, on=("laser",)), Block("wait", 1000)]
>>> p = PulseProgram(shot, sweep=Sweep("tau", [0.0, 20e-9, 40e-9]))
>>> [p.shot_duration_ns(i) for i in range(3)], p.readouts
([4000, 4020, 4040], ('signal',))
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union

import numpy as np

from .errors import PulseProgramError

__all__ = [
    "ANALOG_CHANNELS",
    "DIGITAL_CHANNELS",
    "FORMAT",
    "Block",
    "Element",
    "Param",
    "PulseProgram",
    "Repeat",
    "ResolvedBlock",
    "ResolvedRepeat",
    "Sweep",
    "is_digital_channel",
]

#: The ``format`` key of a serialised program.
FORMAT = "nvsense-pulse-program"
#: Version of the JSON layout.
VERSION = 1
#: Logical digital channels (plus ``spare``, ``spare1``, ...).
DIGITAL_CHANNELS = ("laser", "mw", "gate", "trigger")
#: Logical analog channels, set by the compiler from the MW phase (never set by a block).
ANALOG_CHANNELS = ("mw_i", "mw_q")
#: Units a sweep may have.
SWEEP_UNITS = ("s", "deg", "Hz", "1")

_SPARE = re.compile(r"^spare\d*$")
#: How far a parameter-dependent duration may be from a whole ns before it is an error.
_NS_TOLERANCE = 1e-6


def is_digital_channel(name: str) -> bool:
    """Whether ``name`` is a logical digital channel (``laser``, ``mw``, ``gate``, ``trigger``,
    ``spare``, ``spare1``, ...)."""
    return name in DIGITAL_CHANNELS or bool(_SPARE.match(name))


@dataclass(frozen=True)
class Param:
    """A quantity linear in the swept parameter: ``offset + scale × value``.

    For a duration the value (in s) is converted to ns and ``offset`` is in ns; for a phase
    the value and ``offset`` are in degrees.
    """

    name: str
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class Block:
    """A time slice in which a fixed set of channels is high.

    Parameters
    ----------
    name
        Shown in drawings and named by every error about this block (``"pi_pulse"``).
    duration
        Whole ns, or a :class:`Param` of the swept time.
    on
        Logical digital channels high during the block.
    phase
        Microwave phase in degrees (blocks with ``mw`` on; default 0), or a :class:`Param`.
    readout
        Label of the readout window (blocks with ``gate`` on, and only those).
    """

    name: str
    duration: int | Param
    on: tuple[str, ...] = ()
    phase: float | Param | None = None
    readout: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "on", tuple(self.on))


@dataclass(frozen=True)
class Repeat:
    """``body`` played ``count`` times (a hardware loop where the device has them)."""

    name: str
    count: int
    body: tuple[Element, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", tuple(self.body))


Element = Union[Block, Repeat]  # noqa: UP007 (a runtime alias, used in isinstance-free code)


@dataclass(frozen=True)
class Sweep:
    """The swept parameter: its name, values (SI, or degrees for a phase) and play order.

    Parameters
    ----------
    name
        The parameter's name, referenced by :class:`Param` (``"tau"``).
    values
        One value per sweep point, in the point order of the data.
    unit
        ``"s"`` (times), ``"deg"`` (phases), ``"Hz"`` (a microwave frequency, stepped by the
        ``trigger`` line: no block depends on it) or ``"1"``.
    order
        The order in which the points are played (a permutation of ``range(len(values))``),
        e.g. randomised to decorrelate drifts; ``None`` plays them in order.  Readout windows
        come back in play order; :meth:`PulseProgram.window_points` maps them to points.
    label
        How drawings and reports name it (default: the name).
    """

    name: str
    values: tuple[float, ...]
    unit: str = "s"
    order: tuple[int, ...] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in np.ravel(self.values)))
        if self.order is not None:
            object.__setattr__(self, "order", tuple(int(i) for i in self.order))


@dataclass(frozen=True)
class ResolvedBlock:
    """A block at one sweep point: duration in ns, channels high, phase in degrees."""

    name: str
    duration_ns: int
    on: frozenset[str]
    phase: float | None = None
    readout: str | None = None
    swept: bool = False  # its duration or phase depends on the sweep
    formula: str | None = None  # how it depends on the sweep, e.g. "τ/2 − 25 ns"

    @property
    def mw(self) -> bool:
        return "mw" in self.on


@dataclass(frozen=True)
class ResolvedRepeat:
    """A repeat at one sweep point."""

    name: str
    count: int
    body: tuple[ResolvedBlock | ResolvedRepeat, ...]


@dataclass(frozen=True)
class _Shape:
    """What a program holds, validated once."""

    readouts: tuple[str, ...]
    channels: frozenset[str]
    max_depth: int


class PulseProgram:
    """A pulse program: one shot of blocks and repeats, swept across a list of values.

    Parameters
    ----------
    sequence
        The shot: :class:`Block` and :class:`Repeat` elements, played in order.  The last
        readout re-initialises the spin for the next shot (the program plays cyclically).
    sweep
        The swept parameter, or ``None`` for a single point.
    name
        A short name (``"rabi"``).
    protocol
        The protocol a builder made it for (``"rabi"``, ``"xy8"``, ...), or ``""``.
    parameters
        The physicist-level parameters it was built from (JSON-serialisable), kept with it.

    Raises
    ------
    PulseProgramError
        Naming the block at fault: an unknown channel, a negative or fractional duration at
        some sweep value, a readout without a gate (or a gate without a label), a readout
        inside a repeat, a repeat count below 1, a parameter that is not the sweep's.
    """

    def __init__(self, sequence: Iterable[Element], *, sweep: Sweep | None = None,
                 name: str = "", protocol: str = "",
                 parameters: Mapping[str, Any] | None = None) -> None:
        self.sequence: tuple[Element, ...] = tuple(sequence)
        self.sweep = sweep
        self.name = str(name)
        self.protocol = str(protocol)
        self.parameters: dict[str, Any] = dict(parameters or {})
        self._shape = self._validate()
        self._resolved: dict[int, tuple[ResolvedBlock | ResolvedRepeat, ...]] = {}

    # --- validation ------------------------------------------------------------------------

    def _validate(self) -> _Shape:
        if not self.sequence:
            raise PulseProgramError("a pulse program needs at least one block")
        sweep = self.sweep
        if sweep is not None:
            self._validate_sweep(sweep)
        readouts: list[str] = []
        channels: set[str] = set()

        def walk(elements: Sequence[Element], depth: int, inside: str | None) -> int:
            deepest = depth
            for el in elements:
                if isinstance(el, Repeat):
                    if not isinstance(el.name, str) or not el.name:
                        raise PulseProgramError("every repeat needs a name")
                    if (isinstance(el.count, bool) or not isinstance(el.count, int | np.integer)
                            or el.count < 1):
                        raise PulseProgramError(
                            f"repeat {el.name!r}: count must be a whole number >= 1, not "
                            f"{el.count!r}", block=el.name)
                    if not el.body:
                        raise PulseProgramError(f"repeat {el.name!r} has an empty body",
                                                block=el.name)
                    deepest = max(deepest, walk(el.body, depth + 1, el.name))
                elif isinstance(el, Block):
                    self._validate_block(el, inside)
                    channels.update(el.on)
                    if el.readout is not None:
                        readouts.append(el.readout)
                else:
                    raise PulseProgramError(
                        f"a program holds Block and Repeat elements, not {type(el).__name__}")
            return deepest

        depth = walk(self.sequence, 0, None)
        return _Shape(tuple(readouts), frozenset(channels), depth)

    @staticmethod
    def _validate_sweep(sweep: Sweep) -> None:
        if not sweep.name:
            raise PulseProgramError("the sweep needs a name (the parameter it sweeps, e.g. tau)")
        if not sweep.values:
            raise PulseProgramError(f"sweep {sweep.name!r} has no values")
        if not all(math.isfinite(v) for v in sweep.values):
            raise PulseProgramError(f"sweep {sweep.name!r} has non-finite values")
        if sweep.unit not in SWEEP_UNITS:
            raise PulseProgramError(f"sweep {sweep.name!r}: unit must be one of "
                                    f"{', '.join(SWEEP_UNITS)}, not {sweep.unit!r}")
        if sweep.order is not None and sorted(sweep.order) != list(range(len(sweep.values))):
            raise PulseProgramError(f"sweep {sweep.name!r}: order must be a permutation of the "
                                    f"{len(sweep.values)} point indices")

    def _validate_block(self, b: Block, inside: str | None) -> None:
        if not isinstance(b.name, str) or not b.name:
            raise PulseProgramError("every block needs a name (errors and drawings use it)")
        for ch in b.on:
            if ch in ANALOG_CHANNELS:
                raise PulseProgramError(
                    f"block {b.name!r}: {ch} is set from the block's phase, not switched on; "
                    f"give phase= on a block with mw on", block=b.name)
            if not isinstance(ch, str) or not is_digital_channel(ch):
                raise PulseProgramError(
                    f"block {b.name!r}: unknown channel {ch!r}; use "
                    f"{', '.join(DIGITAL_CHANNELS)} or spare, spare1, ...", block=b.name)
        if len(set(b.on)) != len(b.on):
            raise PulseProgramError(f"block {b.name!r} lists a channel twice", block=b.name)
        gate = "gate" in b.on
        if gate and not b.readout:
            raise PulseProgramError(f"block {b.name!r} opens the gate without a readout label "
                                    f"(readout='signal', 'ref0', ...)", block=b.name)
        if b.readout is not None and not gate:
            raise PulseProgramError(f"block {b.name!r} has readout={b.readout!r} but the gate is "
                                    f"not on; add 'gate' to on", block=b.name)
        if b.readout is not None and inside is not None:
            raise PulseProgramError(
                f"block {b.name!r}: readout windows cannot be inside repeat {inside!r}; repeat "
                f"whole shots with the pulser's repetitions instead", block=b.name)
        if b.phase is not None and "mw" not in b.on:
            raise PulseProgramError(f"block {b.name!r} has a phase but mw is off", block=b.name)
        if b.phase is not None and not isinstance(b.phase, Param) and (
                isinstance(b.phase, bool) or not isinstance(b.phase, int | float | np.number)):
            raise PulseProgramError(f"block {b.name!r}: phase must be degrees or a Param, not "
                                    f"{b.phase!r}", block=b.name)
        for what, q in (("duration", b.duration), ("phase", b.phase)):
            if isinstance(q, Param):
                self._check_param(b.name, what, q)
        # every duration at every sweep point: a whole, non-negative number of ns
        for i in range(self.n_points):
            self._duration_ns(b, i)
            if not math.isfinite(self._phase_deg(b, i) or 0.0):
                raise PulseProgramError(f"block {b.name!r}: phase is not finite", block=b.name)

    def _check_param(self, block: str, what: str, q: Param) -> None:
        sweep = self.sweep
        if sweep is None:
            raise PulseProgramError(f"block {block!r}: {what} depends on {q.name!r} but the "
                                    f"program has no sweep", block=block)
        if q.name != sweep.name:
            raise PulseProgramError(f"block {block!r}: {what} depends on {q.name!r}, not on the "
                                    f"swept parameter {sweep.name!r}", block=block)
        if not (math.isfinite(q.scale) and math.isfinite(q.offset)):
            raise PulseProgramError(f"block {block!r}: {what} has a non-finite scale or offset",
                                    block=block)
        unit = "s" if what == "duration" else "deg"
        if sweep.unit != unit:
            raise PulseProgramError(f"block {block!r}: a {what} cannot depend on a sweep in "
                                    f"{sweep.unit!r} (it needs {unit!r})", block=block)

    # --- resolution at a sweep point -------------------------------------------------------

    @property
    def n_points(self) -> int:
        """Number of sweep points (1 without a sweep)."""
        return len(self.sweep.values) if self.sweep is not None else 1

    @property
    def play_order(self) -> tuple[int, ...]:
        """Point indices in the order one pass plays them."""
        if self.sweep is not None and self.sweep.order is not None:
            return self.sweep.order
        return tuple(range(self.n_points))

    @property
    def readouts(self) -> tuple[str, ...]:
        """Labels of the readout windows of one shot, in time order."""
        return self._shape.readouts

    @property
    def channels(self) -> frozenset[str]:
        """Logical digital channels the program switches."""
        return self._shape.channels

    @property
    def uses_phase(self) -> bool:
        """Whether any MW block has a phase other than 0 (the device then needs I/Q or phase
        lines)."""
        return any(b.mw and b.phase not in (None, 0.0)
                   for i in range(self.n_points) for b in self.flat_shot(i))

    @property
    def loop_depth(self) -> int:
        """Deepest nesting of repeats (0: none)."""
        return self._shape.max_depth

    @property
    def windows_per_pass(self) -> int:
        """Readout windows in one pass (points × readouts per shot)."""
        return self.n_points * len(self.readouts)

    def value(self, point: int) -> float | None:
        """The swept value at ``point`` (``None`` without a sweep)."""
        return None if self.sweep is None else self.sweep.values[point]

    def _duration_ns(self, b: Block, point: int) -> int:
        d = b.duration
        if isinstance(d, Param):
            v = self.sweep.values[point] if self.sweep is not None else 0.0
            ns = d.offset + d.scale * v * 1e9
            where = f" at {self.sweep.name} = {_fmt_s(v)}" if self.sweep is not None else ""
        elif isinstance(d, bool) or not isinstance(d, int | np.integer | float):
            raise PulseProgramError(f"block {b.name!r}: duration must be whole ns or a Param, "
                                    f"not {d!r}", block=b.name)
        else:
            ns, where = float(d), ""
        if not math.isfinite(ns):
            raise PulseProgramError(f"block {b.name!r}: duration is not finite{where}",
                                    block=b.name)
        n = round(ns)
        if abs(ns - n) > _NS_TOLERANCE:
            raise PulseProgramError(
                f"block {b.name!r}: duration {ns:g} ns{where} is not a whole number of ns; "
                f"choose values on the 1 ns grid", block=b.name)
        if n < 0:
            raise PulseProgramError(f"block {b.name!r}: duration {n} ns{where} is negative",
                                    block=b.name)
        return int(n)

    def _phase_deg(self, b: Block, point: int) -> float | None:
        p = b.phase
        if "mw" not in b.on:
            return None
        if p is None:
            return 0.0
        if isinstance(p, Param):
            v = self.sweep.values[point] if self.sweep is not None else 0.0
            return float(p.offset + p.scale * v)
        return float(p)

    def resolve(self, point: int) -> tuple[ResolvedBlock | ResolvedRepeat, ...]:
        """The shot at sweep point ``point`` with durations and phases evaluated."""
        if not 0 <= point < self.n_points:
            raise IndexError(f"point {point} is outside 0..{self.n_points - 1}")
        cached = self._resolved.get(point)
        if cached is not None:
            return cached

        def res(elements: Sequence[Element]) -> tuple[ResolvedBlock | ResolvedRepeat, ...]:
            out: list[ResolvedBlock | ResolvedRepeat] = []
            for el in elements:
                if isinstance(el, Repeat):
                    out.append(ResolvedRepeat(el.name, int(el.count), res(el.body)))
                else:
                    swept = isinstance(el.duration, Param) or isinstance(el.phase, Param)
                    out.append(ResolvedBlock(el.name, self._duration_ns(el, point),
                                             frozenset(el.on), self._phase_deg(el, point),
                                             el.readout, swept, _formula(el)))
            return tuple(out)

        resolved = res(self.sequence)
        self._resolved[point] = resolved
        return resolved

    def flat_shot(self, point: int) -> list[ResolvedBlock]:
        """The shot at ``point`` as a flat list: repeats expanded, zero-length blocks dropped."""
        out: list[ResolvedBlock] = []

        def expand(elements: Sequence[ResolvedBlock | ResolvedRepeat]) -> None:
            for el in elements:
                if isinstance(el, ResolvedRepeat):
                    for _ in range(el.count):
                        expand(el.body)
                elif el.duration_ns > 0:
                    out.append(el)

        expand(self.resolve(point))
        return out

    def shots(self) -> Iterator[tuple[int, list[ResolvedBlock]]]:
        """(point, flat shot) for every point, in play order: one pass."""
        for i in self.play_order:
            yield i, self.flat_shot(i)

    def shot_duration_ns(self, point: int) -> int:
        """Length of the shot at ``point`` in ns."""

        def total(elements: Sequence[ResolvedBlock | ResolvedRepeat]) -> int:
            return sum(el.count * total(el.body) if isinstance(el, ResolvedRepeat)
                       else el.duration_ns for el in elements)

        return total(self.resolve(point))

    @cached_property
    def pass_duration_ns(self) -> int:
        """Length of one pass (every point once) in ns."""
        return sum(self.shot_duration_ns(i) for i in range(self.n_points))

    def window_points(self) -> np.ndarray:
        """(windows_per_pass, 2) array: the sweep point and readout index of each window of a
        pass, in the order a gated counter returns them."""
        k = len(self.readouts)
        order = np.repeat(np.asarray(self.play_order, dtype=np.int64), k)
        return np.column_stack([order, np.tile(np.arange(k), self.n_points)])

    def by_point(self, window_counts: Sequence[float] | np.ndarray) -> np.ndarray:
        """Rearrange per-window values of a pass (play order) into (n_points, n_readouts)."""
        counts = np.asarray(window_counts)
        if counts.shape[0] != self.windows_per_pass:
            raise ValueError(f"expected {self.windows_per_pass} windows (points × readouts), "
                             f"got {counts.shape[0]}")
        out = np.empty((self.n_points, len(self.readouts), *counts.shape[1:]), counts.dtype)
        idx = self.window_points()
        out[idx[:, 0], idx[:, 1]] = counts
        return out

    # --- derived programs ------------------------------------------------------------------

    def with_order(self, order: Sequence[int] | None) -> PulseProgram:
        """The same program playing its points in ``order`` (``None``: in order)."""
        if self.sweep is None:
            raise PulseProgramError("a program without a sweep has no point order")
        sweep = Sweep(self.sweep.name, self.sweep.values, self.sweep.unit,
                      None if order is None else tuple(order), self.sweep.label)
        return PulseProgram(self.sequence, sweep=sweep, name=self.name, protocol=self.protocol,
                            parameters=self.parameters)

    def shuffled(self, seed: int) -> PulseProgram:
        """The same program with its points in a random order drawn from ``seed``."""
        rng = np.random.default_rng(seed)
        return self.with_order(rng.permutation(self.n_points).tolist())

    # --- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON form (lists, numbers, strings) that :meth:`from_dict` reads back."""
        d: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name,
                             "protocol": self.protocol, "parameters": self.parameters,
                             "sweep": None, "sequence": [_element_to_dict(e)
                                                         for e in self.sequence]}
        if self.sweep is not None:
            s = self.sweep
            d["sweep"] = {"name": s.name, "unit": s.unit, "values": list(s.values),
                          "order": list(s.order) if s.order is not None else None,
                          "label": s.label}
        return d

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`to_dict` (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PulseProgram:
        """Read a program from :meth:`to_dict`'s form.

        Raises
        ------
        PulseProgramError
            Naming the key at fault (``sequence[2].duration_ns``).
        """
        if not isinstance(data, Mapping):
            raise PulseProgramError(f"a pulse program is a JSON object, not {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise PulseProgramError(f"not a pulse program: format is {data.get('format')!r}, "
                                    f"expected {FORMAT!r}")
        if data.get("version") != VERSION:
            raise PulseProgramError(f"pulse program version {data.get('version')!r} is not "
                                    f"supported (this nvsense reads version {VERSION})")
        sweep = None
        s = data.get("sweep")
        if s is not None:
            try:
                sweep = Sweep(str(s["name"]), tuple(s["values"]), str(s.get("unit", "s")),
                              tuple(s["order"]) if s.get("order") is not None else None,
                              str(s.get("label", "")))
            except (KeyError, TypeError, ValueError) as exc:
                raise PulseProgramError(f"sweep: {exc}; it needs name, values (and unit, "
                                        f"order, label)") from exc
        seq = data.get("sequence")
        if not isinstance(seq, list):
            raise PulseProgramError("sequence must be a list of blocks and repeats")
        elements = [_element_from_dict(e, f"sequence[{i}]") for i, e in enumerate(seq)]
        params = data.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise PulseProgramError("parameters must be a JSON object")
        return cls(elements, sweep=sweep, name=str(data.get("name", "")),
                   protocol=str(data.get("protocol", "")), parameters=params)

    @classmethod
    def from_json(cls, text: str) -> PulseProgram:
        """Read a program from JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PulseProgramError(f"pulse program JSON is invalid: {exc}") from exc
        return cls.from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PulseProgram):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json(sort_keys=True))

    def __repr__(self) -> str:
        sweep = (f", {self.sweep.name} × {self.n_points}" if self.sweep is not None else "")
        label = self.name or self.protocol or "program"
        return (f"<PulseProgram {label!r}{sweep}, readouts {list(self.readouts)}, "
                f"pass {self.pass_duration_ns / 1e3:g} µs>")


def _symbol(name: str) -> str:
    return {"tau": "τ", "phase": "φ"}.get(name, name)


def _formula(b: Block) -> str | None:
    """How a block depends on the sweep, in words: ``τ/2 − 25 ns``, ``φ + 90°``."""
    parts = []
    for q, unit in ((b.duration, "ns"), (b.phase, "°")):
        if not isinstance(q, Param):
            continue
        sym = _symbol(q.name)
        if q.scale == 1:
            term = sym
        elif q.scale == 0.5:
            term = f"{sym}/2"
        elif q.scale == -1:
            term = f"−{sym}"
        else:
            term = f"{q.scale:g}·{sym}"
        if q.offset:
            sign = "+" if q.offset > 0 else "−"
            off = f"{abs(q.offset):g} {unit}" if unit == "ns" else f"{abs(q.offset):g}°"
            term = f"{term} {sign} {off}"
        parts.append(term)
    return ", ".join(parts) or None


def _fmt_s(v: float) -> str:
    return f"{v * 1e9:g} ns" if abs(v) < 1e-6 else f"{v * 1e6:g} µs"


def _q_to_dict(q: Any, unit: str) -> Any:
    if isinstance(q, Param):
        return {"param": q.name, "scale": q.scale, f"offset_{unit}": q.offset}
    return q


def _element_to_dict(el: Element) -> dict[str, Any]:
    if isinstance(el, Repeat):
        return {"repeat": el.name, "count": int(el.count),
                "body": [_element_to_dict(e) for e in el.body]}
    d: dict[str, Any] = {"block": el.name, "duration_ns": _q_to_dict(el.duration, "ns"),
                         "on": list(el.on)}
    if isinstance(el.duration, np.integer):
        d["duration_ns"] = int(el.duration)
    if el.phase is not None:
        d["phase_deg"] = _q_to_dict(el.phase, "deg")
    if el.readout is not None:
        d["readout"] = el.readout
    return d


def _q_from_dict(v: Any, unit: str, where: str) -> Any:
    if isinstance(v, Mapping):
        try:
            return Param(str(v["param"]), float(v.get("scale", 1.0)),
                         float(v.get(f"offset_{unit}", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise PulseProgramError(f"{where}: a parameter needs param, scale and offset_{unit} "
                                    f"({exc})") from exc
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PulseProgramError(f"{where} must be a number or a parameter, not {v!r}")
    return v


def _element_from_dict(d: Any, where: str) -> Element:
    if not isinstance(d, Mapping):
        raise PulseProgramError(f"{where} must be an object (a block or a repeat)")
    if "repeat" in d:
        body = d.get("body")
        if not isinstance(body, list):
            raise PulseProgramError(f"{where}.body must be a list")
        count = d.get("count")
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        return Repeat(str(d["repeat"]), count,  # type: ignore[arg-type]
                      tuple(_element_from_dict(e, f"{where}.body[{i}]")
                            for i, e in enumerate(body)))
    if "block" not in d:
        raise PulseProgramError(f"{where} has neither 'block' nor 'repeat'")
    if "duration_ns" not in d:
        raise PulseProgramError(f"{where} (block {d['block']!r}) needs duration_ns")
    duration = _q_from_dict(d["duration_ns"], "ns", f"{where}.duration_ns")
    if isinstance(duration, float):
        if not duration.is_integer():
            raise PulseProgramError(f"{where}.duration_ns must be whole ns, not {duration}",
                                    block=str(d["block"]))
        duration = int(duration)
    phase = d.get("phase_deg")
    if phase is not None:
        phase = _q_from_dict(phase, "deg", f"{where}.phase_deg")
    on = d.get("on", [])
    if not isinstance(on, list):
        raise PulseProgramError(f"{where}.on must be a list of channel names")
    return Block(str(d["block"]), duration, tuple(on), phase, d.get("readout"))

