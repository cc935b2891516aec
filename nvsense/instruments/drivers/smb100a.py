"""Rohde & Schwarz SMB100A RF and microwave signal generator.

Commands from *R&S SMB100A RF and Microwave Signal Generator Operating Manual* 1407.0806.32,
chapter 6 "Remote Control Commands" (cross-checked against the Qudi ``mw_source_smbv`` and
QCoDeS-contrib ``SMB100A`` drivers):

- Interfaces (§5.1): LAN (VXI-11 ``TCPIP0::<ip>::inst0::INSTR`` or raw socket port 5025),
  USB-TMC, GPIB; messages end in LF.
- Common commands: ``*IDN?`` -> ``Rohde&Schwarz,SMB100A,1406.6000k03/<serial>,<firmware>``,
  ``*OPT?`` lists the installed options (the frequency option B101...B140 sets the range),
  ``*CLS``.
- §6.13.4 FREQuency: ``FREQ``/``FREQ?`` (Hz, 0.001 Hz resolution), ``FREQ:MODE CW|LIST``.
- §6.13.12 POWer: ``POW``/``POW?`` (dBm, 0.01 dB resolution).  OUTPut: ``OUTP ON|OFF``.
- §6.13.7 LIST (pp. 365-376): ``LIST:SEL '<name>'`` selects (creates) a list,
  ``LIST:FREQ f1,f2,...`` and ``LIST:POW p1,p2,...`` fill it (equal lengths; frequencies
  300 kHz to RFmax), ``LIST:MODE STEP`` ("each trigger event triggers only one step"),
  ``LIST:TRIG:SOUR EXT`` (trigger at the [INST TRIG] connector), ``LIST:RES`` back to the
  first point; ``FREQ:MODE LIST`` runs the list, ``FREQ:MODE CW`` leaves it.
- §6.13.5 INPut: ``INP:TRIG:SLOP POS|NEG`` (active edge of [INST TRIG], also in List mode).
- §6.13.3 FM (option SMB-B20): ``FM:DEV``, ``FM:SOUR INT|EXT``, ``FM:EXT:COUP DC``,
  ``FM:STAT``; ``LFO:FREQ`` sets the internal (LF generator) rate; §6.13.8 ``MOD:STAT``
  switches all modulations.
- SYSTem: ``SYST:ERR?`` reads the SCPI error queue (``0,"No error"`` when empty).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..driver_options import SMB100A_MODELS
from ..errors import LimitError
from ..protocols import MicrowaveLimits
from .scpi_source import ScpiSubsystemSource, format_csv
from .visa_base import (
    DriverDescription,
)

__all__ = ["SMB100A"]

log = logging.getLogger(__name__)

# Frequency options (data sheet): upper limit and lower limit of the RF output.
_FREQUENCY_OPTIONS = {
    "B101": (9e3, 1.1e9), "B102": (9e3, 2.2e9), "B103": (9e3, 3.2e9), "B106": (9e3, 6e9),
    "B112": (100e3, 12.75e9), "B120": (100e3, 20e9), "B140": (100e3, 40e9),
}
_WIDEST = (9e3, 40e9)
_POWER_RANGE = (-145.0, 30.0)
_LIST_FREQUENCY_MIN = 300e3  # §6.13.7 LIST:FREQ "Range: 300 kHz to RFmax"


class SMB100A(ScpiSubsystemSource):
    """R&S SMB100A.

    Parameters
    ----------
    list_name
        Name of the instrument list file nvsense writes (created if missing).
    trigger_slope
        Active edge of the [INST TRIG] input: ``"positive"`` or ``"negative"``.

    Notes
    -----
    The other parameters are those of
    :class:`~nvsense.instruments.drivers.microwave_base.MicrowaveDriver`.
    """

    description = DriverDescription(
        kind="mw",
        summary="Rohde & Schwarz SMB100A RF and microwave signal generator",
        models=SMB100A_MODELS,
        manual="R&S SMB100A Operating Manual 1407.0806.32, ch. 6 'Remote Control Commands'",
        connections=("TCPIP0::10.0.0.12::inst0::INSTR", "TCPIP0::10.0.0.12::5025::SOCKET",
                     "GPIB0::28::INSTR"))
    read_termination = "\n"
    write_termination = "\n"
    # The manual gives no list length limit; lists are files bounded by memory (LIST:FREE?).
    default_model = "SMB100A"
    max_list_points = 10000

    manufacturers = ("rohde",)
    instrument_kind = "an R&S SMB100A"
    modulation_switch = "MOD:STAT"  # §6.13.8
    fm_max_deviation = 40e6
    fm_max_rate = 1e6  # LF generator range
    # SourceCommands() defaults: FREQ (Hz, 0.001 Hz), POW (dBm, 0.01 dB), OUTP ON|OFF.

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, model: str | None = None, frequency_min: float | str | None = None,
                 frequency_max: float | str | None = None, power_min: float | str | None = None,
                 power_max: float | str | None = None, list_name: str = "nvsense",
                 trigger_slope: Literal["positive", "negative"] = "positive",
                 resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, model=model,
                         frequency_min=frequency_min, frequency_max=frequency_max,
                         power_min=power_min, power_max=power_max,
                         resource_manager=resource_manager)
        if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", list_name):
            raise ValueError(f"{name}: list_name must be 1-32 letters, digits or '_'")
        if trigger_slope not in ("positive", "negative"):
            raise ValueError(f"{name}: trigger_slope must be 'positive' or 'negative'")
        self.list_name = list_name
        self.trigger_slope = trigger_slope
        self._frequency_range = _WIDEST

    def _model_limits(self, model: str) -> MicrowaveLimits:
        return MicrowaveLimits(*self._frequency_range, *_POWER_RANGE)

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        idn, model = self._read_idn()
        options = self.query("*OPT?").upper()
        found = [rng for opt, rng in _FREQUENCY_OPTIONS.items() if re.search(rf"{opt}\b",
                                                                               options)]
        if found:
            self._frequency_range = max(found, key=lambda r: r[1])
        else:
            log.warning("%s: no frequency option in *OPT? reply %r; allowing %g-%g Hz",
                        self.name, options, *_WIDEST)
        self._set_hardware_limits(self._model_limits(model))
        return idn

    # --- list mode --------------------------------------------------------------------------

    def check_list(self, frequencies: Sequence[float], power: float) -> NDArray[np.float64]:
        freqs = super().check_list(frequencies, power)
        if freqs.min() < _LIST_FREQUENCY_MIN:
            raise LimitError(f"{self.name}: list frequencies must be at least 300 kHz "
                             f"(SMB100A list mode); nothing was sent", quantity="frequency",
                             value=float(freqs.min()), limit=_LIST_FREQUENCY_MIN, unit="Hz",
                             bound="lower", source="instrument", instrument=self.name)
        return freqs

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Write the list file, step mode on external trigger; check it by reading it back."""
        freqs = self.check_list(frequencies, power)
        with self._lock:
            self.stop_list()
            self.write(f"LIST:SEL '{self.list_name}'")
            self.write("LIST:FREQ " + format_csv(freqs, "{:.3f}"))
            self.write("LIST:POW " + format_csv(np.full(freqs.size, power), "{:.2f}"))
            self._check_list_column("LIST:FREQ?", freqs, 0.0005)
            self._check_list_column("LIST:POW?", np.full(freqs.size, power), 0.005)
            self.set_checked("LIST:MODE STEP", "LIST:MODE?", "STEP", parse=str.upper)
            self._set_list_trigger("INP:TRIG:SLOP")
            self._list_loaded(freqs, power)

    def start_list(self) -> None:
        """Switch to list mode at the first point; each [INST TRIG] edge steps once."""
        self._require_list("start_list")
        with self._lock:
            self.set_checked("FREQ:MODE LIST", "FREQ:MODE?", "LIST", parse=str.upper)
            self.write("LIST:RES")

    def stop_list(self) -> None:
        """Back to CW (``FREQ:MODE CW``)."""
        self.set_checked("FREQ:MODE CW", "FREQ:MODE?", "CW",
                         parse=lambda r: "CW" if r.upper() in ("CW", "FIX", "FIXED") else r)

    # --- snapshot ---------------------------------------------------------------------------

    def _list_running(self) -> bool:
        return self.query_value("FREQ:MODE?", str.upper) == "LIST"

    # --- modulation -------------------------------------------------------------------------

    def _select_fm_source(self, source: str, rate: float | None) -> None:
        """FM (option SMB-B20): internal LF generator at ``rate`` (``LFO:FREQ``), or the
        [MOD EXT] input DC-coupled (``deviation`` at 1 V)."""
        self.set_checked(f"FM:SOUR {'INT' if source == 'internal' else 'EXT'}",
                         "FM:SOUR?", "INT" if source == "internal" else "EXT",
                         parse=lambda r: r.upper()[:3])
        if source == "internal":
            assert rate is not None
            self.set_checked(f"LFO:FREQ {rate:.3f}", "LFO:FREQ?", rate,
                             tolerance=0.0005 + 1e-9 * rate)
        else:
            self.set_checked("FM:EXT:COUP DC", "FM:EXT:COUP?", "DC", parse=str.upper)
