"""Cobolt (HÜBNER Photonics) 06-01 series (06-MLD, 06-DPL) and 04-01 series (DPSS) lasers.

Commands from the *Cobolt 06-01 Series Owner's Manual* and the *Cobolt 04-01 Series Owner's
Manual*, chapter "Communication commands" (cross-checked against the Qudi, ImSwitch
``Cobolt0601`` and PYME Cobolt drivers):

- RS-232 / USB virtual COM port: 115200 baud, 8N1; commands end in CR, replies in CR LF.
  Every command is answered: ``OK`` after a setting, the value after a query, or a message
  such as ``Syntax error: illegal command``.
- Both series: ``l1``/``l0`` laser on/off (off keeps the head temperature-controlled),
  ``l?``, ``p <W>``/``p?`` output power set point in W, ``pa?`` measured power in W,
  ``ilk?`` interlock (0 closed, 1 open), ``f?`` operating fault (:data:`FAULTS`), ``cf`` clear
  fault, ``@cobas 0`` disable autostart (emission only on command), ``@cob1`` restart after
  an interlock opening (forces the autostart sequence; not used: ``l1`` is enough with
  autostart off), ``sn?`` serial number, ``gmlp?`` the maximum (rated) laser power in mW
  (the Cobolt Micro-Manager adapter and python-microscope's ``CoboltLaser`` read the power
  range from it).
- 06-01 only: ``cp`` constant-power mode, the counterpart of ``em`` (modulation mode); the
  04-01 DPSS lasers have no modulation modes, so ``cp`` is sent to 06-01 lasers only.
- The power limit is the rating the laser reports (``gmlp?``); a ``max_power`` in the bench
  entry is a further upper limit (the optics after the laser may take less), and the limit
  when a laser does not answer ``gmlp?``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from ...units import format_quantity, parse_quantity
from ..errors import InstrumentError
from ..protocols import LaserLimits
from ..snapshot import quantity_value
from .laser_base import LaserDriver
from .visa_base import DriverDescription, SerialSettings, Setting, parse_float

__all__ = ["FAULTS", "Cobolt"]

log = logging.getLogger(__name__)

#: ``f?`` fault codes (owner's manuals, "Communication commands").
FAULTS: dict[int, str] = {
    0: "no fault", 1: "temperature error", 3: "interlock error",
    4: "constant power time out",
}


def _parse_01(reply: str) -> bool:
    text = reply.strip()
    if text not in ("0", "1"):
        raise ValueError(reply)
    return text == "1"


class Cobolt(LaserDriver):
    """Cobolt laser: power set point, emission on/off.

    Parameters
    ----------
    max_power
        Upper power limit (W, or e.g. ``"100 mW"``), optional: the laser's own rating
        (``gmlp?``, read at :meth:`connect`) is the limit, and ``max_power`` lowers it.  A laser
        that does not report its rating needs it.
    series
        ``"06-01"`` (diode / diode-pumped modules, default) or ``"04-01"`` (DPSS).

    Notes
    -----
    The other parameters are those of
    :class:`~nvsense.instruments.drivers.visa_base.VisaInstrument`.
    """

    description = DriverDescription(
        kind="laser",
        summary="Cobolt 06-01 (MLD/DPL) and 04-01 (DPSS) series lasers, RS-232 or USB",
        models=("06-01", "04-01"),
        manual="Cobolt 06-01 / 04-01 Series Owner's Manuals, 'Communication commands'",
        connections=("ASRL/dev/ttyUSB1::INSTR", "ASRL5::INSTR"))
    read_termination = "\r\n"
    write_termination = "\r"
    serial = SerialSettings(baud_rate=115200)

    power = Setting(
        "p?", "p {value}", format="{:.4f}".format,
        check=lambda self, v: self.check_power(v), tolerance=0.5e-4 + 1e-9, unit="W",
        doc="Output power set point in W (``p``, 0.1 mW steps).")

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, max_power: float | str | None = None,
                 series: Literal["06-01", "04-01"] = "06-01",
                 resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, resource_manager=resource_manager)
        limit = None
        if max_power is not None:
            limit = parse_quantity(max_power, "W", name=f"instruments.{name}.max_power")
            if not limit > 0:
                raise ValueError(f"{name}: max_power must be positive (an upper limit, "
                                 f"e.g. '100 mW')")
        if series not in ("06-01", "04-01"):
            raise ValueError(f"{name}: series must be '06-01' or '04-01', not {series!r}")
        #: The bench entry's upper limit in W (``None``: the laser's rating alone).
        self.max_power: float | None = limit
        #: The rating the laser reported at connect (``gmlp?``), in W.
        self.rated_power: float | None = None
        self.series = series
        # Known before connecting when the bench gives it; the rating may lower it.
        self._limits = LaserLimits(0.0, limit) if limit is not None else None

    # --- every command is answered ----------------------------------------------------------

    def write(self, command: str, *, check: bool = True) -> None:
        """Send a setting and read its ``OK``."""
        with self._lock:
            self.send(command)
            reply = self.read(command)
            if reply.upper() != "OK":
                raise InstrumentError(self.name, command, f"laser replies {reply!r}")

    def query(self, command: str) -> str:
        """Send a query; a reply naming an error raises."""
        with self._lock:
            self.send(command)
            reply = self.read(command)
            if "error" in reply.lower():
                raise InstrumentError(self.name, command, f"laser replies {reply!r}")
            return reply

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        try:
            serial = self.query("sn?")
        except InstrumentError as exc:
            raise InstrumentError(self.name, "sn?", f"{self.address} is not a Cobolt laser "
                                                    f"or does not answer: {exc.cause}") from exc
        if not serial.isdigit():
            raise InstrumentError(self.name, "sn?",
                                  f"{self.address} answers {serial!r}, not a Cobolt laser")
        self.rated_power = self._read_rating()
        limits = [p for p in (self.rated_power, self.max_power) if p is not None]
        self._limits = LaserLimits(0.0, min(limits))
        if self.rated_power is not None and self.max_power is not None \
                and self.max_power > self.rated_power:
            log.info("%s: max_power %s is above the laser's rating %s; the rating applies",
                     self.name, format_quantity(self.max_power, "W"),
                     format_quantity(self.rated_power, "W"))
        return f"Cobolt {self.series} laser, s/n {serial}"

    def _read_rating(self) -> float | None:
        """The maximum laser power the laser reports (``gmlp?``, in mW), in W.

        A laser without ``gmlp?`` (or with an unreadable reply) is accepted when the bench
        entry gives ``max_power``; otherwise connecting fails and says to give it.
        """
        try:
            reply = self.query("gmlp?")
            rated = float(reply) * 1e-3
            if not (math.isfinite(rated) and rated > 0):
                raise ValueError(reply)
        except (InstrumentError, ValueError) as exc:
            cause = exc.cause if isinstance(exc, InstrumentError) else f"reply {exc}"
            if self.max_power is None:
                raise InstrumentError(
                    self.name, "gmlp?",
                    f"the laser does not report its rated power ({cause}); give it in the "
                    f"bench entry, e.g. max_power: \"100 mW\"") from exc
            log.info("%s: no rated power from gmlp? (%s); using max_power %s", self.name,
                     cause, format_quantity(self.max_power, "W"))
            return None
        return rated

    def _initialize(self) -> None:
        self.write("@cobas 0")
        self.on = False
        if self.series == "06-01":
            self.write("cp")

    # --- emission ---------------------------------------------------------------------------

    @property
    def interlock_closed(self) -> bool:
        """Whether the interlock allows emission (``ilk?`` 0)."""
        return not self.query_value("ilk?", _parse_01)

    @property
    def fault(self) -> int:
        """Operating fault code (``f?``; 0 none, see :data:`FAULTS`)."""
        return self.query_value("f?", lambda r: int(float(r)))

    def clear_fault(self) -> None:
        """Clear a latched fault (``cf``)."""
        self.write("cf")

    @property
    def on(self) -> bool:
        """Emission on (``l?``)."""
        return self.query_value("l?", _parse_01)

    @on.setter
    def on(self, value: bool) -> None:
        with self._lock:
            if value:
                if not self.interlock_closed:
                    raise InstrumentError(self.name, "l1", "the interlock is open")
                fault = self.fault
                if fault:
                    raise InstrumentError(self.name, "l1",
                                          f"fault {fault} ({FAULTS.get(fault, 'unknown')}); "
                                          f"fix it, then call clear_fault()")
            command = "l1" if value else "l0"
            self.write(command)
            if self.on != bool(value):
                raise InstrumentError(self.name, command,
                                      f"l? reads back {'off' if value else 'on'}")

    def _snapshot_state(self) -> dict[str, Any]:
        return {**super()._snapshot_state(),
                "measured_power": quantity_value(self.measured_power, "W"),
                "rated_power": quantity_value(self.rated_power, "W"),
                "max_power": quantity_value(self.max_power, "W"),
                "series": self.series,
                "interlock_closed": self.interlock_closed,
                "fault": self.fault}

    @property
    def measured_power(self) -> float:
        """Output power in W as the laser measures it (``pa?``)."""
        return self.query_value("pa?", parse_float)
