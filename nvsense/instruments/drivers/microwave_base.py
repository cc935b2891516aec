"""What every microwave-source driver shares: limits, list checks, the safe state.

A concrete driver (SG384, SMB100A, N5181B, SynthHD) provides the commands; this base class
provides the parts of :class:`~nvsense.instruments.protocols.MicrowaveSource` that do not
depend on the instrument:

- :attr:`limits`: the identified model's range, optionally narrowed by the bench entry
  (``frequency_min``, ``frequency_max``, ``power_min``, ``power_max``, e.g. to protect an
  amplifier), and the checks that raise :class:`~nvsense.instruments.errors.LimitError`
  before anything is sent;
- the validation of a frequency list for :meth:`load_list`;
- :meth:`safe`: list mode stopped (best effort), then RF output off (must succeed).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ...units import format_quantity, parse_quantity
from ..errors import BenchConfigError, InstrumentError, LimitError
from ..limits import out_of_range
from ..protocols import ListSweep, MicrowaveLimits
from ..snapshot import limits_snapshot, quantity_value
from .visa_base import VisaInstrument, is_number

__all__ = ["MicrowaveDriver"]

log = logging.getLogger(__name__)


class MicrowaveDriver(VisaInstrument):
    """Base of the microwave-source drivers.

    Parameters
    ----------
    name, address, visa_library, timeout, resource_manager
        See :class:`~nvsense.instruments.drivers.visa_base.VisaInstrument`.
    model
        Expected model (e.g. ``"SG386"``); ``None`` accepts any model the driver supports.
    frequency_min, frequency_max, power_min, power_max
        Narrower limits than the instrument's own (Hz and dBm, or strings with units such as
        ``"3 GHz"``); settings outside them raise ``LimitError`` before anything is sent.
    """

    #: Most points a frequency list may hold on this instrument.
    max_list_points: ClassVar[int] = 2
    #: The model whose range :attr:`limits` reports before :meth:`connect` identifies one.
    default_model: ClassVar[str]

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, model: str | None = None, frequency_min: float | str | None = None,
                 frequency_max: float | str | None = None, power_min: float | str | None = None,
                 power_max: float | str | None = None, resource_manager: Any = None) -> None:
        super().__init__(name, address, visa_library, timeout, resource_manager=resource_manager)
        known = {m.upper(): m for m in self.description.models}
        if model is not None and str(model).upper() not in known:
            raise ValueError(f"{name}: model {model!r} is not one this driver drives; "
                             f"known: {', '.join(self.description.models)}")
        self.model = known[str(model).upper()] if model is not None else None
        self._narrowing = {
            "frequency_min": _quantity(name, "frequency_min", frequency_min, "Hz"),
            "frequency_max": _quantity(name, "frequency_max", frequency_max, "Hz"),
            "power_min": _quantity(name, "power_min", power_min, "dBm"),
            "power_max": _quantity(name, "power_max", power_max, "dBm"),
        }
        self._hardware_limits: MicrowaveLimits | None = None
        self._list: tuple[NDArray[np.float64], float] | None = None

    # --- limits ---------------------------------------------------------------------------

    @abc.abstractmethod
    def _model_limits(self, model: str) -> MicrowaveLimits:
        """The instrument's own range for ``model`` (set by :meth:`_identify`)."""

    def _set_hardware_limits(self, limits: MicrowaveLimits) -> None:
        """Record the identified instrument's range; the bench narrowing must fit inside it."""
        for key, value in self._narrowing.items():
            if value is None:
                continue
            low, high = ((limits.frequency_min, limits.frequency_max) if key.startswith("freq")
                         else (limits.power_min, limits.power_max))
            if not low <= value <= high:
                raise BenchConfigError(
                    f"instruments.{self.name}.{key}: {value:g} is outside the instrument's own "
                    f"range {low:g} to {high:g}; give a value inside it or leave it out")
        self._hardware_limits = limits

    @property
    def limits(self) -> MicrowaveLimits:
        """The range settings are checked against (the model's, narrowed by the bench)."""
        hardware = self._hardware_limits
        if hardware is None:
            hardware = self._model_limits(self.model or self.default_model)
        n = self._narrowing

        def pick(value: float | None, default: float) -> float:
            return default if value is None else value

        return MicrowaveLimits(
            frequency_min=pick(n["frequency_min"], hardware.frequency_min),
            frequency_max=pick(n["frequency_max"], hardware.frequency_max),
            power_min=pick(n["power_min"], hardware.power_min),
            power_max=pick(n["power_max"], hardware.power_max))

    def check_frequency(self, value: float) -> None:
        """Raise ``LimitError`` unless ``value`` (Hz) is inside :attr:`limits`."""
        lim = self.limits
        if not (is_number(value) and lim.frequency_min <= value <= lim.frequency_max):
            raise out_of_range(
                f"{self.name}: frequency {_show(value, 'Hz')} is outside "
                f"{format_quantity(lim.frequency_min, 'Hz')} to "
                f"{format_quantity(lim.frequency_max, 'Hz')}; nothing was sent",
                quantity="frequency", value=value, low=lim.frequency_min,
                high=lim.frequency_max, unit="Hz", instrument=self.name)

    def check_power(self, value: float) -> None:
        """Raise ``LimitError`` unless ``value`` (dBm) is inside :attr:`limits`."""
        lim = self.limits
        if not (is_number(value) and lim.power_min <= value <= lim.power_max):
            raise out_of_range(
                f"{self.name}: power {_show(value, 'dBm')} is outside {lim.power_min:g} dBm to "
                f"{lim.power_max:g} dBm; nothing was sent",
                quantity="mw_power", value=value, low=lim.power_min, high=lim.power_max,
                unit="dBm", instrument=self.name)

    def check_list(self, frequencies: Sequence[float], power: float) -> NDArray[np.float64]:
        """Validate a list for :meth:`load_list`; return it as a float array.

        Raises
        ------
        LimitError
            Empty or too long list, or a frequency or the power outside :attr:`limits`.
        """
        try:
            freqs = np.asarray(frequencies, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise LimitError(f"{self.name}: the frequency list must be numbers in Hz",
                             quantity="frequency", instrument=self.name) from None
        if freqs.size == 0:
            raise LimitError(f"{self.name}: the frequency list is empty; nothing was sent",
                             quantity="list_points", value=0, limit=1, unit="", bound="lower",
                             source="instrument", instrument=self.name)
        if freqs.size > self.max_list_points:
            raise LimitError(f"{self.name}: {freqs.size} list points, the instrument holds at "
                             f"most {self.max_list_points}; nothing was sent",
                             quantity="list_points", value=int(freqs.size),
                             limit=self.max_list_points, unit="", bound="upper",
                             source="instrument", instrument=self.name)
        lim = self.limits
        bad = ~np.isfinite(freqs) | (freqs < lim.frequency_min) | (freqs > lim.frequency_max)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise out_of_range(
                f"{self.name}: list point {index} ({_show(float(freqs[index]), 'Hz')}) is "
                f"outside {format_quantity(lim.frequency_min, 'Hz')} to "
                f"{format_quantity(lim.frequency_max, 'Hz')}; nothing was sent",
                quantity="frequency", value=float(freqs[index]), low=lim.frequency_min,
                high=lim.frequency_max, unit="Hz", instrument=self.name)
        self.check_power(power)
        return freqs

    # --- protocol parts every source shares -------------------------------------------------

    @property
    def supports_list(self) -> bool:
        """Whether hardware-timed lists are available: ``isinstance(self, ListSweep)``."""
        return isinstance(self, ListSweep)

    def _list_loaded(self, frequencies: NDArray[np.float64], power: float) -> None:
        """After writing a list: park the CW set-points at its first point and its power
        (read back), and remember it for :meth:`start_list` and the snapshot."""
        self.frequency = float(frequencies[0])  # type: ignore[attr-defined]
        self.power = float(power)  # type: ignore[attr-defined]
        self._list = (frequencies, float(power))

    def _require_list(self, command: str) -> tuple[NDArray[np.float64], float]:
        if self._list is None:
            raise RuntimeError(f"{self.name}: {command}: no list loaded; call load_list() first")
        return self._list

    @staticmethod
    def _check_fm_arguments(name: str, deviation: float, rate: float | None, source: str,
                            max_deviation: float, max_rate: float) -> None:
        if source not in ("internal", "external"):
            raise LimitError(f"{name}: FM source must be 'internal' or 'external', "
                             f"not {source!r}", quantity="fm_source", value=source,
                             instrument=name)
        if not (is_number(deviation) and 0 < deviation <= max_deviation):
            raise out_of_range(f"{name}: FM deviation {_show(deviation, 'Hz')} is outside "
                               f"0 to {format_quantity(max_deviation, 'Hz')}; nothing was sent",
                               quantity="fm_deviation", value=deviation, low=0.0,
                               high=max_deviation, unit="Hz", instrument=name)
        if source == "internal":
            if rate is None:
                raise LimitError(f"{name}: internal FM needs a rate (Hz)", quantity="fm_rate",
                                 unit="Hz", instrument=name)
            if not (is_number(rate) and 0 < rate <= max_rate):
                raise out_of_range(f"{name}: FM rate {_show(rate, 'Hz')} is outside 0 to "
                                   f"{format_quantity(max_rate, 'Hz')}; nothing was sent",
                                   quantity="fm_rate", value=rate, low=0.0, high=max_rate,
                                   unit="Hz", instrument=name)

    @abc.abstractmethod
    def stop_list(self) -> None:
        """Leave list mode; the driver's commands."""

    # --- snapshot ---------------------------------------------------------------------------

    def _snapshot_state(self) -> dict[str, Any]:
        """Frequency, power and output read back; limits; list and FM state."""
        loaded = self._list
        return {
            "frequency": quantity_value(self.frequency, "Hz"),  # type: ignore[attr-defined]
            "power": quantity_value(self.power, "dBm"),  # type: ignore[attr-defined]
            "output": bool(self.output),  # type: ignore[attr-defined]
            "limits": limits_snapshot(self.limits),
            "list": {
                "running": self._list_running(),
                "points": int(loaded[0].size) if loaded is not None else 0,
                "first": quantity_value(loaded[0][0], "Hz") if loaded is not None else None,
                "last": quantity_value(loaded[0][-1], "Hz") if loaded is not None else None,
                "power": quantity_value(loaded[1], "dBm") if loaded is not None else None,
                "max_points": self.max_list_points,
            },
            "fm": self._fm_state(),
        }

    @abc.abstractmethod
    def _list_running(self) -> bool:
        """Whether the instrument is in list mode, read back."""

    @abc.abstractmethod
    def _fm_state(self) -> dict[str, Any]:
        """FM read back: ``{"enabled": bool, "deviation": {"value", "unit"}}``."""

    def safe(self) -> None:
        """RF output off, list mode stopped.

        Stopping the list is best effort (a failure there is logged); switching the output off
        must succeed, otherwise :class:`InstrumentError` says the RF may still be on.  Does
        nothing if the driver is not connected (nothing was switched on through it).
        """
        if not self.connected:
            return
        with self._lock:
            try:
                self.stop_list()
            except InstrumentError as exc:
                log.warning("%s: stopping the list during safe(): %s", self.name, exc)
            try:
                self.output = False  # type: ignore[attr-defined]
            except InstrumentError as exc:
                raise InstrumentError(self.name, "safe(): RF output off",
                                      f"RF output may still be on: {exc.cause}") from exc


def _quantity(name: str, key: str, value: float | str | None, unit: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_quantity(value, unit, name=f"instruments.{name}.{key}")
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _show(value: Any, unit: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return repr(value)
    return format_quantity(number, unit)
