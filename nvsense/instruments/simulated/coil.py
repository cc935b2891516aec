"""Simulated bias-coil supply: its current adds ``coil_constant × I`` along ``coil_direction``."""

from __future__ import annotations

from typing import Any, ClassVar

from ...units import parse_quantity
from ..limits import check_coil_current
from ..protocols import CoilLimits
from ..snapshot import limits_snapshot, quantity_value
from .base import SimulatedInstrument
from .sample import SimulatedSample

__all__ = ["SimulatedCoil"]


class SimulatedCoil(SimulatedInstrument):
    """A bipolar current supply driving a coil around the simulated sample.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample (``sample.coil_constant`` and ``coil_direction`` give the field).
    max_current
        Largest |current| (default 3 A).
    """

    model: ClassVar[str] = "SimulatedCoil"
    slot: ClassVar[str] = "coil"

    def __init__(self, name: str = "coil", sample: SimulatedSample | None = None, *,
                 max_current: Any = "3 A") -> None:
        super().__init__(name, sample)
        high = parse_quantity(max_current, "A", name=f"instruments.{name}.max_current")
        if not high > 0:
            raise ValueError(f"instruments.{name}.max_current must be positive, "
                             f"not {max_current!r}")
        self._limits = CoilLimits(-high, high)
        self._state = self.sample.coil

    @property
    def limits(self) -> CoilLimits:
        """Current range in A."""
        return self._limits

    @property
    def current(self) -> float:
        """Current set-point in A."""
        self._require("CURR?")
        return self._state.current

    @current.setter
    def current(self, value: float) -> None:
        value = float(value)
        check_coil_current(value, instrument=self._limits, bench=None, who=self.name)
        self._require(f"CURR {value:.6g}")
        with self.sample.lock:
            self._state.current = value

    @property
    def output(self) -> bool:
        """Output on (current flows) or off."""
        self._require("OUTP?")
        return self._state.output

    @output.setter
    def output(self, value: bool) -> None:
        self._require(f"OUTP {'ON' if value else 'OFF'}")
        with self.sample.lock:
            self._state.output = bool(value)

    def _snapshot_state(self) -> dict[str, Any]:
        return {"current": quantity_value(self._state.current, "A"),
                "output": self._state.output, "limits": limits_snapshot(self._limits)}

    def safe(self) -> None:
        """Output off."""
        self.output = False
