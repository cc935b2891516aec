"""A simulated lock-in amplifier: the software lock-in run on the simulated photodiode.

:class:`SimulatedLockIn` implements :class:`~nvsense.instruments.lockin.LockIn` with
:class:`nvsense.dsp.SoftwareLockIn` on one channel of a :class:`SimulatedPhotodiodeBench`,
as a hardware lock-in whose input is that photodiode:

- internal reference: its oscillator's sine output drives the microwave source's external FM
  input (``bench.fm_drive``, full deviation at ±1 V, like the SG384's FM input), and the
  demodulator uses the same oscillator, so the reference phase is exact;
- external reference: it locks to the bench's ``sync`` channel (zero crossings), e.g. the
  source's internal FM with its modulation output wired to the lock-in.

Time is the simulated bench's: reading X and Y or capturing generates the photodiode samples
of the time that passed.  Settings are continuous (like an MFLI): time constants 1 µs–30 ks,
1–8 filter stages, harmonics 1–99; the capture rate must divide the bench's sample rate.
An input beyond the sensitivity sets :attr:`SimulatedLockIn.overloaded` (the data are kept).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ...dsp import ClockReference, SoftwareLockIn, ZeroCrossingReference
from ..errors import InstrumentError, LimitError
from ..lockin import (
    LockInCapture,
    LockInLimits,
    ReferenceSource,
    check_capture,
    check_filter_order,
    check_harmonic,
    check_phase,
    check_range,
)
from .base import SimulatedInstrument
from .photodiode import SimulatedPhotodiodeBench, SineDrive

__all__ = ["SimulatedLockIn"]

#: Longest stretch of simulated time generated to catch up before a read: beyond it the
#: filter has forgotten older samples (e^-40), so the rest is skipped.
_SETTLE_TIME_CONSTANTS = 40.0
_CHUNK_SECONDS = 0.05


class SimulatedLockIn(SimulatedInstrument):
    """Lock-in on one channel of the simulated photodiode chain.

    Parameters
    ----------
    name
        Bench key (``"lockin"``).
    bench
        The photodiode chain.
    channel
        The input channel (default the first sensor's signal photodiode).
    """

    model: ClassVar[str] = "SimulatedLockIn"
    slot: ClassVar[str] = "lockin"

    def __init__(self, name: str = "lockin", bench: SimulatedPhotodiodeBench | None = None, *,
                 channel: str | None = None) -> None:
        if bench is None:
            raise ValueError(f"{name}: a SimulatedLockIn needs the photodiode bench it reads "
                             f"(bench=...)")
        super().__init__(name, bench.sensors[0].sample)
        self.bench = bench
        self.channel = channel or f"{bench.sensors[0].name}.signal"
        if self.channel not in bench.channels:
            raise ValueError(f"{name}: channel {self.channel!r} is not one of "
                             f"{', '.join(bench.channels)}")
        fs = bench.sample_rate
        self._limits = LockInLimits(
            frequency_min=1e-3, frequency_max=fs / 4, time_constant_min=1e-6,
            time_constant_max=30e3, max_filter_order=8, sensitivity_min=1e-9,
            sensitivity_max=10.0, max_harmonic=99, sine_amplitude_max=2.0,
            capture_rate_max=fs, max_capture_samples=50_000_000)
        self._tau = 1e-3
        self._order = 4
        self._sensitivity = 1.0
        self._source: ReferenceSource = "internal"
        self._frequency = 10e3
        self._phase = 0.0
        self._harmonic = 1
        self._amplitude = 1.0
        self._dsp: SoftwareLockIn | None = None
        self._last = (0.0, 0.0)
        self.overloaded = False
        self._capture: tuple[int, float] | None = None
        self._captured = 0
        self._capture_running = False

    # --- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect; the oscillator starts driving the FM input."""
        super().connect()
        self._apply_drive()
        self._dsp = None

    @property
    def limits(self) -> LockInLimits:
        """Continuous settings (an MFLI-like instrument); frequency up to fs/4."""
        return self._limits

    # --- settings ---------------------------------------------------------------------------

    def _changed(self) -> None:
        """A setting that the demodulator depends on changed: it restarts (filter empty)."""
        self._dsp = None
        self._apply_drive()

    def _apply_drive(self) -> None:
        if self._source == "internal":
            self.bench.fm_drive = _OscillatorDrive(self._frequency, self._amplitude)

    @property
    def time_constant(self) -> float:
        """Time constant, s."""
        self._require("OFLT?")
        return self._tau

    @time_constant.setter
    def time_constant(self, value: float) -> None:
        lim = self._limits
        tau = check_range(value, lim.time_constant_min, lim.time_constant_max,
                          what="time_constant", unit="s", who=self.name)
        self._require("OFLT")
        self._tau = tau
        self._changed()

    @property
    def filter_order(self) -> int:
        """RC stages, 1–8."""
        self._require("OFSL?")
        return self._order

    @filter_order.setter
    def filter_order(self, value: int) -> None:
        order = check_filter_order(value, 8, who=self.name)
        self._require("OFSL")
        self._order = order
        self._changed()

    @property
    def sensitivity(self) -> float:
        """Full-scale input, V."""
        self._require("SCAL?")
        return self._sensitivity

    @sensitivity.setter
    def sensitivity(self, value: float) -> None:
        lim = self._limits
        self._sensitivity = check_range(value, lim.sensitivity_min, lim.sensitivity_max,
                                        what="sensitivity", unit="V", who=self.name)
        self._require("SCAL")

    @property
    def reference_source(self) -> ReferenceSource:
        """``"internal"`` (oscillator drives the FM input) or ``"external"`` (sync channel)."""
        self._require("RSRC?")
        return self._source

    @reference_source.setter
    def reference_source(self, value: ReferenceSource) -> None:
        if value not in ("internal", "external"):
            raise LimitError(f"{self.name}: reference_source must be 'internal' or "
                             f"'external', not {value!r}; nothing was sent")
        self._require("RSRC")
        if value == "external" and isinstance(self.bench.fm_drive, _OscillatorDrive):
            self.bench.fm_drive = None  # the oscillator no longer drives the FM input
        self._source = value
        self._changed()

    @property
    def reference_frequency(self) -> float:
        """Hz: the oscillator's, or the frequency measured on the sync when external."""
        self._require("FREQ?")
        if self._source == "external":
            if self._dsp is not None and isinstance(self._dsp.reference, ZeroCrossingReference):
                return self._dsp.reference.frequency
            mw = self.bench.sensors[0].sample.mw
            return mw.fm_rate if mw.fm_enabled and mw.fm_internal else 0.0
        return self._frequency

    @reference_frequency.setter
    def reference_frequency(self, value: float) -> None:
        lim = self._limits
        f = check_range(value, lim.frequency_min, lim.frequency_max,
                        what="reference_frequency", unit="Hz", who=self.name)
        if self._harmonic * f > lim.frequency_max:
            raise LimitError(f"{self.name}: harmonic {self._harmonic} of {f:g} Hz is above "
                             f"{lim.frequency_max:g} Hz; nothing was sent")
        if self._source == "external":
            raise InstrumentError(self.name, f"FREQ {f:g}",
                                  "the reference is external: its frequency is measured, not "
                                  "set; set reference_source = 'internal' first")
        self._require("FREQ")
        self._frequency = f
        self._changed()

    @property
    def reference_phase(self) -> float:
        """Phase setting, degrees."""
        self._require("PHAS?")
        return self._phase

    @reference_phase.setter
    def reference_phase(self, value: float) -> None:
        self._phase = check_phase(value, who=self.name)
        self._require("PHAS")
        self._changed()

    @property
    def harmonic(self) -> int:
        """Detection harmonic."""
        self._require("HARM?")
        return self._harmonic

    @harmonic.setter
    def harmonic(self, value: int) -> None:
        self._harmonic = check_harmonic(value, self._frequency, self._limits, who=self.name)
        self._require("HARM")
        self._changed()

    @property
    def sine_amplitude(self) -> float:
        """Peak amplitude of the oscillator output, V (±1 V is full FM deviation)."""
        self._require("SLVL?")
        return self._amplitude

    @sine_amplitude.setter
    def sine_amplitude(self, value: float) -> None:
        self._amplitude = check_range(value, 0.0, self._limits.sine_amplitude_max,
                                      what="sine_amplitude", unit="V", who=self.name)
        self._require("SLVL")
        self._apply_drive()

    # --- demodulation -----------------------------------------------------------------------

    def _make_dsp(self, rate: float | None) -> SoftwareLockIn:
        bench = self.bench
        fs = bench.sample_rate
        if self._source == "internal":
            start = bench.samples_read
            phase0 = (360.0 * self._frequency * start / fs) % 360.0
            reference = ClockReference(self._frequency, fs, phase_deg=phase0)
        else:
            mw = bench.sensors[0].sample.mw
            nominal = mw.fm_rate if mw.fm_enabled and mw.fm_internal else self._frequency
            reference = ZeroCrossingReference(nominal, fs, hysteresis=0.05)
        return SoftwareLockIn(fs, reference, time_constant=self._tau, order=self._order,
                              harmonics=(self._harmonic,), phase_deg=self._phase,
                              output_rate=rate)

    def _generate(self, n: int, dsp: SoftwareLockIn) -> tuple[np.ndarray, np.ndarray]:
        block = self.bench.read(n)
        signal = block.data[self.channel]
        if np.max(np.abs(signal)) > self._sensitivity:
            self.overloaded = True
        out = dsp.process(signal, sync=block.data["sync"] if dsp.reference.needs_sync else None)
        return out.time, out.z[0, 0]

    def read_xy(self) -> tuple[float, float]:
        """X and Y now: the demodulator runs over the simulated time since the last read
        (at least one sample, at most 40 time constants)."""
        self._require("SNAP? 0,1")
        if self._capture_running:
            raise InstrumentError(self.name, "SNAP? 0,1",
                                  "a capture is running; read it with read_capture()")
        fs = self.bench.sample_rate
        now = self.sample.now()
        start = self.bench.start_time
        behind = 0 if start is None else now - (start + self.bench.samples_read / fs)
        settle = _SETTLE_TIME_CONSTANTS * self._tau * self._order
        if self._dsp is None or behind > settle:
            # the filter has forgotten what came before: start the acquisition afresh
            self.bench.restart()
            self._dsp = self._make_dsp(None)
            n = max(1, math.ceil(settle * fs))
        else:
            n = max(1, round(behind * fs))
        z = 0j
        while n > 0:
            take = min(n, max(1, round(_CHUNK_SECONDS * fs)))
            _, zs = self._generate(take, self._dsp)
            z = complex(zs[-1])
            n -= take
        self._last = (z.real, z.imag)
        return self._last

    def configure_capture(self, n_samples: int, rate: float) -> float:
        """Capture ``n_samples`` at ``rate`` (a divisor of the bench's sample rate)."""
        n, wanted = check_capture(n_samples, rate, self._limits, who=self.name)
        fs = self.bench.sample_rate
        ratio = fs / wanted
        if abs(ratio - round(ratio)) > 1e-9 * ratio:
            near = sorted({fs / max(1, math.floor(ratio)), fs / math.ceil(ratio)})
            raise LimitError(f"{self.name}: capture rate {wanted:g} Hz does not divide the "
                             f"sample rate {fs:g} S/s; nearest: "
                             f"{', '.join(f'{r:g} Hz' for r in near)}; nothing was sent")
        self._require("CAPTURELEN")
        self._capture = (n, fs / round(ratio))
        return self._capture[1]

    def start_capture(self) -> None:
        """Start capturing now (the demodulator restarts with the capture rate)."""
        if self._capture is None:
            raise InstrumentError(self.name, "CAPTURESTART",
                                  "no capture configured; call configure_capture first")
        self._require("CAPTURESTART")
        self.bench.restart()
        self._dsp = self._make_dsp(self._capture[1])
        self._captured = 0
        self._capture_running = True

    def read_capture(self, timeout: float | None = None) -> LockInCapture:
        """The next block of the capture (≤ 50 ms of simulated time)."""
        if self._capture is None or not self._capture_running or self._dsp is None:
            raise InstrumentError(self.name, "CAPTUREGET?", "no capture running; call "
                                  "configure_capture and start_capture first")
        self._require("CAPTUREGET?")
        n, rate = self._capture
        fs = self.bench.sample_rate
        decimation = round(fs / rate)
        remaining = n - self._captured
        chunk = min(remaining, max(1, round(_CHUNK_SECONDS * rate)))
        _, z = self._generate(chunk * decimation, self._dsp)
        first = self._captured
        t = (first + np.arange(z.size)) / rate
        self._captured += z.size
        complete = self._captured >= n
        if complete:
            self._capture_running = False
            self._dsp = None
        return LockInCapture(time=t, x=z.real.copy(), y=z.imag.copy(), rate=rate,
                             complete=complete, first_index=first)

    def stop_capture(self) -> None:
        """Stop a running capture."""
        self._require("CAPTURESTOP")
        self._capture_running = False
        self._dsp = None

    def safe(self) -> None:
        """Stop any capture; the oscillator output to 0 V (no more FM drive)."""
        self._require("CAPTURESTOP")
        self._capture_running = False
        self._amplitude = 0.0
        if isinstance(self.bench.fm_drive, _OscillatorDrive):
            self.bench.fm_drive = None


class _OscillatorDrive(SineDrive):
    """The simulated lock-in's oscillator as the FM drive (phase 0 at acquisition start)."""
