"""What the SCPI-style microwave sources share: CW frequency, power and output, written once.

The SG384, SMB100A and N5181B set their CW frequency, power and RF output the same way: a
command with a value, a query that reads it back, a fixed number of decimals (the instrument's
resolution).  Only the command names and the decimals differ, so each driver states them in
:class:`SourceCommands` and this base class builds the three read-back-checked
:class:`~nvsense.instruments.drivers.visa_base.Setting` attributes from them.  It also reads
the ``*IDN?`` reply and refuses another instrument at the address.

The Windfreak SynthHD speaks a single-character protocol, not SCPI, and derives from
:class:`~nvsense.instruments.drivers.microwave_base.MicrowaveDriver` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import InstrumentError
from .microwave_base import MicrowaveDriver
from .visa_base import Setting, format_on_off, parse_bool

__all__ = ["ScpiMicrowaveSource", "SourceCommands"]


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
