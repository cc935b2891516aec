"""What the SCPI-style microwave sources share: CW frequency, power and output, written once.

The SG384, SMB100A and N5181B set their CW frequency, power and RF output the same way: a
command with a value, a query that reads it back, a fixed number of decimals (the instrument's
resolution).  Only the command names and the decimals differ, so each driver states them in
:class:`SourceCommands` and this base class builds the three read-back-checked
:class:`~nvsense.instruments.drivers.visa_base.Setting` attributes from them.  It also reads
the ``*IDN?`` reply and refuses another instrument at the address.

The SMB100A and N5181B also share the SCPI subsystems beyond CW: ``FM:DEV``/``FM:STAT``, a
switch of all modulation, a frequency list read back as comma-separated values, an external
list trigger with a selectable edge, and the ``SYST:ERR?`` queue.
:class:`ScpiSubsystemSource` writes these once; the drivers state the command headers that
differ (``OUTP:MOD`` or ``MOD:STAT``, which FM input and rate command).  The SG384 has its own
commands for all of them and keeps :class:`ScpiMicrowaveSource` only.

The Windfreak SynthHD speaks a single-character protocol, not SCPI, and derives from
:class:`~nvsense.instruments.drivers.microwave_base.MicrowaveDriver` directly.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InstrumentError
from ..snapshot import quantity_value
from .microwave_base import MicrowaveDriver
from .visa_base import ScpiErrorQueue, Setting, format_on_off, parse_bool

__all__ = ["ScpiMicrowaveSource", "ScpiSubsystemSource", "SourceCommands", "format_csv",
           "parse_csv"]


def format_csv(values: NDArray[np.float64], fmt: str) -> str:
    """Numbers as a comma-separated list (``LIST:FREQ f1,f2,...``), each with ``fmt``."""
    return ",".join(fmt.format(v) for v in values)


def parse_csv(reply: str) -> NDArray[np.float64]:
    """A comma-separated list of numbers (a ``LIST:FREQ?`` reply) as an array."""
    return np.array([float(v) for v in reply.split(",")], dtype=np.float64)


@dataclass(frozen=True)
class SourceCommands:
    """The CW commands of a source (each also a query with ``?``).

    Attributes
    ----------
    frequency, power, output
        Command headers (``"FREQ"``, ``"POW"``, ``"OUTP"``).
    frequency_decimals, power_decimals
        Digits after the point the instrument takes (Hz, dBm): its resolution, which is also
        the read-back tolerance (half a step).
    output_format
        ``True``/``False`` as the instrument writes it (``"ON"``/``"OFF"`` or ``"1"``/``"0"``).
    """

    frequency: str = "FREQ"
    frequency_decimals: int = 3
    power: str = "POW"
    power_decimals: int = 2
    output: str = "OUTP"
    output_format: Callable[[bool], str] = format_on_off


def _cw_settings(c: SourceCommands) -> dict[str, Setting]:
    f_step, p_step = 10.0 ** -c.frequency_decimals, 10.0 ** -c.power_decimals
    return {
        "frequency": Setting(
            f"{c.frequency}?", f"{c.frequency} {{value}}",
            format=f"{{:.{c.frequency_decimals}f}}".format,
            check=lambda self, v: self.check_frequency(v),
            tolerance=lambda self, v: 0.5 * f_step + 1e-15 * abs(v), unit="Hz",
            doc=f"CW frequency in Hz (``{c.frequency}``), read back with "
                f"``{c.frequency}?``."),
        "power": Setting(
            f"{c.power}?", f"{c.power} {{value}}", format=f"{{:.{c.power_decimals}f}}".format,
            check=lambda self, v: self.check_power(v), tolerance=0.5 * p_step + 1e-9,
            unit="dBm", doc=f"RF output power in dBm (``{c.power}``)."),
        "output": Setting(
            f"{c.output}?", f"{c.output} {{value}}", parse=parse_bool, format=c.output_format,
            doc=f"RF output on/off (``{c.output}``)."),
    }


class ScpiMicrowaveSource(MicrowaveDriver):
    """Base of the SCPI-style microwave sources (SG384, SMB100A, N5181B).

    A subclass sets :attr:`commands` (and :attr:`manufacturers`, :attr:`instrument_kind` for
    the identification check); ``frequency``, ``power`` and ``output`` follow.
    """

    #: The CW commands; a subclass states its own.
    commands: ClassVar[SourceCommands] = SourceCommands()
    #: How the ``*IDN?`` reply's first field may start (lower case).
    manufacturers: ClassVar[tuple[str, ...]] = ()
    #: The instrument in words, for "<address> answers ..., not <instrument_kind>".
    instrument_kind: ClassVar[str] = "the expected instrument"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, setting in _cw_settings(cls.commands).items():
            if name not in cls.__dict__:  # a driver may still define its own
                setting.__set_name__(cls, name)
                setattr(cls, name, setting)

    def _read_idn(self) -> tuple[str, str]:
        """Clear the status (``*CLS``), read ``*IDN?``; return (reply, model).

        Raises
        ------
        InstrumentError
            Another instrument answers, or not the ``model`` the bench entry asks for.
        """
        self.write("*CLS")
        idn = self.query("*IDN?")
        fields = [f.strip() for f in idn.split(",")]
        model = fields[1].upper() if len(fields) > 1 else ""
        known = {m.upper() for m in self.description.models}
        if not fields[0].lower().startswith(self.manufacturers) or model not in known:
            raise InstrumentError(self.name, "*IDN?", f"{self.address} answers {idn!r}, not "
                                                      f"{self.instrument_kind}")
        if self.model is not None and model != self.model.upper():
            raise InstrumentError(self.name, "*IDN?",
                                  f"expected an {self.model}, found an {model} ({idn!r})")
        return idn, model


class ScpiSubsystemSource(ScpiErrorQueue, ScpiMicrowaveSource):
    """Base of the sources with the SCPI FM, list-trigger and error-queue subsystems
    (SMB100A, N5181B).

    A subclass sets :attr:`modulation_switch`, the FM limits, and writes its FM input in
    :meth:`_select_fm_source`; it sets ``trigger_slope`` (``"positive"``/``"negative"``) in its
    constructor.
    """

    #: The header switching all modulation on and off (``"OUTP:MOD"``, ``"MOD:STAT"``).
    modulation_switch: ClassVar[str] = "OUTP:MOD"
    #: Largest FM deviation and internal FM rate (Hz), from the data sheet.
    fm_max_deviation: ClassVar[float] = 0.0
    fm_max_rate: ClassVar[float] = 0.0

    trigger_slope: Literal["positive", "negative"]

    def _initialize(self) -> None:
        # Known state: RF off, CW (no list stepping), no modulation.
        self.output = False
        self.stop_list()
        self._set_modulation(False)

    def _set_modulation(self, on: bool) -> None:
        switch = self.modulation_switch
        self.set_checked(f"{switch} {'ON' if on else 'OFF'}", f"{switch}?", on,
                         parse=parse_bool)

    # --- list mode --------------------------------------------------------------------------

    def _check_list_column(self, query: str, expected: NDArray[np.float64],
                           tolerance: float) -> None:
        """Read a list column back (``LIST:FREQ?``); raise if it is not what was written."""
        got = self.query_value(query, parse_csv)
        if got.shape != expected.shape or np.any(np.abs(got - expected) > tolerance):
            raise InstrumentError(self.name, query,
                                  f"the list reads back with {got.size} points that differ "
                                  f"from the {expected.size} written")

    def _set_list_trigger(self, slope_header: str, *, input_header: str | None = None,
                          input_name: str = "",
                          parse_input: Callable[[str], str] = str.upper) -> None:
        """External list trigger: ``LIST:TRIG:SOUR EXT``, then the BNC (if the instrument has
        a choice) and the active edge (``<slope_header> POS|NEG``)."""
        slope = "POS" if self.trigger_slope == "positive" else "NEG"
        self.set_checked("LIST:TRIG:SOUR EXT", "LIST:TRIG:SOUR?", "EXT",
                         parse=lambda r: r.upper()[:3])
        if input_header is not None:
            self.set_checked(f"{input_header} {input_name}", f"{input_header}?", input_name,
                             parse=parse_input)
        self.set_checked(f"{slope_header} {slope}", f"{slope_header}?", slope,
                         parse=lambda r: r.upper()[:3])

    # --- snapshot ---------------------------------------------------------------------------

    def _fm_state(self) -> dict[str, Any]:
        """``FM:STAT?`` and ``FM:DEV?`` (Hz)."""
        return {"enabled": self.query_value("FM:STAT?", parse_bool),
                "deviation": quantity_value(self.query_value("FM:DEV?"), "Hz")}

    # --- modulation -------------------------------------------------------------------------

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        """Frequency modulation: the FM input (:meth:`_select_fm_source`), ``FM:DEV``,
        ``FM:STAT ON`` and the modulation switch on; ``enabled=False`` sends ``FM:STAT OFF``.

        Internal: sine at ``rate``.  External: the modulation input, DC coupled;
        ``deviation`` is reached at 1 V.
        """
        if not enabled:
            self.set_checked("FM:STAT OFF", "FM:STAT?", False, parse=parse_bool)
            return
        self._check_fm_arguments(self.name, deviation, rate, source, self.fm_max_deviation,
                                 self.fm_max_rate)
        with self._lock:
            self._select_fm_source(source, rate)
            self.set_checked(f"FM:DEV {deviation:.3f}", "FM:DEV?", deviation,
                             tolerance=0.0005 + 1e-9 * deviation)
            self.set_checked("FM:STAT ON", "FM:STAT?", True, parse=parse_bool)
            self._set_modulation(True)

    @abc.abstractmethod
    def _select_fm_source(self, source: str, rate: float | None) -> None:
        """Write the FM input: internal at ``rate`` (Hz, checked), or external DC-coupled."""
