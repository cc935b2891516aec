"""Simulated gated counter: counts in the readout windows of the simulated pulser's program."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..errors import InstrumentError
from ..gated_counter import check_gated_configuration
from .base import SimulatedInstrument
from .pulsed import SpinConfig, pulsed_state
from .sample import SimulatedSample

__all__ = ["SimulatedGatedCounter"]

#: Most values (windows × passes) one read may count (like a Time Tagger buffer).
MAX_VALUES = 100_000_000


class SimulatedGatedCounter(SimulatedInstrument):
    """Photon counts per readout window, from the spin simulation of the sample.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample.
    spin
        Spin parameters (:class:`~nvsense.instruments.simulated.pulsed.SpinConfig`, or a
        mapping with units such as ``{"t2": "50 us", "readout_contrast": 0.3}``).

    Notes
    -----
    :meth:`read` needs the simulated pulser to have been started after :meth:`arm` (with at
    least ``passes`` repetitions, or until stopped); it advances the simulated clock by the
    time the passes take.
    """

    model: ClassVar[str] = "SimulatedGatedCounter"
    slot: ClassVar[str] = "gated_counter"

    def __init__(self, name: str = "gated_counter", sample: SimulatedSample | None = None, *,
                 spin: Mapping[str, Any] | SpinConfig | None = None) -> None:
        super().__init__(name, sample)
        self._state = pulsed_state(
            self.sample, SpinConfig.from_mapping(spin, f"instruments.{name}.spin")
            if spin is not None else None)
        self._config: tuple[int, int] | None = None
        self._armed_at: int | None = None

    @property
    def spin(self) -> SpinConfig:
        """The sample's spin parameters (settable)."""
        return self._state.spin

    @spin.setter
    def spin(self, value: Mapping[str, Any] | SpinConfig) -> None:
        self._state.spin = SpinConfig.from_mapping(value, f"instruments.{self.name}.spin")

    @property
    def configuration(self) -> dict[str, int] | None:
        """``{"windows_per_pass", "passes"}`` of the last :meth:`configure`, or ``None``."""
        if self._config is None:
            return None
        return {"windows_per_pass": self._config[0], "passes": self._config[1]}

    def _snapshot_state(self) -> dict[str, object]:
        return {"configuration": self.configuration, "armed": self._armed_at is not None}

    def configure(self, windows_per_pass: int, passes: int) -> None:
        check_gated_configuration(self.name, windows_per_pass, passes, MAX_VALUES)
        self._require("configure")
        self._config = (int(windows_per_pass), int(passes))
        self._armed_at = None

    def arm(self) -> None:
        self._require("arm")
        if self._config is None:
            raise InstrumentError(self.name, "arm", "not configured; call configure() first")
        self._armed_at = self._state.pulser.starts

    def read(self, timeout: float | None = None) -> NDArray[np.float64]:
        self._require("read")
        if self._config is None or self._armed_at is None:
            raise InstrumentError(self.name, "read", "not armed; call configure() and arm() "
                                  "before starting the pulser")
        windows, passes = self._config
        pulser = self._state.pulser
        compiled = pulser.compiled
        sample = self.sample
        if compiled is None or pulser.starts == self._armed_at:
            wait = 0.0 if timeout is None else timeout
            sample.advance(wait)
            raise InstrumentError(self.name, "read", "timed out: no gate windows arrived (the "
                                  "pulser was not started after arm())")
        program = compiled.program
        if program.windows_per_pass != windows:
            raise InstrumentError(
                self.name, "read", f"the pulser's program has {program.windows_per_pass} gate "
                f"windows per pass, the counter was configured for {windows}")
        played = pulser.repetitions
        pass_time = program.pass_duration_ns * 1e-9
        duration = passes * pass_time
        if played is not None and played < passes:
            sample.advance(played * pass_time)
            pulser.running = False
            raise InstrumentError(self.name, "read", f"timed out after {played * windows} of "
                                  f"{passes * windows} windows (the pulser played {played} "
                                  f"passes; start it for at least {passes})")
        if timeout is not None and duration > timeout:
            sample.advance(timeout)
            raise InstrumentError(self.name, "read", f"timed out after {timeout:g} s (the "
                                  f"{passes} passes take {duration:g} s; give a longer timeout)")
        with sample.lock:
            self._require("read", at=sample.now() + duration)
            counts = self._state.draw_counts(program, passes)
            sample.advance(duration)
        if played is not None:
            pulser.running = False
        self._armed_at = None
        return counts

    def safe(self) -> None:
        self._armed_at = None
