"""Bluesky devices over an nvsense :class:`~nvsense.instruments.Bench`.

Each device has ``name``, ``parent`` (the :class:`BenchDevices` it belongs to), ``read``,
``describe``, ``read_configuration``, ``describe_configuration``, ``hints``, ``stage``,
``unstage`` and ``stop``; settable ones ``set`` (returning a :class:`~.status.Status`) and
``locate``; the counter ``trigger``.  Readings are SI values with units in ``describe``
(Hz, dBm, W, A; counts or V).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..instruments import Bench
from .status import Status

__all__ = ["BenchDevices", "CoilCurrent", "Counter", "LaserPower", "MicrowaveFrequency",
           "MicrowavePower", "bench_devices"]


def _reading(value: Any) -> dict[str, Any]:
    return {"value": value, "timestamp": time.time()}


class _Device:
    """What every device of the bench shares: name, parent, staging through the parent."""

    units = ""
    precision = 6

    def __init__(self, name: str, parent: BenchDevices) -> None:
        self.name = name
        self.parent = parent
        self._staged = False

    @property
    def hints(self) -> dict[str, list[str]]:
        return {"fields": [self.name]}

    def _source(self) -> str:
        return f"nvsense:{self.parent.bench.label}:{self.name}"

    def _value(self) -> Any:
        raise NotImplementedError

    def _data_key(self) -> dict[str, Any]:
        key: dict[str, Any] = {"source": self._source(), "dtype": "number", "shape": [],
                               "units": self.units, "precision": self.precision}
        return key

    def read(self) -> dict[str, dict[str, Any]]:
        return {self.name: _reading(self._value())}

    def describe(self) -> dict[str, dict[str, Any]]:
        return {self.name: self._data_key()}

    def read_configuration(self) -> dict[str, dict[str, Any]]:
        return {}

    def describe_configuration(self) -> dict[str, dict[str, Any]]:
        return {}

    def stage(self) -> list[Any]:
        if not self._staged:
            self.parent._stage_one()
            self._staged = True
        return [self]

    def unstage(self) -> list[Any]:
        if self._staged:
            self._staged = False
            self.parent._unstage_one()
        return [self]

    def stop(self, success: bool = True) -> None:
        """Leave the bench safe (the RunEngine calls this on an abort or a pause)."""
        self.parent.safe()

    def pause(self) -> None:
        """The RunEngine pauses: the bench is made safe until :meth:`resume`."""
        self.parent.pause()

    def resume(self) -> None:
        """The RunEngine resumes: excitation back on if a plan has the bench staged."""
        self.parent.resume()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} of {self.parent.bench.label!r}>"


class _Settable(_Device):
    """A device with a set-point: ``set(value)`` returns a done or failed Status."""

    def _apply(self, value: float) -> None:
        raise NotImplementedError

    def _limits(self) -> tuple[float, float] | None:
        return None

    def set(self, value: float) -> Status:
        try:
            self.parent._require_connected()
            self._apply(float(value))
        except Exception as exc:  # LimitError, InstrumentError: the plan sees a failed status
            return Status.failed(exc, self)
        return Status.finished(self)

    def locate(self) -> dict[str, float]:
        value = float(self._value())
        return {"setpoint": value, "readback": value}

    def _data_key(self) -> dict[str, Any]:
        key = super()._data_key()
        limits = self._limits()
        if limits is not None:
            key["limits"] = {"control": {"low": limits[0], "high": limits[1]}}
        return key


class MicrowaveFrequency(_Settable):
    """The microwave source's CW frequency (Hz)."""

    units = "Hz"
    precision = 1

    def _value(self) -> float:
        return float(self.parent.bench.mw.frequency)

    def _apply(self, value: float) -> None:
        self.parent.bench.mw.frequency = value

    def _limits(self) -> tuple[float, float] | None:
        try:
            limits = self.parent.bench.mw.limits
        except Exception:
            return None
        return float(limits.frequency_min), float(limits.frequency_max)


class MicrowavePower(_Settable):
    """The microwave source's output power (dBm)."""

    units = "dBm"
    precision = 2

    def _value(self) -> float:
        return float(self.parent.bench.mw.power)

    def _apply(self, value: float) -> None:
        self.parent.bench.mw.power = value

    def _limits(self) -> tuple[float, float] | None:
        try:
            limits = self.parent.bench.mw.limits
        except Exception:
            return None
        return float(limits.power_min), float(limits.power_max)


class LaserPower(_Settable):
    """The laser's power set-point (W)."""

    units = "W"

    def _value(self) -> float:
        return float(self.parent.bench.laser.power)

    def _apply(self, value: float) -> None:
        self.parent.bench.laser.power = value

    def _limits(self) -> tuple[float, float] | None:
        try:
            limits = self.parent.bench.laser.limits
        except Exception:
            return None
        return float(limits.power_min), float(limits.power_max)


class CoilCurrent(_Settable):
    """The bias-coil supply's current (A); staging switches its output on."""

    units = "A"

    def _value(self) -> float:
        return float(self.parent.bench.coil.current)

    def _apply(self, value: float) -> None:
        self.parent.bench.coil.current = value
        self.parent.bench.coil.output = True


class Counter(_Device):
    """The photon counter (or photodiode digitiser): ``trigger()`` acquires ``n_bins`` bins
    of ``bin_time`` at the present settings; ``read()`` gives their mean (counts per bin, or
    V) and, for a counter, the count rate in counts/s."""

    def __init__(self, name: str, parent: BenchDevices, *, bin_time: float = 1e-3,
                 n_bins: int = 1) -> None:
        super().__init__(name, parent)
        self.bin_time = float(bin_time)
        self.n_bins = int(n_bins)
        self._last: float | None = None
        self._last_time = 0.0
        self._configured: tuple[int, float] | None = None

    @property
    def kind(self) -> str:
        return str(self.parent.bench.counter.kind)

    @property
    def units(self) -> str:  # type: ignore[override]
        return "counts" if self.kind == "counts" else "V"

    @property
    def hints(self) -> dict[str, list[str]]:
        return {"fields": [self.name]}

    def stage(self) -> list[Any]:
        out = super().stage()
        self._configure()
        return out

    def _configure(self) -> None:
        if self._configured != (self.n_bins, self.bin_time):
            self.parent.bench.counter.configure(self.n_bins, self.bin_time)
            self._configured = (self.n_bins, self.bin_time)

    def trigger(self) -> Status:
        try:
            self.parent._require_connected()
            self._configure()
            values = self.parent.bench.counter.acquire()
            self._last = float(sum(values) / len(values))
            self._last_time = time.time()
        except Exception as exc:
            return Status.failed(exc, self)
        return Status.finished(self)

    def _value(self) -> float:
        if self._last is None:
            raise RuntimeError(f"{self.name}: read() before trigger(); a plan triggers first "
                               "(bluesky.plan_stubs.trigger_and_read)")
        return self._last

    def read(self) -> dict[str, dict[str, Any]]:
        value = self._value()
        out = {self.name: {"value": value, "timestamp": self._last_time}}
        if self.kind == "counts":
            out[f"{self.name}_rate"] = {"value": value / self.bin_time,
                                        "timestamp": self._last_time}
        return out

    def describe(self) -> dict[str, dict[str, Any]]:
        out = {self.name: self._data_key()}
        if self.kind == "counts":
            out[f"{self.name}_rate"] = {**self._data_key(), "units": "counts/s"}
        return out

    def read_configuration(self) -> dict[str, dict[str, Any]]:
        return {f"{self.name}_bin_time": _reading(self.bin_time),
                f"{self.name}_n_bins": _reading(self.n_bins)}

    def describe_configuration(self) -> dict[str, dict[str, Any]]:
        return {f"{self.name}_bin_time": {"source": self._source(), "dtype": "number",
                                          "shape": [], "units": "s"},
                f"{self.name}_n_bins": {"source": self._source(), "dtype": "integer",
                                        "shape": [], "units": ""}}


class BenchDevices:
    """The Bluesky devices of one bench, sharing its connection and its safety.

    Attributes
    ----------
    mw_frequency, mw_power, laser_power : settable devices
    counter : Counter
    coil_current : CoilCurrent or None
    bench : Bench
    """

    def __init__(self, bench: Bench, *, prefix: str = "", bin_time: float = 1e-3,
                 n_bins: int = 1, mw_power: float | None = None) -> None:
        self.bench = bench
        self.name = f"{prefix}bench"
        self.parent = None
        self._stage_count = 0
        self._root_staged = False
        self._lock = threading.Lock()
        self._mw_power = mw_power
        self.mw_frequency = MicrowaveFrequency(f"{prefix}mw_frequency", self)
        self.mw_power = MicrowavePower(f"{prefix}mw_power", self)
        self.laser_power = LaserPower(f"{prefix}laser_power", self)
        self.counter = Counter(f"{prefix}counter", self, bin_time=bin_time, n_bins=n_bins)
        self.coil_current = CoilCurrent(f"{prefix}coil_current", self) \
            if bench.coil is not None else None

    @property
    def devices(self) -> list[_Device]:
        out: list[_Device] = [self.mw_frequency, self.mw_power, self.laser_power, self.counter]
        return out + ([self.coil_current] if self.coil_current is not None else [])

    def _require_connected(self) -> None:
        if not self.bench.connected:
            self.bench.connect()

    def _stage_one(self) -> None:
        """The first staged device switches the excitation on (laser, RF)."""
        with self._lock:
            self._stage_count += 1
            if self._stage_count > 1:
                return
        self._excite()

    def _excite(self) -> None:
        try:
            self._require_connected()
            if self._mw_power is not None:
                self.bench.mw.power = self._mw_power
            self.bench.laser.on = True
            self.bench.mw.output = True
        except BaseException:
            self.safe()
            raise

    def _unstage_one(self) -> None:
        """The last unstaged device leaves the bench safe."""
        with self._lock:
            self._stage_count = max(0, self._stage_count - 1)
            last = self._stage_count == 0
        if last:
            self.safe()

    # Bluesky stages a device's root ancestor (``parent`` up to ``None``): this object, for
    # every device of the bench, once per plan.

    def stage(self) -> list[Any]:
        """Excitation on (laser, RF) and the counter configured."""
        if not self._root_staged:
            self._stage_one()
            self._root_staged = True
        self.counter._configure()
        return [self]

    def unstage(self) -> list[Any]:
        """The bench safe again (unless a device is still staged on its own)."""
        if self._root_staged:
            self._root_staged = False
            self._unstage_one()
        return [self]

    def stop(self, success: bool = True) -> None:
        """Leave the bench safe (abort, pause)."""
        self.safe()

    def pause(self) -> None:
        """Safe while a plan is paused (RF off, laser off or standby)."""
        self.safe()

    def resume(self) -> None:
        """Excitation back on after a pause, if a plan still has the bench staged."""
        if self._stage_count > 0:
            self._excite()

    def safe(self) -> list[str]:
        """RF off, laser off or standby, counter stopped, coil off (``Bench.safe``)."""
        return self.bench.safe() if self.bench.connected else []

    def close(self) -> None:
        """Leave the bench safe and close its connections."""
        self.safe()
        self.bench.close()


def bench_devices(bench: Bench, **options: Any) -> BenchDevices:
    """The Bluesky devices of ``bench`` (connected here, so that ``read()`` works at once).

    ``options``: ``prefix`` for the device names, ``bin_time`` (s) and ``n_bins`` of the
    counter, ``mw_power`` (dBm) set when a plan starts.
    """
    devices = BenchDevices(bench, **options)
    devices._require_connected()
    return devices
