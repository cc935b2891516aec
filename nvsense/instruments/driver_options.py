"""The options of every driver, as validated models: what a bench-file entry may say.

A bench-file entry is ``driver:`` plus that driver's options.  Each built-in driver has a
pydantic model here (``extra="forbid"``), so that :func:`~nvsense.instruments.config.
load_bench_config` checks the options with the rest of the file: a misspelt option
(``visa_libary``), a value of the wrong kind or unit, a required option left out are reported
all at once, each with its line, before any driver is imported or any instrument touched.
Quantities carry units (``timeout: "500 ms"``, ``frequency_max: "3.2 GHz"``,
``max_power: "100 mW"``) and reach the driver as SI floats (dBm for RF power).

This module imports no driver and no vendor library, so a bench file is checked even where
NI-DAQmx or a VISA library is missing.  The drivers take their lists of known models from
here, so there is one list of each.

A relative pyvisa-sim model in ``visa_library`` (``"sims/sg384.yaml@sim"``) is read relative
to the bench file that names it (the validation context's ``bench_dir``), as campaign files
read ``bench:``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .fields import quantity

__all__ = [
    "N5181B_MODELS",
    "SG384_MODELS",
    "SMB100A_MODELS",
    "SR860_MODELS",
    "SYNTHHD_MODELS",
    "CoboltOptions",
    "DP800Options",
    "DriverOptions",
    "MicrowaveOptions",
    "N5181BOptions",
    "NIDAQCounterOptions",
    "NIDAQGateOptions",
    "OBISOptions",
    "SG384Options",
    "SMB100AOptions",
    "SimulatedCoilOptions",
    "SimulatedCounterOptions",
    "SimulatedLaserOptions",
    "SimulatedMicrowaveOptions",
    "SynthHDOptions",
    "VisaOptions",
    "resolve_visa_library",
]

#: Models each microwave driver drives (the reply to its identification query).
SG384_MODELS = ("SG382", "SG384", "SG386", "SG392", "SG394", "SG396")
SMB100A_MODELS = ("SMB100A",)
N5181B_MODELS = ("N5181B", "N5182B", "N5183B")
SYNTHHD_MODELS = ("SynthHD v1.4", "SynthHD v2", "SynthHD PRO v2")
#: Lock-in models the SR860 driver drives.
SR860_MODELS = ("SR860", "SR865", "SR865A")

Frequency = quantity("Hz", '"3.2 GHz"')
Power = quantity("dBm", '"0 dBm"')
Seconds = quantity("s", '"2 s"', positive=True)
Watts = quantity("W", '"100 mW"', positive=True)
WattsOrZero = quantity("W", '"50 mW"', non_negative=True)
Volts = quantity("V", '"1 V"')
Amperes = quantity("A", '"1.5 A"', positive=True)


class DriverOptions(BaseModel):
    """Base of the option models: unknown options are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def driver_kwargs(self) -> dict[str, Any]:
        """The options the bench file gave, validated (SI floats), as keyword arguments for
        the driver; options left out keep the driver's defaults."""
        return {key: getattr(self, key) for key in self.model_fields_set}


def _one_of(choices: tuple[str, ...], *, case: bool = False) -> Any:
    """A string that must be one of ``choices`` (case-insensitive unless ``case``)."""

    def check(value: Any) -> str:
        if value is None:
            return value
        text = str(value).strip()
        for choice in choices:
            if text == choice or (not case and text.lower() == choice.lower()):
                return choice
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}")

    return BeforeValidator(check)


def _pattern(pattern: str, example: str) -> Any:
    """A name matching ``pattern`` (case-insensitive), stripped."""

    def check(value: Any) -> str:
        text = str(value).strip() if isinstance(value, str | int) else ""
        if not re.fullmatch(pattern, text, flags=re.IGNORECASE):
            raise ValueError(f"{value!r} is not valid; write e.g. {example}")
        return text

    return BeforeValidator(check)


def resolve_visa_library(value: Any, bench_dir: Path | str | None = None) -> str:
    """``visa_library`` with a relative pyvisa-sim model made absolute.

    ``"<file>.yaml@sim"`` with a relative ``<file>`` is read relative to ``bench_dir`` (the
    folder of the bench file), or the working directory without one.  Other values (``"@py"``,
    ``""``, a VISA library path) are returned stripped.

    Raises
    ------
    ValueError
        Not a string, or the pyvisa-sim model file does not exist.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected text such as \"@py\", \"\" or \"<model>.yaml@sim\", got "
                         f"{value!r}")
    text = value.strip()
    if not text.endswith("@sim") or text == "@sim":
        return text
    given = Path(text[: -len("@sim")]).expanduser()
    path = given if given.is_absolute() or bench_dir is None else Path(bench_dir) / given
    if not path.is_file():
        where = (f" (a relative path is read from the bench file's folder, {bench_dir})"
                 if bench_dir is not None and not given.is_absolute() else "")
        raise ValueError(f"pyvisa-sim model {str(given)!r} not found at {path}{where}; give "
                         f"the path of a pyvisa-sim YAML file (the shipped ones: "
                         f"nvsense.instruments.drivers.sim_path('<driver>'))")
    return f"{path.resolve()}@sim"


# --- VISA drivers ----------------------------------------------------------------------------

class VisaOptions(DriverOptions):
    """Options of every VISA driver."""

    address: Annotated[str, Field(min_length=1)]
    visa_library: str = "@py"
    timeout: Seconds = 2.0  # type: ignore[valid-type]

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a VISA resource string such as "
                             f"\"TCPIP0::10.0.0.11::5025::SOCKET\", got {value!r}")
        return value.strip()

    @field_validator("visa_library", mode="before")
    @classmethod
    def _visa_library(cls, value: Any, info: ValidationInfo) -> str:
        return resolve_visa_library(value, (info.context or {}).get("bench_dir"))


class MicrowaveOptions(VisaOptions):
    """Options of every microwave-source driver: the model expected at the address and a
    narrower range than the instrument's own (an amplifier behind the source, say)."""

    models: ClassVar[tuple[str, ...]] = ()

    model: str | None = None
    frequency_min: Frequency | None = None  # type: ignore[valid-type]
    frequency_max: Frequency | None = None  # type: ignore[valid-type]
    power_min: Power | None = None  # type: ignore[valid-type]
    power_max: Power | None = None  # type: ignore[valid-type]

    @field_validator("model", mode="before")
    @classmethod
    def _known_model(cls, value: Any) -> Any:
        if value is None:
            return None
        known = {m.upper(): m for m in cls.models}
        if str(value).strip().upper() not in known:
            raise ValueError(f"{value!r} is not a model this driver drives; known: "
                             f"{', '.join(cls.models)}")
        return known[str(value).strip().upper()]

    @model_validator(mode="after")
    def _ordered(self) -> MicrowaveOptions:
        for low, high, unit in (("frequency_min", "frequency_max", "Hz"),
                                ("power_min", "power_max", "dBm")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and not a < b:
                raise ValueError(f"{low} ({a:g} {unit}) must be below {high} ({b:g} {unit})")
        return self


_Slope = Annotated[Literal["positive", "negative"], _one_of(("positive", "negative"))]


class SG384Options(MicrowaveOptions):
    """``driver: sg384``."""

    models: ClassVar[tuple[str, ...]] = SG384_MODELS


class SMB100AOptions(MicrowaveOptions):
    """``driver: smb100a``: the name of the list file and the active trigger edge."""

    models: ClassVar[tuple[str, ...]] = SMB100A_MODELS

    list_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")] = "nvsense"
    trigger_slope: _Slope = "positive"


class N5181BOptions(MicrowaveOptions):
    """``driver: n5181b``: which BNC steps the list, on which edge."""

    models: ClassVar[tuple[str, ...]] = N5181B_MODELS

    trigger_input: Annotated[Literal["TRIG1", "TRIG2", "PULS"],
                             _one_of(("TRIG1", "TRIG2", "PULS"))] = "TRIG1"
    trigger_slope: _Slope = "positive"


class SynthHDOptions(MicrowaveOptions):
    """``driver: synthhd``: channel 0 (RF A) or 1 (RF B)."""

    models: ClassVar[tuple[str, ...]] = SYNTHHD_MODELS

    channel: Literal[0, 1] = 0


class OBISOptions(VisaOptions):
    """``driver: obis`` (the laser reports its power range)."""


class CoboltOptions(VisaOptions):
    """``driver: cobolt``: ``max_power`` is optional (the laser reports its rating with
    ``gmlp?``); given, it is an upper limit below the rating."""

    max_power: Watts | None = None  # type: ignore[valid-type]
    series: Annotated[Literal["06-01", "04-01"], _one_of(("06-01", "04-01"))] = "06-01"


class DP800Options(VisaOptions):
    """``driver: dp800``: the channel, its compliance voltage and a lower current limit."""

    channel: Literal[1, 2, 3] = 1
    voltage: quantity("V", '"12 V"', non_negative=True) | None = None  # type: ignore[valid-type]
    current_max: Amperes | None = None  # type: ignore[valid-type]


# --- NI DAQ ----------------------------------------------------------------------------------

_Device = Annotated[str, _pattern(r"[A-Za-z_][\w\-]*", '"Dev1"')]
_CounterName = Annotated[str, _pattern(r"(\S+/)?ctr\d+", '"ctr0"')]
_Terminal = Annotated[str, _pattern(r"\S+", '"PFI0"')]


class NIDAQCounterOptions(DriverOptions):
    """``driver: nidaq`` (see :class:`~nvsense.instruments.drivers.nidaq.NIDAQCounter`)."""

    device: _Device = "Dev1"
    kind: Annotated[Literal["counts", "volts"], _one_of(("counts", "volts"))] = "counts"
    counter: _CounterName = "ctr0"
    clock_counter: _CounterName = "ctr1"
    source_terminal: _Terminal = "PFI0"
    clock_terminal: _Terminal = "PFI12"
    gate_terminal: _Terminal | None = None
    edge: Annotated[Literal["rising", "falling"], _one_of(("rising", "falling"))] = "rising"
    ai_channel: Annotated[str, _pattern(r"(\S+/)?ai\d+", '"ai0"')] = "ai0"
    ai_min: Volts = -10.0  # type: ignore[valid-type]
    ai_max: Volts = 10.0  # type: ignore[valid-type]
    ai_terminal: Annotated[Literal["default", "rse", "nrse", "diff", "pseudo_diff"],
                           _one_of(("default", "rse", "nrse", "diff", "pseudo_diff"))] = "default"
    oversample: Annotated[int, Field(ge=1, le=1000, strict=True)] | None = None
    ai_max_rate: quantity("Hz", '"250 kHz"', positive=True) = 250e3  # type: ignore[valid-type]
    duty_cycle: Annotated[quantity("1", '0.5 (or "50 %")'),  # type: ignore[misc]
                          Field(gt=0.0, lt=1.0)] = 0.5
    sample_mode: Annotated[Literal["finite", "continuous"],
                           _one_of(("finite", "continuous"))] = "finite"
    timeout: Seconds = 5.0  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _consistent(self) -> NIDAQCounterOptions:
        if self.kind == "counts" and (self.counter.rsplit("/", 1)[-1].lower()
                                      == self.clock_counter.rsplit("/", 1)[-1].lower()):
            raise ValueError(f"clock_counter {self.clock_counter!r} is also the photon "
                             "counter; use two different counters, e.g. ctr0 and ctr1")
        if not self.ai_min < self.ai_max:
            raise ValueError(f"ai_min ({self.ai_min:g} V) must be below ai_max "
                             f"({self.ai_max:g} V)")
        return self


class NIDAQGateOptions(DriverOptions):
    """``driver: nidaq_gate`` (see :class:`~nvsense.instruments.drivers.nidaq.NIDAQGate`)."""

    device: _Device = "Dev1"
    line: Annotated[str, _pattern(r"(\S+/)?port\d+/line\d+", '"port0/line0"')] = "port0/line0"
    power: WattsOrZero  # type: ignore[valid-type]
    active_low: Annotated[bool, Field(strict=True)] = False


# --- simulated instruments -------------------------------------------------------------------

def _range(unit: str, example: str) -> Any:
    item = quantity(unit, example)
    return tuple[item, item]  # type: ignore[valid-type]


class SimulatedMicrowaveOptions(DriverOptions):
    """``driver: simulated`` in ``mw``."""

    frequency_range: _range("Hz", '"4.05 GHz"') = (950e3, 4.05e9)  # type: ignore[valid-type]
    power_range: _range("dBm", '"16.5 dBm"') = (-110.0, 16.5)  # type: ignore[valid-type]
    supports_list: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> SimulatedMicrowaveOptions:
        for key in ("frequency_range", "power_range"):
            low, high = getattr(self, key)
            if not low < high:
                raise ValueError(f"{key}: give [lowest, highest], lowest first")
        return self


class SimulatedLaserOptions(DriverOptions):
    """``driver: simulated`` in ``laser``."""

    max_power: Watts = 1.0  # type: ignore[valid-type]
    has_standby: bool = True


class SimulatedCounterOptions(DriverOptions):
    """``driver: simulated`` in ``counter``."""

    kind: Annotated[Literal["counts", "volts"], _one_of(("counts", "volts"))] = "counts"
    volts_at_count_rate: Volts = 1.0  # type: ignore[valid-type]
    mw_trigger_lead: Literal[0, 1] = 1


class SimulatedCoilOptions(DriverOptions):
    """``driver: simulated`` in ``coil``."""

    max_current: Amperes = 3.0  # type: ignore[valid-type]
