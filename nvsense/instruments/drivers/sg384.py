"""Stanford Research Systems SG382 / SG384 / SG386 (and SG39x vector) signal generators.

Commands from *SG380 Series RF Signal Generators, Operation and Service Manual*, Stanford
Research Systems, chapter "Remote Programming" (cross-checked against the QCoDeS ``SG384``,
PyMeasure ``SG380`` and Qudi ``mw_source_srssg`` drivers):

- Interfaces (§ "Interfaces"): LAN raw socket on TCP port 5025 (also Telnet 5024 and VXI-11),
  GPIB, RS-232 (115200 baud, 8N1, RTS/CTS by default).  Commands end in CR or LF; replies end
  in CR LF.
- Common commands: ``*IDN?`` -> ``Stanford Research Systems,SG384,s/n001796,ver1.21.26``;
  ``*CLS`` clears the status registers and the error buffer.
- Signal synthesis: ``FREQ``/``FREQ?`` (Hz, 1 µHz resolution), ``AMPR``/``AMPR?`` (N-type
  output power in dBm, 0.01 dB resolution), ``ENBR``/``ENBR?`` (N-type output enable),
  ``ENBL`` (front BNC output enable).
- Modulation: ``MODL`` (on/off), ``TYPE`` (0 AM, 1 FM, ...), ``MFNC`` (0 sine ... 5 external),
  ``FDEV`` (FM deviation, Hz), ``RATE`` (internal modulation rate, Hz), ``COUP`` (external
  input coupling, 0 AC, 1 DC).
- List: ``LSTC? n`` creates a list of ``n`` states (replies 1 on success), ``LSTD`` deletes it,
  ``LSTP i,<15 fields>`` writes state ``i`` (``N`` leaves a field unchanged; field 1 is the
  frequency, field 5 the N-type power), ``LSTS?`` list size, ``LSTE`` enables list mode,
  ``LSTR`` resets the list index to the first state.  An enabled list steps to the next
  state on each ``*TRG`` or rear-panel trigger edge and wraps after the last one.
- Status: ``LERR?`` returns (and removes) the last error code; ``0`` means no error.  Codes are
  listed in the manual's "Error Codes" section (:data:`ERROR_CODES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pyvisa import constants

from ..driver_options import SG384_MODELS
from ..errors import InstrumentError
from ..protocols import MicrowaveLimits
from ..snapshot import quantity_value
from .scpi_source import ScpiMicrowaveSource, SourceCommands
from .visa_base import (
    DriverDescription,
    SerialSettings,
    format_bool_01,
    parse_bool,
    parse_float,
)

__all__ = ["ERROR_CODES", "SG384"]

#: ``LERR?`` codes, from the SG380 manual's "Error Codes" section.
ERROR_CODES: dict[int, str] = {
    10: "Illegal Value", 11: "Illegal Mode", 12: "Not Allowed", 13: "Recall Failed",
    14: "No Clock Option", 15: "No RF Doubler Option", 16: "No IQ Option",
    17: "Failed Self Test", 30: "Lost Data", 32: "No Listener", 40: "Failed ROM Check",
    42: "Failed EEPROM Check", 43: "Failed FPGA Check", 44: "Failed SRAM Check",
    45: "Failed GPIB Check", 46: "Failed LF DDS Check", 47: "Failed RF DDS Check",
    48: "Failed 20 MHz PLL", 49: "Failed 100 MHz PLL", 50: "Failed 19 MHz PLL",
    51: "Failed 1 GHz PLL", 52: "Failed 4 GHz PLL", 53: "Failed DAC", 110: "Illegal Command",
    111: "Undefined Command", 112: "Illegal Query", 113: "Illegal Set", 114: "Null Parameter",
    115: "Extra Parameters", 116: "Missing Parameters", 117: "Parameter Overflow",
    118: "Invalid Floating Point Number", 120: "Invalid Integer", 121: "Integer Overflow",
    122: "Invalid Hexadecimal", 126: "Syntax Error", 127: "Illegal Units", 128: "Missing Units",
    170: "Communication Error", 171: "Over run", 254: "Too Many Errors",
}

# N-type output range per model (manual, "Specifications": 950 kHz to 2.025/4.05/6.075 GHz;
# -110 dBm to +16.5 dBm).  The vector models SG39x have the same N-type ranges.
_MAX_FREQUENCY = {"2": 2.025e9, "4": 4.05e9, "6": 6.075e9}
_FREQUENCY_MIN = 950e3
_POWER_RANGE = (-110.0, 16.5)
# FM limits (manual, "Specifications, Modulation"): deviation up to 32 MHz (depends on the
# carrier band; the instrument reports "Illegal Value" beyond), internal rate up to 50 kHz.
_FM_MAX_DEVIATION = 32e6
_FM_MAX_RATE = 50e3


class SG384(ScpiMicrowaveSource):
    """SRS SG380-series signal generator, N-type output.

    Parameters are those of :class:`~nvsense.instruments.drivers.microwave_base.MicrowaveDriver`
    (``model`` one of SG382, SG384, SG386, SG392, SG394, SG396).
    """

    fm_max_deviation = _FM_MAX_DEVIATION  # what set_fm accepts, for checks before a run

    description = DriverDescription(
        kind="mw",
        summary="Stanford Research Systems SG382/SG384/SG386 (SG39x) RF signal generator",
        models=SG384_MODELS,
        manual="SRS SG380 Series Operation and Service Manual, ch. 'Remote Programming'",
        connections=("TCPIP0::10.0.0.11::5025::SOCKET", "GPIB0::27::INSTR",
                     "ASRL/dev/ttyUSB0::INSTR"))
    read_termination = "\r\n"
    write_termination = "\n"
    serial = SerialSettings(baud_rate=115200, flow_control=constants.ControlFlow.rts_cts)
    default_model = "SG384"
    max_list_points = 2000  # the manual's list holds up to 2000 states
    # FREQ in Hz to 1 µHz, AMPR (N-type power) in dBm to 0.01 dB, ENBR 1/0 (N-type output).
    commands = SourceCommands(frequency="FREQ", frequency_decimals=6, power="AMPR",
                              power_decimals=2, output="ENBR", output_format=format_bool_01)
    manufacturers = ("stanford research",)
    instrument_kind = "an SRS SG380-series generator"

    def _model_limits(self, model: str) -> MicrowaveLimits:
        return MicrowaveLimits(_FREQUENCY_MIN, _MAX_FREQUENCY[model[4]], *_POWER_RANGE)

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        idn, model = self._read_idn()
        self._set_hardware_limits(self._model_limits(model))
        return idn

    def _initialize(self) -> None:
        # Known state: every RF output off, no list stepping, no modulation.
        self.output = False
        self._set_flag("ENBL", False)
        self._set_flag("LSTE", False)
        self._set_flag("MODL", False)

    def _set_flag(self, command: str, value: bool) -> None:
        self.set_checked(f"{command} {format_bool_01(value)}", f"{command}?", value,
                         parse=parse_bool)

    def check_errors(self, command: str) -> None:
        """Read the ``LERR?`` buffer until it reports 0; raise if it held errors."""
        codes: list[int] = []
        for _ in range(21):  # the buffer holds 20 entries; 254 means it overflowed
            reply = self.query("LERR?")
            try:
                code = int(reply)
            except ValueError:
                raise InstrumentError(self.name, command,
                                      f"unreadable LERR? reply {reply!r}") from None
            if code == 0:
                break
            codes.append(code)
        if codes:
            text = "; ".join(f"{c} {ERROR_CODES.get(c, 'Unknown error')}" for c in codes)
            raise InstrumentError(self.name, command, f"instrument reports error {text}")

    # --- list mode --------------------------------------------------------------------------

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Write the list (``LSTC?``, ``LSTP``), check its size, park the output at point 0.

        Raises
        ------
        LimitError
            Before anything is sent, if the list does not fit the limits.
        InstrumentError
            If the instrument cannot create the list or reports an error.
        """
        freqs = self.check_list(frequencies, power)
        with self._lock:
            self.stop_list()
            self.write("LSTD")
            created = self.query(f"LSTC? {freqs.size}")
            if created != "1":
                raise InstrumentError(self.name, f"LSTC? {freqs.size}",
                                      f"could not create a list of {freqs.size} states "
                                      f"(reply {created!r})")
            # Field 1 frequency, field 5 N-type power; N leaves the other 13 fields as they are.
            for index, frequency in enumerate(freqs):
                self.write(f"LSTP {index},{frequency:.6f},N,N,N,{power:.2f}"
                           + ",N" * 10, check=False)
            self.check_errors(f"LSTP 0..{freqs.size - 1}")
            size = self.query_value("LSTS?", lambda r: int(float(r)))
            if size != freqs.size:
                raise InstrumentError(self.name, "LSTS?",
                                      f"list holds {size} states, {freqs.size} were written")
            self._list_loaded(freqs, power)

    def start_list(self) -> None:
        """Enable the list at its first state; each trigger edge then steps to the next."""
        freqs, _ = self._require_list("start_list")
        with self._lock:
            self.stop_list()
            self.frequency = float(freqs[0])
            self._set_flag("LSTE", True)
            self.write("LSTR")
            got = self.query_value("FREQ?", parse_float)
            if abs(got - freqs[0]) > 1e-3:
                raise InstrumentError(self.name, "LSTR",
                                      f"list armed at {got} Hz, expected the first point "
                                      f"{freqs[0]} Hz")

    def stop_list(self) -> None:
        """Disable list mode (``LSTE 0``); the output stays at the current frequency."""
        self._set_flag("LSTE", False)

    # --- modulation -------------------------------------------------------------------------

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        """Frequency modulation of the carrier.

        Internal: sine at ``rate``.  External: the rear/front modulation input, DC coupled;
        ``deviation`` is reached at full scale (±1 V) of the input.
        """
        if not enabled:
            self._set_flag("MODL", False)
            return
        self._check_fm_arguments(self.name, deviation, rate, source, _FM_MAX_DEVIATION,
                                 _FM_MAX_RATE)
        with self._lock:
            self._set_number("TYPE", 1, "{:d}")
            self._set_number("MFNC", 0 if source == "internal" else 5, "{:d}")
            if source == "internal":
                assert rate is not None
                self._set_number("RATE", rate, "{:.6f}", tolerance=1e-6 + 1e-9 * rate)
            else:
                self._set_number("COUP", 1, "{:d}")
            self._set_number("FDEV", deviation, "{:.2f}", tolerance=0.005 + 1e-9 * deviation)
            self._set_flag("MODL", True)

    # --- snapshot ---------------------------------------------------------------------------

    def _list_running(self) -> bool:
        return self.query_value("LSTE?", parse_bool)

    def _fm_state(self) -> dict[str, Any]:
        """``MODL?`` (modulation on), ``TYPE?`` (1 = FM), ``FDEV?`` (deviation, Hz)."""
        modulation = self.query_value("MODL?", parse_bool)
        fm = self.query_value("TYPE?", lambda r: int(float(r))) == 1
        return {"enabled": bool(modulation and fm),
                "deviation": quantity_value(self.query_value("FDEV?"), "Hz")}

    def _set_number(self, command: str, value: float, fmt: str, tolerance: float = 0.0) -> None:
        self.set_checked(f"{command} {fmt.format(value)}", f"{command}?", value,
                         tolerance=tolerance)
