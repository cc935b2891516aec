"""Coherent OBIS lasers (LX/LS, FP), USB virtual COM port or RS-232.

Commands from the *OBIS LX/LS Operator's Manual*, section "Host Interface" / "OBIS Command
Set" (SCPI-like), cross-checked against the Qudi ``coherent_obis_laser`` driver and an OBIS
C++ driver that implements the full handshake:

- Serial: 115200 baud, 8N1, no flow control; commands and replies end in CR LF.
- With handshaking on (``SYST:COMM:HAND ON``, the default) every command is answered:
  ``OK`` after a setting, the value line then ``OK`` after a query, or ``ERR-<code>``
  (:data:`ERROR_CODES`) instead.
- ``*IDN?`` -> ``Coherent, Inc - OBIS 405nm 100mW C - V1.0.1 - Dec 14 2010``.
- ``SOUR:AM:STAT ON|OFF`` emission (off keeps the laser in standby, temperature-controlled),
  ``SOUR:AM:INT CWP`` internal constant-power mode, ``SOUR:AM:SOUR?`` the mode,
  ``SOUR:POW:LEV:IMM:AMPL <W>`` / ``?`` power set point, ``SOUR:POW:LEV?`` measured power,
  ``SOUR:POW:LIM:LOW?`` / ``HIGH?`` power range (W), ``SYST:FAUL?`` fault code.
"""

from __future__ import annotations

from typing import Any

from ..errors import InstrumentError
from ..protocols import LaserLimits
from ..snapshot import quantity_value
from .laser_base import LaserDriver
from .visa_base import DriverDescription, SerialSettings, Setting, parse_bool, parse_float

__all__ = ["ERROR_CODES", "OBIS"]

#: OBIS ``ERR-<code>`` replies (manual, "Error codes").
ERROR_CODES: dict[int, str] = {
    0: "No error", 100: "Unrecognized command/query", 102: "Syntax error",
    109: "Missing parameter", 200: "Execution error", 203: "Command protected",
    220: "Invalid parameter", 221: "Settings conflict", 241: "Device unavailable",
    256: "File does not exist", 257: "File to open not named",
    310: "Unexpected/unrecoverable hardware or software fault", 321: "Out of memory",
    350: "Error queue is full", 400: "Broadcast of query is prohibited",
    500: "Coherent Connection bus error", 510: "I2C bus fault", 520: "Controller time out",
    900: "Coherent Connection message time out",
}


def _error_text(reply: str) -> str | None:
    """The meaning of an ``ERR-<code>`` reply, ``None`` for any other reply."""
    if not reply.upper().startswith("ERR"):
        return None
    digits = reply[3:].lstrip("-").strip()
    try:
        code = int(digits)
    except ValueError:
        return f"laser replies {reply!r}"
    return f"laser replies {reply} ({ERROR_CODES.get(code, 'unknown error')})"


class OBIS(LaserDriver):
    """Coherent OBIS laser: power set point, emission on/off (off is standby)."""

    description = DriverDescription(
        kind="laser",
        summary="Coherent OBIS laser (LX/LS), USB or RS-232",
        models=("OBIS",),
        manual="Coherent OBIS LX/LS Operator's Manual, 'OBIS Command Set'",
        connections=("ASRL/dev/ttyACM0::INSTR", "ASRL/dev/ttyUSB0::INSTR", "ASRL4::INSTR"))
    read_termination = "\r\n"
    write_termination = "\r\n"
    serial = SerialSettings(baud_rate=115200)

    power = Setting(
        "SOUR:POW:LEV:IMM:AMPL?", "SOUR:POW:LEV:IMM:AMPL {value}", format="{:.5f}".format,
        check=lambda self, v: self.check_power(v),
        # The set point is quantised by the laser; accept 0.1 % of the rated power.
        tolerance=lambda self, v: 5e-6 + 1e-3 * self.limits.power_max, unit="W",
        doc="Power set point in W (``SOUR:POW:LEV:IMM:AMPL``).")

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, resource_manager=resource_manager)

    # --- the handshake ----------------------------------------------------------------------

    def write(self, command: str, *, check: bool = True) -> None:
        """Send a setting and read its ``OK`` (``ERR-...`` raises)."""
        with self._lock:
            self.send(command)
            self._expect_ok(command, self.read(command))

    def query(self, command: str) -> str:
        """Send a query, read the value and the ``OK`` that follows it."""
        with self._lock:
            self.send(command)
            reply = self.read(command)
            error = _error_text(reply)
            if error:
                raise InstrumentError(self.name, command, error)
            self._expect_ok(command, self.read(command))
            return reply

    def _expect_ok(self, command: str, reply: str) -> None:
        if reply.upper() == "OK":
            return
        raise InstrumentError(self.name, command,
                              _error_text(reply) or f"expected OK, laser replies {reply!r}")

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        self.write("SYST:COMM:HAND ON")
        idn = self.query("*IDN?")
        if "OBIS" not in idn.upper():
            raise InstrumentError(self.name, "*IDN?",
                                  f"{self.address} answers {idn!r}, not a Coherent OBIS")
        low = self.query_value("SOUR:POW:LIM:LOW?")
        high = self.query_value("SOUR:POW:LIM:HIGH?")
        if not 0 <= low < high:
            raise InstrumentError(self.name, "SOUR:POW:LIM:HIGH?",
                                  f"implausible power range {low} W to {high} W")
        self._limits = LaserLimits(low, high)
        return idn

    def _initialize(self) -> None:
        self.on = False
        self.set_checked("SOUR:AM:INT CWP", "SOUR:AM:SOUR?", "CWP", parse=str.upper)

    # --- emission ---------------------------------------------------------------------------

    @property
    def on(self) -> bool:
        """Emission on (``SOUR:AM:STAT``); off leaves the laser in standby."""
        return self.query_value("SOUR:AM:STAT?", parse_bool)

    @on.setter
    def on(self, value: bool) -> None:
        command = f"SOUR:AM:STAT {'ON' if value else 'OFF'}"
        with self._lock:
            self.write(command)
            if self.on != bool(value):
                fault = self.query("SYST:FAUL?")
                raise InstrumentError(self.name, command,
                                      f"emission reads back {'off' if value else 'on'} "
                                      f"(SYST:FAUL? {fault})")

    def _snapshot_state(self) -> dict[str, Any]:
        return {**super()._snapshot_state(),
                "measured_power": quantity_value(self.measured_power, "W")}

    @property
    def measured_power(self) -> float:
        """Output power in W as the laser measures it (``SOUR:POW:LEV?``)."""
        return self.query_value("SOUR:POW:LEV?", parse_float)
