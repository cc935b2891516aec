"""What the laser drivers share: power limits, standby, the safe state."""

from __future__ import annotations

import logging
from typing import Any, Literal

from ...units import format_quantity
from ..errors import InstrumentError, LimitError
from ..limits import out_of_range
from ..protocols import LaserLimits
from ..snapshot import limits_snapshot, quantity_value
from .visa_base import VisaInstrument, is_number

__all__ = ["LaserDriver"]

log = logging.getLogger(__name__)


class LaserDriver(VisaInstrument):
    """Base of the laser drivers (:class:`~nvsense.instruments.protocols.Laser`).

    Drivers set ``_limits`` in ``_identify`` (from the laser or the bench entry) and provide
    the ``power`` and ``on`` properties.
    """

    _limits: LaserLimits | None = None

    @property
    def limits(self) -> LaserLimits:
        """Power range in W the laser accepts."""
        if self._limits is None:
            raise InstrumentError(self.name, "limits", "not connected; call connect() first")
        return self._limits

    def check_power(self, value: float) -> None:
        """Raise ``LimitError`` unless ``value`` (W) is inside :attr:`limits`."""
        lim = self.limits
        if not is_number(value):
            raise LimitError(f"{self.name}: laser power must be a finite number in W, "
                             f"not {value!r}; nothing was sent", quantity="laser_power",
                             value=value, unit="W", instrument=self.name)
        number = float(value)
        if not lim.power_min <= number <= lim.power_max:
            raise out_of_range(f"{self.name}: laser power {format_quantity(number, 'W')} is "
                               f"outside {format_quantity(lim.power_min, 'W')} to "
                               f"{format_quantity(lim.power_max, 'W')}; nothing was sent",
                               quantity="laser_power", value=number, low=lim.power_min,
                               high=lim.power_max, unit="W", instrument=self.name)

    def _snapshot_state(self) -> dict[str, Any]:
        """Power set-point and emission read back; the power range."""
        return {"power": quantity_value(self.power, "W"),  # type: ignore[attr-defined]
                "on": bool(self.on),  # type: ignore[attr-defined]
                "limits": limits_snapshot(self.limits)}

    def standby(self) -> None:
        """Emission off, laser kept warm (the laser's ``off`` keeps its temperature control)."""
        self.on = False  # type: ignore[attr-defined]

    def safe(self, mode: Literal["off", "standby"] = "off") -> None:
        """Emission off (both modes: the laser's off state keeps it temperature-controlled).

        Does nothing if not connected; raises :class:`InstrumentError` only if the laser is
        reachable but does not confirm that emission is off.
        """
        if mode not in ("off", "standby"):
            raise ValueError(f"{self.name}: safe mode must be 'off' or 'standby', not {mode!r}")
        if not self.connected:
            return
        try:
            if mode == "standby":
                self.standby()
            else:
                self.on = False  # type: ignore[attr-defined]
        except InstrumentError as exc:
            raise InstrumentError(self.name, f"safe({mode!r})",
                                  f"emission may still be on: {exc.cause}") from exc
