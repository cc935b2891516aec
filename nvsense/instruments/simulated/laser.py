"""Simulated excitation laser: power set-point, emission, standby."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from ...units import parse_quantity
from ..limits import check_laser_power
from ..protocols import LaserLimits
from ..snapshot import limits_snapshot, quantity_value
from .base import SimulatedInstrument
from .sample import SimulatedSample

__all__ = ["SimulatedLaser"]


class SimulatedLaser(SimulatedInstrument):
    """A laser exciting the simulated sample (count rate follows its power).

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample.
    max_power
        Highest set-point (default 1 W).
    has_standby
        Whether :meth:`standby` keeps the laser warm (otherwise it is the same as off).
    """

    model: ClassVar[str] = "SimulatedLaser"
    slot: ClassVar[str] = "laser"

    def __init__(self, name: str = "laser", sample: SimulatedSample | None = None, *,
                 max_power: Any = "1 W", has_standby: bool = True) -> None:
        super().__init__(name, sample)
        high = parse_quantity(max_power, "W", name=f"instruments.{name}.max_power")
        if not high > 0:
            raise ValueError(f"instruments.{name}.max_power must be positive, not {max_power!r}")
        self._limits = LaserLimits(0.0, high)
        self._has_standby = bool(has_standby)
        self._state = self.sample.laser

    @property
    def limits(self) -> LaserLimits:
        """Power range in W."""
        return self._limits

    @property
    def power(self) -> float:
        """Set-point power in W."""
        self._require("POW?")
        return self._state.power

    @power.setter
    def power(self, value: float) -> None:
        value = float(value)
        check_laser_power(value, instrument=self._limits, bench=None, who=self.name)
        self._require(f"POW {value:.6g}")
        with self.sample.lock:
            self._state.power = value

    @property
    def on(self) -> bool:
        """Emission on (False when off or in standby)."""
        self._require("STATE?")
        return self._state.on

    @on.setter
    def on(self, value: bool) -> None:
        self._require(f"STATE {'ON' if value else 'OFF'}")
        with self.sample.lock:
            self._state.on = bool(value)
            self._state.standby = False

    def _snapshot_state(self) -> dict[str, Any]:
        return {"power": quantity_value(self._state.power, "W"), "on": self._state.on,
                "standby": self._state.standby, "has_standby": self._has_standby,
                "limits": limits_snapshot(self._limits)}

    @property
    def in_standby(self) -> bool:
        """Whether the laser is in standby (not part of the protocol)."""
        return self._state.standby

    def standby(self) -> None:
        """Emission off, laser kept warm (plain off without ``has_standby``)."""
        self._require("STANDBY")
        with self.sample.lock:
            self._state.on = False
            self._state.standby = self._has_standby

    def safe(self, mode: Literal["off", "standby"] = "off") -> None:
        """Emission off, or standby."""
        if mode == "standby":
            self.standby()
        else:
            self.on = False
