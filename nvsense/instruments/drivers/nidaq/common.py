"""What the NI-DAQmx drivers share: names of counters, lines and terminals, the errors
NI-DAQmx raises turned into :class:`~nvsense.instruments.errors.InstrumentError` with a hint,
and the card's identity.

References: nidaqmx-python API (nidaqmx.readthedocs.io) and the NI-DAQmx C Reference for the
functions it wraps; NI X Series User Manual.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

import nidaqmx
import nidaqmx.errors
import nidaqmx.system
from nidaqmx.error_codes import DAQmxErrors
from nidaqmx.stream_readers import AnalogSingleChannelReader, CounterReader

from ....units import QuantityError, parse_quantity
from ...errors import BackendUnavailableError, BenchConfigError, InstrumentError

__all__ = [
    "MAX_BIN_TIME",
    "MAX_OVERSAMPLE",
    "MIN_BIN_TIME",
    "NIDAQ_NOT_INSTALLED",
    "READS_PER_SECOND",
    "TIMEBASE_HZ",
    "NIDAQDriver",
    "ReaderFactory",
    "TaskFactory",
    "daq_errors",
]

_log = logging.getLogger("nvsense.instruments.drivers.nidaq")

#: The X-series master timebase (X Series User Manual, "Counter Timebase"): counter periods and
#: AI sample-clock periods are whole numbers of its 10 ns ticks.
TIMEBASE_HZ = 100e6
#: How often a running acquisition is read (chunks of about 1/READS_PER_SECOND of data).
READS_PER_SECOND = 10.0
#: Shortest bin: 1 µs, i.e. a 1 MS/s counter sample clock, which X-series cards stream by DMA.
MIN_BIN_TIME = 1e-6
#: Longest bin: the 32-bit count register must not wrap twice within one bin, and X-series
#: counters count edges at up to 100 MHz, so a bin may last up to 2**32 / 100 MHz = 42.9 s.
MAX_BIN_TIME = 2**32 / TIMEBASE_HZ
#: Upper bound on analog samples averaged into one bin (beyond it, memory grows for no gain).
MAX_OVERSAMPLE = 1000
_COUNTER_WRAP = 2**32
_SAMPLES_NOT_YET_AVAILABLE = DAQmxErrors.SAMPLES_NOT_YET_AVAILABLE.value  # the read timeout

#: Cause of the InstrumentError raised when the NI-DAQmx driver itself is missing.
NIDAQ_NOT_INSTALLED = (
    "NI-DAQmx is not installed on this computer: the nidaqmx Python package is only a wrapper "
    "around National Instruments' NI-DAQmx driver. Install the driver (Windows, or Ubuntu/RHEL/"
    "openSUSE) with `python -m nidaqmx installdriver`, or download NI-DAQmx from "
    "https://www.ni.com/en/support/downloads/drivers/download.ni-daq-mx.html; then check that "
    "the card shows up in NI MAX (Windows) or `nilsdev` (Linux) under the device name of the "
    "bench file. To run nvsense without hardware, use the simulated bench (the default bench)."
)

# Hints for the NI-DAQmx errors a user of this driver meets most often.
_HINTS: dict[int, str] = {
    DAQmxErrors.SAMPLES_NOT_YET_AVAILABLE.value: (
        "no clock edges arrived in time: the bin clock did not run (counter in use, task "
        "stopped) or the acquisition took longer than the timeout"),
    DAQmxErrors.SAMPLES_NO_LONGER_AVAILABLE.value: (
        "the host buffer overflowed because samples were not read fast enough; use "
        "sample_mode: finite or longer bins"),
    DAQmxErrors.PAL_RESOURCE_RESERVED.value: (
        "the counter or line is in use by another task (NI MAX test panel, another program or "
        "another nvsense instrument on the same card)"),
    DAQmxErrors.RESOURCE_RESERVED_WITH_CONFLICTING_SETTINGS.value: (
        "another task uses this resource with different settings"),
    DAQmxErrors.RESOURCES_IN_USE_FOR_ROUTE_ROUTING.value: (
        "the terminal is already driven by another route or task; pick a free PFI line"),
    DAQmxErrors.INVALID_DEVICE_ID.value: (
        "no such device: check the device name in NI MAX / nilsdev"),
    DAQmxErrors.DEV_CANNOT_BE_ACCESSED.value: (
        "the device cannot be reached: is the USB cable plugged in and the card powered?"),
}

TaskFactory = Callable[[str], Any]
ReaderFactory = Callable[[Literal["counts", "volts"], Any], Any]


def _default_reader(kind: Literal["counts", "volts"], in_stream: Any) -> Any:
    """The real stream reader for a task's input stream."""
    if kind == "counts":
        return CounterReader(in_stream)
    return AnalogSingleChannelReader(in_stream)


def _daq_cause(exc: BaseException) -> str:
    """Describe an nidaqmx error in one line, with its NI-DAQmx status code and a hint."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), repr(exc))
    if isinstance(exc, nidaqmx.errors.DaqError):
        code = exc.error_code
        cause = f"{text} (NI-DAQmx error {code} {exc.error_type.name})"
        hint = _HINTS.get(code)
        return f"{cause}; {hint}" if hint else cause
    return text


def _option(value: Any, unit: str, key: str, driver: str) -> float:
    """A bench option as an SI float, or BenchConfigError naming the key."""
    try:
        return parse_quantity(value, unit, name=f"{driver}.{key}")
    except QuantityError as exc:
        raise BenchConfigError(str(exc)) from None


def _choice(value: Any, choices: dict[str, Any] | tuple[str, ...], key: str, driver: str) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise BenchConfigError(f"{driver}.{key}: {value!r} is not one of "
                               f"{', '.join(choices)}")
    return text


def _name(value: Any, key: str, driver: str, pattern: str, example: str) -> str:
    text = str(value).strip() if value is not None else ""
    if not re.fullmatch(pattern, text, flags=re.IGNORECASE):
        raise BenchConfigError(f"{driver}.{key}: {value!r} is not valid; write e.g. {example}")
    return text


_LOCAL_NAME = re.compile(r"(ctr|ai|ao|port|pfi|rtsi|pxi_trig)\d+", re.IGNORECASE)


def _qualified(device: str, name: str) -> str:
    """``name`` with the device in front unless it already names one (``"Dev2/ctr0"``)."""
    name = name.lstrip("/")
    if _LOCAL_NAME.fullmatch(name.split("/", 1)[0]):
        return f"{device}/{name}"
    return name


def _physical_channel(device: str, channel: str) -> str:
    """``"ctr0"`` -> ``"Dev1/ctr0"``, ``"port0/line1"`` -> ``"Dev1/port0/line1"``."""
    return _qualified(device, channel)


def _terminal(device: str, terminal: str) -> str:
    """``"PFI0"`` -> ``"/Dev1/PFI0"`` (terminal names are absolute, with a leading slash)."""
    return "/" + _qualified(device, terminal)


def _same_terminal(a: str, b: str) -> bool:
    return a.strip("/").lower() == b.strip("/").lower()


def _device_identity(task: Any, device: str) -> str:
    """Model and serial number of the card, as NI-DAQmx reports them for the task's device."""
    try:
        dev = task.devices[0]
        identity = f"National Instruments {dev.product_type}, serial {int(dev.serial_num):X}"
    except (nidaqmx.errors.Error, IndexError, AttributeError, TypeError, ValueError):
        identity = "National Instruments (model not reported)"
    try:
        v = nidaqmx.system.System.local().driver_version
        identity += f", NI-DAQmx {v.major_version}.{v.minor_version}.{v.update_version}"
    except (nidaqmx.errors.Error, AttributeError, OSError):
        pass
    return f"{identity}, device {device}"


@contextlib.contextmanager
def daq_errors(label: str, operation: str) -> Iterator[None]:
    """Turn nidaqmx errors raised inside the block into :class:`InstrumentError`.

    A missing NI-DAQmx driver becomes :class:`BackendUnavailableError` (the fix is an
    installation, not a cable): its cause is :data:`NIDAQ_NOT_INSTALLED`.
    """
    try:
        yield
    except nidaqmx.errors.DaqNotFoundError as exc:
        raise BackendUnavailableError(label, operation, NIDAQ_NOT_INSTALLED) from exc
    except nidaqmx.errors.Error as exc:
        raise InstrumentError(label, operation, _daq_cause(exc)) from exc


class NIDAQDriver:
    """What every NI-DAQmx driver of this package shares: the error context naming it, the
    card's identity, whether its task exists, and dropping a half-made task.

    A subclass sets ``name``, ``device`` and ``_task`` in its constructor and
    :attr:`_identity` at :meth:`connect`.
    """

    name: str
    device: str
    _task: Any
    _identity: str | None = None

    @property
    def _label(self) -> str:
        """``"<slot> (<device>)"``: who an error message is about."""
        return f"{self.name} ({self.device})"

    @property
    def identity(self) -> str:
        """Card model, serial number and NI-DAQmx version (read at :meth:`connect`)."""
        return self._identity or f"NI-DAQmx device {self.device} (not connected)"

    @property
    def connected(self) -> bool:
        return self._task is not None

    def _daq(self, operation: str) -> Any:
        """Turn nidaqmx errors raised inside the block into InstrumentError
        (:func:`daq_errors`)."""
        return daq_errors(self._label, operation)

    def _require(self, operation: str) -> None:
        if not self.connected:
            raise InstrumentError(self._label, operation, "not connected; call connect() first")

    def _discard_task(self) -> None:
        """Forget the task after a failed :meth:`connect`, clearing it quietly (the error that
        made the connection fail is the one to report)."""
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(Exception):
                task.close()
