"""Guards for the optional instruments whose settings the bench's limits bound.

Like :mod:`nvsense.instruments.guarded`, a bench hands these instruments out wrapped, so that
a setting beyond ``limits:`` of the bench file raises
:class:`~nvsense.instruments.errors.LimitError` before anything reaches the instrument:

- the lock-in's sine output, which drives the source's FM input, stays within
  ``max_modulation_voltage``;
- the FM drive's amplitude (its drive at full deviation) likewise; the deviation itself is
  checked by the guarded source (carrier ± deviation inside the frequency limits);
- a pulse program keeps the microwave on at most ``max_mw_duty_cycle`` of each pass (checked
  by ``check`` and before ``upload`` sends anything).

Everything else passes through; ``.inner`` is the bare driver.  The analog input, gated
counter and camera have no bench limits and are handed out bare.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .guarded import _Guard
from .limits import check_modulation_voltage, check_mw_duty_cycle
from .snapshot import limits_snapshot

__all__ = ["GuardedFMDrive", "GuardedLockIn", "GuardedPulser"]


class GuardedLockIn(_Guard):
    """A :class:`~nvsense.instruments.lockin.LockIn` whose sine output is bounded by the
    bench's ``max_modulation_voltage``."""

    _slot = "lockin"

    @property
    def instrument_limits(self) -> Any:
        """What the lock-in accepts."""
        return self._inner.limits

    @property
    def limits(self) -> Any:
        """The lock-in's limits with the sine amplitude bounded by the bench too."""
        own = self._inner.limits
        bench = self._bench.max_modulation_voltage
        if bench is None or bench >= own.sine_amplitude_max:
            return own
        return dataclasses.replace(own, sine_amplitude_max=bench)

    @property
    def sine_amplitude(self) -> float:
        return self._inner.sine_amplitude

    @sine_amplitude.setter
    def sine_amplitude(self, value: float) -> None:
        check_modulation_voltage(float(value), bench=self._bench, who=self._inner.name)
        self._inner.sine_amplitude = value


class GuardedFMDrive(_Guard):
    """An :class:`~nvsense.instruments.fm_drive.FMDrive` whose drive amplitude is bounded by
    the bench's ``max_modulation_voltage``."""

    _slot = "fm_drive"

    def start(self, frequency: float, deviation: float, *, phase_deg: float = 0.0) -> float:
        amplitude = float(self._inner.limits.amplitude)
        if amplitude > 0:
            check_modulation_voltage(amplitude, bench=self._bench, who=self._inner.name)
        return self._inner.start(frequency, deviation, phase_deg=phase_deg)

    def snapshot(self) -> dict[str, Any]:
        data = super().snapshot()
        data.pop("effective_limits", None)  # no bench limit changes what it can play
        return data


class GuardedPulser(_Guard):
    """A :class:`~nvsense.instruments.pulser.Pulser` whose programs keep the microwave duty
    cycle within the bench's ``max_mw_duty_cycle``."""

    _slot = "pulser"

    def _check_duty(self, program: Any) -> None:
        if self._bench.max_mw_duty_cycle is None:
            return
        from .pulser import mw_duty_cycle

        check_mw_duty_cycle(mw_duty_cycle(program), bench=self._bench,
                            who=self._inner.name, program=getattr(program, "name", ""))

    def check(self, program: Any) -> None:
        """The device's checks, then the bench's duty-cycle limit (no I/O)."""
        self._inner.check(program)
        self._check_duty(program)

    def upload(self, program: Any) -> Any:
        """Check the duty cycle (nothing sent if it is too high), then upload."""
        self._check_duty(program)
        return self._inner.upload(program)

    def snapshot(self) -> dict[str, Any]:
        data = super().snapshot()
        limit = self._bench.max_mw_duty_cycle
        data["effective_limits"] = {**(limits_snapshot(self._inner.limits) or {}),
                                    "max_mw_duty_cycle": limit}
        return data
