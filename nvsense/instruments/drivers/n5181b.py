"""Keysight (Agilent) MXG X-Series N5181B / N5182B / N5183B signal generators.

Commands from *Keysight X-Series Signal Generators SCPI Command Reference* (N5181B/N5182B/
N5183B ...), chapters "Basic Function Commands" and "System Commands" (cross-checked against
the MAHOS ``N5182B`` driver, which runs point-triggered ODMR sweeps on the same family):

- Interfaces: LAN (VXI-11 ``TCPIP0::<ip>::inst0::INSTR``, HiSLIP, socket port 5025), USB,
  GPIB; messages end in LF.
- ``*IDN?`` -> ``Keysight Technologies, N5181B, MY12345678, B.01.86`` (older units say
  ``Agilent Technologies``); ``*OPT?`` lists options (503/506 = 3/6 GHz for N5181B/N5182B;
  513/520/532/540 = 13/20/31.8/40 GHz for N5183B); ``*CLS``.
- ``FREQ``/``FREQ?`` (Hz, 0.001 Hz resolution), ``FREQ:MODE CW|LIST``; ``POW``/``POW?``
  (dBm, 0.01 dB); ``POW:MODE FIX``; ``OUTP ON|OFF``; ``OUTP:MOD ON|OFF`` (all modulation).
- List sweep: ``LIST:TYPE LIST`` (arbitrary points), ``LIST:FREQ f1,f2,...``,
  ``LIST:DWEL:TYPE STEP`` (no per-point dwell list needed), ``LIST:TRIG:SOUR EXT`` (point
  trigger), ``LIST:TRIG:EXT:SOUR TRIG1|TRIG2|PULS`` (which BNC), ``LIST:TRIG:SLOP POS|NEG``,
  ``TRIG:SOUR IMM`` (sweep trigger: start at once), ``INIT:CONT ON`` (re-arm after the last
  point, i.e. wrap), ``ABOR`` (back to the first point).  A list holds up to 3201 points.
- FM (option UNT): ``FM:DEV``, ``FM:SOUR INT|EXT1``, ``FM:INT:FREQ`` (rate),
  ``FM:EXT1:COUP DC``, ``FM:STAT ON|OFF``.
- ``SYST:ERR?`` reads the SCPI error queue (``+0,"No error"`` when empty).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from ..driver_options import N5181B_MODELS
from ..protocols import MicrowaveLimits
from .scpi_source import ScpiSubsystemSource, format_csv
from .visa_base import (
    DriverDescription,
    parse_bool,
)

__all__ = ["N5181B"]

log = logging.getLogger(__name__)

# Frequency options (data sheets): option -> (min, max) in Hz.
_FREQUENCY_OPTIONS = {
    "503": (9e3, 3e9), "506": (9e3, 6e9),
    "513": (100e3, 13e9), "520": (100e3, 20e9), "532": (100e3, 31.8e9), "540": (100e3, 40e9),
}
_MODEL_DEFAULT = {"N5181B": (9e3, 6e9), "N5182B": (9e3, 6e9), "N5183B": (100e3, 40e9)}
_POWER_RANGE = {"N5181B": (-144.0, 30.0), "N5182B": (-144.0, 30.0), "N5183B": (-130.0, 30.0)}
_TRIGGER_INPUTS = ("TRIG1", "TRIG2", "PULS")


def _mode(reply: str) -> str:
    text = reply.strip().upper()
    return "CW" if text in ("CW", "FIX", "FIXED") else text


class N5181B(ScpiSubsystemSource):
    """Keysight MXG X-Series signal generator.

    Parameters
    ----------
    trigger_input
        The BNC that steps the list: ``"TRIG1"`` (default), ``"TRIG2"`` or ``"PULS"``.
    trigger_slope
        Active edge: ``"positive"`` or ``"negative"``.

    Notes
    -----
    The other parameters are those of
    :class:`~nvsense.instruments.drivers.microwave_base.MicrowaveDriver` (``model`` one of
    N5181B, N5182B, N5183B).
    """

    description = DriverDescription(
        kind="mw",
        summary="Keysight MXG N5181B / N5182B / N5183B signal generator",
        models=N5181B_MODELS,
        manual="Keysight X-Series Signal Generators SCPI Command Reference",
        connections=("TCPIP0::10.0.0.13::inst0::INSTR", "TCPIP0::10.0.0.13::5025::SOCKET",
                     "GPIB0::19::INSTR"))
    read_termination = "\n"
    write_termination = "\n"
    default_model = "N5181B"
    max_list_points = 3201

    modulation_switch = "OUTP:MOD"
    fm_max_deviation = 80e6
    fm_max_rate = 10e6
    manufacturers = ("keysight", "agilent")
    instrument_kind = "a Keysight MXG (N5181B, N5182B, N5183B)"
    # SourceCommands() defaults: FREQ (Hz, 0.001 Hz), POW (dBm, 0.01 dB), OUTP ON|OFF.

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, model: str | None = None, frequency_min: float | str | None = None,
                 frequency_max: float | str | None = None, power_min: float | str | None = None,
                 power_max: float | str | None = None,
                 trigger_input: Literal["TRIG1", "TRIG2", "PULS"] = "TRIG1",
                 trigger_slope: Literal["positive", "negative"] = "positive",
                 resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, model=model,
                         frequency_min=frequency_min, frequency_max=frequency_max,
                         power_min=power_min, power_max=power_max,
                         resource_manager=resource_manager)
        if str(trigger_input).upper() not in _TRIGGER_INPUTS:
            raise ValueError(f"{name}: trigger_input must be one of {', '.join(_TRIGGER_INPUTS)}")
        if trigger_slope not in ("positive", "negative"):
            raise ValueError(f"{name}: trigger_slope must be 'positive' or 'negative'")
        self.trigger_input = str(trigger_input).upper()
        self.trigger_slope = trigger_slope
        self._frequency_range: tuple[float, float] | None = None

    def _model_limits(self, model: str) -> MicrowaveLimits:
        frequency = self._frequency_range or _MODEL_DEFAULT[model]
        return MicrowaveLimits(*frequency, *_POWER_RANGE[model])

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        idn, model = self._read_idn()
        options = {o.strip().strip('"').upper() for o in self.query("*OPT?").split(",")}
        ranges = [r for o, r in _FREQUENCY_OPTIONS.items() if o in options]
        if ranges:
            self._frequency_range = max(ranges, key=lambda r: r[1])
        else:
            log.warning("%s: no frequency option in *OPT?; using the %s's widest range",
                        self.name, model)
        self._set_hardware_limits(self._model_limits(model))
        return idn

    # --- list mode --------------------------------------------------------------------------

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Write an arbitrary-point list stepped by the external point trigger."""
        freqs = self.check_list(frequencies, power)
        with self._lock:
            self.stop_list()
            self.set_checked("LIST:TYPE LIST", "LIST:TYPE?", "LIST", parse=str.upper)
            self.write("LIST:FREQ " + format_csv(freqs, "{:.3f}"))
            self._check_list_column("LIST:FREQ?", freqs, 0.0005)
            self.set_checked("LIST:DWEL:TYPE STEP", "LIST:DWEL:TYPE?", "STEP",
                             parse=str.upper)
            self.set_checked("POW:MODE FIX", "POW:MODE?", "FIX", parse=lambda r: r.upper()[:3])
            self.set_checked("TRIG:SOUR IMM", "TRIG:SOUR?", "IMM", parse=lambda r: r.upper()[:3])
            self._set_list_trigger("LIST:TRIG:SLOP", input_header="LIST:TRIG:EXT:SOUR",
                                   input_name=self.trigger_input, parse_input=_trigger_input)
            self._list_loaded(freqs, power)

    def start_list(self) -> None:
        """Run the list continuously from its first point; each point trigger steps once."""
        self._require_list("start_list")
        with self._lock:
            self.set_checked("FREQ:MODE LIST", "FREQ:MODE?", "LIST", parse=_mode)
            self.set_checked("INIT:CONT ON", "INIT:CONT?", True, parse=parse_bool)
            self.write("ABOR")  # restart the sweep at the first point

    def stop_list(self) -> None:
        """Stop the sweep and return to CW."""
        with self._lock:
            self.set_checked("INIT:CONT OFF", "INIT:CONT?", False, parse=parse_bool)
            self.write("ABOR")
            self.set_checked("FREQ:MODE CW", "FREQ:MODE?", "CW", parse=_mode)

    # --- snapshot ---------------------------------------------------------------------------

    def _list_running(self) -> bool:
        return self.query_value("FREQ:MODE?", _mode) == "LIST"

    # --- modulation -------------------------------------------------------------------------

    def _select_fm_source(self, source: str, rate: float | None) -> None:
        """FM (option UNT): internal sine at ``rate`` (``FM:INT:FREQ``) or the EXT1 input,
        DC coupled (``deviation`` at 1 V peak)."""
        if source == "internal":
            assert rate is not None
            self.set_checked("FM:SOUR INT", "FM:SOUR?", "INT", parse=lambda r: r.upper()[:3])
            self.set_checked(f"FM:INT:FREQ {rate:.3f}", "FM:INT:FREQ?", rate,
                             tolerance=0.0005 + 1e-9 * rate)
        else:
            self.set_checked("FM:SOUR EXT1", "FM:SOUR?", "EXT1",
                             parse=lambda r: r.upper().replace("EXTERNAL", "EXT"))
            self.set_checked("FM:EXT1:COUP DC", "FM:EXT1:COUP?", "DC", parse=str.upper)


def _trigger_input(reply: str) -> str:
    text = reply.strip().upper()
    return {"TRIGGER1": "TRIG1", "TRIGGER2": "TRIG2", "PULSE": "PULS"}.get(text, text)
