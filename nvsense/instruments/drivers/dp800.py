"""Rigol DP800-series programmable DC power supplies (DP811, DP821, DP831, DP832) as coil drivers.

Commands from the *RIGOL DP800 Series Programming Guide*, chapters ":OUTPut", ":SOURce",
":MEASure" and ":SYSTem":

- LAN (VXI-11 ``TCPIP0::<ip>::inst0::INSTR`` or socket port 5555), USB-TMC, RS-232; messages
  end in LF.  ``*IDN?`` -> ``RIGOL TECHNOLOGIES,DP832,DP8C<serial>,00.01.14``.
- ``:SOUR<n>:CURR <A>`` / ``?`` current set point, ``:SOUR<n>:VOLT <V>`` / ``?`` voltage set
  point (the compliance limit of a coil in constant-current operation),
  ``:OUTP CH<n>,ON|OFF`` and ``:OUTP? CH<n>`` (``ON``/``OFF``), ``:MEAS:CURR? CH<n>`` the
  measured current, ``:SYST:ERR?`` the SCPI error queue.
"""

from __future__ import annotations

from typing import Any

from ...units import format_quantity, parse_quantity
from ..errors import InstrumentError
from ..limits import out_of_range
from ..protocols import CoilLimits
from ..snapshot import limits_snapshot, quantity_value
from .visa_base import (
    DriverDescription,
    ScpiErrorQueue,
    Setting,
    VisaInstrument,
    format_on_off,
    is_number,
    parse_bool,
    parse_float,
)

__all__ = ["DP800"]

#: Channel ratings (programming guide / data sheet): model -> {channel: (V max, A max)}.
RATINGS: dict[str, dict[int, tuple[float, float]]] = {
    "DP811": {1: (20.0, 10.0)},
    "DP821": {1: (60.0, 1.0), 2: (8.0, 10.0)},
    "DP831": {1: (8.0, 5.0), 2: (30.0, 2.0), 3: (30.0, 2.0)},
    "DP832": {1: (30.0, 3.0), 2: (30.0, 3.0), 3: (5.0, 3.0)},
}


class DP800(ScpiErrorQueue, VisaInstrument):
    """One channel of a Rigol DP800 driving a bias coil (:class:`CoilSupply`).

    Parameters
    ----------
    channel
        Output channel (1, 2 or 3, as the model has).
    voltage
        Voltage set point (V, or e.g. ``"12 V"``) written at connect: the compliance limit
        while the coil runs in constant current.  ``None`` leaves the instrument's setting.
    current_max
        Narrower upper current limit than the channel rating (A).

    Notes
    -----
    The other parameters are those of
    :class:`~nvsense.instruments.drivers.visa_base.VisaInstrument`.
    """

    description = DriverDescription(
        kind="coil",
        summary="Rigol DP800-series DC power supply (one channel drives the coil)",
        models=tuple(RATINGS),
        manual="RIGOL DP800 Series Programming Guide",
        connections=("TCPIP0::10.0.0.14::inst0::INSTR", "TCPIP0::10.0.0.14::5555::SOCKET",
                     "USB0::0x1AB1::0x0E11::DP8C000000000::INSTR"))
    read_termination = "\n"
    write_termination = "\n"

    current = Setting(
        ":SOUR{channel}:CURR?", ":SOUR{channel}:CURR {value}", format="{:.3f}".format,
        check=lambda self, v: self.check_current(v), tolerance=0.0005 + 1e-9, unit="A",
        doc="Current set point in A (1 mA resolution).")
    output = Setting(
        ":OUTP? CH{channel}", ":OUTP CH{channel},{value}", parse=parse_bool,
        format=format_on_off, doc="Channel output on/off.")

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, channel: int = 1, voltage: float | str | None = None,
                 current_max: float | str | None = None, resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, resource_manager=resource_manager)
        if channel not in (1, 2, 3):
            raise ValueError(f"{name}: channel must be 1, 2 or 3, not {channel!r}")
        self.channel = channel
        self.voltage = (None if voltage is None
                        else parse_quantity(voltage, "V", name=f"instruments.{name}.voltage"))
        self.current_max = (None if current_max is None else
                            parse_quantity(current_max, "A",
                                           name=f"instruments.{name}.current_max"))
        self._rating: tuple[float, float] | None = None

    def command_fields(self) -> dict[str, Any]:
        return {"channel": self.channel}

    @property
    def limits(self) -> CoilLimits:
        """Current range in A: 0 to the channel rating (or ``current_max``); unipolar."""
        if self._rating is None:
            raise InstrumentError(self.name, "limits",
                                  "the model is known once connected; call connect() first")
        high = self._rating[1] if self.current_max is None else self.current_max
        return CoilLimits(0.0, high)

    def check_current(self, value: float) -> None:
        """Raise ``LimitError`` unless ``value`` (A) is inside :attr:`limits`."""
        low, high = self.limits.current_min, self.limits.current_max
        if not (is_number(value) and low <= value <= high):
            raise out_of_range(f"{self.name}: coil current {value!r} A is outside "
                               f"{format_quantity(low, 'A')} to {format_quantity(high, 'A')}; "
                               f"nothing was sent", quantity="coil_current", value=value,
                               low=low, high=high, unit="A", instrument=self.name)

    def _identify(self) -> str:
        self.write("*CLS")
        idn = self.query("*IDN?")
        fields = [f.strip() for f in idn.split(",")]
        model = fields[1].upper() if len(fields) > 1 else ""
        if not fields[0].upper().startswith("RIGOL") or model not in RATINGS:
            raise InstrumentError(self.name, "*IDN?",
                                  f"{self.address} answers {idn!r}, not a Rigol DP800")
        if self.channel not in RATINGS[model]:
            raise InstrumentError(self.name, "*IDN?",
                                  f"the {model} has no channel {self.channel}")
        self._rating = RATINGS[model][self.channel]
        if self.current_max is not None and not 0 < self.current_max <= self._rating[1]:
            raise InstrumentError(self.name, "current_max",
                                  f"{self.current_max} A is outside the {model} channel "
                                  f"{self.channel} rating of {self._rating[1]} A")
        if self.voltage is not None and not 0 <= self.voltage <= self._rating[0]:
            raise InstrumentError(self.name, "voltage",
                                  f"{self.voltage} V is outside the {model} channel "
                                  f"{self.channel} rating of {self._rating[0]} V")
        return idn

    def _initialize(self) -> None:
        self.output = False
        if self.voltage is not None:
            self.set_checked(f":SOUR{self.channel}:VOLT {self.voltage:.3f}",
                             f":SOUR{self.channel}:VOLT?", self.voltage,
                             tolerance=0.0005 + 1e-9)

    def _snapshot_state(self) -> dict[str, Any]:
        """Current set-point, output, measured current and compliance voltage read back."""
        ch = self.channel
        return {"channel": ch,
                "current": quantity_value(self.current, "A"),
                "output": bool(self.output),
                "measured_current": quantity_value(self.measured_current, "A"),
                "voltage": quantity_value(self.query_value(f":SOUR{ch}:VOLT?"), "V"),
                "limits": limits_snapshot(self.limits)}

    @property
    def measured_current(self) -> float:
        """Output current in A as the supply measures it."""
        return self.query_value(f":MEAS:CURR? CH{self.channel}", parse_float)

    def safe(self) -> None:
        """Output off; does nothing if not connected."""
        if not self.connected:
            return
        try:
            self.output = False
        except InstrumentError as exc:
            raise InstrumentError(self.name, "safe(): output off",
                                  f"the coil may still be driven: {exc.cause}") from exc
