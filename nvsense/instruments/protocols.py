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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CoilLimits",
    "CoilSupply",
    "Counter",
    "Laser",
    "LaserLimits",
    "MicrowaveLimits",
    "MicrowaveSource",
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
class MicrowaveSource(Protocol):
    """A microwave source driving the NV spin transitions."""

    name: str

    def connect(self) -> None:
        """Open the connection and put the instrument in a known state (RF off)."""

    def close(self) -> None:
        """Release the connection (idempotent)."""

    @property
    def identity(self) -> str:
        """Manufacturer, model, serial and firmware as the instrument reports them."""

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

    @property
    def supports_list(self) -> bool:
        """Whether :meth:`load_list` (hardware-timed sweeps) is available."""

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Load a frequency list stepped by an external trigger.

        After :meth:`start_list` the source outputs ``frequencies[0]`` and moves to the next
        entry on each trigger edge (from the DAQ's sample clock), wrapping at the end.
        """

    def start_list(self) -> None:
        """Arm the list: output the first frequency and wait for triggers."""

    def stop_list(self) -> None:
        """Leave list mode and return to CW at the current frequency."""

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        """Optional frequency modulation (deviation and rate in Hz).  Sources without FM raise
        ``NotImplementedError`` with the instrument's name."""

    def safe(self) -> None:
        """RF output off (and list mode stopped)."""


@runtime_checkable
class Laser(Protocol):
    """The excitation laser (or its AOM)."""

    name: str

    def connect(self) -> None: ...

    def close(self) -> None: ...

    @property
    def identity(self) -> str: ...

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
class Counter(Protocol):
    """A photon counter or photodiode digitiser reading N bins of a given length.

    ``kind`` is ``"counts"`` (APD edge counting: photon counts per bin) or ``"volts"`` (mean
    photodiode voltage per bin).  The DAQ clocks the bins; when ``trigger_mw`` is set, each bin
    start also sends a trigger edge that steps the microwave list.
    """

    name: str
    kind: Literal["counts", "volts"]
    #: Trigger edges the clock sends to the microwave source before the first bin (an NI
    #: X-series sample clock sends one edge to start bin 0 and one per later bin, so a list
    #: armed at entry 0 is at entry 1 during bin 0).  The measurement loads the list rotated by
    #: this number and re-arms it before every acquisition.
    mw_trigger_lead: int

    def connect(self) -> None: ...

    def close(self) -> None: ...

    @property
    def identity(self) -> str: ...

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
class CoilSupply(Protocol):
    """An optional current source for bias-field coils."""

    name: str

    def connect(self) -> None: ...

    def close(self) -> None: ...

    @property
    def identity(self) -> str: ...

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
