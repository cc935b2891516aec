"""What the measurement layer needs from each kind of instrument.

The measurement code depends on these protocols only, never on a concrete driver.  Every
implementation (real driver or simulated) guarantees:

- units are SI floats (Hz, s, W, A, V); RF power is in dBm;
- a setter returns after the instrument has taken the value (read back and checked where
  the instrument allows), or raises :class:`~nvsense.instruments.errors.InstrumentError`;
- a value outside the instrument's limits raises
  :class:`~nvsense.instruments.errors.LimitError` before anything is sent;
- ``safe()`` never raises for a reachable instrument and leaves it safe (RF off, laser off or in
  standby); it is called on every exit path;
- ``close()`` releases the connection and may be called twice.

Capabilities
------------
What only some instruments can do is a protocol of its own, checked with ``isinstance``
(never by probing attributes):

========================  ==========  ======================================================
protocol                  kind        what it adds
========================  ==========  ======================================================
:class:`ListSweep`        mw          a frequency list stepped by external trigger edges
                                      (hardware-timed sweeps)
:class:`FrequencyModulation`  mw      frequency modulation (``set_fm``)
:class:`MicrowaveTrigger` counter     its bin clock also steps the microwave list
                                      (``configure(..., trigger_mw=True)``)
:class:`ExternalGate`     counter     counts only while an external gate input is active
                                      (``set_gate``)
:class:`Snapshottable`    any         ``snapshot()``: the read-back state, JSON-serialisable
========================  ==========  ======================================================

``GatedCounter`` was this module's name for :class:`ExternalGate` (a capability of the ODMR
counter); it is kept as a deprecated alias.  ``GatedCounter`` now means one thing: the pulsed
read-out protocol of the ``gated_counter`` slot,
:class:`nvsense.instruments.gated_counter.GatedCounter` (counts per read-out window, summed
over passes).

An implementation declares a capability by having its members, and lacks it by not having
them (a method may also be blocked by setting it to ``None``, the :mod:`typing` convention).
:func:`nvsense.instruments.capabilities.sweep_mode` decides between list and stepped sweeps
from these protocols, in one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CoilLimits",
    "CoilSupply",
    "Counter",
    "ExternalGate",
    "FrequencyModulation",
    "Instrument",
    "Laser",
    "LaserLimits",
    "LimitedCoilSupply",
    "ListSweep",
    "MicrowaveLimits",
    "MicrowaveSource",
    "MicrowaveTrigger",
    "Snapshottable",
]


@dataclass(frozen=True)
class MicrowaveLimits:
    """Frequency range (Hz) and power range (dBm) an RF source accepts."""

    frequency_min: float
    frequency_max: float
    power_min: float
    power_max: float


@dataclass(frozen=True)
class LaserLimits:
    """Power range of a laser in W."""

    power_min: float
    power_max: float


@dataclass(frozen=True)
class CoilLimits:
    """Output current range of a coil supply in A (negative for a bipolar supply).

    Optional: a :class:`CoilSupply` may expose it as a ``limits`` property; the bench then
    checks every current against it before sending.
    """

    current_min: float
    current_max: float


@runtime_checkable
class Instrument(Protocol):
    """What every instrument has, whatever its kind: its bench name, a connection and the
    identity it reports.  The protocol of each kind (:class:`MicrowaveSource`,
    :class:`Laser`, ...) adds to it."""

    name: str

    def connect(self) -> None:
        """Open the connection and put the instrument in a known state."""

    def close(self) -> None:
        """Release the connection (idempotent)."""

    @property
    def identity(self) -> str:
        """Manufacturer, model, serial and firmware as the instrument reports them."""


@runtime_checkable
class MicrowaveSource(Instrument, Protocol):
    """A microwave source driving the NV spin transitions (CW: frequency, power, output).

    Hardware-timed lists and FM are capabilities: :class:`ListSweep`,
    :class:`FrequencyModulation`.
    """

    def connect(self) -> None:
        """Open the connection and put the instrument in a known state (RF off)."""

    @property
    def limits(self) -> MicrowaveLimits:
        """What the instrument accepts."""

    @property
    def frequency(self) -> float:
        """CW frequency in Hz, read back from the instrument."""

    @frequency.setter
    def frequency(self, value: float) -> None: ...

    @property
    def power(self) -> float:
        """RF output power in dBm, read back from the instrument."""

    @power.setter
    def power(self, value: float) -> None: ...

    @property
    def output(self) -> bool:
        """RF output on (True) or off."""

    @output.setter
    def output(self, value: bool) -> None: ...

    def safe(self) -> None:
        """RF output off (and list mode stopped)."""


@runtime_checkable
class Laser(Instrument, Protocol):
    """The excitation laser (or its AOM)."""

    @property
    def limits(self) -> LaserLimits: ...

    @property
    def power(self) -> float:
        """Set-point power in W, read back."""

    @power.setter
    def power(self, value: float) -> None: ...

    @property
    def on(self) -> bool:
        """Emission on (True) or off/standby."""

    @on.setter
    def on(self, value: bool) -> None: ...

    def standby(self) -> None:
        """Emission off with the laser kept warm (where the laser has such a state; otherwise
        the same as ``on = False``)."""

    def safe(self, mode: Literal["off", "standby"] = "off") -> None:
        """Emission off, or standby."""


@runtime_checkable
class Counter(Instrument, Protocol):
    """A photon counter or photodiode digitiser reading N bins of a given length.

    ``kind`` is ``"counts"`` (APD edge counting: photon counts per bin) or ``"volts"`` (mean
    photodiode voltage per bin).  The DAQ clocks the bins; a counter that is also a
    :class:`MicrowaveTrigger` sends, when ``trigger_mw`` is set, a trigger edge at each bin
    start that steps the microwave list; with other counters sweeps are stepped point by
    point.
    """

    kind: Literal["counts", "volts"]

    def configure(self, n_bins: int, bin_time: float, *, trigger_mw: bool = False) -> None:
        """Prepare an acquisition of ``n_bins`` bins of ``bin_time`` seconds each."""

    def acquire(self, timeout: float | None = None) -> NDArray[np.float64]:
        """Run the configured acquisition and return ``n_bins`` values.

        Blocks until done.  Raises ``InstrumentError`` on timeout (default: a generous
        multiple of the acquisition time) or a lost device.
        """

    def safe(self) -> None:
        """Stop any running acquisition and release the clock / gate lines."""


@runtime_checkable
class CoilSupply(Instrument, Protocol):
    """An optional current source for bias-field coils."""

    @property
    def current(self) -> float:
        """Output current set-point in A, read back."""

    @current.setter
    def current(self, value: float) -> None: ...

    @property
    def output(self) -> bool: ...

    @output.setter
    def output(self, value: bool) -> None: ...

    def safe(self) -> None:
        """Output off."""


@runtime_checkable
class LimitedCoilSupply(Protocol):
    """A :class:`CoilSupply` that states its current range (the bench then checks against
    it as well as against the bench's ``max_coil_current``)."""

    @property
    def limits(self) -> CoilLimits: ...


# --- capabilities -----------------------------------------------------------------------------

@runtime_checkable
class ListSweep(Protocol):
    """A microwave source with hardware-timed frequency lists (``mw`` capability)."""

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Load a frequency list stepped by an external trigger.

        After :meth:`start_list` the source outputs ``frequencies[0]`` and moves to the next
        entry on each trigger edge (from the DAQ's sample clock), wrapping at the end.
        """

    def start_list(self) -> None:
        """Arm the list: output the first frequency and wait for triggers."""

    def stop_list(self) -> None:
        """Leave list mode and return to CW at the current frequency."""


@runtime_checkable
class FrequencyModulation(Protocol):
    """A microwave source with frequency modulation (``mw`` capability)."""

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        """Frequency modulation: peak ``deviation`` (Hz), sine at ``rate`` (Hz) from the
        internal generator, or the instrument's modulation input (``deviation`` at full
        scale).  ``enabled=False`` switches it off.  A mode the instrument lacks raises
        ``NotImplementedError`` naming it."""


@runtime_checkable
class MicrowaveTrigger(Protocol):
    """A counter whose bin clock also steps the microwave list (``counter`` capability).

    With ``configure(n_bins, bin_time, trigger_mw=True)`` every bin start sends one trigger
    edge to the microwave source's trigger input.
    """

    #: Trigger edges the clock sends to the microwave source before the first bin (an NI
    #: X-series sample clock sends one edge to start bin 0 and one per later bin, so a list
    #: armed at entry 0 is at entry 1 during bin 0).  The measurement loads the list rotated by
    #: this number and re-arms it before every acquisition.
    mw_trigger_lead: int


@runtime_checkable
class ExternalGate(Protocol):
    """A counter that counts only while an external gate input is active (``counter``
    capability): a pulse generator opens the gate during each read-out pulse and the counts of
    a bin are the photons inside the windows of that bin.

    Not to be confused with :class:`nvsense.instruments.gated_counter.GatedCounter`, the
    instrument of the ``gated_counter`` slot that returns one value per read-out window.
    """

    def set_gate(self, enabled: bool, *, active: Literal["high", "low"] = "high") -> None:
        """Count only while the gate input is at its ``active`` level (``enabled``), or always;
        takes effect at the next :meth:`Counter.configure`."""


@runtime_checkable
class Snapshottable(Protocol):
    """An instrument that reports its read-back state (every nvsense instrument does)."""

    def snapshot(self) -> dict[str, Any]:
        """Identity, settings read back from the instrument, limits and options, as plain
        JSON-serialisable data; quantities as ``{"value": v, "unit": "Hz"}``."""


def __getattr__(name: str) -> Any:
    # ``GatedCounter`` was renamed ExternalGate: the name now means the pulsed read-out
    # protocol (nvsense.instruments.gated_counter.GatedCounter).
    if name == "GatedCounter":
        warnings.warn(
            "nvsense.instruments.protocols.GatedCounter is deprecated: the counter capability "
            "set_gate is now ExternalGate; the pulsed read-out protocol (one value per window) "
            "is nvsense.instruments.gated_counter.GatedCounter",
            DeprecationWarning, stacklevel=2)
        return ExternalGate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
