"""The bench file: what instruments a bench has, its safety limits, and the simulated sample.

A bench file is YAML (the Bench page of the documentation, ``docs/bench.md``, is the full
reference)::

    sample:                       # what a real bench knows: nv, axes, nucleus; the rest
      field: ["0.4 mT", "1.1 mT", "1.9 mT"]   # configures the simulated instruments
      linewidth: "1 MHz"
      contrast: 0.02
    instruments:
      mw:      {driver: sg384, address: "TCPIP0::10.0.0.11::5025::SOCKET", visa_library: "@py"}
      laser:   {driver: simulated}
      counter: {driver: simulated}
    limits: {max_mw_power: "0 dBm", frequency: ["2.5 GHz", "3.3 GHz"], max_laser_power: "0.5 W"}
    safe_state: {laser: off}

:func:`load_bench_config` validates it into a :class:`BenchConfig` (SI floats inside) or
raises one :class:`~nvsense.instruments.errors.BenchConfigError` that names the file, the line,
the key path (``sample.linewidth``) and the fix, for every problem found.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..physics.temperature import ZFS_MODELS
from ..yaml_lines import line_of
from .driver_options import DriverOptions
from .errors import BenchConfigError
from .fields import as_tuple, quantity, vector
from .registry import (
    CORE_SLOTS,
    OPTIONAL_SLOTS,
    SLOT_KINDS,
    DriverInfo,
    find_driver,
    option_problem,
)

__all__ = [
    "BUILTIN_BENCHES",
    "BenchConfig",
    "DefaultsConfig",
    "FaultsConfig",
    "FieldACConfig",
    "InstrumentEntry",
    "InstrumentsConfig",
    "LimitsConfig",
    "PhotodiodeChainConfig",
    "SafeStateConfig",
    "SampleConfig",
    "builtin_bench_path",
    "load_bench_config",
]

#: Bench files shipped with nvsense, usable by name (``nvsense instruments check single_nv``).
BUILTIN_BENCHES: dict[str, str] = {
    "simulated": "the default: an NV ensemble in a 2.2 mT field, with a simulated bias coil",
    "single_nv": "one NV (axis 0) with 14N hyperfine lines, 100 kcounts/s",
    "example_real": "a real bench (SG384, OBIS, NI DAQ, DP800): edit the addresses",
    "example_lockin": "a real lock-in bench (SG384, NI card: photodiodes and FM drive, SR860)",
    "example_pulsed": "a real pulsed bench (SG384, Pulse Streamer, NI gated counter)",
    "example_widefield": "a real widefield bench (SG384 list stepped by an Andor camera)",
}


# --- value types ----------------------------------------------------------------------------

_quantity = quantity
_vector = vector
_as_tuple = as_tuple

Frequency = _quantity("Hz", '"1 MHz"')
Time = _quantity("s", '"2 s"', non_negative=True)
Direction = _vector(None, "[1, 1, 1]")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sample ---------------------------------------------------------------------------------

class FieldACConfig(_Model):
    """An AC field tone: ``amplitude · sin(2π frequency t + phase)`` along ``direction``."""

    amplitude: _quantity("T", '"50 nT"', non_negative=True)  # type: ignore[valid-type]
    frequency: _quantity("Hz", '"10 Hz"', non_negative=True)  # type: ignore[valid-type]
    direction: Direction = (1.0, 1.0, 1.0)  # type: ignore[valid-type]
    phase: _quantity("rad", '"90 deg"') = 0.0  # type: ignore[valid-type]

    @field_validator("direction")
    @classmethod
    def _unit_direction(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        return _normalised(v)


def _normalised(v: tuple[float, float, float]) -> tuple[float, float, float]:
    norm = float(np.linalg.norm(v))
    if norm == 0:
        raise ValueError("direction must not be zero; write e.g. [1, 1, 1]")
    return tuple(float(x) / norm for x in v)  # type: ignore[return-value]


def _fault_sweep() -> Any:
    return Field(default=None, ge=1)


class FaultsConfig(_Model):
    """Faults the simulated instruments inject, for testing error handling.

    A *sweep* is one ``counter.acquire()`` of more than one bin, counted from 1 for the life of
    the sample; a *time* is simulated time (seconds since the sample was made).  A *timeout*
    fails one acquisition (its data is lost, the next one works); a *disconnect* makes every
    later call to that instrument raise until it is connected again; *unreachable* makes
    ``connect()`` fail (also for the optional simulated instruments: ``lockin``,
    ``analog_input``, ``fm_drive``, ``pulser``, ``gated_counter``, ``camera``).
    """

    counter_timeout_at_sweep: int | None = _fault_sweep()
    counter_timeout_at_time: Time | None = None  # type: ignore[valid-type]
    mw_disconnect_at_sweep: int | None = _fault_sweep()
    mw_disconnect_at_time: Time | None = None  # type: ignore[valid-type]
    laser_disconnect_at_sweep: int | None = _fault_sweep()
    laser_disconnect_at_time: Time | None = None  # type: ignore[valid-type]
    counter_disconnect_at_sweep: int | None = _fault_sweep()
    counter_disconnect_at_time: Time | None = None  # type: ignore[valid-type]
    coil_disconnect_at_sweep: int | None = _fault_sweep()
    coil_disconnect_at_time: Time | None = None  # type: ignore[valid-type]
    mw_unreachable: bool = False
    laser_unreachable: bool = False
    counter_unreachable: bool = False
    coil_unreachable: bool = False
    lockin_unreachable: bool = False
    analog_input_unreachable: bool = False
    fm_drive_unreachable: bool = False
    pulser_unreachable: bool = False
    gated_counter_unreachable: bool = False
    camera_unreachable: bool = False


class PhotodiodeChainConfig(_Model):
    """The simulated photodiode chain read by the simulated lock-in and analog input
    (:mod:`nvsense.instruments.simulated.photodiode`), built on first use.

    Every sensor sees the sample of the bench (its lines, the microwave and laser state);
    ``sensors`` names one (``[s0]``) or two (a gradiometer: ``[s0, s1]``, the second seeing
    ``far_source_coupling`` of the test source).  The channels are ``<sensor>.signal``,
    ``<sensor>.reference``, ``sync`` and ``trigger``.
    """

    sample_rate: _quantity("Hz", '"200 kHz"', positive=True) = 200e3  # type: ignore[valid-type]
    sensors: Annotated[tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][\w-]*$")], ...],
                       BeforeValidator(_as_tuple)] = ("s0",)
    photon_rate: _quantity("1/s", '"5e14 /s"', positive=True) = 5e14  # type: ignore[valid-type]
    reference_photon_rate: _quantity(  # type: ignore[valid-type]
        "1/s", '"5e14 /s"', positive=True) | None = None
    quantum_efficiency: Annotated[float, Field(gt=0, le=1)] = 0.85
    transimpedance: _quantity("V/A", '"10 kV/A"', positive=True) = 1e4  # type: ignore[valid-type]
    amplifier_noise: _quantity(  # type: ignore[valid-type]
        "A", '"2 pA" (per √Hz)', non_negative=True) = 0.0
    flux_concentrator_gain: Annotated[float, Field(gt=0)] = 1.0
    rin: Annotated[float, Field(ge=0)] = 1e-6
    rin_corner: _quantity("Hz", '"10 kHz"', non_negative=True) = 1e4  # type: ignore[valid-type]
    environment: bool = False
    test_source: bool = False
    far_source_coupling: float = 0.05

    @field_validator("sensors")
    @classmethod
    def _distinct_sensors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError(f"give one or more distinct sensor names, e.g. [s0, s1]; got "
                             f"{list(v)}")
        return v


def _axes(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "all":
        return (0, 1, 2, 3)
    return _as_tuple(value)


def _nucleus(value: Any) -> Any:
    if value is None:
        return "none"
    text = str(value).strip()
    return {"none": "none", "14n": "14N", "15n": "15N"}.get(text.lower(), text)


class SampleConfig(_Model):
    """The NV sample: what the bench knows about it, and what the simulator models.

    ``nv`` (``single`` or ``ensemble``), ``axes`` and ``nucleus`` are what a real bench
    declares about its sample (:class:`~nvsense.instruments.sample_info.SampleInfo`); on a
    simulated bench they, and every other key (SI floats, dBm), configure the simulator.

    ``linewidth`` (FWHM) and ``contrast`` hold at ``mw_reference_power``; with RF power P
    (in mW) the saturation parameter is ``s = P / P_sat`` and each line has contrast
    ``C_sat·s/(1+s)`` and width ``Γ0·sqrt(1+s)`` (power broadening).  ``count_rate`` (off
    resonance) holds at ``laser_reference_power``; the rate follows the laser power as
    ``R_sat·p/(1+p)``, ``p = P_laser / laser_saturation_power``.  D follows ``temperature``
    through the D(T) model ``zfs_model`` (:data:`nvsense.physics.temperature.ZFS_MODELS`).
    ``contrast`` is the depth of each electron-spin line of one axis; with a nucleus, each
    line's hyperfine components share it equally (each 14N component has ``contrast/3``).  A
    list gives one contrast per axis.
    """

    field: _vector("T", '["0.4 mT", "1.1 mT", "1.9 mT"]') = (  # type: ignore[valid-type]
        0.4e-3, 1.1e-3, 1.9e-3)
    field_ac: Annotated[tuple[FieldACConfig, ...], BeforeValidator(_as_tuple)] = ()
    temperature: _quantity("K", '"300 K"', positive=True) = 300.0  # type: ignore[valid-type]
    zfs_model: str = "acosta2010"
    strain: _quantity("Hz", '"3 MHz"', non_negative=True) = 0.0  # type: ignore[valid-type]
    nucleus: Annotated[Literal["none", "14N", "15N"], BeforeValidator(_nucleus)] = "none"
    nv: Literal["single", "ensemble"] | None = None
    axes: Annotated[tuple[Annotated[int, Field(ge=0, le=3)], ...],
                    BeforeValidator(_axes)] = (0, 1, 2, 3)
    linewidth: _quantity("Hz", '"1 MHz"', positive=True) = 1e6  # type: ignore[valid-type]
    contrast: Annotated[tuple[Annotated[float, Field(gt=0, lt=1)], ...],
                        BeforeValidator(_as_tuple)] = (0.02,)
    count_rate: _quantity("1/s", '"1e7 /s"', positive=True) = 1e7  # type: ignore[valid-type]
    dark_count_rate: _quantity(  # type: ignore[valid-type]
        "1/s", '"200 /s"', non_negative=True) = 200.0
    mw_reference_power: _quantity("dBm", '"-10 dBm"') = -10.0  # type: ignore[valid-type]
    mw_saturation_power: _quantity("dBm", '"-10 dBm"') = -10.0  # type: ignore[valid-type]
    laser_reference_power: _quantity(  # type: ignore[valid-type]
        "W", '"100 mW"', positive=True) = 0.1
    laser_saturation_power: _quantity(  # type: ignore[valid-type]
        "W", '"1 W"', positive=True) = 1.0
    laser_noise: Annotated[float, Field(ge=0)] = 0.0
    coil_constant: _quantity("T/A", '"1 mT/A"') = 1e-3  # type: ignore[valid-type]
    coil_direction: Direction = (0.0, 0.0, 1.0)  # type: ignore[valid-type]
    seed: int | None = None
    pace: Literal["fast", "realtime"] = "fast"
    faults: FaultsConfig = FaultsConfig()
    photodiode: PhotodiodeChainConfig = PhotodiodeChainConfig()

    @field_validator("axes")
    @classmethod
    def _distinct_axes(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v:
            raise ValueError("give at least one axis (0-3), or all")
        if len(set(v)) != len(v):
            raise ValueError(f"axes {list(v)} repeats an axis; list each of 0-3 at most once")
        return v

    @field_validator("coil_direction")
    @classmethod
    def _unit_coil(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        return _normalised(v)

    @field_validator("zfs_model")
    @classmethod
    def _known_zfs_model(cls, v: str) -> str:
        if v not in ZFS_MODELS:
            raise ValueError(f"unknown D(T) model {v!r}; use one of {', '.join(ZFS_MODELS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SampleConfig:
        if self.nv == "single" and len(self.axes) != 1:
            raise ValueError(f"nv: single, but axes {list(self.axes)} lists "
                             f"{len(self.axes)}; a single NV has one axis: give e.g. axes: [0]")
        model = ZFS_MODELS[self.zfs_model]
        if not model.t_min <= self.temperature <= model.t_max:
            others = [name for name, m in ZFS_MODELS.items()
                      if m.t_min <= self.temperature <= m.t_max]
            fix = f"set zfs_model: {others[0]}" if others else "no D(T) model covers it"
            raise ValueError(f"temperature {self.temperature:g} K is outside the D(T) model "
                             f"{model.name} ({model.t_min:g}-{model.t_max:g} K); {fix}")
        if len(self.contrast) not in (1, len(self.axes)):
            raise ValueError(f"contrast: give one value or one per axis ({len(self.axes)} "
                             f"axes), not {len(self.contrast)}")
        s_ref = 10 ** ((self.mw_reference_power - self.mw_saturation_power) / 10)
        if max(self.contrast) * (1 + s_ref) / s_ref >= 1:
            raise ValueError(
                f"contrast {max(self.contrast)} at mw_reference_power implies a saturated "
                f"contrast above 1; lower contrast or raise mw_reference_power")
        return self

    def axis_contrasts(self) -> tuple[float, ...]:
        """The contrast of each configured axis (at ``mw_reference_power``)."""
        return self.contrast * len(self.axes) if len(self.contrast) == 1 else self.contrast


# --- instruments ----------------------------------------------------------------------------

class InstrumentEntry(BaseModel):
    """One instrument: ``driver`` and the driver's own options.

    The options are checked against the driver's options model
    (:mod:`nvsense.instruments.driver_options`) as part of the bench file, so their errors come
    with the others, each with its line; :attr:`settings` holds the validated options.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: ClassVar[str] = ""

    driver: str
    _settings: DriverOptions | None = PrivateAttr(default=None)

    @field_validator("driver", mode="before")
    @classmethod
    def _known_driver(cls, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"expected a driver name, got {v!r}")
        try:
            find_driver(cls.kind, v)
        except BenchConfigError as exc:
            raise ValueError(str(exc)) from None
        return v if ":" in v else v.strip().lower()

    @model_validator(mode="after")
    def _driver_options(self, info: ValidationInfo) -> InstrumentEntry:
        driver = self.info
        if driver.options is not None:
            # A ValidationError raised here is reported at instruments.<slot>.<option>.
            self._settings = driver.options.model_validate(self.options,
                                                           context=info.context)
            return self
        missing = [key for key in driver.requires if key not in self.options]
        if missing:
            raise ValueError(f"driver {driver.name} needs {' and '.join(missing)}; "
                             f"e.g. {driver.example_text()}")
        return self

    @property
    def info(self) -> DriverInfo:
        """The registry entry of the driver."""
        return find_driver(self.kind, self.driver)

    @property
    def options(self) -> dict[str, Any]:
        """Everything but ``driver``, as written in the bench file."""
        return dict(self.model_extra or {})

    @property
    def settings(self) -> DriverOptions | None:
        """The validated options (SI values), or ``None`` for a user's driver."""
        return self._settings


def _slot_entry(name: str, kind: str) -> type[InstrumentEntry]:
    """The entry class of the ``kind`` slot: an :class:`InstrumentEntry` whose driver is
    looked up among that kind's drivers."""
    return type(name, (InstrumentEntry,), {
        "__module__": __name__, "__qualname__": name, "kind": kind,
        "__doc__": f"The ``instruments.{kind}`` entry of a bench file."})


MicrowaveEntry = _slot_entry("MicrowaveEntry", "mw")
LaserEntry = _slot_entry("LaserEntry", "laser")
CounterEntry = _slot_entry("CounterEntry", "counter")
CoilEntry = _slot_entry("CoilEntry", "coil")
LockInEntry = _slot_entry("LockInEntry", "lockin")
AnalogInputEntry = _slot_entry("AnalogInputEntry", "analog_input")
FMDriveEntry = _slot_entry("FMDriveEntry", "fm_drive")
PulserEntry = _slot_entry("PulserEntry", "pulser")
GatedCounterEntry = _slot_entry("GatedCounterEntry", "gated_counter")
CameraEntry = _slot_entry("CameraEntry", "camera")


class InstrumentsConfig(_Model):
    """The bench's instruments by slot: ``mw``, ``laser`` and ``counter`` are required; the
    ``coil`` and the instruments of lock-in, pulsed and widefield measurements (``lockin``,
    ``analog_input``, ``fm_drive``, ``pulser``, ``gated_counter``, ``camera``) are optional."""

    mw: MicrowaveEntry
    laser: LaserEntry
    counter: CounterEntry
    coil: CoilEntry | None = None
    lockin: LockInEntry | None = None
    analog_input: AnalogInputEntry | None = None
    fm_drive: FMDriveEntry | None = None
    pulser: PulserEntry | None = None
    gated_counter: GatedCounterEntry | None = None
    camera: CameraEntry | None = None

    def entries(self) -> dict[str, InstrumentEntry]:
        """Slot -> entry, for the slots that are filled (core slots first, then the optional
        ones in :data:`~nvsense.instruments.registry.OPTIONAL_SLOTS` order)."""
        slots = {slot: getattr(self, slot) for slot in (*CORE_SLOTS, *OPTIONAL_SLOTS)}
        return {k: v for k, v in slots.items() if v is not None}


def _all_simulated() -> InstrumentsConfig:
    """A bench file without ``instruments:``: every instrument simulated (no coil), the
    optional ones built only when a measurement uses them."""
    return InstrumentsConfig(mw={"driver": "simulated"}, laser={"driver": "simulated"},
                             counter={"driver": "simulated"},
                             **{slot: {"driver": "simulated"} for slot in OPTIONAL_SLOTS})


# --- limits and safe state ------------------------------------------------------------------

class LimitsConfig(_Model):
    """Bench limits, on top of each instrument's own; a missing one means no bench limit.

    ``max_modulation_voltage`` bounds what drives the source's FM input (a lock-in's sine
    output, the FM drive's amplitude); ``max_mw_duty_cycle`` bounds the fraction of a pulse
    program's pass with the microwave on (the rating of a pulsed amplifier, the heating of the
    sample or antenna).
    """

    frequency: tuple[Frequency, Frequency] | None = None  # type: ignore[valid-type]
    max_mw_power: _quantity("dBm", '"0 dBm"') | None = None  # type: ignore[valid-type]
    max_laser_power: _quantity(  # type: ignore[valid-type]
        "W", '"0.5 W"', non_negative=True) | None = None
    max_coil_current: _quantity(  # type: ignore[valid-type]
        "A", '"2 A"', non_negative=True) | None = None
    max_modulation_voltage: _quantity(  # type: ignore[valid-type]
        "V", '"1 V"', positive=True) | None = None
    max_mw_duty_cycle: Annotated[_quantity(  # type: ignore[valid-type]
        "1", '0.1 (or "10 %")'), Field(gt=0, le=1)] | None = None

    @field_validator("frequency")
    @classmethod
    def _ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"give [lowest, highest], e.g. [\"2.5 GHz\", \"3.3 GHz\"]; "
                             f"got {v[0]:.6g} Hz to {v[1]:.6g} Hz")
        return v


def _off_standby(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` as False.
    return "off" if value is False else value


class SafeStateConfig(_Model):
    """What the bench is left in on every exit: RF is always off; the laser off or standby."""

    laser: Annotated[Literal["off", "standby"], BeforeValidator(_off_standby)] = "off"


class DefaultsConfig(_Model):
    """Settings that runs on this bench use unless they are given: ``odmr:`` for ODMR runs,
    ``track:`` for tracking runs — the microwave power, sweep, dwell and fit model that suit
    its sample (a single NV wants a low power, fine steps and a long dwell).  The measurement
    validates them (:mod:`nvsense.measure.bench_defaults`), since only it knows its
    settings."""

    odmr: dict[str, Any] = Field(default_factory=dict)
    track: dict[str, Any] = Field(default_factory=dict)


class BenchConfig(_Model):
    """A validated bench file."""

    name: str | None = None
    sample: SampleConfig = SampleConfig()
    instruments: InstrumentsConfig = Field(default_factory=_all_simulated)
    limits: LimitsConfig = LimitsConfig()
    safe_state: SafeStateConfig = SafeStateConfig()
    defaults: DefaultsConfig = DefaultsConfig()

    @property
    def simulated_slots(self) -> list[str]:
        """Slots filled by simulated instruments (they share one sample)."""
        return [slot for slot, e in self.instruments.entries().items() if e.info.simulated]


# --- loading --------------------------------------------------------------------------------

def builtin_bench_path(name: str) -> Path:
    """Path of a built-in bench file (``"simulated"``, ``"single_nv"``, ``"example_real"``)."""
    if name not in BUILTIN_BENCHES:
        raise BenchConfigError(f"no built-in bench {name!r}; built-in benches: "
                               f"{', '.join(BUILTIN_BENCHES)}")
    return Path(str(resources.files("nvsense.instruments.benches") / f"{name}.yaml"))


def load_bench_config(
    source: str | Path | Mapping[str, Any] | BenchConfig | None = None,
    *,
    base_dir: str | Path | None = None,
) -> tuple[BenchConfig, Path | None]:
    """Read and validate a bench.

    Parameters
    ----------
    source
        A bench file path, the name of a built-in bench (:data:`BUILTIN_BENCHES`), a mapping
        with the file's content, a :class:`BenchConfig`, or ``None`` for the built-in
        simulated bench.
    base_dir
        Where relative paths inside the bench (pyvisa-sim models in ``visa_library``) are
        read from; default the bench file's folder, or the working directory for a mapping
        (give the folder of the file the mapping came from, e.g. a campaign file).

    Returns
    -------
    (BenchConfig, Path or None)
        The configuration and the file it came from (``None`` for a mapping).

    Raises
    ------
    BenchConfigError
        Naming the file, line and key path of every problem, and how to fix it.
    """
    if isinstance(source, BenchConfig):
        return source, None
    if source is None:
        source = builtin_bench_path("simulated")
    if isinstance(source, Mapping):
        return _validate(dict(source), label="bench mapping", root=None,
                         base_dir=base_dir), None
    path = Path(source)
    if not path.is_file():
        if isinstance(source, str) and source in BUILTIN_BENCHES:
            path = builtin_bench_path(source)
        else:
            raise BenchConfigError(
                f"bench file {str(source)!r} not found; give the path of a YAML bench file, "
                f"or a built-in bench: {', '.join(BUILTIN_BENCHES)}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchConfigError(f"cannot read bench file {path}: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BenchConfigError(f"{path}{where}: not valid YAML ({problem}); check the "
                               f"indentation and quoting there") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BenchConfigError(f"{path}: a bench file is a mapping (sample:, instruments:, "
                               f"limits:, safe_state:), not a {type(data).__name__}")
    return _validate(data, label=str(path), root=root,
                     base_dir=base_dir if base_dir is not None else path.parent), path


def _validate(data: dict[str, Any], *, label: str, root: yaml.Node | None,
              base_dir: str | Path | None = None) -> BenchConfig:
    context = {"bench_dir": Path(base_dir) if base_dir is not None else None}
    try:
        return BenchConfig.model_validate(data, context=context)
    except ValidationError as exc:
        found = [_describe_error(err, data, root) for err in exc.errors()]
        problems = [text for _, text in sorted(found, key=lambda item: item[0])]
        head = f"{label}: " if len(problems) == 1 else f"{label}: {len(problems)} problems:\n  "
        raise BenchConfigError(head + "\n  ".join(problems)) from None


def _describe_error(err: Mapping[str, Any], data: Any,
                    root: yaml.Node | None) -> tuple[int, str]:
    """(line or 0, message) for one pydantic error."""
    loc = tuple(err["loc"])
    line = line_of(root, loc)
    return line or 0, _message(err, loc, data, f"line {line}, " if line else "")


def _message(err: Mapping[str, Any], loc: tuple[Any, ...], data: Any, where: str) -> str:
    option = _driver_of_option(loc, data)
    if option is not None:
        return where + option_problem(str(loc[1]), option, {**err, "loc": loc[2:]})
    path = _key_path(loc, data)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        key = str(loc[-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{where}{path}: unknown key; {hint}allowed here: {', '.join(allowed)}"
    if kind == "missing":
        if len(loc) == 2 and loc[0] == "instruments":
            return (f"{where}{path}: missing; every bench has mw, laser and counter, e.g. "
                    f"{loc[1]}: {{driver: simulated}}")
        return f"{where}{path}: missing; add it (see the bench file reference in the documentation)"
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "int_parsing", "float_parsing", "bool_parsing",
                "greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        message = f"{message}, got {err.get('input')!r}"
    return f"{where}{path}: {message}"


def _driver_of_option(loc: tuple[Any, ...], data: Any) -> DriverInfo | None:
    """The driver whose options model raised an error at ``instruments.<slot>.<option>``."""
    if len(loc) < 3 or loc[0] != "instruments" or loc[1] not in SLOT_KINDS:
        return None
    try:
        driver = data["instruments"][loc[1]]["driver"]
        info = find_driver(SLOT_KINDS[loc[1]], driver)
    except (KeyError, TypeError, BenchConfigError):
        return None
    return info if info.options is not None else None


def _key_path(loc: tuple[Any, ...], data: Any) -> str:
    """``sample.field_ac[0].amplitude``; an index is shown only where the file has a list."""
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, list | tuple):
                text += f"[{part}]"
                node = node[part] if part < len(node) else None
            continue
        text += ("." if text else "") + str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return text or "bench"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys the model at ``loc`` accepts (for 'did you mean' and the list of allowed keys)."""
    model: Any = BenchConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return []
        model = _model_in(fields[part].annotation)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (through Optional, tuple, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
