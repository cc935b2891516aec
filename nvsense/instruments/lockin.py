"""What the measurement layer needs from a lock-in amplifier, and the checks every driver runs.

A lock-in (hardware: SRS SR860, Zurich Instruments MFLI; or the simulated one running
:class:`nvsense.dsp.SoftwareLockIn` on the simulated photodiode) demodulates the photodiode
signal at the microwave modulation frequency.  The protocol covers what an FM lock-in
magnetometer sets and reads:

- the output filter: ``time_constant`` (s) and ``filter_order`` (number of RC stages, slope
  6·N dB/oct);
- ``sensitivity``: the full-scale input (V), i.e. the input range;
- the reference: ``reference_source`` (``"internal"``: the lock-in's oscillator, whose sine
  output may drive the source's FM input; ``"external"``: locked to a sync on its reference
  input), ``reference_frequency`` (Hz, set in internal mode, measured in external mode),
  ``reference_phase`` (degrees), ``harmonic`` (1 = the modulation frequency) and
  ``sine_amplitude`` (V, the oscillator's output);
- reading: :meth:`read_xy` (one X, Y pair now) and a buffered capture of X and Y at a fixed
  rate (:meth:`configure_capture`, :meth:`start_capture`, then :meth:`read_capture` in blocks
  until the capture is complete).

Every implementation guarantees, like the other protocols (:mod:`.protocols`): SI units except
phases in degrees (the unit every lock-in displays); a setter returns once the instrument has
taken the value (read back); a value outside :attr:`LockIn.limits` raises
:class:`~nvsense.instruments.errors.LimitError` before anything is sent, naming the nearest
allowed values for instruments with discrete settings; ``safe()`` stops any capture and turns
the sine output down; ``close()`` may be called twice.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..units import format_quantity
from .errors import LimitError
from .protocols import Instrument

__all__ = [
    "LockIn",
    "LockInCapture",
    "LockInLimits",
    "ReferenceSource",
    "check_capture",
    "check_choice",
    "check_filter_order",
    "check_harmonic",
    "check_phase",
    "check_range",
    "check_reference_frequency",
]

ReferenceSource = Literal["internal", "external"]


@dataclass(frozen=True)
class LockInLimits:
    """What a lock-in accepts.

    Attributes
    ----------
    frequency_min, frequency_max
        Reference frequency range, Hz; ``harmonic × frequency`` must stay below the maximum.
    time_constants
        The allowed time constants (s), ascending, for instruments with a fixed list (SR860);
        empty when any value in [``time_constant_min``, ``time_constant_max``] is allowed.
    time_constant_min, time_constant_max
        Range of the time constant, s.
    max_filter_order
        Most RC stages (4 on the SR860, 8 on the MFLI).
    sensitivities
        Allowed full-scale sensitivities (ascending) for instruments with a fixed list;
        empty when any value in [``sensitivity_min``, ``sensitivity_max``] is allowed.
    sensitivity_min, sensitivity_max
        Range of the full-scale sensitivity (input range), in ``sensitivity_unit``.
    sensitivity_unit
        ``"V"`` (voltage input) or ``"A"`` (current input).
    max_harmonic
        Highest harmonic the reference may be multiplied to.
    sine_amplitude_max
        Largest sine-output amplitude, V.
    capture_rate_max
        Fastest buffered-capture rate, Hz (some instruments lower it with the time constant).
    max_capture_samples
        Most (X, Y) pairs one capture holds.
    """

    frequency_min: float
    frequency_max: float
    time_constant_min: float
    time_constant_max: float
    max_filter_order: int
    sensitivity_min: float
    sensitivity_max: float
    max_harmonic: int
    sine_amplitude_max: float
    capture_rate_max: float
    max_capture_samples: int
    time_constants: tuple[float, ...] = ()
    sensitivities: tuple[float, ...] = ()
    sensitivity_unit: str = "V"


@dataclass(frozen=True)
class LockInCapture:
    """One block of a buffered capture.

    Attributes
    ----------
    time
        Time of each sample since the capture started, s.
    x, y
        In-phase and quadrature outputs (RMS, in the sensitivity's unit).
    rate
        Capture rate, Hz.
    complete
        Whether this block ends the capture (all configured samples delivered).
    first_index
        Index of the block's first sample within the capture.
    """

    time: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    rate: float
    complete: bool
    first_index: int = 0

    @property
    def r(self) -> NDArray[np.float64]:
        """Magnitude √(X² + Y²)."""
        return np.hypot(self.x, self.y)

    @property
    def theta_deg(self) -> NDArray[np.float64]:
        """Phase atan2(Y, X) in degrees."""
        return np.degrees(np.arctan2(self.y, self.x))


@runtime_checkable
class LockIn(Instrument, Protocol):
    """A lock-in amplifier demodulating the photodiode signal."""

    def connect(self) -> None:
        """Open the connection and put the instrument in a known state (no capture running)."""

    @property
    def limits(self) -> LockInLimits: ...

    @property
    def time_constant(self) -> float:
        """Output filter time constant τ, s."""

    @time_constant.setter
    def time_constant(self, value: float) -> None: ...

    @property
    def filter_order(self) -> int:
        """Number of RC stages of the output filter (slope 6·N dB/oct)."""

    @filter_order.setter
    def filter_order(self, value: int) -> None: ...

    @property
    def sensitivity(self) -> float:
        """Full-scale input, in ``limits.sensitivity_unit``."""

    @sensitivity.setter
    def sensitivity(self, value: float) -> None: ...

    @property
    def reference_source(self) -> ReferenceSource:
        """``"internal"`` oscillator or ``"external"`` reference input."""

    @reference_source.setter
    def reference_source(self, value: ReferenceSource) -> None: ...

    @property
    def reference_frequency(self) -> float:
        """Reference frequency, Hz (measured when the reference is external)."""

    @reference_frequency.setter
    def reference_frequency(self, value: float) -> None: ...

    @property
    def reference_phase(self) -> float:
        """Reference phase shift, degrees."""

    @reference_phase.setter
    def reference_phase(self, value: float) -> None: ...

    @property
    def harmonic(self) -> int:
        """Detection harmonic (1 = the reference frequency)."""

    @harmonic.setter
    def harmonic(self, value: int) -> None: ...

    @property
    def sine_amplitude(self) -> float:
        """Amplitude of the oscillator's sine output, V."""

    @sine_amplitude.setter
    def sine_amplitude(self, value: float) -> None: ...

    def read_xy(self) -> tuple[float, float]:
        """X and Y now, taken at one instant."""

    def configure_capture(self, n_samples: int, rate: float) -> float:
        """Prepare a buffered capture of ``n_samples`` (X, Y) pairs at ``rate`` Hz; returns the
        rate the instrument will use."""

    def start_capture(self) -> None:
        """Start the configured capture now."""

    def read_capture(self, timeout: float | None = None) -> LockInCapture:
        """The next block of the running capture (waits for data; the block with
        ``complete=True`` ends it).  Raises ``InstrumentError`` on timeout."""

    def stop_capture(self) -> None:
        """Stop a running capture (nothing happens if none runs)."""

    def safe(self) -> None:
        """Stop any capture and turn the sine output down."""


# --- checks shared by the drivers -----------------------------------------------------------

def _show(value: float, unit: str) -> str:
    if unit in ("", "deg"):
        return f"{value:g}{' deg' if unit else ''}"
    return format_quantity(value, unit)


def check_range(value: object, low: float, high: float, *, what: str, unit: str,
                who: str) -> float:
    """``value`` as a float inside [low, high], or :class:`LimitError` (nothing sent)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise LimitError(f"{who}: {what} must be a finite number, not {value!r}; "
                         f"nothing was sent")
    if not low <= number <= high:
        raise LimitError(f"{who}: {what} {_show(number, unit)} is outside "
                         f"{_show(low, unit)} to {_show(high, unit)}; nothing was sent")
    return number


def check_reference_frequency(value: object, limits: LockInLimits,
                              harmonic: Callable[[], int], *, who: str) -> float:
    """A reference frequency inside the instrument's range whose harmonic is too, or
    :class:`LimitError` (nothing sent).

    ``harmonic`` reads the detection harmonic; it is called only once the frequency is in
    range (on an instrument, reading it is a query).
    """
    f = check_range(value, limits.frequency_min, limits.frequency_max,
                    what="reference_frequency", unit="Hz", who=who)
    h = harmonic()
    if h * f > limits.frequency_max:
        raise LimitError(f"{who}: reference_frequency {f:g} Hz at harmonic "
                         f"{h} detects at {h * f:g} Hz, above "
                         f"{limits.frequency_max:g} Hz; lower the harmonic first; "
                         f"nothing was sent")
    return f


#: Largest phase shift a lock-in takes, degrees (±1000 turns; the instruments wrap it).
MAX_PHASE_DEG = 360000.0


def check_phase(value: object, *, who: str) -> float:
    """A reference phase shift within ±:data:`MAX_PHASE_DEG` degrees, or LimitError."""
    return check_range(value, -MAX_PHASE_DEG, MAX_PHASE_DEG, what="reference_phase",
                       unit="deg", who=who)


def check_choice(value: object, allowed: Sequence[float], *, what: str, unit: str,
                 who: str, rel: float = 1e-6) -> int:
    """Index of ``value`` in the ascending list ``allowed`` (to ``rel``), or LimitError naming
    the nearest allowed values."""
    number = check_range(value, allowed[0], allowed[-1], what=what, unit=unit, who=who)
    for index, candidate in enumerate(allowed):
        if abs(number - candidate) <= rel * abs(candidate):
            return index
    above = bisect.bisect_left(allowed, number)
    neighbours = ", ".join(_show(allowed[i], unit) for i in (above - 1, above)
                           if 0 <= i < len(allowed))
    raise LimitError(f"{who}: {what} {_show(number, unit)} is not one the instrument offers; "
                     f"nearest: {neighbours}; nothing was sent")


def check_filter_order(value: object, maximum: int, *, who: str) -> int:
    """A filter order 1..maximum, or LimitError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or \
            not 1 <= int(value) <= maximum:
        raise LimitError(f"{who}: filter_order must be a whole number of RC stages from 1 to "
                         f"{maximum} (6 to {6 * maximum} dB/oct), not {value!r}; "
                         f"nothing was sent")
    return int(value)


def check_harmonic(value: object, frequency: float, limits: LockInLimits, *, who: str) -> int:
    """A harmonic 1..max with ``harmonic × frequency`` within the frequency range."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or \
            not 1 <= int(value) <= limits.max_harmonic:
        raise LimitError(f"{who}: harmonic must be a whole number from 1 to "
                         f"{limits.max_harmonic}, not {value!r}; nothing was sent")
    h = int(value)
    if h * frequency > limits.frequency_max:
        raise LimitError(f"{who}: harmonic {h} of {_show(frequency, 'Hz')} is "
                         f"{_show(h * frequency, 'Hz')}, above the instrument's "
                         f"{_show(limits.frequency_max, 'Hz')}; nothing was sent")
    return h


def check_capture(n_samples: object, rate: object, limits: LockInLimits, *,
                  who: str) -> tuple[int, float]:
    """A capture length (1..max samples) and a rate in (0, capture_rate_max]."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or \
            not 1 <= int(n_samples) <= limits.max_capture_samples:
        raise LimitError(f"{who}: a capture holds 1 to {limits.max_capture_samples} samples, "
                         f"not {n_samples!r}; nothing was sent")
    r = check_range(rate, 0.0, limits.capture_rate_max, what="capture rate", unit="Hz",
                    who=who)
    if r <= 0:
        raise LimitError(f"{who}: capture rate must be positive; nothing was sent")
    return int(n_samples), r
