"""Simulated pulse generator: plays programs on the simulated sample.

It compiles like a Pulse Streamer (run-length steps per pass, repeats unrolled) with limits
you can set, so a program that it refuses a real device of those limits would refuse too.  Its
program drives the simulated gated counter's spin simulation
(:mod:`nvsense.instruments.simulated.pulsed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ... import __version__
from ...pulses import PulseProgram, PulserLimits
from ..errors import InstrumentError
from ..pulser import ChannelMap, CompiledProgram, PulserBase, PulserLimitError, flat_patterns
from .pulsed import SpinConfig, pulsed_state
from .sample import SimulatedSample

__all__ = ["DEFAULT_CHANNELS", "SimulatedPulser"]

#: Most blocks one shot may have, repeats expanded: the spin simulation of the simulated bench
#: (its spin bath's dephasing) grows with the square of the free evolutions of a shot, ~0.5 GB
#: at this many (XY8 with about 2400 π pulses read twice, phase-cycled).
MAX_SIMULATED_BLOCKS = 10_000

#: Default wiring of the simulated pulser (I/Q on analog outputs 0 and 1).
DEFAULT_CHANNELS = ChannelMap({"laser": 0, "mw": 1, "gate": 2, "trigger": 3},
                              {"mw_i": 0, "mw_q": 1}, 0.5)


class SimulatedPulser(PulserBase):
    """A pulse generator on the simulated bench.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample (a fresh one if ``None``).
    channels
        Channel map (:meth:`ChannelMap.from_config`).
    resolution_ns, min_duration_ns, max_steps
        Its limits (default: those of a Pulse Streamer 8/2).
    spin
        Spin parameters of the sample (:class:`SpinConfig` or a mapping with units).
    """

    model: ClassVar[str] = "SimulatedPulser"
    slot: ClassVar[str] = "pulser"

    def __init__(self, name: str = "pulser", sample: SimulatedSample | None = None, *,
                 channels: Mapping[str, Any] | ChannelMap | None = None,
                 resolution_ns: int = 1, min_duration_ns: int = 2, max_steps: int = 2_000_000,
                 spin: Mapping[str, Any] | SpinConfig | None = None) -> None:
        super().__init__(name, ChannelMap.from_config(channels, DEFAULT_CHANNELS))
        self.sample = sample if sample is not None else SimulatedSample()
        self._limits = PulserLimits(device="simulated pulser", resolution_ns=int(resolution_ns),
                                    min_duration_ns=int(min_duration_ns),
                                    max_steps=int(max_steps), digital_channels=8,
                                    analog_channels=2)
        self._state = pulsed_state(
            self.sample, SpinConfig.from_mapping(spin, f"instruments.{name}.spin")
            if spin is not None else None)

    @property
    def limits(self) -> PulserLimits:
        return self._limits

    def connect(self) -> None:
        reason = self.sample.faults.unreachable(self.slot)
        if reason:
            raise InstrumentError(self.name, "connect", f"no response ({reason})")
        self.connected = True
        self._outputs_low()

    def close(self) -> None:
        self.connected = False

    @property
    def identity(self) -> str:
        self._require("*IDN?")
        return f"nvsense,{self.model},0,{__version__}"

    def compile(self, program: PulseProgram, repetitions: int | None = None) -> CompiledProgram:
        blocks = _shot_blocks(program.resolve(0))
        if blocks > MAX_SIMULATED_BLOCKS:
            raise PulserLimitError(
                f"the simulated bench cannot simulate program {program.name or 'program'!r}: "
                f"its shot has {blocks} blocks with the repeats expanded, more than the "
                f"{MAX_SIMULATED_BLOCKS} its spin simulation handles; use fewer pulses "
                f"(nothing was sent)", device=self._limits.device, limit="memory")
        digital, analog = flat_patterns(program, self.channel_map, self._limits.device)
        steps = max(len(p) for p in [*digital.values(), *analog.values()]) if digital else 0
        data = {"digital": {str(k): [list(s) for s in v] for k, v in digital.items()},
                "analog": {str(k): [list(s) for s in v] for k, v in analog.items()}}
        return CompiledProgram(self._limits.device, "simulated_patterns", [data],
                               program.pass_duration_ns, program.windows_per_pass, steps,
                               self.channel_map, program, repetitions)

    def _send(self, compiled: CompiledProgram) -> None:
        self._state.pulser.compiled = compiled
        self._state.pulser.running = False

    def _start(self, repetitions: int | None, trigger: str) -> None:
        state = self._state.pulser
        state.running = True
        state.repetitions = repetitions
        state.starts += 1
        state.outputs_low = False
        if self._compiled is not None:
            self._compiled = CompiledProgram(**{**self._compiled.__dict__,
                                                "repetitions": repetitions})
            state.compiled = self._compiled

    def _stop(self) -> None:
        self._state.pulser.running = False

    def _outputs_low(self) -> None:
        self._state.pulser.running = False
        self._state.pulser.outputs_low = True

    @property
    def running(self) -> bool:
        return self.connected and self._state.pulser.running


def _shot_blocks(elements: Any) -> int:
    """Blocks of a resolved shot with its repeats expanded (what the simulator evolves)."""
    from ...pulses.program import ResolvedRepeat

    return sum(el.count * _shot_blocks(el.body) if isinstance(el, ResolvedRepeat) else 1
               for el in elements)
