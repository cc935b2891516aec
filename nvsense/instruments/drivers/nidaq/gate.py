"""A laser or AOM gate on one digital output line of an NI card (bench driver ``nidaq_gate``).

Switches the laser (or its AOM driver) with one digital output line: a
:class:`~nvsense.instruments.protocols.Laser` whose power is fixed by the optics and only
reported.

References: nidaqmx-python API: ``Task``, ``DOChannelCollection``; NI-DAQmx C Reference
(``DAQmxCreateDOChan``, ``DAQmxWriteDigitalLines``).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import nidaqmx
from nidaqmx.constants import LineGrouping

from ....units import format_quantity
from ...errors import BenchConfigError, InstrumentError, LimitError
from ...protocols import LaserLimits
from ...snapshot import limits_snapshot, quantity_value
from .common import (
    NIDAQDriver,
    TaskFactory,
    _device_identity,
    _name,
    _option,
    _physical_channel,
)

__all__ = ["NIDAQGate"]

_log = logging.getLogger("nvsense.instruments.drivers.nidaq")


class NIDAQGate(NIDAQDriver):
    """Laser or AOM gate on one digital output line of an NI card (driver ``nidaq_gate``).

    The line switches emission on and off; the power is set by the optics and is only
    reported.

    Parameters
    ----------
    name
        The bench slot (``"laser"``).
    device
        The card's name in NI MAX / ``nilsdev`` (``"Dev1"``).
    line
        The digital output line (``"port0/line0"``; PFI lines used as static digital lines are
        ``port1``/``port2`` on X-series).
    power
        Nominal power at the sample, in W (``"50 mW"``): reported by :attr:`power` and the only
        value the power setter accepts.
    active_low
        ``True`` if the AOM driver or laser turns on at a low level.

    Notes
    -----
    The line's state is the last value written (a digital output cannot be read back on every
    card).  :meth:`connect` and :meth:`close` drive the line to "off".
    """

    name: str

    def __init__(
        self,
        name: str = "laser",
        *,
        device: str = "Dev1",
        line: str = "port0/line0",
        power: float | str | None = None,
        active_low: bool = False,
        task_factory: TaskFactory | None = None,
    ) -> None:
        d = "nidaq_gate"
        self.name = str(name)
        self.device = _name(device, "device", d, r"[A-Za-z_][\w\-]*", '"Dev1"')
        self.line = _name(line, "line", d, r"(\S+/)?port\d+/line\d+", '"port0/line0"')
        if power is None:
            raise BenchConfigError("nidaq_gate.power: give the nominal laser power at the "
                                   'sample, e.g. power: "50 mW" (the gate cannot set it)')
        self._power = _option(power, "W", "power", d)
        if self._power < 0:
            raise BenchConfigError(f"nidaq_gate.power: {power!r} must not be negative")
        if not isinstance(active_low, bool):
            raise BenchConfigError(f"nidaq_gate.active_low: {active_low!r} must be true or false")
        self.active_low = active_low
        self._task_factory = task_factory
        self._task: Any = None
        self._on = False

    @property
    def physical_line(self) -> str:
        return _physical_channel(self.device, self.line)

    def connect(self) -> None:
        """Create the digital output task and switch the gate off."""
        if self._task is not None:
            return
        factory = self._task_factory or nidaqmx.Task
        try:
            with self._daq(f"create the gate on {self.physical_line}"):
                self._task = factory(f"nvsense.{self.name}.{id(self):x}.gate")
                # DAQmxCreateDOChan, one channel per line: write() then takes one bool.
                self._task.do_channels.add_do_chan(self.physical_line,
                                                   line_grouping=LineGrouping.CHAN_PER_LINE)
            self._write(False)
            self._identity = _device_identity(self._task, self.device) + f", {self.line}"
        except BaseException:
            self._discard_task()
            raise

    def close(self) -> None:
        """Switch the gate off and clear the task (idempotent)."""
        task = self._task
        if task is None:
            return
        try:
            self._write(False)
        except InstrumentError as exc:
            _log.warning("%s", exc)
        self._task = None
        with self._daq(f"clear the gate task on {self.physical_line}"):
            task.close()  # DAQmxClearTask; the line keeps its last (off) level

    @property
    def limits(self) -> LaserLimits:
        """Both ends are the nominal power: the gate cannot change it."""
        return LaserLimits(self._power, self._power)

    @property
    def power(self) -> float:
        """The configured nominal power in W."""
        return self._power

    @power.setter
    def power(self, value: float) -> None:
        value = float(value)
        if not math.isclose(value, self._power, rel_tol=1e-6, abs_tol=1e-12):
            raise LimitError(
                f"{self.name}: the power is fixed at {format_quantity(self._power, 'W')} by the "
                f"optics; the digital gate on {self.physical_line} only switches the laser on "
                f"and off and cannot set {format_quantity(value, 'W')}",
                quantity="laser_power", value=value,
                limit=self._power, unit="W", bound="upper" if value > self._power else "lower",
                source="instrument", instrument=self.name)

    @property
    def on(self) -> bool:
        """Whether the gate was last set to pass the laser."""
        return self._on

    @on.setter
    def on(self, value: bool) -> None:
        self._write(bool(value))

    def _write(self, on: bool) -> None:
        if self._task is None:
            raise InstrumentError(self._label, f"set {self.physical_line}",
                                  "not connected; call connect() first")
        level = on != self.active_low
        with self._daq(f"write {int(level)} to {self.physical_line}"):
            # DAQmxWriteDigitalLines, on demand: the line changes when the call returns.
            self._task.write(level)
        self._on = on

    def standby(self) -> None:
        """A gate has no warm standby: the same as ``on = False``."""
        self.on = False

    def safe(self, mode: Literal["off", "standby"] = "off") -> None:
        """Gate off (``off`` and ``standby`` alike); never raises."""
        try:
            self._write(False)
        except Exception as exc:  # safe() must not raise
            _log.warning("%s: could not switch the gate off: %s", self._label, exc)

    def snapshot(self) -> dict[str, Any]:
        """Identity, the line and its last written state, the nominal power, JSON-ready."""
        return {"name": self.name,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "connected": self._task is not None,
                "device": self.device, "line": self.line, "on": self._on,
                "active_low": self.active_low, "power": quantity_value(self._power, "W"),
                "limits": limits_snapshot(self.limits)}

    def __repr__(self) -> str:
        return f"NIDAQGate(name={self.name!r}, device={self.device!r}, line={self.line!r})"
