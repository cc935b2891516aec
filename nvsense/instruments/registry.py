"""Which driver drives what: the table behind ``driver:`` in a bench file.

Each entry maps a driver name to the kind of slot it fills (``mw``, ``laser``, ``counter``,
``coil``, and the optional ``lockin``, ``analog_input``, ``fm_drive``, ``pulser``,
``gated_counter``, ``camera``), the class that implements it (``"module:Class"``) and a
one-line description.  Classes are imported only when a bench uses them, so a driver whose
module (or vendor library) is missing breaks only the benches that name it, with an error
naming the module.

Construction contract, for every driver: ``Class(name=<bench key>, **entry)`` where ``entry``
is the bench-file entry without ``driver``; ``__init__`` does no I/O, ``connect()`` opens the
connection.  Simulated drivers also receive ``sample=`` (the shared
:class:`~nvsense.instruments.simulated.SimulatedSample`).

A bench file may also name any importable class as ``driver: "package.module:Class"`` (your own
instrument); it gets the same keyword arguments.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from . import acquisition_options as acq
from . import driver_options as opt
from .driver_options import DriverOptions
from .errors import BenchConfigError

__all__ = [
    "CORE_SLOTS",
    "DRIVERS",
    "KINDS",
    "OPTIONAL_SLOTS",
    "SLOT_KINDS",
    "DriverInfo",
    "DriverUnavailableError",
    "build_instrument",
    "driver_names",
    "drivers",
    "find_driver",
    "option_problem",
]

Kind = Literal["mw", "laser", "counter", "coil", "lockin", "analog_input", "fm_drive",
               "pulser", "gated_counter", "camera"]

#: The slots every bench has (``coil`` optional), connected with the bench, in this order
#: (RF first: it can heat or damage).
CORE_SLOTS: tuple[Kind, ...] = ("mw", "laser", "counter", "coil")
#: Optional slots for lock-in, pulsed and widefield measurements: built and connected on first
#: use (a bench that does not use them pays nothing), made safe after the core slots, outputs
#: first.
OPTIONAL_SLOTS: tuple[Kind, ...] = ("pulser", "fm_drive", "lockin", "analog_input",
                                    "gated_counter", "camera")
#: Bench slots and the kind of instrument each holds (the slot name is the kind).
SLOT_KINDS: dict[str, Kind] = {slot: slot for slot in (*CORE_SLOTS, *OPTIONAL_SLOTS)}
#: What each kind of slot holds, in words.
KINDS: dict[str, str] = {
    "mw": "microwave source",
    "laser": "laser / AOM",
    "counter": "photon counter / photodiode DAQ",
    "coil": "bias-coil current supply",
    "lockin": "lock-in amplifier",
    "analog_input": "continuous multi-channel analog input (photodiodes, sync, trigger)",
    "fm_drive": "FM drive of the microwave source (lock-in detection)",
    "pulser": "pulse generator",
    "gated_counter": "gated photon counter (one value per read-out window)",
    "camera": "camera (widefield)",
}


class DriverUnavailableError(BenchConfigError):
    """A known driver cannot be imported (its module or a library it needs is missing)."""


@dataclass(frozen=True)
class DriverInfo:
    """One driver of the registry.

    Attributes
    ----------
    name
        The value of ``driver:`` in a bench file.
    kind
        The slot kind it fills (a key of :data:`KINDS`).
    target
        ``"module:Class"`` import path.
    description
        One line: the instrument(s) it drives.
    bus
        How it talks: ``VISA``, ``serial``, ``NI-DAQmx``, a vendor library (``LabOne``,
        ``SpinAPI``, ``pylablib``...), ``mw`` (through the bench's source) or ``simulated``.
    requires
        Options a bench entry must give (e.g. ``address``).
    example
        A typical entry, shown in error messages and ``nvsense instruments list``.
    options
        The pydantic model of the driver's options
        (:mod:`nvsense.instruments.driver_options`); ``None`` for a user's driver, whose
        constructor checks its own options.
    library, install
        A Python package the driver loads only when it connects (``"pulsestreamer"``), and
        how to install it; ``nvsense instruments list`` says when it is missing.
    """

    name: str
    kind: Kind
    target: str
    description: str
    bus: str
    requires: tuple[str, ...] = ()
    example: Mapping[str, Any] = field(default_factory=dict)
    options: type[DriverOptions] | None = None
    library: str = ""
    install: str = ""

    @property
    def simulated(self) -> bool:
        """Whether the driver is part of the simulated bench (it then needs the sample)."""
        return self.bus == "simulated"

    def load(self) -> type:
        """Import and return the driver class.

        Raises
        ------
        DriverUnavailableError
            If the module or the class cannot be imported; the message names both.
        """
        module_name, _, class_name = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            hint = (f"its module {module_name} is missing from this installation"
                    if missing == module_name
                    else f"it needs {missing!r}, which cannot be imported ({exc})")
            raise DriverUnavailableError(
                f"driver {self.name!r} ({self.target}) is unavailable: {hint}. Install the "
                f"missing package or choose another driver "
                f"(`nvsense instruments list` shows them)") from exc
        try:
            return getattr(module, class_name)
        except AttributeError:
            raise DriverUnavailableError(
                f"driver {self.name!r}: module {module_name} has no class {class_name!r}"
            ) from None

    def library_missing(self) -> str | None:
        """How to install the package the driver needs to connect, if it is missing here."""
        if not self.library:
            return None
        try:
            found = importlib.util.find_spec(self.library) is not None
        except (ImportError, ValueError):
            found = False
        return None if found else f"needs {self.library} ({self.install})"

    def example_text(self) -> str:
        """The example entry in bench-file (YAML flow) syntax."""
        items = [f"driver: {self.name}"] + [f"{k}: {_yaml_scalar(v)}"
                                            for k, v in self.example.items()]
        return "{" + ", ".join(items) + "}"


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in value.items()) + "}"
    return str(value)


_SIM = "nvsense.instruments.simulated"
_DRV = "nvsense.instruments.drivers"

#: Every driver nvsense knows, in the order ``nvsense instruments list`` shows them.
DRIVERS: tuple[DriverInfo, ...] = (
    DriverInfo("simulated", "mw", f"{_SIM}.microwave:SimulatedMicrowave",
               "simulated microwave source (SG384-like ranges, list mode, FM)", "simulated",
               options=opt.SimulatedMicrowaveOptions),
    DriverInfo("sg384", "mw", f"{_DRV}.sg384:SG384",
               "Stanford Research Systems SG380 series (SG382/SG384/SG386) signal generator",
               "VISA", ("address",),
               {"address": "TCPIP0::10.0.0.11::5025::SOCKET", "visa_library": "@py"},
               options=opt.SG384Options),
    DriverInfo("smb100a", "mw", f"{_DRV}.smb100a:SMB100A",
               "Rohde & Schwarz SMB100A signal generator", "VISA", ("address",),
               {"address": "TCPIP0::10.0.0.12::inst0::INSTR", "visa_library": "@py"},
               options=opt.SMB100AOptions),
    DriverInfo("n5181b", "mw", f"{_DRV}.n5181b:N5181B",
               "Keysight MXG N5181B / N5182B / N5183B signal generator", "VISA", ("address",),
               {"address": "TCPIP0::10.0.0.13::inst0::INSTR", "visa_library": "@py"},
               options=opt.N5181BOptions),
    DriverInfo("synthhd", "mw", f"{_DRV}.synthhd:SynthHD",
               "Windfreak SynthHD / SynthHD PRO synthesizer (USB serial)", "serial",
               ("address",), {"address": "ASRL/dev/ttyACM0::INSTR"}, options=opt.SynthHDOptions),
    DriverInfo("simulated", "laser", f"{_SIM}.laser:SimulatedLaser",
               "simulated laser (power, on/off, standby)", "simulated",
               options=opt.SimulatedLaserOptions),
    DriverInfo("obis", "laser", f"{_DRV}.obis:OBIS",
               "Coherent OBIS LX/LS laser (USB or RS-232)", "serial", ("address",),
               {"address": "ASRL/dev/ttyACM0::INSTR"}, options=opt.OBISOptions),
    DriverInfo("cobolt", "laser", f"{_DRV}.cobolt:Cobolt",
               "Cobolt 06-01 / 04-01 series laser (RS-232 or USB)", "serial", ("address",),
               {"address": "ASRL/dev/ttyUSB1::INSTR"}, options=opt.CoboltOptions),
    DriverInfo("nidaq_gate", "laser", f"{_DRV}.nidaq:NIDAQGate",
               "laser or AOM switched by an NI DAQ digital line (on/off, fixed power)",
               "NI-DAQmx", ("power",), {"device": "Dev1", "line": "port0/line0",
                                        "power": "50 mW"},
               options=opt.NIDAQGateOptions),
    DriverInfo("simulated", "counter", f"{_SIM}.counter:SimulatedCounter",
               "simulated APD counter (counts) or photodiode (kind: volts)", "simulated",
               options=opt.SimulatedCounterOptions),
    DriverInfo("nidaq", "counter", f"{_DRV}.nidaq:NIDAQCounter",
               "NI X-series DAQ: APD edge counting (kind: counts) or photodiode analog input "
               "(kind: volts), bin clock triggers the MW list", "NI-DAQmx", (),
               {"device": "Dev1", "kind": "counts", "counter": "ctr0", "clock_counter": "ctr1",
                "source_terminal": "PFI0", "clock_terminal": "PFI12"},
               options=opt.NIDAQCounterOptions),
    DriverInfo("simulated", "coil", f"{_SIM}.coil:SimulatedCoil",
               "simulated bipolar coil supply (field = sample.coil_constant × current)",
               "simulated", options=opt.SimulatedCoilOptions),
    DriverInfo("dp800", "coil", f"{_DRV}.dp800:DP800",
               "Rigol DP800-series DC power supply (one channel drives the coil)", "VISA",
               ("address",), {"address": "TCPIP0::10.0.0.14::inst0::INSTR", "channel": 1},
               options=opt.DP800Options),
    # --- lock-in detection ---------------------------------------------------------------
    DriverInfo("simulated", "lockin", f"{_SIM}.chain:ChainLockIn",
               "simulated lock-in: software lock-in on the simulated photodiode (its sine "
               "output drives the simulated source's FM input)", "simulated",
               options=acq.SimulatedLockInOptions),
    DriverInfo("sr860", "lockin", f"{_DRV}.sr860:SR860",
               "Stanford Research Systems SR860 / SR865A DSP lock-in amplifier", "VISA",
               ("address",), {"address": "TCPIP0::10.0.0.21::inst0::INSTR",
                              "visa_library": "@py"}, options=acq.SR860Options),
    DriverInfo("mfli", "lockin", f"{_DRV}.mfli:MFLI",
               "Zurich Instruments MFLI / MFIA lock-in amplifier (zhinst-toolkit)", "LabOne",
               ("serial",), {"serial": "dev5678", "host": "localhost"},
               options=acq.MFLIOptions, library="zhinst.toolkit",
               install='pip install "nvsense[mfli]"'),
    DriverInfo("simulated", "analog_input", f"{_SIM}.chain:ChainAnalogInput",
               "simulated analog input of the simulated photodiode chain (signal, reference, "
               "sync, trigger)", "simulated", options=acq.SimulatedAnalogInputOptions),
    DriverInfo("nidaq", "analog_input", f"{_DRV}.nidaq:NIDAQAnalogInput",
               "NI X-series DAQ: continuous hardware-timed multi-channel analog input, read "
               "in blocks", "NI-DAQmx", (),
               {"device": "Dev1", "channels": {"s0.signal": "ai0", "s0.reference": "ai1"}},
               options=acq.NIDAQAnalogInputOptions),
    DriverInfo("simulated", "fm_drive", f"{_SIM}.chain:ChainFMDrive",
               "simulated analog output on the analog input's clock into the simulated "
               "source's external FM input", "simulated", options=acq.SimulatedFMDriveOptions),
    DriverInfo("nidaq", "fm_drive", f"{_DRV}.nidaq:NIDAQFMDrive",
               "NI X-series analog output: a sine on the analog input's sample clock into the "
               "source's external FM input", "NI-DAQmx", (),
               {"device": "Dev1", "ao_channel": "ao0", "amplitude": "1 V"},
               options=acq.NIDAQFMDriveOptions),
    DriverInfo("internal", "fm_drive", "nvsense.instruments.fm_drive:SourceFMDrive",
               "the microwave source's own FM generator (the lock-in needs a recorded sync)",
               "mw", options=acq.SourceFMDriveOptions),
    # --- pulsed measurements -------------------------------------------------------------
    DriverInfo("simulated", "pulser", f"{_SIM}.pulser:SimulatedPulser",
               "simulated pulse generator playing programs on the simulated spin (Pulse "
               "Streamer limits)", "simulated", options=acq.SimulatedPulserOptions),
    DriverInfo("pulse_streamer", "pulser", f"{_DRV}.pulse_streamer:PulseStreamer82",
               "Swabian Instruments Pulse Streamer 8/2 (pulsestreamer client)", "network", (),
               {"address": "169.254.8.2", "channels": {"laser": 0, "mw": 1, "gate": 2}},
               options=acq.PulseStreamerOptions, library="pulsestreamer",
               install='pip install "nvsense[pulsestreamer]"'),
    DriverInfo("pulseblaster", "pulser", f"{_DRV}.pulseblaster:PulseBlaster",
               "SpinCore PulseBlaster ESR-PRO and relatives (spinapi)", "SpinAPI", (),
               {"board": 0, "clock": "500 MHz"}, options=acq.PulseBlasterOptions,
               library="spinapi", install='pip install "nvsense[spinapi]" and SpinCore\'s '
                                          "driver library"),
    DriverInfo("simulated", "gated_counter", f"{_SIM}.gated_counter:SimulatedGatedCounter",
               "simulated gated counter: counts per read-out window from the spin simulation",
               "simulated", options=acq.SimulatedGatedCounterOptions),
    DriverInfo("nidaq", "gated_counter", f"{_DRV}.nidaq:NIDAQGatedCounter",
               "NI X-series counter gated by the pulser: one value per read-out window, summed "
               "over passes", "NI-DAQmx", (),
               {"device": "Dev1", "counter": "ctr0", "source_terminal": "PFI0",
                "gate_terminal": "PFI1"}, options=acq.NIDAQGatedCounterOptions),
    DriverInfo("timetagger", "gated_counter", f"{_DRV}.timetagger:TimeTaggerGated",
               "Swabian Time Tagger 20 / Ultra / X: counts between the gate's edges",
               "Time Tagger", (), {"click_channels": [1], "gate_channel": 2},
               options=acq.TimeTaggerOptions, library="TimeTagger",
               install="the Time Tagger software from Swabian Instruments"),
    # --- widefield -----------------------------------------------------------------------
    DriverInfo("simulated", "camera", f"{_SIM}.camera:SimulatedCamera",
               "simulated sCMOS imaging the simulated sample (field map, PSF, noise, drift)",
               "simulated", options=acq.SimulatedCameraOptions),
    DriverInfo("andor", "camera", f"{_DRV}.camera_andor:AndorSDK3",
               "Andor SDK3 camera (Zyla, Neo, Sona, Marana) through pylablib", "pylablib", (),
               {"index": 0}, options=acq.AndorOptions, library="pylablib",
               install='pip install "nvsense[camera]", and the Andor SDK3 SDK'),
    DriverInfo("dcam", "camera", f"{_DRV}.camera_dcam:HamamatsuDCAM",
               "Hamamatsu DCAM camera (ORCA) through pylablib", "pylablib", (), {"index": 0},
               options=acq.DCAMOptions, library="pylablib",
               install='pip install "nvsense[camera]", and the Hamamatsu DCAM-API SDK'),
    DriverInfo("vimbax", "camera", f"{_DRV}.camera_vimbax:AlliedVisionVimbaX",
               "Allied Vision camera (Alvium, Mako, Manta) through Vimba X and pylablib",
               "pylablib", (), {"index": 0}, options=acq.VimbaXOptions, library="pylablib",
               install='pip install "nvsense[camera]", and the Allied Vision Vimba X SDK'),
)


def drivers(kind: str | None = None) -> list[DriverInfo]:
    """The registered drivers, all or those of one ``kind``."""
    return [d for d in DRIVERS if kind is None or d.kind == kind]


def driver_names(kind: str) -> list[str]:
    """Names of the drivers that can fill a ``kind`` slot."""
    return [d.name for d in drivers(kind)]


def find_driver(kind: str, name: str) -> DriverInfo:
    """The driver ``name`` for a ``kind`` slot.

    ``name`` may also be ``"package.module:Class"``, a driver outside nvsense.

    Raises
    ------
    BenchConfigError
        If no such driver drives that kind of instrument; the message lists the known ones.
    """
    if ":" in name:
        return DriverInfo(name, kind, name, "user driver", "custom")  # type: ignore[arg-type]
    for info in DRIVERS:
        if info.kind == kind and info.name == name.strip().lower():
            return info
    elsewhere = [d.kind for d in DRIVERS if d.name == name.strip().lower()]
    note = f" ({name!r} drives a {KINDS[elsewhere[0]]}, not a {KINDS[kind]})" if elsewhere else ""
    raise BenchConfigError(
        f"unknown driver {name!r} for {kind}{note}; known {kind} drivers: "
        f"{', '.join(driver_names(kind))} (or 'package.module:Class' for your own)")


def build_instrument(slot: str, driver: str, options: Mapping[str, Any], *,
                     sample: Any = None, bench_dir: Any = None) -> Any:
    """Import the driver of ``slot`` and construct it (no I/O).

    Parameters
    ----------
    slot
        The bench key (``"mw"``); passed as ``name`` and used to choose the kind.
    driver
        The driver name (or ``"module:Class"``).
    options
        The bench-file entry without ``driver``; checked against the driver's options model
        (:mod:`nvsense.instruments.driver_options`) and passed on as SI values.
    sample
        The shared simulated sample, passed to simulated drivers.
    bench_dir
        The folder of the bench file: relative pyvisa-sim models are read from there.

    Raises
    ------
    BenchConfigError
        Unknown driver, an option the driver does not take, a required one missing, or a value
        the driver rejects; the message names ``instruments.<slot>`` and the fix (every problem
        of the options at once).
    DriverUnavailableError
        The driver's module cannot be imported.
    """
    info = find_driver(SLOT_KINDS[slot], driver)
    for reserved in ("name", "sample"):
        if reserved in options:
            raise BenchConfigError(f"instruments.{slot}.{reserved}: not an option (the bench "
                                   f"sets it); remove it")
    if info.options is not None:
        try:
            settings = info.options.model_validate(dict(options),
                                                   context={"bench_dir": bench_dir})
        except ValidationError as exc:
            problems = [option_problem(slot, info, err) for err in exc.errors()]
            raise BenchConfigError("; ".join(problems)) from None
        kwargs = settings.driver_kwargs()
    else:
        kwargs = dict(options)
    try:
        cls = info.load()
    except DriverUnavailableError as exc:
        raise DriverUnavailableError(f"instruments.{slot}: {exc}") from exc.__cause__
    if info.simulated:
        kwargs["sample"] = sample
    if info.options is None:
        _check_arguments(slot, info, cls, kwargs)
    try:
        return cls(name=slot, **kwargs)
    except (ValueError, TypeError) as exc:
        raise BenchConfigError(f"instruments.{slot} ({info.name}): {exc}") from exc


#: pydantic error types whose message is clearer with the value that was given.
_SHOW_INPUT = frozenset({"literal_error", "int_parsing", "float_parsing", "bool_parsing",
                         "int_type", "bool_type", "string_type", "string_pattern_mismatch",
                         "greater_than_equal", "less_than_equal", "greater_than", "less_than"})


def option_problem(slot: str, info: DriverInfo, err: Mapping[str, Any]) -> str:
    """One error of a driver's options model in words: ``instruments.<slot>.<key>: ...``.

    ``err`` is a pydantic error whose location starts at the option (``("visa_libary",)``).
    """
    loc = tuple(err["loc"])
    key = str(loc[0]) if loc else ""
    allowed = list(info.options.model_fields) if info.options is not None else []
    kind = err["type"]
    if kind == "extra_forbidden":
        if key in ("name", "sample"):
            return f"instruments.{slot}.{key}: not an option (the bench sets it); remove it"
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return (f"instruments.{slot}.{key}: driver {info.name!r} has no option {key!r}; "
                f"{hint}its options: {', '.join(allowed) or 'none'}")
    if kind == "missing" and len(loc) == 1:
        example = f"; e.g. {info.example_text()}" if info.example else ""
        return f"instruments.{slot}: driver {info.name} needs {key}{example}"
    path = ".".join([f"instruments.{slot}", *(str(part) for part in loc)])
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind in _SHOW_INPUT:
        message = f"{message}, got {err.get('input')!r}"
    return f"{path}: {message}"


def _check_arguments(slot: str, info: DriverInfo, cls: type, kwargs: dict[str, Any]) -> None:
    """Report unknown and missing options of a user's driver by name before its constructor
    sees them (built-in drivers are checked by their options models)."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # builtins or C classes: let the constructor decide
        return
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items()
                if n not in ("name", "sample") and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in kwargs:
        if key not in params:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise BenchConfigError(
                f"instruments.{slot}.{key}: driver {info.name!r} has no option {key!r}; "
                f"{hint}its options: {', '.join(accepted) or 'none'}")
    for pname, p in params.items():
        if (pname not in kwargs and pname != "name" and p.default is inspect.Parameter.empty
                and p.kind in (inspect.Parameter.KEYWORD_ONLY,
                               inspect.Parameter.POSITIONAL_OR_KEYWORD)):
            example = f"; e.g. {info.example_text()}" if info.example else ""
            raise BenchConfigError(
                f"instruments.{slot}: driver {info.name!r} needs {pname!r}{example}")
