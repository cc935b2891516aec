"""Windfreak Technologies SynthHD (and SynthHD PRO) dual-channel synthesizer, USB serial.

Commands from *Windfreak Technologies SynthHD & HD PRO API Guide* ("SynthHD Programming
Interface", single-character commands, a value or ``?`` after the command character),
cross-checked against the ``windfreak-python`` package and the Qudi
``mw_source_windfreak_synthhdpro`` driver:

- USB CDC serial port; replies end in LF.  Commands apply to the selected channel:
  ``C0``/``C1`` (RF A / RF B), ``C?``.
- Identity: ``+`` model type, ``-`` serial number, ``v0`` firmware, ``v1`` hardware version
  (``Version 1.4`` / ``Version 2.xx``), ``v2`` sub-version (``HD`` or ``HDPRO``, v2 only).
- ``f``/``f?`` frequency in MHz (0.1 Hz resolution), ``W``/``W?`` power in dBm (0.01 dB),
  ``E`` PLL chip power, ``r`` power amplifier, ``h`` output unmute (``h1`` = not muted):
  the output is on when all three are 1.
- Sweep: ``l``/``u``/``s`` lower/upper frequency and step (MHz), ``[``/``]`` lower/upper
  power, ``^`` direction (1 up), ``X0`` linear sweep, ``g`` run one sweep, ``c`` run sweeps
  continuously, ``w`` trigger-connector function (``w0`` none, ``w2`` "single frequency step":
  each trigger edge steps the sweep once).  The trigger input is active low (Qudi: use the
  falling edge of the DAQ clock).
- FM: ``<`` rate (Hz), ``>`` deviation (Hz), ``/`` continuous FM on/off.
- There is no error queue: unknown commands are ignored, so every setting is read back.

List mode uses the linear sweep stepped by the trigger connector, so the list must be
equally spaced (a linear ``start:step:stop`` list, up or down).  The SynthHD's tabular sweep
is not used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from ..driver_options import SYNTHHD_MODELS
from ..errors import InstrumentError, LimitError
from ..protocols import MicrowaveLimits
from ..snapshot import quantity_value
from .microwave_base import MicrowaveDriver
from .visa_base import DriverDescription, SerialSettings, parse_bool, parse_float

__all__ = ["SynthHD"]

# Ranges per hardware version (windfreak-python, from Windfreak's data sheets).
_LIMITS = {
    "SynthHD v1.4": MicrowaveLimits(53e6, 13999.999999e6, -80.0, 20.0),
    "SynthHD v2": MicrowaveLimits(10e6, 15000e6, -70.0, 20.0),
    "SynthHD PRO v2": MicrowaveLimits(10e6, 24000e6, -70.0, 20.0),
}
_FM_MAX_DEVIATION = 10e6
_FM_MAX_RATE = 5e3


class SynthHD(MicrowaveDriver):
    """Windfreak SynthHD, one channel.

    Parameters
    ----------
    channel
        ``0`` (RF A) or ``1`` (RF B).

    Notes
    -----
    The other parameters are those of
    :class:`~nvsense.instruments.drivers.microwave_base.MicrowaveDriver` (``model`` one of
    ``"SynthHD v1.4"``, ``"SynthHD v2"``, ``"SynthHD PRO v2"``).
    """

    fm_max_deviation = _FM_MAX_DEVIATION  # what set_fm accepts, for checks before a run

    description = DriverDescription(
        kind="mw",
        summary="Windfreak SynthHD / SynthHD PRO dual-channel synthesizer (USB serial)",
        models=SYNTHHD_MODELS,
        manual="Windfreak Technologies SynthHD & HD PRO API Guide",
        connections=("ASRL/dev/ttyACM0::INSTR", "ASRL3::INSTR"))
    read_termination = "\n"
    write_termination = "\n"
    serial = SerialSettings(baud_rate=115200)  # USB CDC: the rate is not used by the device
    default_model = "SynthHD v2"
    max_list_points = 100000

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, channel: int = 0, model: str | None = None,
                 frequency_min: float | str | None = None,
                 frequency_max: float | str | None = None, power_min: float | str | None = None,
                 power_max: float | str | None = None, resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, model=model,
                         frequency_min=frequency_min, frequency_max=frequency_max,
                         power_min=power_min, power_max=power_max,
                         resource_manager=resource_manager)
        if channel not in (0, 1):
            raise ValueError(f"{name}: channel must be 0 (RF A) or 1 (RF B), not {channel!r}")
        self.channel = channel

    def _model_limits(self, model: str) -> MicrowaveLimits:
        for key, limits in _LIMITS.items():
            if key.upper() == model.upper():
                return limits
        raise KeyError(model)

    # --- connection -------------------------------------------------------------------------

    def _identify(self) -> str:
        model_type = self.query("+")
        if "SYNTHHD" not in model_type.upper().replace(" ", ""):
            raise InstrumentError(self.name, "+",
                                  f"{self.address} answers {model_type!r}, not a Windfreak "
                                  f"SynthHD")
        hardware = self.query("v1")
        if "Version 1.4" in hardware:
            model = "SynthHD v1.4"
        elif "Version 2." in hardware:
            sub = self.query("v2").strip().upper()
            model = "SynthHD PRO v2" if sub == "HDPRO" else "SynthHD v2"
        else:
            raise InstrumentError(self.name, "v1", f"unknown hardware version {hardware!r}")
        if self.model is not None and model != self.model:
            raise InstrumentError(self.name, "v1", f"expected a {self.model}, found a {model}")
        serial = self.query("-")
        firmware = self.query("v0")
        self._set_hardware_limits(_LIMITS[model])
        return f"Windfreak {model}, s/n {serial}, {firmware}, {hardware}"

    def _initialize(self) -> None:
        self._select_channel()
        self.output = False
        self.stop_list()
        self._set("/", 0, "/{}", parse=parse_bool, expected=False)

    def _select_channel(self) -> None:
        self._set("C", self.channel, "C{}", parse=lambda r: int(float(r)))

    def _set(self, letter: str, value: Any, template: str, *,
             parse: Callable[[str], Any] = parse_float, expected: Any = None,
             tolerance: float | None = None) -> None:
        """Send ``letter`` + value, read ``letter?`` back (the SynthHD reports no errors)."""
        expected = value if expected is None else expected
        self.set_checked(template.format(value), f"{letter}?", expected, parse=parse,
                         tolerance=tolerance)

    # --- CW settings ------------------------------------------------------------------------

    @property
    def frequency(self) -> float:
        """CW frequency in Hz (``f``, sent in MHz)."""
        return self.query_value("f?") * 1e6

    @frequency.setter
    def frequency(self, value: float) -> None:
        self.check_frequency(value)
        with self._lock:
            self.write(f"f{value / 1e6:.7f}")
            got = self.frequency
            # The reply has 1 Hz resolution or better (0.1 Hz synthesis resolution).
            if abs(got - value) > 1.0 + 1e-12 * value:
                raise InstrumentError(self.name, f"f{value / 1e6:.7f}",
                                      f"frequency reads back as {got} Hz")

    @property
    def power(self) -> float:
        """Output power in dBm (``W``)."""
        return self.query_value("W?")

    @power.setter
    def power(self, value: float) -> None:
        self.check_power(value)
        self._set("W", value, "W{:.2f}", tolerance=0.005 + 1e-9)

    @property
    def output(self) -> bool:
        """RF on: PLL powered (``E``), amplifier on (``r``), not muted (``h``)."""
        return all(self.query_value(f"{c}?", parse_bool) for c in ("E", "r", "h"))

    @output.setter
    def output(self, value: bool) -> None:
        state = 1 if value else 0
        # Mute first when switching off, unmute last when switching on.
        order = ("E", "r", "h") if value else ("h", "r", "E")
        with self._lock:
            for letter in order:
                self._set(letter, state, letter + "{}", parse=parse_bool, expected=bool(value))

    # --- list mode (linear sweep stepped by the trigger connector) --------------------------

    def check_list(self, frequencies: Sequence[float], power: float) -> np.ndarray:
        freqs = super().check_list(frequencies, power)
        if freqs.size >= 2:
            steps = np.diff(freqs)
            if np.any(steps == 0) or np.ptp(steps) > 1e-6 * abs(steps[0]) + 0.1:
                raise LimitError(f"{self.name}: the SynthHD steps a linear sweep, so the list "
                                 f"must be equally spaced; nothing was sent",
                                 quantity="frequency", source="instrument",
                                 instrument=self.name)
        return freqs

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Program a linear sweep from the first to the last point, one step per trigger."""
        freqs = self.check_list(frequencies, power)
        low, high = float(freqs.min()), float(freqs.max())
        step = abs(float(freqs[1] - freqs[0])) if freqs.size > 1 else 0.0
        with self._lock:
            self._select_channel()
            self.stop_list()
            self._set("X", 0, "X{}", parse=lambda r: int(float(r)))
            self._set("^", 1 if freqs.size < 2 or freqs[1] > freqs[0] else 0, "^{}",
                      parse=lambda r: int(float(r)))
            self._set("l", low / 1e6, "l{:.7f}", tolerance=1e-6)
            self._set("u", high / 1e6, "u{:.7f}", tolerance=1e-6)
            self._set("s", step / 1e6, "s{:.7f}", tolerance=1e-6)
            self._set("[", power, "[{:.2f}", tolerance=0.005 + 1e-9)
            self._set("]", power, "]{:.2f}", tolerance=0.005 + 1e-9)
            self._list_loaded(freqs, power)

    def start_list(self) -> None:
        """Run the sweep continuously (``c1``), stepping on each trigger edge (``w2``)."""
        self._require_list("start_list")
        with self._lock:
            self._select_channel()
            self._set("w", 2, "w{}", parse=lambda r: int(float(r)))
            self._set("c", 1, "c{}", parse=parse_bool, expected=True)

    def stop_list(self) -> None:
        """Stop sweeping (``c0``, ``g0``) and ignore the trigger connector (``w0``)."""
        with self._lock:
            self._set("c", 0, "c{}", parse=parse_bool, expected=False)
            self._set("g", 0, "g{}", parse=parse_bool, expected=False)
            self._set("w", 0, "w{}", parse=lambda r: int(float(r)))

    # --- snapshot ---------------------------------------------------------------------------

    def _list_running(self) -> bool:
        """Continuous sweep on (``c?``)."""
        return self.query_value("c?", parse_bool)

    def _fm_state(self) -> dict[str, Any]:
        """Continuous FM on (``/?``) and its deviation (``>?``, Hz)."""
        return {"enabled": self.query_value("/?", parse_bool),
                "deviation": quantity_value(self.query_value(">?"), "Hz")}

    def _snapshot_state(self) -> dict[str, Any]:
        with self._lock:
            self._select_channel()
            return {"channel": self.channel, **super()._snapshot_state()}

    # --- modulation -------------------------------------------------------------------------

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        """Internal continuous FM (``<`` rate, ``>`` deviation, ``/1``).

        External FM is not offered: the SynthHD takes it on the trigger connector, which list
        mode needs.
        """
        if not enabled:
            self._set("/", 0, "/{}", parse=parse_bool, expected=False)
            return
        if source == "external":
            raise NotImplementedError(f"{self.name}: the SynthHD driver offers internal FM "
                                      f"only (external FM shares the trigger connector)")
        self._check_fm_arguments(self.name, deviation, rate, source, _FM_MAX_DEVIATION,
                                 _FM_MAX_RATE)
        assert rate is not None
        with self._lock:
            self._select_channel()
            self._set("<", round(rate), "<{}", tolerance=0.5)
            self._set(">", round(deviation), ">{}", tolerance=0.5)
            self._set("/", 1, "/{}", parse=parse_bool, expected=True)
