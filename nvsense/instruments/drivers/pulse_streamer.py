"""Swabian Instruments Pulse Streamer 8/2, through the ``pulsestreamer`` client package.

Programming interface (Pulse Streamer 8/2 documentation, "Programming interface" and
"Hardware"): 8 digital outputs (1 GHz sampling, 1 ns resolution, 2 ns minimum pulse width),
2 analog outputs (±1 V, 14 bit, 125 MHz); a sequence is a run-length list of steps
``(duration_ns, digital mask, a0, a1)`` built by ``pulsestreamer.Sequence`` (``setDigital``,
``setAnalog``, ``getData``), at most two million steps (the client refuses more).  It is played
by ``PulseStreamer.stream(sequence, n_runs, final)`` with the start condition of
``setTrigger(TriggerStart.SOFTWARE | HARDWARE_RISING, TriggerRearm.MANUAL)`` (then
``startNow()`` for a software start); ``forceFinal()`` stops it and sets the final state,
``constant(OutputState.ZERO())`` holds every output low.

The driver compiles a program into a ``pulsestreamer.Sequence`` offline (no device needed):
repeats are unrolled, the microwave phase goes to the I/Q analog outputs (or to phase lines).
Tests inject the network client (``client_factory``) and compare the compiled steps with a
``Sequence`` they build themselves.

Install the client with ``pip install 'nvsense[pulsestreamer]'``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ...pulses import PulseProgram, PulserLimits
from ..errors import InstrumentError
from ..pulser import ChannelMap, CompiledProgram, PulserBase, PulserLimitError, flat_patterns

__all__ = ["DEFAULT_CHANNELS", "PULSE_STREAMER_LIMITS", "PulseStreamer82"]

#: Default wiring: laser/AOM on 0, MW switch on 1, counter gate on 2, trigger on 3; I/Q on A0/A1.
DEFAULT_CHANNELS = ChannelMap({"laser": 0, "mw": 1, "gate": 2, "trigger": 3},
                              {"mw_i": 0, "mw_q": 1}, 0.5)

#: Pulse Streamer 8/2 limits (Hardware section of its documentation; the client's
#: two-million-step limit).
PULSE_STREAMER_LIMITS = PulserLimits(
    device="Pulse Streamer 8/2", resolution_ns=1, min_duration_ns=2, max_steps=2_000_000,
    hardware_loops=False, max_repetitions=None, digital_channels=8, analog_channels=2)


def _module() -> Any:
    try:
        return importlib.import_module("pulsestreamer")
    except ImportError as exc:
        raise InstrumentError("Pulse Streamer", "import pulsestreamer",
                              "the pulsestreamer package is not installed; install it with "
                              "pip install 'nvsense[pulsestreamer]'") from exc


class PulseStreamer82(PulserBase):
    """Swabian Pulse Streamer 8/2.

    Parameters
    ----------
    name
        Bench key.
    address
        IP address or host name (default ``169.254.8.2``, its fallback address).
    channels
        Channel map (see :meth:`ChannelMap.from_config`); default :data:`DEFAULT_CHANNELS`.
    client_factory
        ``factory(address)`` returning the client; default ``pulsestreamer.PulseStreamer``.
        Tests pass a double.
    """

    model: ClassVar[str] = "Pulse Streamer 8/2"

    def __init__(self, name: str = "pulser", address: str = "169.254.8.2", *,
                 channels: Mapping[str, Any] | ChannelMap | None = None,
                 client_factory: Callable[[str], Any] | None = None) -> None:
        super().__init__(name, ChannelMap.from_config(channels, DEFAULT_CHANNELS))
        self.address = str(address)
        self._factory = client_factory
        self._client: Any = None
        self._sequence: Any = None

    @property
    def limits(self) -> PulserLimits:
        return PULSE_STREAMER_LIMITS

    # --- connection ------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect and hold every output low."""
        factory = self._factory
        if factory is None:
            factory = _module().PulseStreamer
        try:
            self._client = factory(self.address)
        except Exception as exc:
            raise InstrumentError(self.name, f"connect to {self.address}",
                                  f"{type(exc).__name__}: {exc}") from exc
        self.connected = True
        self._outputs_low()

    def close(self) -> None:
        """Release the client (idempotent); outputs are left low by :meth:`safe` first."""
        self._client = None
        self.connected = False

    @property
    def identity(self) -> str:
        self._require("identity")
        try:
            serial = self._client.getSerial()
            firmware = self._client.getFirmwareVersion()
        except Exception as exc:
            raise InstrumentError(self.name, "getSerial", f"{type(exc).__name__}: {exc}") from exc
        return f"Swabian Instruments,Pulse Streamer 8/2,{serial},{firmware}"

    # --- compilation -----------------------------------------------------------------------

    def build_sequence(self, program: PulseProgram) -> Any:
        """The ``pulsestreamer.Sequence`` of one pass of ``program`` (offline)."""
        ps = _module()
        digital, analog = flat_patterns(program, self.channel_map, self.limits.device)
        seq = ps.Sequence()
        for out, pattern in digital.items():
            seq.setDigital(out, [(int(ns), int(level)) for ns, level in pattern])
        for out, pattern in analog.items():
            seq.setAnalog(out, [(int(ns), float(v)) for ns, v in pattern])
        return seq

    def compile(self, program: PulseProgram, repetitions: int | None = None) -> CompiledProgram:
        """Compile ``program``: its sequence steps ``[duration_ns, digital mask, a0, a1]``."""
        seq = self.build_sequence(program)
        data = [[int(c), int(d), int(a0), int(a1)] for c, d, a0, a1 in seq.getData()]
        if len(data) > self.limits.max_steps:
            raise PulserLimitError(
                f"{self.limits.device} cannot hold the program: {len(data)} sequence steps, more "
                f"than its memory of {self.limits.max_steps}; use fewer sweep points or repeats "
                f"(nothing was sent)", device=self.limits.device, limit="memory")
        return CompiledProgram(self.limits.device, "pulse_streamer_sequence", data,
                               program.pass_duration_ns, program.windows_per_pass, len(data),
                               self.channel_map, program, repetitions)

    # --- device actions --------------------------------------------------------------------

    def _send(self, compiled: CompiledProgram) -> None:
        # stream() both uploads and arms: the sequence is sent by start(), which knows n_runs
        self._sequence = self.build_sequence(compiled.program)

    def _start(self, repetitions: int | None, trigger: str) -> None:
        ps = _module()
        client = self._client
        start = (ps.TriggerStart.SOFTWARE if trigger == "software"
                 else ps.TriggerStart.HARDWARE_RISING)
        client.setTrigger(start, ps.TriggerRearm.MANUAL)
        n_runs = -1 if repetitions is None else int(repetitions)  # -1: REPEAT_INFINITELY
        client.stream(self._sequence, n_runs, ps.OutputState.ZERO())
        if trigger == "software":
            client.startNow()
        if self._compiled is not None:
            self._compiled = CompiledProgram(**{**self._compiled.__dict__,
                                                "repetitions": repetitions})

    def _stop(self) -> None:
        if self._client is not None:
            self._client.forceFinal()

    def _outputs_low(self) -> None:
        if self._client is not None:
            self._client.constant(_module().OutputState.ZERO())

    @property
    def running(self) -> bool:
        if not self.connected or not self._running:
            return False
        try:
            return bool(self._client.isStreaming())
        except Exception as exc:
            raise InstrumentError(self.name, "isStreaming", f"{type(exc).__name__}: {exc}") from exc
