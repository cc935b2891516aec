"""Simulated microwave source: SG384-like ranges, frequency lists, FM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from ...units import parse_quantity
from ..errors import InstrumentError
from ..limits import check_frequencies, check_mw_power, out_of_range
from ..protocols import ListSweep, MicrowaveLimits
from ..snapshot import limits_snapshot, quantity_value
from .base import SimulatedInstrument
from .sample import SimulatedSample

__all__ = ["SimulatedCWMicrowave", "SimulatedMicrowave"]

#: Longest frequency list accepted.
MAX_LIST_POINTS = 65536
#: Largest FM deviation, Hz (the SG384 allows 32 MHz above 2 GHz).
MAX_FM_DEVIATION = 32e6


class SimulatedCWMicrowave(SimulatedInstrument):
    """A microwave source driving the simulated sample, without hardware-timed lists.

    What ``SimulatedMicrowave(..., supports_list=False)`` builds: a source that is not a
    :class:`~nvsense.instruments.protocols.ListSweep`, so sweeps are stepped point by point.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample.
    frequency_range
        [lowest, highest] frequency (default the SG384's type-N output: 950 kHz to 4.05 GHz).
    power_range
        [lowest, highest] power in dBm (default −110 to +16.5 dBm).

    Notes
    -----
    Internal FM is modelled (the line shape is averaged over the modulation within each bin);
    an external FM input has no simulated signal, so it leaves the output unmodulated.
    """

    fm_max_deviation = MAX_FM_DEVIATION  # what set_fm accepts, for checks before a run

    model: ClassVar[str] = "SimulatedMW"
    slot: ClassVar[str] = "mw"

    def __init__(self, name: str = "mw", sample: SimulatedSample | None = None, *,
                 frequency_range: Sequence[Any] = ("950 kHz", "4.05 GHz"),
                 power_range: Sequence[Any] = ("-110 dBm", "16.5 dBm")) -> None:
        super().__init__(name, sample)
        fmin, fmax = _pair(frequency_range, "Hz", f"instruments.{name}.frequency_range")
        pmin, pmax = _pair(power_range, "dBm", f"instruments.{name}.power_range")
        self._limits = MicrowaveLimits(fmin, fmax, pmin, pmax)
        self._state = self.sample.mw

    def connect(self) -> None:
        """Connect and put the source in a known state: RF off, list stopped, FM off."""
        super().connect()
        with self.sample.lock:
            self._state.output = False
            self._state.list_active = False
            self._state.fm_enabled = False
            self._state.tones = ()

    @property
    def limits(self) -> MicrowaveLimits:
        """Frequency and power ranges the source accepts."""
        return self._limits

    @property
    def supports_list(self) -> bool:
        """Whether hardware-timed lists are available: ``isinstance(self, ListSweep)``."""
        return isinstance(self, ListSweep)

    @property
    def frequency(self) -> float:
        """CW frequency set-point in Hz."""
        self._require("FREQ?")
        return self._state.frequency

    @frequency.setter
    def frequency(self, value: float) -> None:
        value = float(value)
        check_frequencies(value, instrument=self._limits, bench=None, who=self.name)
        self._require_cw(f"FREQ {value:.6f}")
        self._state.frequency = value

    @property
    def power(self) -> float:
        """CW power set-point in dBm."""
        self._require("AMPR?")
        return self._state.power

    @power.setter
    def power(self, value: float) -> None:
        value = float(value)
        check_mw_power(value, instrument=self._limits, bench=None, who=self.name)
        self._require_cw(f"AMPR {value:.2f}")
        self._state.power = value

    @property
    def output(self) -> bool:
        """RF output on or off."""
        self._require("ENBR?")
        return self._state.output

    @output.setter
    def output(self, value: bool) -> None:
        self._require(f"ENBR {int(bool(value))}")
        with self.sample.lock:
            self._state.output = bool(value)

    def set_fm(self, deviation: float, *, rate: float | None = None,
               source: Literal["internal", "external"] = "internal",
               enabled: bool = True) -> None:
        """Frequency modulation: sine of ``rate`` (Hz) and peak ``deviation`` (Hz)."""
        deviation = float(deviation)
        if enabled:
            if not 0 <= deviation <= MAX_FM_DEVIATION:
                raise out_of_range(f"{self.name}: FM deviation {deviation:g} Hz is outside 0 "
                                   f"to {MAX_FM_DEVIATION:g} Hz; nothing was sent",
                                   quantity="fm_deviation", value=deviation, low=0.0,
                                   high=MAX_FM_DEVIATION, unit="Hz", instrument=self.name)
            if rate is not None and not 0 < float(rate) <= 1e6:
                raise out_of_range(f"{self.name}: FM rate {rate} Hz is outside (0, 1 MHz]; "
                                   f"nothing was sent", quantity="fm_rate", value=rate,
                                   low=0.0, high=1e6, unit="Hz", instrument=self.name)
            if source not in ("internal", "external"):
                raise ValueError(f"FM source must be 'internal' or 'external', not {source!r}")
            f = self._state.frequency
            check_frequencies([f - deviation, f + deviation], instrument=self._limits,
                              bench=None, who=self.name)
        self._require(f"MODL {int(bool(enabled))}")
        with self.sample.lock:
            state = self._state
            state.fm_enabled = bool(enabled)
            if enabled:
                state.fm_deviation = deviation
                state.fm_internal = source == "internal"
                if rate is not None:
                    state.fm_rate = float(rate)

    def set_tones(self, offsets: Sequence[float], fm_signs: Sequence[float] | None = None
                  ) -> None:
        """Drive several tones at once (dual resonance, hyperfine drive): one per offset (Hz)
        from the CW frequency, the power shared equally, each frequency-modulated by ``fm_sign``
        (±1) times the FM.  ``set_tones([0])`` (or ``[]``) is the carrier alone.

        Models a source with an IQ mixer fed by a multi-tone waveform (or tones combined from
        several sources); only the simulated photodiode chain sees the extra tones.
        """
        offs = [float(o) for o in offsets] or [0.0]
        signs = [1.0] * len(offs) if fm_signs is None else [float(v) for v in fm_signs]
        if len(signs) != len(offs) or any(v not in (-1.0, 1.0) for v in signs):
            raise ValueError(f"{self.name}: give one FM sign (+1 or -1) per tone, not {signs}")
        f = self._state.frequency
        check_frequencies([f + o for o in offs], instrument=self._limits, bench=None,
                          who=self.name)
        self._require(f"TONES {len(offs)}")
        with self.sample.lock:
            self._state.tones = (() if offs == [0.0] and signs == [1.0]
                                 else tuple(zip(offs, signs, strict=True)))

    @property
    def tones(self) -> tuple[tuple[float, float], ...]:
        """``(offset Hz, FM sign)`` of every tone (the carrier alone: ``((0.0, 1.0),)``)."""
        return self._state.tones or ((0.0, 1.0),)

    def safe(self) -> None:
        """RF off, list stopped, FM off, one tone."""
        self._require("ENBR 0")
        with self.sample.lock:
            self._state.output = False
            self._state.list_active = False
            self._state.fm_enabled = False
            self._state.tones = ()

    def _snapshot_state(self) -> dict[str, Any]:
        state = self._state
        loaded = state.list_frequencies
        return {
            "frequency": quantity_value(state.frequency, "Hz"),
            "power": quantity_value(state.power, "dBm"),
            "output": state.output,
            "limits": limits_snapshot(self._limits),
            "list": {"running": state.list_active,
                     "points": int(loaded.size) if loaded is not None else 0,
                     "first": quantity_value(loaded[0], "Hz") if loaded is not None else None,
                     "last": quantity_value(loaded[-1], "Hz") if loaded is not None else None,
                     "power": quantity_value(state.list_power, "dBm")
                     if loaded is not None else None,
                     "index": state.list_index},
            "fm": {"enabled": state.fm_enabled,
                   "deviation": quantity_value(state.fm_deviation, "Hz"),
                   "rate": quantity_value(state.fm_rate, "Hz"),
                   "source": "internal" if state.fm_internal else "external"},
        }

    def _require_cw(self, command: str) -> None:
        self._require(command)
        if self._state.list_active:
            raise InstrumentError(self.name, command,
                                  "a frequency list is running; call stop_list() first")


class SimulatedMicrowave(SimulatedCWMicrowave):
    """A microwave source driving the simulated sample, with hardware-timed lists and FM.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample.
    frequency_range
        [lowest, highest] frequency (default the SG384's type-N output: 950 kHz to 4.05 GHz).
    power_range
        [lowest, highest] power in dBm (default −110 to +16.5 dBm).
    supports_list
        ``False`` simulates a source without hardware-timed lists: the constructor then
        returns a :class:`SimulatedCWMicrowave` (not a
        :class:`~nvsense.instruments.protocols.ListSweep`), and sweeps are stepped.

    Notes
    -----
    ``frequency`` and ``power`` are the CW set-points.  While a list runs (:meth:`start_list`)
    the output follows the list at the list's power; setting ``frequency`` or ``power`` then
    raises (stop the list first), and :meth:`stop_list` returns to the CW set-points.
    """

    def __new__(cls, name: str = "mw", sample: SimulatedSample | None = None, *,
                frequency_range: Sequence[Any] = ("950 kHz", "4.05 GHz"),
                power_range: Sequence[Any] = ("-110 dBm", "16.5 dBm"),
                supports_list: bool = True) -> Any:
        if cls is SimulatedMicrowave and not supports_list:
            source = SimulatedCWMicrowave.__new__(SimulatedCWMicrowave)
            source.__init__(name, sample, frequency_range=frequency_range,  # type: ignore[misc]
                            power_range=power_range)
            return source
        return super().__new__(cls)

    def __init__(self, name: str = "mw", sample: SimulatedSample | None = None, *,
                 frequency_range: Sequence[Any] = ("950 kHz", "4.05 GHz"),
                 power_range: Sequence[Any] = ("-110 dBm", "16.5 dBm"),
                 supports_list: bool = True) -> None:
        super().__init__(name, sample, frequency_range=frequency_range, power_range=power_range)

    def load_list(self, frequencies: Sequence[float], power: float) -> None:
        """Load a list stepped by the counter's sample clock (stops a running list)."""
        freqs = np.asarray(frequencies, dtype=float).ravel()
        if not 1 <= freqs.size <= MAX_LIST_POINTS:
            raise out_of_range(f"{self.name}: a list has 1 to {MAX_LIST_POINTS} points, not "
                               f"{freqs.size}; nothing was sent", quantity="list_points",
                               value=int(freqs.size), low=1, high=MAX_LIST_POINTS, unit="",
                               instrument=self.name)
        check_frequencies(freqs, instrument=self._limits, bench=None, who=self.name)
        check_mw_power(float(power), instrument=self._limits, bench=None, who=self.name)
        self._require(f"LSTC {freqs.size}")
        with self.sample.lock:
            self._state.list_active = False
            self._state.list_frequencies = freqs.copy()
            self._state.list_power = float(power)

    def start_list(self) -> None:
        """Output the first list frequency and step on every trigger."""
        self._require("LSTE 1")
        with self.sample.lock:
            if self._state.list_frequencies is None:
                raise InstrumentError(self.name, "LSTE 1", "no list loaded; call load_list first")
            self._state.list_active = True
            self._state.list_index = 0

    def stop_list(self) -> None:
        """Back to CW at the CW set-points."""
        self._require("LSTE 0")
        with self.sample.lock:
            self._state.list_active = False

    @property
    def list_active(self) -> bool:
        """Whether a list is running (not part of the protocol)."""
        return self._state.list_active


def _pair(values: Sequence[Any], unit: str, name: str) -> tuple[float, float]:
    if isinstance(values, str) or len(values) != 2:
        raise ValueError(f"{name}: give [lowest, highest], not {values!r}")
    low, high = (parse_quantity(v, unit, name=name) for v in values)
    if not low < high:
        raise ValueError(f"{name}: lowest must be below highest, got {values!r}")
    return low, high
