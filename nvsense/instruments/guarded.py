"""Instrument wrappers that check every setting against the limits before sending it.

A :class:`~nvsense.instruments.bench.Bench` hands out its microwave source, laser and coil
wrapped in these guards: a setting outside the instrument's or the bench's limits raises
:class:`~nvsense.instruments.errors.LimitError` and nothing reaches the instrument.  Turning
the RF, the laser or the coil on also checks the set-points read back from the instrument, so
a power left high by an earlier session cannot go out.  Everything else passes through
unchanged (``bench.mw.identity``, driver-specific methods); ``.inner`` is the bare driver.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from .limits import (
    BenchLimits,
    check_coil_current,
    check_frequencies,
    check_laser_power,
    check_mw_power,
    effective_coil_limits,
    effective_laser_limits,
    effective_mw_limits,
)
from .protocols import (
    CoilLimits,
    FrequencyModulation,
    LaserLimits,
    LimitedCoilSupply,
    ListSweep,
    MicrowaveLimits,
    Snapshottable,
)
from .snapshot import generic_snapshot, limits_snapshot

__all__ = ["GuardedCoil", "GuardedLaser", "GuardedMicrowave"]


class _Guard:
    """Pass attribute access through to the wrapped instrument, except what the guard owns."""

    _own: ClassVar[frozenset[str]] = frozenset()
    #: The bench slot of this kind of instrument (for snapshots of user drivers).
    _slot: ClassVar[str] = ""

    def __init__(self, inner: Any, bench_limits: BenchLimits) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_bench", bench_limits)

    @property
    def inner(self) -> Any:
        """The wrapped driver, unchecked: use with care."""
        return self._inner

    @property
    def bench_limits(self) -> BenchLimits:
        """The bench's limits applied on top of the instrument's."""
        return self._bench

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_inner", "_bench"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(getattr(type(self), name, None), property) or name in self._own:
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)

    def snapshot(self) -> dict[str, Any]:
        """The instrument's snapshot (read back), with the effective limits (the instrument's
        within the bench's) as ``effective_limits``."""
        inner = self._inner
        data = (inner.snapshot() if isinstance(inner, Snapshottable)
                else generic_snapshot(self._slot, inner))
        data["effective_limits"] = limits_snapshot(self.limits)
        return data

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self._inner)))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._inner!r}>"


#: Members of the capability protocols, and what each capability is, for messages.
_CAPABILITY_MEMBERS: dict[str, str] = {
    "load_list": "hardware-timed frequency lists (ListSweep)",
    "start_list": "hardware-timed frequency lists (ListSweep)",
    "stop_list": "hardware-timed frequency lists (ListSweep)",
    "set_fm": "frequency modulation (FrequencyModulation)",
}


class GuardedMicrowave(_Guard):
    """A :class:`~nvsense.instruments.protocols.MicrowaveSource` behind the limits.

    ``limits`` gives the effective limits (the instrument's within the bench's);
    ``instrument_limits`` the instrument's own.  The guard has the capabilities of the source
    it wraps, and only those: ``GuardedMicrowave(source, limits)`` returns a guard that is a
    :class:`~nvsense.instruments.protocols.ListSweep` and/or a
    :class:`~nvsense.instruments.protocols.FrequencyModulation` exactly when ``source`` is.
    """

    _own = frozenset({"_fm_deviation", "_list", "_list_running"})
    _slot = "mw"

    def __new__(cls, inner: Any, bench_limits: BenchLimits) -> GuardedMicrowave:
        if cls is GuardedMicrowave:
            cls = _microwave_guard(isinstance(inner, ListSweep),
                                   isinstance(inner, FrequencyModulation))
        return super().__new__(cls)

    def __init__(self, inner: Any, bench_limits: BenchLimits) -> None:
        super().__init__(inner, bench_limits)
        self._fm_deviation = 0.0
        self._list: np.ndarray | None = None
        self._list_running = False

    def __getattr__(self, name: str) -> Any:
        if name in _CAPABILITY_MEMBERS:
            # Not provided by this guard's class: the source lacks the capability.  Never pass
            # it through, not even if the source has a stray method of that name (unchecked).
            raise AttributeError(
                f"{self._inner.name}: this microwave source has no "
                f"{_CAPABILITY_MEMBERS[name]}")
        return super().__getattr__(name)

    @property
    def supports_list(self) -> bool:
        """Whether hardware-timed lists are available (``isinstance(mw, ListSweep)``)."""
        return isinstance(self, ListSweep)

    @property
    def instrument_limits(self) -> MicrowaveLimits:
        """What the instrument accepts."""
        return self._inner.limits

    @property
    def limits(self) -> MicrowaveLimits:
        """What may be set on this bench."""
        return effective_mw_limits(self._inner.limits, self._bench)

    def _check_frequencies(self, values: Any, deviation: float | None = None) -> None:
        dev = self._fm_deviation if deviation is None else deviation
        limits = self._inner.limits
        if isinstance(values, float) and not dev:  # one CW frequency: the hot path
            check_frequencies(values, instrument=limits, bench=self._bench, who=self._inner.name)
            return
        f = np.atleast_1d(np.asarray(values, dtype=float))
        span = np.concatenate([f - dev, f + dev]) if dev else f
        check_frequencies(span if span.size > 1 else float(span[0]),
                          instrument=limits, bench=self._bench, who=self._inner.name)

    def _check_power(self, value: float) -> None:
        check_mw_power(value, instrument=self._inner.limits, bench=self._bench,
                       who=self._inner.name)

    @property
    def frequency(self) -> float:
        return self._inner.frequency

    @frequency.setter
    def frequency(self, value: float) -> None:
        self._check_frequencies(float(value))
        self._inner.frequency = value

    @property
    def power(self) -> float:
        return self._inner.power

    @power.setter
    def power(self, value: float) -> None:
        self._check_power(float(value))
        self._inner.power = value

    @property
    def output(self) -> bool:
        return self._inner.output

    @output.setter
    def output(self, value: bool) -> None:
        if value and not self._list_running:
            # the set-points may predate this session: check what the source would emit
            self._check_frequencies(float(self._inner.frequency))
            self._check_power(float(self._inner.power))
        self._inner.output = value

    def safe(self) -> None:
        self._list_running = False
        self._fm_deviation = 0.0
        self._inner.safe()


class _GuardedListSweep:
    """The :class:`~nvsense.instruments.protocols.ListSweep` part of a guard."""

    _inner: Any
    _list: np.ndarray | None
    _list_running: bool
    _check_frequencies: Any
    _check_power: Any

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        freqs = np.asarray(frequencies, dtype=float).ravel()
        self._check_frequencies(freqs)
        self._check_power(float(power))
        self._inner.load_list(frequencies, power)
        self._list, self._list_running = freqs, False

    def start_list(self) -> None:
        self._inner.start_list()
        self._list_running = True

    def stop_list(self) -> None:
        self._inner.stop_list()
        self._list_running = False


class _GuardedFrequencyModulation:
    """The :class:`~nvsense.instruments.protocols.FrequencyModulation` part of a guard."""

    _inner: Any
    _list: np.ndarray | None
    _fm_deviation: float
    _check_frequencies: Any

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        if enabled:
            self._check_frequencies(float(self._inner.frequency), deviation=float(deviation))
            if self._list is not None:
                self._check_frequencies(self._list, deviation=float(deviation))
        self._inner.set_fm(deviation, rate=rate, source=source, enabled=enabled)
        self._fm_deviation = float(deviation) if enabled else 0.0


@functools.cache
def _microwave_guard(lists: bool, fm: bool) -> type[GuardedMicrowave]:
    """The guard class with exactly these capabilities."""
    if not (lists or fm):
        return GuardedMicrowave
    parts: list[type] = [GuardedMicrowave]
    if lists:
        parts.append(_GuardedListSweep)
    if fm:
        parts.append(_GuardedFrequencyModulation)
    return type("GuardedMicrowave", tuple(parts), {"__module__": __name__,
                                                   "__qualname__": "GuardedMicrowave"})


class GuardedLaser(_Guard):
    """A :class:`~nvsense.instruments.protocols.Laser` behind the limits."""

    _slot = "laser"

    @property
    def instrument_limits(self) -> LaserLimits:
        return self._inner.limits

    @property
    def limits(self) -> LaserLimits:
        return effective_laser_limits(self._inner.limits, self._bench)

    def _check(self, value: float) -> None:
        check_laser_power(value, instrument=self._inner.limits, bench=self._bench,
                          who=self._inner.name)

    @property
    def power(self) -> float:
        return self._inner.power

    @power.setter
    def power(self, value: float) -> None:
        self._check(float(value))
        self._inner.power = value

    @property
    def on(self) -> bool:
        return self._inner.on

    @on.setter
    def on(self, value: bool) -> None:
        if value:
            self._check(float(self._inner.power))
        self._inner.on = value


class GuardedCoil(_Guard):
    """A :class:`~nvsense.instruments.protocols.CoilSupply` behind the limits."""

    _slot = "coil"

    @property
    def instrument_limits(self) -> CoilLimits | None:
        """The supply's own current range, if it states one."""
        return self._inner.limits if isinstance(self._inner, LimitedCoilSupply) else None

    @property
    def limits(self) -> CoilLimits | None:
        return effective_coil_limits(self.instrument_limits, self._bench)

    def _check(self, value: float) -> None:
        check_coil_current(value, instrument=self.instrument_limits, bench=self._bench,
                           who=self._inner.name)

    @property
    def current(self) -> float:
        return self._inner.current

    @current.setter
    def current(self, value: float) -> None:
        self._check(float(value))
        self._inner.current = value

    @property
    def output(self) -> bool:
        return self._inner.output

    @output.setter
    def output(self, value: bool) -> None:
        if value:
            self._check(float(self._inner.current))
        self._inner.output = value
