"""Stanford Research Systems SR860 (and SR865A) DSP lock-in amplifiers.

Commands from *SR860 500 kHz DSP Lock-in Amplifier, Operation Manual* (rev. 2.x), chapter 4
"Programming" (cross-checked against the QCoDeS ``SR86x`` and PyMeasure ``SR860`` drivers):

- Syntax (§ "Command Syntax"): a mnemonic, a space, comma-separated arguments; linefeed
  terminates commands and replies.  Queries append ``?``.  ``*IDN?`` ->
  ``Stanford_Research_Systems,SR860,003594,v1.47``.  ``*CLS`` clears the status registers.
- Status: ``*ESR?`` reads and clears the standard event status register (IEEE 488.2): bit 2
  query error, 3 device-dependent error, 4 execution error (a parameter out of range), 5
  command error (unknown command, bad syntax).
- Reference: ``FREQ`` (Hz; set in internal mode, reads the external frequency otherwise; up to
  500 kHz on the SR860, 4 MHz on the SR865A; harmonic × frequency must stay below it),
  ``PHAS`` (degrees, −360000 to 360000; reads back wrapped to ±180), ``HARM`` (1–99),
  ``RSRC`` (0 internal, 1 external, 2 dual, 3 chop), ``SLVL`` (sine-out amplitude in Vrms,
  1 nV to 2 V; the protocol's ``sine_amplitude`` is the peak, √2 × SLVL).
- Signal and filter: ``SCAL`` (full-scale sensitivity index: 0 = 1 V … 27 = 1 nV in a 1-2-5
  sequence; × 1 µA/V with the current input, ``IVMD 1``), ``OFLT`` (time constant index:
  0 = 1 µs … 21 = 30 ks in a 1-3 sequence), ``OFSL`` (slope: 0–3 = 6, 12, 18, 24 dB/oct).
- Data: ``SNAP? 0,1`` returns X and Y taken at one instant.
- Capture (§ "Data Capture Commands"): ``CAPTURELEN`` (buffer length in kB, an even number
  from 2 to 4096), ``CAPTURECFG`` (0 X, 1 X and Y, 2 R and θ, 3 all four),
  ``CAPTURERATEMAX?`` (Hz, set by the time constant), ``CAPTURERATE n`` (rate =
  max / 2ⁿ, n 0–20; the query returns Hz), ``CAPTURESTART ONE, IMM`` (one-shot, start now;
  ``TRIG`` waits for the rear TRIG IN), ``CAPTURESTOP``, ``CAPTURESTAT?`` (bit 0 capturing,
  bit 1 triggered, bit 2 the buffer wrapped: a one-shot capture is complete),
  ``CAPTUREBYTES?`` (bytes captured, live), ``CAPTUREGET? i,j`` (j ≤ 64 kB from offset i kB as
  an IEEE-488.2 binary block ``#nccc…`` of little-endian 32-bit floats; only once the capture
  has stopped).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
import pyvisa

from ..errors import InstrumentError, LimitError
from ..lockin import (
    LockInCapture,
    LockInLimits,
    ReferenceSource,
    check_capture,
    check_choice,
    check_filter_order,
    check_harmonic,
    check_phase,
    check_range,
    check_reference_frequency,
)
from ..snapshot import kind_state
from .visa_base import DriverDescription, VisaInstrument, parse_float

__all__ = ["SENSITIVITIES_V", "SR860", "TIME_CONSTANTS_S"]

#: ``OFLT`` index -> time constant, s (manual: 1 µs to 30 ks in a 1-3 sequence).
TIME_CONSTANTS_S: tuple[float, ...] = tuple(
    m * 10.0 ** e for e in range(-6, 5) for m in (1.0, 3.0))
#: ``SCAL`` index -> full-scale sensitivity, V, *descending* as the instrument numbers them
#: (manual: 0 = 1 V … 27 = 1 nV, 1-2-5 sequence).
SENSITIVITIES_V: tuple[float, ...] = tuple(
    m * 10.0 ** e for e in range(0, -10, -1) for m in (1.0, 0.5, 0.2))[:28]
#: ``*ESR?`` bits that mean a command failed, with the manual's names.
_ESR_ERRORS = {2: "query error", 3: "device-dependent error",
               4: "execution error (parameter out of range or not allowed now)",
               5: "command error (unknown command or bad syntax)"}
_MAX_FREQUENCY = {"SR860": 500e3, "SR865": 2e6, "SR865A": 4e6}
_SOURCES = {"internal": 0, "external": 1}
_CAPTURE_MAX_KB = 4096
_GET_MAX_KB = 64


def _parse_int(reply: str) -> int:
    return int(float(reply))


class SR860(VisaInstrument):
    """SRS SR860 / SR865A lock-in amplifier over VISA (LAN VXI-11, USB-TMC, GPIB, RS-232).

    Parameters
    ----------
    name, address, visa_library, timeout, resource_manager
        See :class:`~nvsense.instruments.drivers.visa_base.VisaInstrument`.
    model
        Expected model (``"SR860"``, ``"SR865A"``); ``None`` accepts either.
    capture_trigger
        ``"immediate"`` (a capture starts when :meth:`start_capture` is called) or
        ``"external"`` (it starts at the next falling edge on the rear TRIG IN, e.g. from the
        DAQ's start trigger, to align it with other records).
    clock, sleep
        Time source and sleep used while waiting for a capture (replaceable in tests).
    """

    description = DriverDescription(
        kind="lockin",  # type: ignore[arg-type]  # a new slot kind (lock-in amplifier)
        summary="Stanford Research Systems SR860 / SR865A DSP lock-in amplifier",
        models=("SR860", "SR865", "SR865A"),
        manual="SRS SR860 Operation Manual, ch. 4 'Programming'",
        connections=("TCPIP0::10.0.0.21::inst0::INSTR", "USB0::0xB506::0x2000::003594::INSTR",
                     "GPIB0::4::INSTR"))
    read_termination = "\n"
    write_termination = "\n"
    default_model: ClassVar[str] = "SR860"

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, model: str | None = None,
                 capture_trigger: Literal["immediate", "external"] = "immediate",
                 resource_manager: Any = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(name, address, visa_library, timeout, resource_manager=resource_manager)
        known = {m.upper(): m for m in self.description.models}
        if model is not None and str(model).upper() not in known:
            raise ValueError(f"{name}: model {model!r} is not one this driver drives; "
                             f"known: {', '.join(self.description.models)}")
        if capture_trigger not in ("immediate", "external"):
            raise ValueError(f"{name}: capture_trigger must be 'immediate' or 'external', "
                             f"not {capture_trigger!r}")
        self.model = known[str(model).upper()] if model is not None else None
        self.capture_trigger = capture_trigger
        self._clock = clock
        self._sleep = sleep
        self._found_model: str | None = None
        self._current_input = False
        self._capture: tuple[int, float] | None = None  # (n_samples, rate)
        self._capture_started: float | None = None

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        self.write("*CLS")
        idn = self.query("*IDN?")
        fields = [f.strip() for f in idn.split(",")]
        model = fields[1].upper() if len(fields) > 1 else ""
        maker = fields[0].lower().replace("_", " ")
        if not maker.startswith("stanford research") or model not in _MAX_FREQUENCY:
            raise InstrumentError(self.name, "*IDN?",
                                  f"{self.address} answers {idn!r}, not an SRS SR860-series "
                                  f"lock-in")
        if self.model is not None and model != self.model:
            raise InstrumentError(self.name, "*IDN?",
                                  f"expected an {self.model}, found an {model} ({idn!r})")
        self._found_model = model
        return idn

    def _initialize(self) -> None:
        # Known state: no capture running; learn whether the input measures volts or amps.
        self.write("CAPTURESTOP")
        self._current_input = self.query_value("IVMD?", _parse_int) == 1

    def check_errors(self, command: str) -> None:
        """Read ``*ESR?``; raise naming the error bits that are set."""
        reply = self.query("*ESR?")
        try:
            status = int(reply)
        except ValueError:
            raise InstrumentError(self.name, command,
                                  f"unreadable *ESR? reply {reply!r}") from None
        problems = [text for bit, text in _ESR_ERRORS.items() if status & (1 << bit)]
        if problems:
            raise InstrumentError(self.name, command,
                                  f"instrument reports {', '.join(problems)} (*ESR? {status})")

    # --- limits -----------------------------------------------------------------------------

    @property
    def limits(self) -> LockInLimits:
        """The identified model's ranges (the SR860's before :meth:`connect`)."""
        model = self._found_model or self.model or self.default_model
        scale = 1e-6 if self._current_input else 1.0
        sensitivities = tuple(sorted(s * scale for s in SENSITIVITIES_V))
        return LockInLimits(
            frequency_min=1e-3, frequency_max=_MAX_FREQUENCY[model],
            time_constant_min=TIME_CONSTANTS_S[0], time_constant_max=TIME_CONSTANTS_S[-1],
            time_constants=TIME_CONSTANTS_S, max_filter_order=4,
            sensitivity_min=sensitivities[0], sensitivity_max=sensitivities[-1],
            sensitivities=sensitivities, sensitivity_unit="A" if self._current_input else "V",
            max_harmonic=99, sine_amplitude_max=2.0 * math.sqrt(2.0),
            capture_rate_max=1.25e6,
            max_capture_samples=_CAPTURE_MAX_KB * 1024 // 8)

    # --- settings ---------------------------------------------------------------------------

    def _set_index(self, command: str, index: int) -> None:
        self.set_checked(f"{command} {index:d}", f"{command}?", index, parse=_parse_int)

    @property
    def time_constant(self) -> float:
        """Time constant in s (``OFLT?``)."""
        return TIME_CONSTANTS_S[self._index_reply("OFLT?", len(TIME_CONSTANTS_S))]

    @time_constant.setter
    def time_constant(self, value: float) -> None:
        index = check_choice(value, TIME_CONSTANTS_S, what="time_constant", unit="s",
                             who=self.name)
        self._set_index("OFLT", index)

    @property
    def filter_order(self) -> int:
        """RC stages of the output filter, 1–4 (``OFSL?`` + 1)."""
        return self._index_reply("OFSL?", 4) + 1

    @filter_order.setter
    def filter_order(self, value: int) -> None:
        order = check_filter_order(value, 4, who=self.name)
        self._set_index("OFSL", order - 1)

    @property
    def sensitivity(self) -> float:
        """Full-scale sensitivity in V (A with the current input) (``SCAL?``)."""
        scale = 1e-6 if self._current_input else 1.0
        return SENSITIVITIES_V[self._index_reply("SCAL?", len(SENSITIVITIES_V))] * scale

    @sensitivity.setter
    def sensitivity(self, value: float) -> None:
        limits = self.limits
        index = check_choice(value, limits.sensitivities, what="sensitivity",
                             unit=limits.sensitivity_unit, who=self.name)
        self._set_index("SCAL", len(SENSITIVITIES_V) - 1 - index)

    @property
    def reference_source(self) -> ReferenceSource:
        """``"internal"`` or ``"external"`` (``RSRC?``; dual and chop modes are refused)."""
        code = self.query_value("RSRC?", _parse_int)
        for name, value in _SOURCES.items():
            if value == code:
                return name  # type: ignore[return-value]
        raise InstrumentError(self.name, "RSRC?",
                              f"the reference is in mode {code} (dual or chop), which nvsense "
                              f"does not use; set it to internal or external")

    @reference_source.setter
    def reference_source(self, value: ReferenceSource) -> None:
        if value not in _SOURCES:
            raise LimitError(f"{self.name}: reference_source must be 'internal' or "
                             f"'external', not {value!r}; nothing was sent")
        self._set_index("RSRC", _SOURCES[value])

    @property
    def reference_frequency(self) -> float:
        """Reference frequency, Hz (``FREQ?``; the measured one with an external reference)."""
        return self.query_value("FREQ?", parse_float)

    @reference_frequency.setter
    def reference_frequency(self, value: float) -> None:
        f = check_reference_frequency(value, self.limits, lambda: self.harmonic, who=self.name)
        if self.reference_source != "internal":
            raise InstrumentError(self.name, f"FREQ {f:.6f}",
                                  "the reference is external: its frequency is measured, not "
                                  "set; set reference_source = 'internal' first")
        self.set_checked(f"FREQ {f:.6f}", "FREQ?", f, tolerance=1e-6 * f + 1e-6)

    @property
    def reference_phase(self) -> float:
        """Reference phase shift, degrees (``PHAS?``, wrapped to ±180)."""
        return self.query_value("PHAS?", parse_float)

    @reference_phase.setter
    def reference_phase(self, value: float) -> None:
        phase = check_phase(value, who=self.name)
        command = f"PHAS {phase:.7f}"
        self.write(command)
        got = self.query_value("PHAS?", parse_float)
        if abs((got - phase + 180.0) % 360.0 - 180.0) > 1e-5:
            raise InstrumentError(self.name, command,
                                  f"PHAS? reads back {got!r}, expected {phase!r} (mod 360)")

    @property
    def harmonic(self) -> int:
        """Detection harmonic (``HARM?``)."""
        return self.query_value("HARM?", _parse_int)

    @harmonic.setter
    def harmonic(self, value: int) -> None:
        limits = self.limits
        h = check_harmonic(value, 0.0, limits, who=self.name)  # type and range first
        check_harmonic(h, self.reference_frequency, limits, who=self.name)
        self._set_index("HARM", h)

    @property
    def sine_amplitude(self) -> float:
        """Peak amplitude of the sine output, V (``SLVL?`` is in Vrms: × √2)."""
        return self.query_value("SLVL?", parse_float) * math.sqrt(2.0)

    @sine_amplitude.setter
    def sine_amplitude(self, value: float) -> None:
        # The protocol's amplitude is a peak voltage (what an FM input responds to); the SR860
        # specifies and sets its sine output in Vrms, 1 nV to 2 V.
        peak = check_range(value, 1e-9 * math.sqrt(2.0), 2.0 * math.sqrt(2.0),
                           what="sine_amplitude (peak)", unit="V", who=self.name)
        rms = peak / math.sqrt(2.0)
        self.set_checked(f"SLVL {rms:.9f}", "SLVL?", rms, tolerance=1e-9 + 1e-6 * rms)

    def _index_reply(self, query: str, size: int) -> int:
        index = self.query_value(query, _parse_int)
        if not 0 <= index < size:
            raise InstrumentError(self.name, query, f"unexpected index {index}")
        return index

    # --- data -------------------------------------------------------------------------------

    def read_xy(self) -> tuple[float, float]:
        """X and Y at one instant (``SNAP? 0,1``)."""
        reply = self.query("SNAP? 0,1")
        try:
            x_text, y_text = reply.split(",")
            return parse_float(x_text), parse_float(y_text)
        except ValueError:
            raise InstrumentError(self.name, "SNAP? 0,1",
                                  f"unexpected reply {reply!r}") from None

    def configure_capture(self, n_samples: int, rate: float) -> float:
        """Buffer ``n_samples`` (X, Y) pairs at ``rate``: ``CAPTURECFG 1``, ``CAPTURELEN``,
        ``CAPTURERATE``.

        The rate must be ``CAPTURERATEMAX? / 2ⁿ`` (n = 0–20, the maximum depends on the time
        constant); any other value raises :class:`LimitError` naming the nearest ones.
        """
        n, wanted = check_capture(n_samples, rate, self.limits, who=self.name)
        length_kb = max(2, 2 * math.ceil(n * 8 / 2048))
        with self._lock:
            maximum = self.query_value("CAPTURERATEMAX?", parse_float)
            rates = [maximum / 2 ** k for k in range(21)]
            exponent = round(math.log2(maximum / wanted))
            if not (0 <= exponent <= 20 and
                    abs(rates[exponent] - wanted) <= 1e-6 * wanted):
                near = sorted(rates, key=lambda r: abs(math.log(r / wanted)))[:2]
                raise LimitError(f"{self.name}: capture rate {wanted:g} Hz is not one the "
                                 f"SR860 offers at this time constant (maximum {maximum:g} Hz "
                                 f"divided by a power of 2); nearest: "
                                 f"{', '.join(f'{r:g} Hz' for r in sorted(near))}; nothing "
                                 f"was sent")
            self.write("CAPTURESTOP")
            self._set_index("CAPTURECFG", 1)
            self._set_index("CAPTURELEN", length_kb)
            self.write(f"CAPTURERATE {exponent:d}")
            actual = self.query_value("CAPTURERATE?", parse_float)
            if abs(actual - rates[exponent]) > 1e-6 * rates[exponent]:
                raise InstrumentError(self.name, f"CAPTURERATE {exponent}",
                                      f"CAPTURERATE? reads back {actual:g} Hz, expected "
                                      f"{rates[exponent]:g} Hz")
            self._capture = (n, actual)
            self._capture_started = None
        return actual

    def start_capture(self) -> None:
        """Start the one-shot capture (``CAPTURESTART ONE, IMM`` or ``..., TRIG``)."""
        if self._capture is None:
            raise InstrumentError(self.name, "CAPTURESTART",
                                  "no capture configured; call configure_capture first")
        mode = "IMM" if self.capture_trigger == "immediate" else "TRIG"
        self.write(f"CAPTURESTART ONE, {mode}")
        self._capture_started = self._clock()

    def stop_capture(self) -> None:
        """``CAPTURESTOP``."""
        self.write("CAPTURESTOP")

    def read_capture(self, timeout: float | None = None) -> LockInCapture:
        """Wait until the configured samples are captured, stop, read them in ≤ 64 kB pieces.

        The SR860 only serves its buffer once the capture has stopped, so the whole capture is
        one block (``complete=True``).  ``timeout`` defaults to twice the capture time + 5 s.

        Raises
        ------
        InstrumentError
            No capture started, a timeout (the capture is stopped; what was captured is lost
            only if the instrument lost it), or a malformed binary block.
        """
        if self._capture is None or self._capture_started is None:
            raise InstrumentError(self.name, "CAPTUREGET?",
                                  "no capture running; call configure_capture and "
                                  "start_capture first")
        n, rate = self._capture
        needed = n * 8  # X and Y as 4-byte floats
        duration = n / rate
        limit = 2 * duration + 5.0 if timeout is None else float(timeout)
        deadline = self._capture_started + limit
        while True:
            captured = self.query_value("CAPTUREBYTES?", _parse_int)
            if captured >= needed:
                break
            if self._clock() >= deadline:
                self.write("CAPTURESTOP")
                raise InstrumentError(self.name, "CAPTUREBYTES?",
                                      f"capture of {n} samples at {rate:g} Hz not complete "
                                      f"after {limit:g} s ({captured} of {needed} bytes); "
                                      f"with an external trigger, check TRIG IN")
            remaining = (needed - captured) / 8 / rate
            self._sleep(min(max(remaining, 0.01), 0.2))
        self.write("CAPTURESTOP")
        values = self._read_buffer(needed)
        self._capture_started = None
        pairs = values[: 2 * n].reshape(n, 2)
        t = np.arange(n) / rate
        return LockInCapture(time=t, x=pairs[:, 0].astype(float), y=pairs[:, 1].astype(float),
                             rate=rate, complete=True)

    def _read_buffer(self, n_bytes: int) -> np.ndarray:
        total_kb = math.ceil(n_bytes / 1024)
        parts = []
        for offset in range(0, total_kb, _GET_MAX_KB):
            size = min(_GET_MAX_KB, total_kb - offset)
            parts.append(self._query_floats(f"CAPTUREGET? {offset},{size}", size * 256))
        return np.concatenate(parts)

    def _query_floats(self, command: str, expected: int) -> np.ndarray:
        """A binary-block query of little-endian float32 values (no reply terminator)."""
        with self._lock:
            resource = self._require(command)
            try:
                values = resource.query_binary_values(command, datatype="f",
                                                      is_big_endian=False,
                                                      container=np.array,
                                                      expect_termination=False)
            except self._IO_ERRORS as exc:
                raise self._io_error(command, exc) from exc
            except (ValueError, pyvisa.errors.InvalidBinaryFormat) as exc:
                raise InstrumentError(self.name, command,
                                      f"malformed binary block ({exc})") from exc
        values = np.asarray(values, dtype=np.float32)
        if values.size != expected:
            raise InstrumentError(self.name, command,
                                  f"binary block holds {values.size} values, expected "
                                  f"{expected}")
        return values

    # --- safety -----------------------------------------------------------------------------

    def _snapshot_state(self) -> dict[str, Any]:
        """The lock-in settings read back (time constant, slope, sensitivity, reference,
        harmonic, sine output) and the limits."""
        return kind_state("lockin", self)

    def safe(self) -> None:
        """Stop any capture; sine output down to its minimum (1 nV)."""
        self.write("CAPTURESTOP")
        self.set_checked("SLVL 0.000000001", "SLVL?", 1e-9, tolerance=1e-9)
        self._capture_started = None
