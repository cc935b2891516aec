"""The FM drive of a lock-in magnetometer: what frequency-modulates the microwave source.

Photodiode lock-in detection (:mod:`nvsense.dsp`) demodulates at the modulation frequency, so
the demodulator must know the modulation's phase.  Two ways to modulate, one protocol
(:class:`FMDrive`, the ``fm_drive`` slot of a bench file):

- an analog output clocked by the analog input's sample clock drives the source's external FM
  input (``driver: nidaq``, ``driver: simulated``): the sine is written on the acquisition's
  own clock, so its phase at every sample is known exactly (:attr:`FMDrive.shares_sample_clock`
  is ``True``; demodulate with :class:`nvsense.dsp.ClockReference` and the phase
  :meth:`FMDrive.start` was given, sample 0 being the first sample of the acquisition);
- the source's internal FM generator (``driver: internal``): its phase is not tied to the
  acquisition, so the lock-in needs a recorded sync (the source's modulation output on an
  analog-input channel, :class:`nvsense.dsp.ZeroCrossingReference`).

The microwave side goes through the bench's guarded source (``bench.mw.set_fm``), so the
deviation is checked against the frequency limits like every other setting: the carrier ±
the deviation must stay inside the instrument's and the bench's range.  A drive on the
acquisition's clock must be started *before* the analog input starts (it waits for the first
sample clock edge): starting it while the input runs would leave its phase unknown, and is
refused.

Usage (what a lock-in measurement does)::

    ai, fm = bench.analog_input, bench.fm_drive
    ai.configure(["s0.signal", "s0.reference"], 200e3, 20_000)
    f_mod = fm.start(10e3, deviation=0.35e6)     # the frequency really played
    ai.start()
    ...                                          # read blocks, demodulate at f_mod
    ai.stop(); fm.stop()
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar, Protocol, runtime_checkable

from .errors import CapabilityError, InstrumentError, LimitError
from .limits import out_of_range
from .protocols import FrequencyModulation, Instrument
from .snapshot import quantity_value

__all__ = ["FMDrive", "FMDriveBase", "FMDriveLimits", "SourceFMDrive", "whole_period_buffer"]


@dataclass(frozen=True)
class FMDriveLimits:
    """What an FM drive can play.

    Attributes
    ----------
    frequency_min, frequency_max
        Modulation frequency range, Hz (a drive on the sample clock needs several samples
        per period: at most a quarter of the sample rate).
    amplitude
        Drive voltage at full deviation, V (the peak of the sine on the source's FM input;
        ``0`` for the source's internal generator).
    """

    frequency_min: float
    frequency_max: float
    amplitude: float = 0.0


def whole_period_buffer(frequency: float, sample_rate: float, *, max_samples: int = 65_536,
                        min_samples: int = 2) -> tuple[int, int, float]:
    """The shortest buffer of samples at ``sample_rate`` holding a whole number of periods of
    a sine near ``frequency``, for an output that regenerates it without a phase jump.

    Returns
    -------
    (n_samples, cycles, played)
        Buffer length, periods in it, and the frequency it plays
        (``sample_rate · cycles / n_samples``): ``frequency`` itself when it is a ratio of
        ``sample_rate`` with a denominator up to ``max_samples`` (10 kHz at 200 kS/s: 20
        samples, 1 period), else the nearest such ratio.
    """
    ratio = Fraction(float(frequency) / float(sample_rate)).limit_denominator(int(max_samples))
    if ratio <= 0:
        raise LimitError(f"{frequency:g} Hz is too low to play at {sample_rate:g} S/s within "
                         f"{max_samples} samples; nothing was sent", quantity="fm_rate",
                         value=frequency, unit="Hz")
    n, cycles = ratio.denominator, ratio.numerator
    while n < min_samples:
        n, cycles = 2 * n, 2 * cycles
    return n, cycles, float(sample_rate) * cycles / n


@runtime_checkable
class FMDrive(Instrument, Protocol):
    """Frequency modulation of the microwave source for lock-in detection."""

    #: Whether the modulation is generated on the analog input's sample clock (its phase at
    #: every sample is known) or not (the lock-in needs a recorded sync).
    shares_sample_clock: bool

    @property
    def limits(self) -> FMDriveLimits: ...

    def start(self, frequency: float, deviation: float, *, phase_deg: float = 0.0) -> float:
        """Modulate with a sine of ``frequency`` (Hz) and peak ``deviation`` (Hz); returns
        the frequency really played (a drive on a sample clock plays a whole number of
        periods per buffer)."""

    def stop(self) -> None:
        """Modulation off (drive at 0 V, the source's FM off)."""

    @property
    def running(self) -> bool: ...

    def safe(self) -> None:
        """Stop the drive with its output at 0 V; never raises for a reachable device."""


class FMDriveBase:
    """What every FM drive shares: the bound microwave source (and analog input), checks
    before anything is sent, the state it reports.

    The bench calls :meth:`bind` when it builds the drive; a drive used on its own is bound
    by hand (``drive.bind(mw, analog_input)``).
    """

    #: Drive model, for the identity and messages.
    model: ClassVar[str] = "FM drive"
    #: Slot of the fault plan of simulated drives.
    slot: ClassVar[str] = "fm_drive"
    shares_sample_clock: ClassVar[bool] = True
    #: Whether the drive needs an analog input (its sample clock).
    needs_analog_input: ClassVar[bool] = True

    def __init__(self, name: str = "fm_drive") -> None:
        self.name = name
        self._mw: Any = None
        self._ai: Any = None
        self._running = False
        self._frequency = 0.0
        self._deviation = 0.0
        self._phase = 0.0

    # --- wiring ----------------------------------------------------------------------------

    def bind(self, mw: Any, analog_input: Any = None) -> None:
        """The source whose FM this drive sets (the bench's guarded ``mw``) and the analog
        input whose sample clock it shares (the bench's ``analog_input``)."""
        self._mw = mw
        self._ai = analog_input

    def _source(self, command: str) -> Any:
        if self._mw is None:
            raise InstrumentError(self.name, command, "no microwave source bound; the bench "
                                  "binds it (or call bind(mw, analog_input))")
        if not isinstance(self._mw, FrequencyModulation):
            raise CapabilityError(f"{self.name}: the microwave source "
                                  f"({getattr(self._mw, 'name', 'mw')}) has no frequency "
                                  "modulation; use a source with FM (SG384, SMB100A, MXG)")
        return self._mw

    def _analog_input(self, command: str) -> Any:
        if self._ai is None:
            raise CapabilityError(
                f"{self.name}: this FM drive runs on the analog input's sample clock, but the "
                "bench has no analog_input; add instruments.analog_input to the bench file, "
                "or use driver: internal (the source's own FM generator) for fm_drive")
        return self._ai

    # --- to implement ----------------------------------------------------------------------

    @property
    def limits(self) -> FMDriveLimits:  # pragma: no cover - each drive has its own
        raise NotImplementedError

    def _start_output(self, frequency: float, phase_deg: float) -> float:  # pragma: no cover
        """Start the drive's output; return the frequency played."""
        raise NotImplementedError

    def _stop_output(self) -> None:  # pragma: no cover
        """Output to 0 V (or the source's generator off)."""
        raise NotImplementedError

    def _source_fm(self, deviation: float, frequency: float) -> None:
        """Set the source's FM for this drive (external input at full scale by default)."""
        self._source("set_fm").set_fm(deviation, source="external")

    # --- common behaviour ------------------------------------------------------------------

    def _check(self, frequency: float, deviation: float) -> tuple[float, float]:
        limits = self.limits
        f = float(frequency)
        if not (math.isfinite(f) and limits.frequency_min <= f <= limits.frequency_max):
            raise out_of_range(
                f"{self.name}: modulation frequency {f:g} Hz is outside "
                f"{limits.frequency_min:g} to {limits.frequency_max:g} Hz; nothing was sent",
                quantity="fm_rate", value=f, low=limits.frequency_min,
                high=limits.frequency_max, unit="Hz", instrument=self.name)
        d = float(deviation)
        if not (math.isfinite(d) and d > 0):
            raise LimitError(f"{self.name}: deviation must be a positive number of Hz, not "
                             f"{deviation!r}; nothing was sent", quantity="fm_deviation",
                             value=deviation, unit="Hz", instrument=self.name)
        return f, d

    def start(self, frequency: float, deviation: float, *, phase_deg: float = 0.0) -> float:
        """Set the source's FM (checked against the bench's frequency limits) and start the
        drive.  Returns the modulation frequency played.

        Raises
        ------
        LimitError
            The frequency is outside :attr:`limits`, or the carrier ± deviation leaves the
            source's or the bench's range; nothing was sent.
        CapabilityError
            The source has no FM, or the drive needs an analog input the bench lacks.
        InstrumentError
            A drive on the sample clock while the analog input already runs, or a device
            error (the drive is left stopped at 0 V).
        """
        f, d = self._check(frequency, deviation)
        phase = float(phase_deg)
        if self._running:
            self.stop()
        self._source_fm(d, f)
        try:
            played = self._start_output(f, phase)
        except BaseException:
            self.safe()
            with contextlib.suppress(Exception):  # no FM left on for a drive that is off
                self._source("set_fm").set_fm(0.0, enabled=False)
            raise
        self._running = True
        self._frequency, self._deviation, self._phase = played, d, phase
        return played

    def stop(self) -> None:
        """Drive output to 0 V and the source's FM off."""
        try:
            self._stop_output()
        finally:
            self._running = False
            self._frequency = 0.0
            if self._mw is not None and isinstance(self._mw, FrequencyModulation):
                self._mw.set_fm(0.0, enabled=False)

    def safe(self) -> None:
        """Stop the drive, output at 0 V (the source itself is made safe by the bench);
        never raises."""
        self._running = False
        self._frequency = 0.0
        try:
            self._stop_output()
        except Exception:  # safe() must not raise
            pass

    @property
    def running(self) -> bool:
        """Whether the modulation runs."""
        return self._running

    @property
    def frequency(self) -> float:
        """Modulation frequency played, Hz (0 when stopped)."""
        return self._frequency

    @property
    def deviation(self) -> float:
        """Peak deviation set on the source, Hz."""
        return self._deviation

    @property
    def phase_deg(self) -> float:
        """Phase of the sine at the first sample of the acquisition, degrees."""
        return self._phase

    def _snapshot_state(self) -> dict[str, Any]:
        limits = self.limits
        return {"running": self._running,
                "frequency": quantity_value(self._frequency, "Hz"),
                "deviation": quantity_value(self._deviation, "Hz"),
                "phase": quantity_value(self._phase, "deg"),
                "shares_sample_clock": self.shares_sample_clock,
                "limits": {"frequency_min": quantity_value(limits.frequency_min, "Hz"),
                           "frequency_max": quantity_value(limits.frequency_max, "Hz"),
                           "amplitude": quantity_value(limits.amplitude, "V")}}

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<{type(self).__name__} {self.name!r} ({state})>"


class SourceFMDrive(FMDriveBase):
    """The microwave source's own FM generator (bench driver ``internal``).

    ``start(f, deviation)`` sets ``mw.set_fm(deviation, rate=f, source="internal")``.  Its
    phase is not tied to the acquisition: record the source's modulation output (or a TTL
    sync) on an analog-input channel and demodulate with
    :class:`nvsense.dsp.ZeroCrossingReference`.

    Parameters
    ----------
    name
        The bench slot.
    rate_min, rate_max
        The internal generator's rate range, Hz, from the source's manual (default 0.1 Hz
        to 100 kHz); the source refuses rates it cannot make when the FM is set.
    """

    model: ClassVar[str] = "source FM"
    shares_sample_clock: ClassVar[bool] = False
    needs_analog_input: ClassVar[bool] = False

    def __init__(self, name: str = "fm_drive", *, rate_min: float = 0.1,
                 rate_max: float = 100e3) -> None:
        super().__init__(name)
        if not 0 < float(rate_min) < float(rate_max):
            raise ValueError(f"instruments.{name}: rate_min must be positive and below "
                             f"rate_max")
        self._limits = FMDriveLimits(float(rate_min), float(rate_max), 0.0)
        self.connected = False

    def connect(self) -> None:
        """Nothing to open: the source is connected by the bench."""
        self.connected = True

    def close(self) -> None:
        self.connected = False

    @property
    def identity(self) -> str:
        name = getattr(self._mw, "name", "mw")
        return f"internal FM generator of {name}"

    @property
    def limits(self) -> FMDriveLimits:
        return self._limits

    def _source_fm(self, deviation: float, frequency: float) -> None:
        self._source("set_fm").set_fm(deviation, rate=frequency, source="internal")

    def _start_output(self, frequency: float, phase_deg: float) -> float:
        return frequency

    def _stop_output(self) -> None:
        pass  # the generator is the source's: stop() switches its FM off

    def safe(self) -> None:
        """The source's FM off (best effort: the bench makes the source safe too)."""
        was_running = self._running
        super().safe()
        mw = self._mw
        if was_running and mw is not None and isinstance(mw, FrequencyModulation):
            try:
                mw.set_fm(0.0, enabled=False)
            except Exception:  # safe() must not raise
                pass

    def snapshot(self) -> dict[str, Any]:
        """The drive's state (the source's FM read back is in the source's snapshot)."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, **self._snapshot_state()}
