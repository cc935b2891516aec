"""Zurich Instruments MFLI (and MFIA) lock-in amplifiers, through zhinst-toolkit.

The MFLI is programmed through the LabOne data server: ``zhinst.toolkit.Session(host,
port)`` connects to it, ``session.connect_device(serial)`` returns the device, whose settings
are nodes of a tree (*LabOne MFLI User Manual*, "Device Node Tree"; zhinst-toolkit
documentation, "Nodetree").  Nodes used here, with ``d`` the demodulator, ``o`` its
oscillator, ``i`` the signal input and ``s`` the signal output:

- ``demods/d/timeconstant`` (s), ``demods/d/order`` (1–8 RC stages, 6–48 dB/oct),
  ``demods/d/harmonic`` (1–1023), ``demods/d/phaseshift`` (degrees), ``demods/d/oscselect``,
  ``demods/d/adcselect``, ``demods/d/enable``, ``demods/d/rate`` (streaming rate, Sa/s; the
  instrument picks the nearest rate it offers), ``demods/d/sample`` (the streamed samples:
  ``timestamp`` in ticks of ``clockbase``, ``x``, ``y`` in V rms);
- ``oscs/o/freq`` (Hz);
- ``sigins/i/range`` (input range, V: the instrument picks the next range at or above the value);
- ``sigouts/s/amplitudes/d`` (peak V), ``sigouts/s/enables/d``, ``sigouts/s/on``;
- external reference (*MFLI User Manual*, tutorial "External Reference"): demodulator 1 (the
  second) is fed with the reference input (``demods/1/adcselect``, default 3 = Trigger In 2)
  and tied to the measuring demodulator's oscillator (``demods/1/oscselect``);
  ``extrefs/0/enable`` then locks that oscillator to the reference.

Buffered capture subscribes to ``demods/d/sample`` and polls the session
(``session.poll(recording_time)``), so blocks arrive while the capture runs.  A gap in the
timestamps (samples the data server dropped) is an error, never silently bridged.

zhinst-toolkit is an optional dependency: ``pip install "nvsense[mfli]"``.  It is imported
only by :meth:`MFLI.connect`, and tests inject a double of the session and node tree through
``session_factory``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

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
    check_reference_frequency,
)
from ..snapshot import kind_state
from .visa_base import DriverDescription

__all__ = ["MFLI", "ZHINST_NOT_INSTALLED"]

#: Cause of the InstrumentError raised when zhinst-toolkit is missing.
ZHINST_NOT_INSTALLED = (
    "the MFLI driver needs the zhinst-toolkit package (Zurich Instruments' Python API for "
    "LabOne); install it with: pip install \"nvsense[mfli]\" (or pip install zhinst-toolkit)")

# Ranges from the MFLI specifications (User Manual, "Specifications"): 0 to 500 kHz (5 MHz
# with the MF-5M option), time constants 337 ns to 83 s, input ranges 1 mV to 3 V, signal
# output up to 10 V peak (high range), demodulator data rates up to 200 kSa/s.
_FREQUENCY_MAX = {"": 500e3, "F5M": 5e6}
_TIME_CONSTANT_RANGE = (337e-9, 83.0)
_INPUT_RANGE = (1e-3, 3.0)
_SINE_MAX = 10.0
_RATE_MAX = 200e3
_MAX_HARMONIC = 1023
_MAX_CAPTURE = 50_000_000


def _connection_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


class MFLI:
    """Zurich Instruments MFLI lock-in amplifier, one demodulator.

    Parameters
    ----------
    name
        The bench slot (``"lockin"``), used in error messages.
    serial
        Device serial, e.g. ``"dev5678"``.
    host, port
        The LabOne data server (``localhost:8004`` when it runs on this PC; the MFLI's own
        address when it runs on the instrument).
    interface
        ``"1GbE"``, ``"USB"`` or ``None`` (auto-detected).
    demod, signal_input, signal_output
        Indices (from 0) of the demodulator, signal input and signal output used.
    external_reference_input
        ``demods/1/adcselect`` value for the external reference (3 = Trigger In 2; 2 =
        Trigger In 1; 8 = Aux In 1).
    session_factory
        ``session_factory(host, port)`` returning a toolkit ``Session`` (or a test double);
        default ``zhinst.toolkit.Session``.
    clock, sleep
        Time source and sleep used while waiting for capture data (replaceable in tests).
    """

    description = DriverDescription(
        kind="lockin",  # type: ignore[arg-type]  # a new slot kind (lock-in amplifier)
        summary="Zurich Instruments MFLI / MFIA lock-in amplifier (zhinst-toolkit)",
        models=("MFLI", "MFIA"),
        manual="Zurich Instruments MFLI User Manual, 'Device Node Tree' (LabOne)",
        connections=("dev5678 via the data server at localhost:8004",))
    #: Demodulator the external reference drives on an MFLI.
    reference_demod: ClassVar[int] = 1

    def __init__(self, name: str, serial: str, *, host: str = "localhost", port: int = 8004,
                 interface: str | None = None, demod: int = 0, signal_input: int = 0,
                 signal_output: int = 0, external_reference_input: int = 3,
                 session_factory: Callable[[str, int], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not isinstance(serial, str) or not serial.strip().lower().startswith("dev"):
            raise ValueError(f"{name}: 'serial' must be the device serial, e.g. 'dev5678', "
                             f"not {serial!r}")
        for key, value in (("demod", demod), ("signal_input", signal_input),
                           ("signal_output", signal_output),
                           ("external_reference_input", external_reference_input)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: '{key}' must be an index ≥ 0, not {value!r}")
        if demod == self.reference_demod:
            raise ValueError(f"{name}: demodulator {demod} is the MFLI's external-reference "
                             f"demodulator; measure with another one (e.g. 0)")
        self.name = name
        self.serial = serial.strip().lower()
        self.host = host
        self.port = int(port)
        self.interface = interface
        self.demod = demod
        self.signal_input = signal_input
        self.signal_output = signal_output
        self.external_reference_input = external_reference_input
        self._session_factory = session_factory
        self._clock = clock
        self._sleep = sleep
        self._session: Any = None
        self._device: Any = None
        self._identity: str | None = None
        self._frequency_max = _FREQUENCY_MAX[""]
        self._lock = threading.RLock()
        self._capture: tuple[int, float] | None = None
        self._running = False
        self._received = 0
        self._first_tick: int | None = None
        self._last_tick: int | None = None

    # --- connection -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`close` was not called since."""
        return self._device is not None

    @property
    def identity(self) -> str:
        """``Zurich Instruments,<type>,<serial>,<options>`` read at :meth:`connect`."""
        if self._identity is None:
            raise InstrumentError(self.name, "identity", "not connected; call connect() first")
        return self._identity

    def _make_session(self) -> Any:
        if self._session_factory is not None:
            return self._session_factory(self.host, self.port)
        try:
            from zhinst.toolkit import Session
        except ImportError as exc:
            raise InstrumentError(self.name, "import zhinst.toolkit",
                                  ZHINST_NOT_INSTALLED) from exc
        return Session(self.host, self.port)

    def connect(self) -> None:
        """Connect to the data server and the device, check its type, stop any streaming.

        Raises
        ------
        InstrumentError
            zhinst-toolkit missing, data server or device unreachable, or not an MFLI/MFIA.
        """
        with self._lock:
            if self._device is not None:
                return
            try:
                session = self._make_session()
                device = session.connect_device(self.serial, interface=self.interface)
                device_type = str(device.device_type)
                options = str(device.features.options())
            except InstrumentError:
                raise
            except (RuntimeError, KeyError, OSError, ValueError, TypeError) as exc:
                raise InstrumentError(self.name, f"connect {self.serial} at "
                                      f"{self.host}:{self.port}",
                                      _connection_text(exc)) from exc
            if not device_type.upper().startswith(self.description.models):
                raise InstrumentError(self.name, "device_type",
                                      f"{self.serial} is an {device_type}, not an MFLI/MFIA")
            self._session, self._device = session, device
            self._frequency_max = _FREQUENCY_MAX["F5M" if "F5M" in options.upper() else ""]
            self._identity = (f"Zurich Instruments,{device_type},{self.serial},"
                              f"{options.replace(chr(10), ' ').strip()}")
            try:
                self._call("enable demodulator", lambda: self._demod.enable(1))
                self._unsubscribe()
            except BaseException:
                self._session = self._device = self._identity = None
                raise

    def close(self) -> None:
        """Stop streaming and forget the session; calling it again does nothing."""
        with self._lock:
            if self._device is not None:
                try:
                    self._unsubscribe()
                except InstrumentError:
                    pass  # the connection is going away anyway
            self._session = self._device = self._identity = None
            self._running = False

    def _require(self, operation: str) -> Any:
        if self._device is None:
            raise InstrumentError(self.name, operation, "not connected; call connect() first")
        return self._device

    def _call(self, operation: str, action: Callable[[], Any]) -> Any:
        """Run a toolkit call, turning its failures into InstrumentError."""
        self._require(operation)
        try:
            return action()
        except (RuntimeError, KeyError, OSError, ValueError, TypeError) as exc:
            raise InstrumentError(self.name, operation, _connection_text(exc)) from exc

    @property
    def _demod(self) -> Any:
        return self._require("demods").demods[self.demod]

    def _node(self, path: str) -> Any:
        node = self._require(path)
        for part in path.split("/"):
            node = node[int(part)] if part.isdecimal() else getattr(node, part)
        return node

    def _get(self, path: str) -> Any:
        return self._call(f"get {path}", lambda: self._node(path)())

    def _set(self, path: str, value: Any) -> Any:
        """Set a node and return the value the instrument took (``deep=True``)."""
        return self._call(f"set {path} = {value!r}", lambda: self._node(path)(value, deep=True))

    # --- limits -----------------------------------------------------------------------------

    @property
    def limits(self) -> LockInLimits:
        """The MFLI's ranges (500 kHz, or 5 MHz with the MF-5M option)."""
        return LockInLimits(
            frequency_min=0.0, frequency_max=self._frequency_max,
            time_constant_min=_TIME_CONSTANT_RANGE[0], time_constant_max=_TIME_CONSTANT_RANGE[1],
            max_filter_order=8, sensitivity_min=_INPUT_RANGE[0],
            sensitivity_max=_INPUT_RANGE[1], max_harmonic=_MAX_HARMONIC,
            sine_amplitude_max=_SINE_MAX, capture_rate_max=_RATE_MAX,
            max_capture_samples=_MAX_CAPTURE)

    # --- settings ---------------------------------------------------------------------------

    def _demod_path(self, leaf: str) -> str:
        return f"demods/{self.demod}/{leaf}"

    @property
    def _oscillator(self) -> int:
        return int(self._get(self._demod_path("oscselect")))

    @property
    def time_constant(self) -> float:
        """Time constant of the demodulator's filter, s (``demods/d/timeconstant``)."""
        return float(self._get(self._demod_path("timeconstant")))

    @time_constant.setter
    def time_constant(self, value: float) -> None:
        tau = check_range(value, *_TIME_CONSTANT_RANGE, what="time_constant", unit="s",
                          who=self.name)
        got = float(self._set(self._demod_path("timeconstant"), tau))
        # The MFLI rounds to its nearest available time constant (within a few %).
        if abs(got / tau - 1) > 0.1:
            raise InstrumentError(self.name, f"set {self._demod_path('timeconstant')}",
                                  f"took {got:g} s instead of {tau:g} s")

    @property
    def filter_order(self) -> int:
        """RC stages of the filter, 1–8 (``demods/d/order``)."""
        return int(self._get(self._demod_path("order")))

    @filter_order.setter
    def filter_order(self, value: int) -> None:
        order = check_filter_order(value, 8, who=self.name)
        self._set_exact(self._demod_path("order"), order)

    @property
    def sensitivity(self) -> float:
        """Input range, V (``sigins/i/range``): the full-scale input."""
        return float(self._get(f"sigins/{self.signal_input}/range"))

    @sensitivity.setter
    def sensitivity(self, value: float) -> None:
        wanted = check_range(value, *_INPUT_RANGE, what="sensitivity", unit="V", who=self.name)
        got = float(self._set(f"sigins/{self.signal_input}/range", wanted))
        if got < wanted * (1 - 1e-6):  # it picks the next range at or above the value
            raise InstrumentError(self.name, f"set sigins/{self.signal_input}/range",
                                  f"took {got:g} V, below the {wanted:g} V asked for")

    @property
    def reference_source(self) -> ReferenceSource:
        """``"external"`` when ``extrefs/0/enable`` is on, else ``"internal"``."""
        return "external" if int(self._get("extrefs/0/enable")) else "internal"

    @reference_source.setter
    def reference_source(self, value: ReferenceSource) -> None:
        if value not in ("internal", "external"):
            raise LimitError(f"{self.name}: reference_source must be 'internal' or "
                             f"'external', not {value!r}; nothing was sent")
        if value == "external":
            ref = f"demods/{self.reference_demod}"
            self._set_exact(f"{ref}/adcselect", self.external_reference_input)
            self._set_exact(f"{ref}/oscselect", self._oscillator)
            self._set_exact("extrefs/0/enable", 1)
        else:
            self._set_exact("extrefs/0/enable", 0)

    @property
    def reference_frequency(self) -> float:
        """Frequency of the demodulator's oscillator, Hz (``oscs/o/freq``)."""
        return float(self._get(f"oscs/{self._oscillator}/freq"))

    @reference_frequency.setter
    def reference_frequency(self, value: float) -> None:
        f = check_reference_frequency(value, self.limits, lambda: self.harmonic, who=self.name)
        if self.reference_source == "external":
            raise InstrumentError(self.name, f"set oscs/.../freq = {f:g}",
                                  "the reference is external: the oscillator follows it; set "
                                  "reference_source = 'internal' first")
        path = f"oscs/{self._oscillator}/freq"
        got = float(self._set(path, f))
        if abs(got - f) > 1e-6 * f + 1e-6:
            raise InstrumentError(self.name, f"set {path}", f"took {got:g} Hz, not {f:g} Hz")

    @property
    def reference_phase(self) -> float:
        """Phase shift of the demodulator, degrees (``demods/d/phaseshift``)."""
        return float(self._get(self._demod_path("phaseshift")))

    @reference_phase.setter
    def reference_phase(self, value: float) -> None:
        phase = check_phase(value, who=self.name)
        got = float(self._set(self._demod_path("phaseshift"), phase))
        if abs((got - phase + 180.0) % 360.0 - 180.0) > 1e-4:
            raise InstrumentError(self.name, f"set {self._demod_path('phaseshift')}",
                                  f"took {got:g} deg, not {phase:g} (mod 360)")

    @property
    def harmonic(self) -> int:
        """Detection harmonic (``demods/d/harmonic``)."""
        return int(self._get(self._demod_path("harmonic")))

    @harmonic.setter
    def harmonic(self, value: int) -> None:
        limits = self.limits
        h = check_harmonic(value, 0.0, limits, who=self.name)
        check_harmonic(h, self.reference_frequency, limits, who=self.name)
        self._set_exact(self._demod_path("harmonic"), h)

    @property
    def sine_amplitude(self) -> float:
        """Peak amplitude of the demodulator's oscillator on the signal output, V."""
        return float(self._get(f"sigouts/{self.signal_output}/amplitudes/{self.demod}"))

    @sine_amplitude.setter
    def sine_amplitude(self, value: float) -> None:
        amplitude = check_range(value, 0.0, _SINE_MAX, what="sine_amplitude", unit="V",
                                who=self.name)
        out = f"sigouts/{self.signal_output}"
        got = float(self._set(f"{out}/amplitudes/{self.demod}", amplitude))
        if abs(got - amplitude) > 1e-6 + 1e-4 * amplitude:
            raise InstrumentError(self.name, f"set {out}/amplitudes/{self.demod}",
                                  f"took {got:g} V, not {amplitude:g} V")
        self._set_exact(f"{out}/enables/{self.demod}", 1 if amplitude > 0 else 0)
        self._set_exact(f"{out}/on", 1 if amplitude > 0 else 0)

    def _set_exact(self, path: str, value: int) -> None:
        got = self._set(path, value)
        if int(got) != value:
            raise InstrumentError(self.name, f"set {path}", f"took {got!r}, not {value!r}")

    # --- data -------------------------------------------------------------------------------

    def read_xy(self) -> tuple[float, float]:
        """The demodulator's latest sample (``demods/d/sample``), X and Y in V rms."""
        sample = self._call("get demods/sample", lambda: self._demod.sample())
        try:
            return float(np.ravel(sample["x"])[-1]), float(np.ravel(sample["y"])[-1])
        except (KeyError, IndexError, TypeError) as exc:
            raise InstrumentError(self.name, "get demods/sample",
                                  f"unexpected sample {sample!r}") from exc

    def configure_capture(self, n_samples: int, rate: float) -> float:
        """Stream ``n_samples`` at ``rate`` Sa/s (``demods/d/rate``); returns the rate the
        MFLI took (it picks the nearest one it offers)."""
        n, wanted = check_capture(n_samples, rate, self.limits, who=self.name)
        with self._lock:
            self._unsubscribe()
            got = float(self._set(self._demod_path("rate"), wanted))
            if not got > 0:
                raise InstrumentError(self.name, f"set {self._demod_path('rate')}",
                                      f"took {got!r}")
            self._capture = (n, got)
        return got

    def start_capture(self) -> None:
        """Clear old data (``session.sync()``) and subscribe to the demodulator's samples."""
        if self._capture is None:
            raise InstrumentError(self.name, "subscribe demods/sample",
                                  "no capture configured; call configure_capture first")
        with self._lock:
            self._call("sync", lambda: self._session.sync())
            self._call("subscribe demods/sample", lambda: self._demod.sample.subscribe())
            self._running = True
            self._received = 0
            self._first_tick = self._last_tick = None

    def stop_capture(self) -> None:
        """Unsubscribe (the data server stops buffering samples for this client)."""
        with self._lock:
            self._unsubscribe()

    def _unsubscribe(self) -> None:
        self._call("unsubscribe demods/sample", lambda: self._demod.sample.unsubscribe())
        self._running = False

    def read_capture(self, timeout: float | None = None) -> LockInCapture:
        """The samples streamed since the last read (at least one), up to the configured count.

        Raises
        ------
        InstrumentError
            No capture running; no data before ``timeout`` (default 2 s + 10 sample periods);
            a gap in the timestamps (samples lost by the data server); an unexpected rate.
        """
        if self._capture is None or not self._running:
            raise InstrumentError(self.name, "poll", "no capture running; call "
                                  "configure_capture and start_capture first")
        n, rate = self._capture
        limit = 2.0 + 10.0 / rate if timeout is None else float(timeout)
        deadline = self._clock() + limit
        node_key = str(self._demod.sample)
        clockbase = float(self._get("clockbase"))
        ticks_per_sample = clockbase / rate
        while True:
            wanted = n - self._received
            poll_time = min(max(wanted / rate, 0.01), 0.1)
            data = self._call("poll", lambda pt=poll_time: self._session.poll(pt))
            block = data.get(node_key) if hasattr(data, "get") else None
            if block is not None and len(np.ravel(block["timestamp"])):
                break
            if self._clock() >= deadline:
                raise InstrumentError(self.name, "poll",
                                      f"no samples within {limit:g} s; is demodulator "
                                      f"{self.demod} enabled?")
            self._sleep(0.0)  # poll() already waited
        ticks = np.asarray(block["timestamp"], dtype=np.int64).ravel()
        x = np.asarray(block["x"], dtype=float).ravel()
        y = np.asarray(block["y"], dtype=float).ravel()
        previous = self._last_tick
        steps = np.diff(ticks if previous is None else np.concatenate([[previous], ticks]))
        if steps.size and np.any(np.abs(steps - ticks_per_sample) > 0.5 * ticks_per_sample):
            self._unsubscribe()
            raise InstrumentError(self.name, "poll",
                                  f"samples were lost (timestamp steps of "
                                  f"{steps.max() / clockbase:g} s at {rate:g} Sa/s); lower "
                                  f"the rate or poll more often")
        if self._first_tick is None:
            self._first_tick = int(ticks[0])
        take = min(ticks.size, n - self._received)
        first_index = self._received
        t = (ticks[:take] - self._first_tick) / clockbase
        self._received += take
        self._last_tick = int(ticks[take - 1])
        complete = self._received >= n
        if complete:
            self._unsubscribe()
        return LockInCapture(time=t, x=x[:take], y=y[:take], rate=rate, complete=complete,
                             first_index=first_index)

    # --- safety -----------------------------------------------------------------------------

    def safe(self) -> None:
        """Stop streaming; signal output off."""
        with self._lock:
            self._unsubscribe()
            self._set_exact(f"sigouts/{self.signal_output}/on", 0)

    def snapshot(self) -> dict[str, Any]:
        """Identity, the demodulator's settings read back from the device, limits,
        JSON-ready."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity,
                "connection": {"serial": self.serial, "host": self.host, "port": self.port,
                               "demod": self.demod},
                **kind_state("lockin", self)}

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<MFLI {self.name!r} {self.serial} ({state})>"
