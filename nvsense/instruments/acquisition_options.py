"""The options of the lock-in, analog-input, FM-drive, pulser, gated-counter and camera
drivers, as validated models (the pattern of :mod:`nvsense.instruments.driver_options`).

A bench-file entry in one of these slots is ``driver:`` plus that driver's options; each
model here is ``extra="forbid"``, so a misspelt option, a value of the wrong kind or unit or a
required option left out is reported with its line, with the rest of the bench file's
problems, before anything is imported or connected.  Quantities take units
(``sample_rate: "200 kHz"``, ``clock: "500 MHz"``, ``pixel_size: "6.5 um"``) and reach the
driver as SI floats.

Like :mod:`.driver_options`, this module imports no driver and no vendor library (pulse
programs and spin parameters are checked by importing nvsense's own parsers when a bench is
validated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .driver_options import (
    SR860_MODELS,
    DriverOptions,
    VisaOptions,
    _Device,
    _one_of,
    _pattern,
)
from .fields import quantity

__all__ = [
    "ANALOG_INPUT_RANGES",
    "ANDOR_EXPOSURE_OUTPUTS",
    "AndorOptions",
    "CameraOptions",
    "DCAMOptions",
    "MFLIOptions",
    "NIDAQAnalogInputOptions",
    "NIDAQFMDriveOptions",
    "NIDAQGatedCounterOptions",
    "PulseBlasterOptions",
    "PulseStreamerOptions",
    "SR860Options",
    "SimulatedAnalogInputOptions",
    "SimulatedCameraOptions",
    "SimulatedFMDriveOptions",
    "SimulatedGatedCounterOptions",
    "SimulatedLockInOptions",
    "SimulatedPulserOptions",
    "SourceFMDriveOptions",
    "TimeTaggerOptions",
    "VimbaXOptions",
]

#: Bipolar input ranges (±V) of the simulated analog input: those of an NI X-series card.
ANALOG_INPUT_RANGES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
#: ``AuxiliaryOutSource`` values of Andor SDK3 cameras for the exposure output.
ANDOR_EXPOSURE_OUTPUTS = ("FireRow1", "FireRowN", "FireAll", "FireAny")

Seconds = quantity("s", '"5 s"', positive=True)
Hertz = quantity("Hz", '"200 kHz"', positive=True)
Volts = quantity("V", '"1 V"')
_Terminal = Annotated[str, _pattern(r"\S+", '"PFI1"')]
_CounterName = Annotated[str, _pattern(r"(\S+/)?ctr\d+", '"ctr0"')]
_Index = Annotated[int, Field(ge=0, strict=True)]


def _one_of_numbers(choices: tuple[float, ...], unit: str) -> Any:
    """A quantity in ``unit`` that must be one of ``choices``."""
    from ..units import QuantityError, parse_quantity

    def check(value: Any) -> float:
        try:
            number = parse_quantity(value, unit)
        except QuantityError as exc:
            raise ValueError(str(exc)) from None
        for choice in choices:
            if abs(number - choice) <= 1e-9 * choice:
                return choice
        raise ValueError(f"{value!r} is not one of {', '.join(f'{c:g}' for c in choices)} "
                         f"{unit}")

    return BeforeValidator(check)


def _check_channel_map(value: Any) -> Any:
    """A pulser's ``channels:`` mapping, checked as the driver will read it."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping such as {{laser: 0, mw: 1, gate: 2}}, got "
                         f"{value!r}")
    from .pulser import ChannelMap

    ChannelMap.from_config(dict(value), ChannelMap({}))  # raises ValueError naming the key
    return dict(value)


def _check_spin(value: Any) -> Any:
    """The simulated sample's ``spin:`` parameters, checked as the simulator will read them."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping such as {{rabi_frequency: \"10 MHz\", t2: "
                         f"\"50 us\"}}, got {value!r}")
    from .simulated.pulsed import SpinConfig

    SpinConfig.from_mapping(dict(value), "spin")
    return dict(value)


# --- lock-in amplifiers ----------------------------------------------------------------------

class SR860Options(VisaOptions):
    """``driver: sr860`` in ``lockin``: the model expected at the address and how a capture
    starts (``immediate``, or ``external``: on the rear TRIG IN)."""

    model: str | None = None
    capture_trigger: Annotated[Literal["immediate", "external"],
                               _one_of(("immediate", "external"))] = "immediate"

    @field_validator("model", mode="before")
    @classmethod
    def _known_model(cls, value: Any) -> Any:
        if value is None:
            return None
        known = {m.upper(): m for m in SR860_MODELS}
        if str(value).strip().upper() not in known:
            raise ValueError(f"{value!r} is not a model this driver drives; known: "
                             f"{', '.join(SR860_MODELS)}")
        return known[str(value).strip().upper()]


class MFLIOptions(DriverOptions):
    """``driver: mfli`` in ``lockin`` (needs ``pip install "nvsense[mfli]"``)."""

    serial: Annotated[str, _pattern(r"dev\d+", '"dev5678"')]
    host: Annotated[str, Field(min_length=1)] = "localhost"
    port: Annotated[int, Field(ge=1, le=65535, strict=True)] = 8004
    interface: Annotated[Literal["1GbE", "USB", "PCIe"] | None,
                         _one_of(("1GbE", "USB", "PCIe"))] = None
    demod: _Index = 0
    signal_input: _Index = 0
    signal_output: _Index = 0
    external_reference_input: _Index = 3


class SimulatedLockInOptions(DriverOptions):
    """``driver: simulated`` in ``lockin``: the photodiode channel it reads."""

    channel: Annotated[str, Field(min_length=1)] | None = None


# --- analog input ----------------------------------------------------------------------------

def _check_ai_channels(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise ValueError("expected a mapping of channel names to inputs, e.g. "
                         "{s0.signal: ai0, s0.reference: ai1}")
    checked: dict[str, Any] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"channel names are text such as s0.signal, not {name!r}")
        if isinstance(spec, str):
            _ai_name(spec, name)
            checked[name] = spec.strip()
        elif isinstance(spec, Mapping):
            extra = set(spec) - {"channel", "min", "max", "terminal"}
            if extra or "channel" not in spec:
                raise ValueError(f"channel {name}: give {{channel: ai0, min: \"-2 V\", max: "
                                 f"\"2 V\", terminal: diff}} (channel required; unknown: "
                                 f"{', '.join(sorted(map(str, extra))) or 'none'})")
            _ai_name(str(spec["channel"]), name)
            checked[name] = dict(spec)
        else:
            raise ValueError(f"channel {name}: expected an input such as ai0, got {spec!r}")
    physical = [str(s if isinstance(s, str) else s["channel"]).strip().lower()
                for s in checked.values()]
    if len(set(physical)) != len(physical):
        raise ValueError(f"two channel names share one input: {dict(checked)}")
    return checked


def _ai_name(text: str, name: str) -> None:
    import re

    if not re.fullmatch(r"(\S+/)?ai\d+", text.strip(), flags=re.IGNORECASE):
        raise ValueError(f"channel {name}: {text!r} is not an analog input; write e.g. ai0")


class NIDAQAnalogInputOptions(DriverOptions):
    """``driver: nidaq`` in ``analog_input`` (see
    :class:`~nvsense.instruments.drivers.nidaq.NIDAQAnalogInput`)."""

    device: _Device = "Dev1"
    channels: Annotated[dict[str, Any] | None, Field(validate_default=False)] = None
    ai_min: Volts = -10.0  # type: ignore[valid-type]
    ai_max: Volts = 10.0  # type: ignore[valid-type]
    ai_terminal: Annotated[Literal["default", "rse", "nrse", "diff", "pseudo_diff"],
                           _one_of(("default", "rse", "nrse", "diff", "pseudo_diff"))] = "default"
    max_rate: Hertz = 2e6  # type: ignore[valid-type]
    max_aggregate_rate: Hertz = 1e6  # type: ignore[valid-type]
    buffer_time: Seconds = 2.0  # type: ignore[valid-type]
    timeout: Seconds = 5.0  # type: ignore[valid-type]

    _channels = field_validator("channels", mode="before")(
        classmethod(lambda cls, v: _check_ai_channels(v)))

    @model_validator(mode="after")
    def _consistent(self) -> NIDAQAnalogInputOptions:
        if not self.ai_min < self.ai_max:
            raise ValueError(f"ai_min ({self.ai_min:g} V) must be below ai_max "
                             f"({self.ai_max:g} V)")
        return self


class SimulatedAnalogInputOptions(DriverOptions):
    """``driver: simulated`` in ``analog_input``."""

    input_range: Annotated[float, _one_of_numbers(ANALOG_INPUT_RANGES, "V")] = 10.0
    resolution_bits: Annotated[int, Field(ge=8, le=32, strict=True)] | None = 16
    max_aggregate_rate: Hertz = 4e6  # type: ignore[valid-type]


# --- FM drive --------------------------------------------------------------------------------

class NIDAQFMDriveOptions(DriverOptions):
    """``driver: nidaq`` in ``fm_drive`` (see
    :class:`~nvsense.instruments.drivers.nidaq.NIDAQFMDrive`)."""

    device: _Device = "Dev1"
    ao_channel: Annotated[str, _pattern(r"(\S+/)?ao\d+", '"ao0"')] = "ao0"
    amplitude: quantity("V", '"1 V"', positive=True) = 1.0  # type: ignore[valid-type]
    max_samples: Annotated[int, Field(ge=2, le=10_000_000, strict=True)] = 65_536
    timeout: Seconds = 5.0  # type: ignore[valid-type]


class SourceFMDriveOptions(DriverOptions):
    """``driver: internal`` in ``fm_drive``: the source's own FM generator."""

    rate_min: Hertz = 0.1  # type: ignore[valid-type]
    rate_max: Hertz = 100e3  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _ordered(self) -> SourceFMDriveOptions:
        if not self.rate_min < self.rate_max:
            raise ValueError(f"rate_min ({self.rate_min:g} Hz) must be below rate_max "
                             f"({self.rate_max:g} Hz)")
        return self


class SimulatedFMDriveOptions(DriverOptions):
    """``driver: simulated`` in ``fm_drive``."""

    max_samples: Annotated[int, Field(ge=2, le=10_000_000, strict=True)] = 65_536


# --- pulse generators ------------------------------------------------------------------------

_Channels = Annotated[dict[str, Any] | None, Field(validate_default=False)]


class _PulserOptions(DriverOptions):
    channels: _Channels = None

    _check = field_validator("channels", mode="before")(
        classmethod(lambda cls, v: _check_channel_map(v)))


class PulseStreamerOptions(_PulserOptions):
    """``driver: pulse_streamer`` in ``pulser`` (needs ``pip install
    'nvsense[pulsestreamer]'``)."""

    address: Annotated[str, Field(min_length=1)] = "169.254.8.2"


class PulseBlasterOptions(_PulserOptions):
    """``driver: pulseblaster`` in ``pulser`` (needs ``pip install 'nvsense[spinapi]'``)."""

    board: _Index = 0
    clock: Hertz = 500e6  # type: ignore[valid-type]
    memory: Annotated[int, Field(ge=2, strict=True)] = 4096
    min_cycles: Annotated[int, Field(ge=1, strict=True)] = 5
    max_loop_depth: Annotated[int, Field(ge=1, le=64, strict=True)] = 8
    on_bits: Annotated[int, Field(ge=0, lt=2**24, strict=True)] = 0xE00000
    model: Annotated[str, Field(min_length=1)] = "PulseBlaster ESR-PRO"


class SimulatedPulserOptions(_PulserOptions):
    """``driver: simulated`` in ``pulser``: its limits (default: a Pulse Streamer's) and the
    spin parameters of the simulated sample."""

    resolution_ns: Annotated[int, Field(ge=1, strict=True)] = 1
    min_duration_ns: Annotated[int, Field(ge=1, strict=True)] = 2
    max_steps: Annotated[int, Field(ge=1, strict=True)] = 2_000_000
    spin: Annotated[dict[str, Any] | None, Field(validate_default=False)] = None

    _spin = field_validator("spin", mode="before")(classmethod(lambda cls, v: _check_spin(v)))


# --- gated counters --------------------------------------------------------------------------

def _click_channels(value: Any) -> Any:
    items = [value] if not isinstance(value, list | tuple) else list(value)
    if not items or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in items):
        raise ValueError(f"Time Tagger inputs are numbered from 1; give one or a list, e.g. "
                         f"[1, 3], not {value!r}")
    return tuple(items)


class TimeTaggerOptions(DriverOptions):
    """``driver: timetagger`` in ``gated_counter`` (needs Swabian's Time Tagger software)."""

    serial: str = ""
    click_channels: Annotated[tuple[int, ...], Field(validate_default=False)] = (1,)
    gate_channel: Annotated[int, Field(ge=1, strict=True)] = 2
    trigger_level: Volts | None = None  # type: ignore[valid-type]

    _clicks = field_validator("click_channels", mode="before")(
        classmethod(lambda cls, v: _click_channels(v)))

    @model_validator(mode="after")
    def _gate_apart(self) -> TimeTaggerOptions:
        if self.gate_channel in self.click_channels:
            raise ValueError(f"gate_channel {self.gate_channel} is also a click channel; wire "
                             f"the gate to another input")
        return self


class NIDAQGatedCounterOptions(DriverOptions):
    """``driver: nidaq`` in ``gated_counter`` (see
    :class:`~nvsense.instruments.drivers.nidaq.NIDAQGatedCounter`)."""

    device: _Device = "Dev1"
    counter: _CounterName = "ctr0"
    source_terminal: _Terminal = "PFI0"
    gate_terminal: _Terminal = "PFI1"
    edge: Annotated[Literal["rising", "falling"], _one_of(("rising", "falling"))] = "rising"
    max_window_rate: Hertz = 1e6  # type: ignore[valid-type]
    timeout: Seconds = 10.0  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _apart(self) -> NIDAQGatedCounterOptions:
        if self.source_terminal.strip("/").lower() == self.gate_terminal.strip("/").lower():
            raise ValueError(f"source_terminal and gate_terminal are both "
                             f"{self.source_terminal}; the APD and the gate need two lines")
        return self


class SimulatedGatedCounterOptions(DriverOptions):
    """``driver: simulated`` in ``gated_counter``: the spin parameters of the sample."""

    spin: Annotated[dict[str, Any] | None, Field(validate_default=False)] = None

    _spin = field_validator("spin", mode="before")(classmethod(lambda cls, v: _check_spin(v)))


# --- cameras ---------------------------------------------------------------------------------

class CameraOptions(DriverOptions):
    """Options of every pylablib camera driver: which camera, and its pixel calibration
    (from its test sheet or a photon-transfer measurement)."""

    index: _Index = 0
    electrons_per_adu: Annotated[float, Field(gt=0)] = 0.5
    offset: Annotated[float, Field(ge=0)] = 100.0
    read_noise: Annotated[float, Field(ge=0)] = 1.5
    full_well: Annotated[float, Field(gt=0)] = 30_000.0
    mw_trigger_lead: Literal[0, 1] | None = None
    exposure_range: tuple[quantity("s", '"10 us"', positive=True),  # type: ignore[valid-type]
                          quantity("s", '"10 s"', positive=True)] = (10e-6, 10.0)

    @model_validator(mode="after")
    def _ordered(self) -> CameraOptions:
        low, high = self.exposure_range
        if not low < high:
            raise ValueError("exposure_range: give [shortest, longest], shortest first")
        return self


class AndorOptions(CameraOptions):
    """``driver: andor`` in ``camera`` (Andor SDK3)."""

    exposure_output: Annotated[str, _one_of(ANDOR_EXPOSURE_OUTPUTS, case=True)] = "FireAny"


class DCAMOptions(CameraOptions):
    """``driver: dcam`` in ``camera`` (Hamamatsu DCAM-API)."""

    output_connector: _Index = 0


class VimbaXOptions(CameraOptions):
    """``driver: vimbax`` in ``camera`` (Allied Vision Vimba X)."""

    trigger_line: Annotated[str, Field(min_length=1)] = "Line0"
    output_line: Annotated[str, Field(min_length=1)] = "Line1"
    timestamp_frequency: Hertz | None = None  # type: ignore[valid-type]


_FIELD_MAPS = ("none", "uniform", "gradient", "dipoles", "wire")


class SimulatedCameraOptions(DriverOptions):
    """``driver: simulated`` in ``camera`` (see
    :class:`~nvsense.instruments.simulated.camera.SimulatedCamera`)."""

    sensor: tuple[Annotated[int, Field(ge=8, strict=True)],
                  Annotated[int, Field(ge=8, strict=True)]] = (256, 256)
    pixel_size: quantity("m", '"1 um"', positive=True) = 1e-6  # type: ignore[valid-type]
    field_map: Annotated[str, _one_of(_FIELD_MAPS)] | None = "wire"
    photon_rate: quantity("1/s", '"4e6 /s"', positive=True) = 4e6  # type: ignore[valid-type]
    psf_sigma: Annotated[float, Field(ge=0)] = 1.0
    spot: Annotated[float, Field(gt=0)] | None = 0.9
    vignetting: Annotated[float, Field(ge=0, lt=1)] = 0.15
    texture: Annotated[float, Field(ge=0)] = 0.08
    texture_scale: Annotated[float, Field(gt=0)] = 3.0
    drift: tuple[float, float] = (0.0, 0.0)
    drift_walk: Annotated[float, Field(ge=0)] = 0.0
    drift_interval: quantity("s", '"1 s"', positive=True) = 1.0  # type: ignore[valid-type]
    calibration: Annotated[dict[str, float] | None, Field(validate_default=False)] = None
    dark_current: quantity(  # type: ignore[valid-type]
        "1/s", '"0.5 /s"', non_negative=True) = 0.5
    row_time: quantity("s", '"4.87 us"', non_negative=True) = 4.87e-6  # type: ignore[valid-type]
    binnings: tuple[Annotated[int, Field(ge=1, strict=True)], ...] = (1, 2, 4, 8)
    roi_step: Annotated[int, Field(ge=1, strict=True)] = 4
    trigger_period: quantity("s", '"10 ms"', positive=True) = 10e-3  # type: ignore[valid-type]
    faults: Annotated[dict[str, Any] | None, Field(validate_default=False)] = None
    seed: int | None = None

    #: Keys of ``calibration`` and ``faults``.
    calibration_keys: ClassVar[tuple[str, ...]] = ("electrons_per_adu", "offset",
                                                   "read_noise", "full_well")
    fault_keys: ClassVar[tuple[str, ...]] = ("dropped", "duplicated", "missed_triggers",
                                             "drop_probability")

    @field_validator("calibration", mode="before")
    @classmethod
    def _calibration(cls, value: Any) -> Any:
        if value is None:
            return None
        if is_dataclass(value) and not isinstance(value, type):
            value = asdict(value)  # a PixelCalibration: driver_kwargs() validated again
        if not isinstance(value, Mapping) or set(value) - set(cls.calibration_keys):
            raise ValueError(f"give a mapping of {', '.join(cls.calibration_keys)}")
        return {k: float(v) for k, v in value.items()}

    @field_validator("faults", mode="before")
    @classmethod
    def _faults(cls, value: Any) -> Any:
        if value is None:
            return None
        if is_dataclass(value) and not isinstance(value, type):  # a CameraFaults, likewise
            value = asdict(value)
        if not isinstance(value, Mapping) or set(value) - set(cls.fault_keys):
            raise ValueError(f"give a mapping of {', '.join(cls.fault_keys)} (frame numbers "
                             f"from 0, a probability)")
        from .simulated.camera import CameraFaults

        CameraFaults(**dict(value))  # raises ValueError for a bad probability
        return dict(value)

    def driver_kwargs(self) -> dict[str, Any]:
        """The options as the camera takes them: ``calibration`` and ``faults`` as their
        dataclasses."""
        kwargs = super().driver_kwargs()
        if kwargs.get("calibration") is not None:
            from .camera import PixelCalibration

            kwargs["calibration"] = PixelCalibration(**kwargs["calibration"])
        if kwargs.get("faults") is not None:
            from .simulated.camera import CameraFaults

            kwargs["faults"] = CameraFaults(**kwargs["faults"])
        return kwargs
