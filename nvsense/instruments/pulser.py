"""Pulse generators: the protocol, the channel map, compiled programs, and a common base.

A pulse generator plays a :class:`~nvsense.pulses.PulseProgram`: :meth:`Pulser.upload`
checks the program against the device's limits (:class:`PulserLimits`) and its channel map,
compiles it for the device (the result, :class:`CompiledProgram`, is plain JSON a run file
can keep so that a run can be re-uploaded exactly) and sends it; :meth:`Pulser.start` plays
it a number of passes (or until stopped), started by software or by an external trigger;
:meth:`Pulser.safe` stops and sets every output low.

Contract (in addition to that of :mod:`nvsense.instruments.protocols`):

- a program the device cannot play raises :class:`PulserLimitError` (a
  :class:`~nvsense.instruments.errors.LimitError` and a
  :class:`~nvsense.pulses.ProgramLimitError`) naming the block, before anything is sent; the
  device keeps playing (or idling with) what it had;
- if sending fails half-way the driver stops the device, sets its outputs low and raises
  :class:`~nvsense.instruments.errors.InstrumentError`; the next upload works without a
  restart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ..pulses import ProgramLimitError, PulseProgram, PulserLimits, check_program
from ..pulses.limits import estimate_steps
from ..pulses.program import ResolvedBlock, ResolvedRepeat, is_digital_channel
from .errors import InstrumentError, LimitError
from .protocols import Instrument
from .snapshot import kind_state

__all__ = [
    "ChannelMap",
    "CompiledProgram",
    "Pulser",
    "PulserBase",
    "PulserLimitError",
    "PulserLimits",
    "flat_patterns",
    "mw_duty_cycle",
]

TriggerMode = Literal["software", "external"]


class PulserLimitError(LimitError, ProgramLimitError):
    """A program (or a repetition count) the pulse generator cannot play; nothing was sent."""

    def __init__(self, message: str, *, block: str | None = None, device: str = "",
                 limit: str = "") -> None:
        ProgramLimitError.__init__(self, message, block=block, device=device, limit=limit)


@dataclass(frozen=True)
class ChannelMap:
    """Which output realises each logical channel of a program.

    Attributes
    ----------
    digital
        Logical channel → digital output number (``{"laser": 0, "mw": 1, "gate": 2}``).
    analog
        ``mw_i`` / ``mw_q`` → analog output number, for the microwave phase by I/Q modulation.
    iq_amplitude
        Amplitude (V) of the I/Q vector while the microwave is on.
    phase_lines
        Alternatively, phase (degrees) → logical digital channel set high during a pulse of
        that phase (an external phase shifter or IQ switch); ``{0: "spare", 90: "spare1"}``.
    """

    digital: Mapping[str, int]
    analog: Mapping[str, int] = field(default_factory=dict)
    iq_amplitude: float = 0.5
    phase_lines: Mapping[float, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | ChannelMap | None,
                    default: ChannelMap) -> ChannelMap:
        """From a bench-file mapping: ``{laser: 0, mw: 1, gate: 2, trigger: 3, mw_i: a0,
        mw_q: a1, iq_amplitude: 0.5, phase_lines: {90: spare1}}`` (``aN`` is analog output N)."""
        if config is None:
            return default
        if isinstance(config, ChannelMap):
            return config
        digital: dict[str, int] = {}
        analog: dict[str, int] = {}
        iq = default.iq_amplitude
        phase_lines: dict[float, str] = {}
        for key, value in dict(config).items():
            if key == "iq_amplitude":
                iq = float(value)
            elif key == "phase_lines":
                phase_lines = {float(k) % 360.0: str(v) for k, v in dict(value).items()}
            elif key in ("mw_i", "mw_q"):
                text = str(value).lower()
                number = text[1:] if text.startswith("a") else text
                if not number.isdigit():
                    raise ValueError(f"channels.{key} must be an analog output like a0, not "
                                     f"{value!r}")
                analog[key] = int(number)
            elif is_digital_channel(key):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"channels.{key} must be a digital output number >= 0, "
                                     f"not {value!r}")
                digital[key] = value
            else:
                raise ValueError(f"channels: unknown logical channel {key!r}; use laser, mw, "
                                 f"gate, trigger, spare..., mw_i, mw_q, iq_amplitude, "
                                 f"phase_lines")
        return cls(digital, analog, iq, phase_lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for run files)."""
        return {"digital": dict(self.digital), "analog": dict(self.analog),
                "iq_amplitude": self.iq_amplitude,
                "phase_lines": {str(k): v for k, v in self.phase_lines.items()}}

    @property
    def has_iq(self) -> bool:
        return "mw_i" in self.analog and "mw_q" in self.analog

    def phase_line(self, phase: float) -> str | None:
        """The logical line selecting ``phase`` (degrees), if phase lines are used."""
        key = round(phase % 360.0, 6)
        for p, line in self.phase_lines.items():
            if abs(round(p % 360.0, 6) - key) < 1e-6:
                return line
        return None


@dataclass(frozen=True)
class CompiledProgram:
    """A program as compiled for one device (JSON-ready ``data``)."""

    device: str
    kind: str
    data: list[Any]
    pass_duration_ns: int
    windows_per_pass: int
    steps: int
    channel_map: ChannelMap
    program: PulseProgram = field(repr=False)
    repetitions: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to re-upload it exactly, as plain JSON values."""
        return {"device": self.device, "kind": self.kind, "data": self.data,
                "pass_duration_ns": self.pass_duration_ns,
                "windows_per_pass": self.windows_per_pass, "steps": self.steps,
                "repetitions": self.repetitions, "channel_map": self.channel_map.to_dict(),
                "program": self.program.to_dict()}


@runtime_checkable
class Pulser(Instrument, Protocol):
    """A pulse generator playing pulse programs."""

    def connect(self) -> None:
        """Open the connection; outputs low, nothing playing."""

    @property
    def limits(self) -> PulserLimits:
        """What the device can play."""

    @property
    def channel_map(self) -> ChannelMap: ...

    def check(self, program: PulseProgram) -> None:
        """Raise :class:`PulserLimitError` if the device cannot play ``program`` (no I/O)."""

    def upload(self, program: PulseProgram) -> CompiledProgram:
        """Check, compile and send ``program``; stops whatever was playing."""

    @property
    def compiled(self) -> CompiledProgram | None:
        """The program last uploaded (as compiled), or ``None``."""

    def start(self, repetitions: int | None = None, *,
              trigger: TriggerMode = "software") -> None:
        """Play the uploaded program ``repetitions`` passes (``None``: until stopped), at
        once (``"software"``) or at the next rising edge of the trigger input."""

    def stop(self) -> None:
        """Stop playing; outputs low."""

    @property
    def running(self) -> bool: ...

    def safe(self) -> None:
        """Stop and set every output low; never raises for a reachable device."""


def _dc_state(block: ResolvedBlock, cmap: ChannelMap, device: str) -> tuple[frozenset[str],
                                                                             float | None]:
    """Logical digital lines high during ``block`` (phase lines added) and the MW phase for
    I/Q (``None`` when I/Q is not used or the microwave is off)."""
    lines = set(block.on)
    phase = block.phase if block.mw else None
    if phase is not None and not cmap.has_iq:
        if cmap.phase_lines:
            line = cmap.phase_line(phase)
            if line is None:
                raise PulserLimitError(
                    f"{device} cannot play block {block.name!r}: its phase {phase:g}° has no "
                    f"phase line (channels.phase_lines maps "
                    f"{', '.join(f'{p:g}°' for p in cmap.phase_lines)}); nothing was sent",
                    block=block.name, device=device, limit="phase")
            lines.add(line)
        elif round(phase % 360.0, 6) != 0.0:
            raise PulserLimitError(
                f"{device} cannot play block {block.name!r}: phase {phase:g}° needs I/Q outputs "
                f"(channels mw_i, mw_q) or phase lines (channels.phase_lines); nothing was sent",
                block=block.name, device=device, limit="phase")
        phase = None
    return frozenset(lines), phase


def flat_patterns(program: PulseProgram, cmap: ChannelMap, device: str = "pulser"
                  ) -> tuple[dict[int, list[tuple[int, int]]], dict[int, list[tuple[int, float]]]]:
    """One pass of ``program`` as run-length patterns per output.

    Returns
    -------
    digital, analog
        ``{output: [(duration_ns, level), ...]}`` for every mapped digital output (0/1) and
        every mapped analog output (volts), each covering the whole pass, neighbours with the
        same level merged.
    """
    digital: dict[int, list[tuple[int, int]]] = {ch: [] for ch in cmap.digital.values()}
    analog: dict[int, list[tuple[int, float]]] = {ch: [] for ch in cmap.analog.values()}

    def add(pattern: list[Any], ns: int, level: Any) -> None:
        if pattern and pattern[-1][1] == level:
            pattern[-1] = (pattern[-1][0] + ns, level)
        else:
            pattern.append((ns, level))

    for _, shot in program.shots():
        for b in shot:
            lines, phase = _dc_state(b, cmap, device)
            for logical, out in cmap.digital.items():
                add(digital[out], b.duration_ns, int(logical in lines))
            if cmap.has_iq:
                i = q = 0.0
                if phase is not None:
                    i = cmap.iq_amplitude * math.cos(math.radians(phase))
                    q = cmap.iq_amplitude * math.sin(math.radians(phase))
                    i, q = round(i, 12) + 0.0, round(q, 12) + 0.0
                add(analog[cmap.analog["mw_i"]], b.duration_ns, i)
                add(analog[cmap.analog["mw_q"]], b.duration_ns, q)
    return digital, analog


def mw_duty_cycle(program: PulseProgram) -> float:
    """Fraction of one pass of ``program`` with the microwave on (repeats counted, not
    unrolled): what a pulsed amplifier's duty-cycle rating and the sample's heating see."""

    def on_ns(elements: Any) -> int:
        return sum(el.count * on_ns(el.body) if isinstance(el, ResolvedRepeat)
                   else (el.duration_ns if el.mw else 0) for el in elements)

    total = program.pass_duration_ns
    if total <= 0:
        return 0.0
    return sum(on_ns(program.resolve(i)) for i in range(program.n_points)) / total


class PulserBase:
    """What every pulser driver shares: checks before any I/O, upload with clean failure,
    repetition checks.  Drivers implement :meth:`compile`, :meth:`_send`, :meth:`_start`,
    :meth:`_stop`, :meth:`_outputs_low` and the connection methods."""

    model: ClassVar[str] = "pulser"

    def __init__(self, name: str, channel_map: ChannelMap) -> None:
        self.name = name
        self._channel_map = channel_map
        self._compiled: CompiledProgram | None = None
        self._running = False
        self.connected = False

    # --- to implement --------------------------------------------------------------------

    @property
    def limits(self) -> PulserLimits:
        raise NotImplementedError

    def compile(self, program: PulseProgram,
                repetitions: int | None = None) -> CompiledProgram:  # pragma: no cover
        """The device form of ``program`` (pure: no I/O); raises :class:`PulserLimitError`."""
        raise NotImplementedError

    def _send(self, compiled: CompiledProgram) -> None:  # pragma: no cover
        raise NotImplementedError

    def _start(self, repetitions: int | None, trigger: TriggerMode) -> None:  # pragma: no cover
        raise NotImplementedError

    def _prepare_start(self, repetitions: int | None, trigger: TriggerMode) -> None:
        """Checks and compilation a start needs, before any I/O (raise to refuse it)."""

    def _stop(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def _outputs_low(self) -> None:  # pragma: no cover
        raise NotImplementedError

    # --- common behaviour ----------------------------------------------------------------

    @property
    def channel_map(self) -> ChannelMap:
        return self._channel_map

    @property
    def compiled(self) -> CompiledProgram | None:
        return self._compiled

    @property
    def running(self) -> bool:
        return self._running

    def _require(self, command: str) -> None:
        if not self.connected:
            raise InstrumentError(self.name, command, "not connected; call connect() first")

    def _check_channels(self, program: PulseProgram) -> None:
        cmap = self._channel_map
        dev = self.limits.device
        for ch in sorted(program.channels):
            if ch not in cmap.digital:
                block = next((b.name for i in range(program.n_points)
                              for b in program.flat_shot(i) if ch in b.on), None)
                raise PulserLimitError(
                    f"{dev} ({self.name}) has no output for channel {ch!r} used by block "
                    f"{block!r}; map it in the bench file (channels: {{{ch}: <output>}}); "
                    f"nothing was sent", block=block, device=dev, limit="channel")
        outs = list(cmap.digital.values())
        if len(set(outs)) != len(outs):
            raise PulserLimitError(f"{self.name}: two logical channels share one output in "
                                   f"{dict(cmap.digital)}", device=dev, limit="channel")
        bad = [o for o in outs if not 0 <= o < self.limits.digital_channels]
        if bad:
            raise PulserLimitError(f"{self.name}: {dev} has digital outputs 0–"
                                   f"{self.limits.digital_channels - 1}, not {bad[0]}",
                                   device=dev, limit="channel")
        for line in cmap.phase_lines.values():
            if line not in cmap.digital:
                raise PulserLimitError(f"{self.name}: phase line {line!r} is not mapped to an "
                                       f"output", device=dev, limit="channel")
        if cmap.analog and not all(0 <= o < self.limits.analog_channels
                                   for o in cmap.analog.values()):
            raise PulserLimitError(f"{self.name}: {dev} has {self.limits.analog_channels} "
                                   f"analog outputs; mw_i/mw_q map to "
                                   f"{dict(cmap.analog)}", device=dev, limit="channel")

    def check(self, program: PulseProgram) -> None:
        """Raise :class:`PulserLimitError` if this device cannot play ``program``."""
        if not isinstance(program, PulseProgram):
            raise TypeError(f"{self.name}: expected a PulseProgram, not {type(program).__name__}")
        self._checked(program)

    def _checked(self, program: PulseProgram) -> CompiledProgram:
        """Check, then compile (both without I/O)."""
        self._check_channels(program)
        try:
            # blocks and a quick count of the memory first (compiling a program far too big
            # for the device would take long), then the exact count of the compiled form
            limits = self.limits
            check_program(program, limits, steps=0)
            if estimate_steps(program, limits.hardware_loops) > limits.max_steps:
                check_program(program, limits)
            compiled = self.compile(program)
            check_program(program, self.limits, steps=compiled.steps)
        except PulserLimitError:
            raise
        except ProgramLimitError as exc:
            raise PulserLimitError(str(exc), block=exc.block, device=exc.device,
                                   limit=exc.limit) from None
        return compiled

    def upload(self, program: PulseProgram) -> CompiledProgram:
        """Check (no I/O), compile, stop what plays, send.

        Raises
        ------
        PulserLimitError
            The device cannot play it; nothing was sent and nothing was stopped.
        InstrumentError
            Sending failed; the device has been stopped with its outputs low.
        """
        self._require("upload")
        if not isinstance(program, PulseProgram):
            raise TypeError(f"{self.name}: expected a PulseProgram, not {type(program).__name__}")
        compiled = self._checked(program)
        try:
            if self._running:
                self._stop()
                self._running = False
            self._send(compiled)
        except Exception as exc:
            self._compiled = None
            self._running = False
            self.safe()
            if isinstance(exc, InstrumentError):
                raise
            raise InstrumentError(self.name, "upload", f"{type(exc).__name__}: {exc}; the "
                                  f"outputs were set low") from exc
        self._compiled = compiled
        return compiled

    def _check_repetitions(self, repetitions: int | None) -> None:
        if repetitions is None:
            return
        if isinstance(repetitions, bool) or int(repetitions) != repetitions or repetitions < 1:
            raise PulserLimitError(f"{self.name}: repetitions must be a whole number >= 1 (or "
                                   f"None to play until stopped), not {repetitions!r}",
                                   device=self.limits.device, limit="loop_count")
        most = self.limits.max_repetitions
        if most is not None and repetitions > most:
            raise PulserLimitError(
                f"{self.name}: {self.limits.device} plays at most {most} passes per start, not "
                f"{repetitions}; start it several times (nothing was sent)",
                device=self.limits.device, limit="loop_count")

    def start(self, repetitions: int | None = None, *,
              trigger: TriggerMode = "software") -> None:
        """Play the uploaded program ``repetitions`` passes (``None``: until stopped)."""
        self._require("start")
        if self._compiled is None:
            raise InstrumentError(self.name, "start", "no program uploaded; call upload() first")
        if trigger not in ("software", "external"):
            raise ValueError(f"trigger must be 'software' or 'external', not {trigger!r}")
        self._check_repetitions(repetitions)
        self._prepare_start(repetitions, trigger)
        try:
            self._start(repetitions, trigger)
        except Exception as exc:
            self._running = False
            self.safe()
            if isinstance(exc, InstrumentError | LimitError):
                raise
            raise InstrumentError(self.name, "start", f"{type(exc).__name__}: {exc}; the "
                                  f"outputs were set low") from exc
        self._running = True

    def stop(self) -> None:
        """Stop playing; outputs low."""
        self._require("stop")
        try:
            self._stop()
        finally:
            self._running = False

    def safe(self) -> None:
        """Stop and set every output low (errors are swallowed: this runs on every exit)."""
        self._running = False
        if not self.connected:
            return
        for action in (self._stop, self._outputs_low):
            try:
                action()
            except Exception:  # safe() must not raise
                pass

    def snapshot(self) -> dict[str, Any]:
        """Identity, channel map, limits, whether it plays, and the program uploaded (name,
        steps, windows, pass length, repetitions; the whole compiled form is
        :attr:`compiled`), JSON-ready."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "connected": self.connected,
                **kind_state("pulser", self)}

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self.name!r} ({state})>"
