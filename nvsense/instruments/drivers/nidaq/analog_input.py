"""NI X-series DAQ as a continuous multi-channel analog input (bench driver ``nidaq`` in the
``analog_input`` slot): photodiodes, the modulation sync and the stimulus trigger of a lock-in
magnetometer, on one hardware sample clock, read in blocks.

One task holds every configured channel; the card's onboard sample clock (``ai/SampleClock``)
times them all (a multiplexed X-series card samples them one after the other within each
clock period, a simultaneous-sampling card at once).  The acquisition is continuous: a host
ring buffer of ``buffer_time`` seconds fills by DMA while blocks are read, and a buffer that
overflows (the program fell behind) stops the acquisition with NI-DAQmx error -200279, which
is reported with the sample where the data stopped; samples are never silently dropped or
repeated (the read never overwrites unread samples).

The analog output of the FM drive (:class:`~.fm_drive.NIDAQFMDrive`) uses this task's sample
clock (:attr:`NIDAQAnalogInput.sample_clock_terminal`), so its sine is in step with every
sample read here.

Channels are named in the bench file, so that a measurement asks for ``s0.signal``
whatever input it is wired to::

    analog_input:
      driver: nidaq
      device: Dev1
      channels: {s0.signal: ai0, s0.reference: ai1,
                 sync: {channel: ai2, min: "-1 V", max: "1 V"}, trigger: ai3}

References: nidaqmx-python API (nidaqmx.readthedocs.io): ``AIChannelCollection.
add_ai_voltage_chan``, ``Timing.cfg_samp_clk_timing`` (``AcquisitionType.CONTINUOUS``),
``InStream.over_write``/``input_buf_size``, ``stream_readers.AnalogMultiChannelReader.
read_many_sample``; NI-DAQmx C Reference (``DAQmxCreateAIVoltageChan``,
``DAQmxCfgSampClkTiming``, ``DAQmxSetReadOverWrite``, ``DAQmxReadAnalogF64``); NI X Series
User Manual, "Analog Input" (sample clock, multiplexed sampling, ``ai/SampleClock``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nidaqmx
import nidaqmx.errors
import numpy as np
from nidaqmx.constants import AcquisitionType, Edge, OverwriteMode, TaskMode
from nidaqmx.error_codes import DAQmxErrors

from ....units import format_quantity
from ...analog_input import AnalogBlock
from ...errors import BenchConfigError, InstrumentError, LimitError
from ...limits import out_of_range
from ...snapshot import quantity_value
from .common import (
    NIDAQDriver,
    TaskFactory,
    _choice,
    _daq_cause,
    _device_identity,
    _name,
    _option,
    _physical_channel,
)

__all__ = ["DEFAULT_AI_CHANNELS", "NIDAQAnalogInput"]

_log = logging.getLogger("nvsense.instruments.drivers.nidaq")

#: Channels of an entry that names none: the signal and reference photodiodes of one sensor.
DEFAULT_AI_CHANNELS: dict[str, str] = {"s0.signal": "ai0", "s0.reference": "ai1"}
#: NI-DAQmx errors that mean samples were lost because they were not read in time.
_OVERFLOW_CODES = {
    DAQmxErrors.SAMPLES_NO_LONGER_AVAILABLE.value,  # -200279: host buffer overwritten
    DAQmxErrors.INPUT_FIFO_OVERFLOW.value,  # -200010
    DAQmxErrors.INPUT_FIFO_OVERFLOW_2.value,  # -200361: onboard FIFO (bus too slow)
    DAQmxErrors.ACQ_STOPPED_TO_PREVENT_INPUT_BUFFER_OVERWRITE.value,  # -200222
    DAQmxErrors.ACQ_STOPPED_TO_PREVENT_INTERMEDIATE_BUFFER_OVERFLOW.value,  # -200283
}
_TERMINALS = ("default", "rse", "nrse", "diff", "pseudo_diff")
#: A sample at this fraction of the input range's end counts as clipped.
_CLIP_FRACTION = 0.9999


@dataclass(frozen=True)
class _Channel:
    """One named input: physical channel, voltage range and terminal configuration."""

    name: str
    physical: str
    low: float
    high: float
    terminal: str


def _reader(in_stream: Any) -> Any:
    from nidaqmx.stream_readers import AnalogMultiChannelReader

    return AnalogMultiChannelReader(in_stream)


class NIDAQAnalogInput(NIDAQDriver):
    """Continuous, hardware-timed, multi-channel analog input on an NI X-series card (bench
    driver ``nidaq`` in ``analog_input``; an
    :class:`~nvsense.instruments.analog_input.AnalogInputStream`).

    Parameters
    ----------
    name
        The bench slot (``"analog_input"``).
    device
        The card's name in NI MAX / ``nilsdev``.
    channels
        Channel name -> input: ``"ai0"``, or ``{"channel": "ai2", "min": "-1 V", "max": "1 V",
        "terminal": "diff"}`` for a channel with its own range or terminal configuration.
        Default :data:`DEFAULT_AI_CHANNELS`.
    ai_min, ai_max
        Expected voltage range of channels that give none, V (the card picks the smallest
        input range that holds it).
    ai_terminal
        Terminal configuration of channels that give none: ``default``, ``rse``, ``nrse``,
        ``diff`` or ``pseudo_diff``.
    max_rate
        Fastest sample rate of one channel, S/s (2 MS/s on a PCIe-6363).
    max_aggregate_rate
        Fastest total rate over the channels, S/s (1 MS/s on a PCIe-6363 with several
        channels).
    buffer_time
        Length of the host ring buffer, s: how far the program may fall behind before samples
        are lost (and the acquisition stops with an error saying so).
    timeout
        Time a read may wait beyond the block's own duration, s.
    task_factory, reader_factory
        Make the task (default :class:`nidaqmx.Task`) and its reader from the task's input
        stream (default :class:`nidaqmx.stream_readers.AnalogMultiChannelReader`).  Tests pass
        doubles.

    Notes
    -----
    ``__init__`` checks the options and does no I/O; :meth:`connect` creates a task with
    every named channel (so a wrong device or channel is found then) and reads the card's
    identity; :meth:`configure` builds the task of the channels a measurement asks for.
    """

    name: str

    def __init__(
        self,
        name: str = "analog_input",
        *,
        device: str = "Dev1",
        channels: Mapping[str, Any] | None = None,
        ai_min: float | str = -10.0,
        ai_max: float | str = 10.0,
        ai_terminal: str = "default",
        max_rate: float | str = 2e6,
        max_aggregate_rate: float | str = 1e6,
        buffer_time: float | str = 2.0,
        timeout: float | str = 5.0,
        task_factory: TaskFactory | None = None,
        reader_factory: Any = None,
    ) -> None:
        d = "nidaq"
        self.name = str(name)
        self.device = _name(device, "device", d, r"[A-Za-z_][\w\-]*", '"Dev1"')
        self.ai_min = _option(ai_min, "V", "ai_min", d)
        self.ai_max = _option(ai_max, "V", "ai_max", d)
        if not self.ai_min < self.ai_max:
            raise BenchConfigError(f"nidaq.ai_min ({self.ai_min} V) must be below ai_max "
                                   f"({self.ai_max} V)")
        self.ai_terminal = _choice(ai_terminal, _TERMINALS, "ai_terminal", d)
        self._channel_map = self._parse_channels(channels or DEFAULT_AI_CHANNELS)
        self.max_rate = _option(max_rate, "Hz", "max_rate", d)
        self.max_aggregate_rate = _option(max_aggregate_rate, "Hz", "max_aggregate_rate", d)
        self.buffer_time = _option(buffer_time, "s", "buffer_time", d)
        self.timeout = _option(timeout, "s", "timeout", d)
        for key in ("max_rate", "max_aggregate_rate", "buffer_time", "timeout"):
            if not getattr(self, key) > 0:
                raise BenchConfigError(f"nidaq.{key} must be positive")
        self._task_factory = task_factory
        self._reader_factory = reader_factory or _reader
        self._task: Any = None
        self._reader: Any = None
        self._configured: tuple[tuple[_Channel, ...], float, int] | None = None
        self._ranges: list[tuple[float, float]] = []
        self._running = False
        self._samples_read = 0
        self._lock = threading.RLock()
        self._abort = threading.Event()

    def _parse_channels(self, channels: Mapping[str, Any]) -> dict[str, _Channel]:
        parsed: dict[str, _Channel] = {}
        for key, spec in channels.items():
            label = f"nidaq.channels.{key}"
            if isinstance(spec, str):
                spec = {"channel": spec}
            if not isinstance(spec, Mapping) or "channel" not in spec:
                raise BenchConfigError(f"{label}: give an input such as ai0, or {{channel: ai0, "
                                       f"min: \"-2 V\", max: \"2 V\"}}")
            physical = _name(spec["channel"], "channels", "nidaq", r"(\S+/)?ai\d+", '"ai0"')
            low = _option(spec.get("min", self.ai_min), "V", f"channels.{key}.min", "nidaq")
            high = _option(spec.get("max", self.ai_max), "V", f"channels.{key}.max", "nidaq")
            if not low < high:
                raise BenchConfigError(f"{label}: min ({low} V) must be below max ({high} V)")
            terminal = _choice(spec.get("terminal", self.ai_terminal), _TERMINALS,
                               f"channels.{key}.terminal", "nidaq")
            parsed[str(key)] = _Channel(str(key), physical, low, high, terminal)
        return parsed

    # --- description ------------------------------------------------------------------------

    @property
    def available_channels(self) -> tuple[str, ...]:
        """The channel names of the bench entry."""
        return tuple(self._channel_map)

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels, in the order of a block's rows."""
        return tuple(c.name for c in self._configured[0]) if self._configured else ()

    @property
    def sample_rate(self) -> float | None:
        """The sample rate the card uses, S/s (``None`` before :meth:`configure`)."""
        return self._configured[1] if self._configured else None

    @property
    def running(self) -> bool:
        """Whether the acquisition runs."""
        return self._running

    @property
    def sample_clock_terminal(self) -> str:
        """The sample clock of this input, as other tasks of the card name it (the FM drive's
        analog output is clocked by it)."""
        return f"/{self.device}/ai/SampleClock"

    @property
    def samples_read(self) -> int:
        """Samples per channel read since the acquisition started."""
        return self._samples_read

    # --- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Create a task with every named channel (checking the device and inputs exist) and
        read the card's identity; nothing is acquired."""
        if self.connected:
            return
        self._abort.clear()
        self._open(tuple(self._channel_map.values()))
        self._identity = _device_identity(self._task, self.device)
        _log.info("%s: connected to %s", self.name, self._identity)

    def _open(self, channels: tuple[_Channel, ...]) -> None:
        """A fresh task holding ``channels`` (the previous one cleared first)."""
        from nidaqmx.constants import TerminalConfiguration

        self._close_task(raise_errors=False)
        factory = self._task_factory or nidaqmx.Task
        config = {"default": TerminalConfiguration.DEFAULT, "rse": TerminalConfiguration.RSE,
                  "nrse": TerminalConfiguration.NRSE, "diff": TerminalConfiguration.DIFF,
                  "pseudo_diff": TerminalConfiguration.PSEUDO_DIFF}
        try:
            with self._daq("create the analog input task"):
                self._task = factory(f"nvsense.{self.name}.{id(self):x}.ai")
                for ch in channels:
                    # DAQmxCreateAIVoltageChan: min/max select the input range of each channel;
                    # rows of a read follow the order the channels were added.
                    self._task.ai_channels.add_ai_voltage_chan(
                        _physical_channel(self.device, ch.physical),
                        terminal_config=config[ch.terminal], min_val=ch.low, max_val=ch.high)
                self._reader = self._reader_factory(self._task.in_stream)
        except BaseException:
            self._close_task(raise_errors=False)
            raise

    def close(self) -> None:
        """Stop and clear the task (idempotent)."""
        self._abort.set()
        self._close_task(raise_errors=True)

    def _close_task(self, *, raise_errors: bool) -> None:
        task, self._task = self._task, None
        self._reader = None
        self._running = False
        self._configured = None
        if task is None:
            return
        try:
            with self._daq("clear the analog input task"):
                task.close()  # DAQmxClearTask
        except InstrumentError as exc:
            _log.warning("%s", exc)
            if raise_errors:
                raise

    # --- acquisition ------------------------------------------------------------------------

    def configure(self, channels: Sequence[str], sample_rate: float, block_size: int) -> float:
        """Acquire ``channels`` (names of the bench entry, in this order) at ``sample_rate``
        per channel, read in blocks of ``block_size`` samples.

        Returns
        -------
        float
            The rate the card uses (its sample clock divides the 100 MHz timebase: ask for a
            rate that divides it, e.g. 200 kS/s, for an exact clock reference).

        Raises
        ------
        LimitError
            An unknown or repeated channel, a rate above ``max_rate`` or the aggregate above
            ``max_aggregate_rate``, a block outside 1 .. the buffer; nothing was started.
        InstrumentError
            Not connected, running, or NI-DAQmx refused the settings.
        """
        names = tuple(channels)
        unknown = [c for c in names if c not in self._channel_map]
        if not names or unknown or len(set(names)) != len(names):
            raise LimitError(f"{self.name}: channels must be distinct names among "
                             f"{', '.join(self._channel_map)} (the bench entry's channels); "
                             f"got {list(names)}; nothing was started", quantity="channels",
                             value=list(names), instrument=self.name)
        rate = float(sample_rate)
        if not (math.isfinite(rate) and 0 < rate <= self.max_rate):
            raise out_of_range(f"{self.name}: sample rate {rate:g} S/s is outside 0 to "
                               f"{self.max_rate:g} S/s; nothing was started",
                               quantity="sample_rate", value=rate, low=0.0, high=self.max_rate,
                               unit="S/s", instrument=self.name)
        total = rate * len(names)
        if total > self.max_aggregate_rate:
            raise LimitError(
                f"{self.name}: {len(names)} channels at {format_quantity(rate, 'S/s')} are "
                f"{format_quantity(total, 'S/s')} in all, above the card's "
                f"{format_quantity(self.max_aggregate_rate, 'S/s')} aggregate "
                f"(max_aggregate_rate); use fewer channels or a lower rate; nothing was "
                f"started",
                quantity="sample_rate", value=total, limit=self.max_aggregate_rate,
                unit="S/s", bound="upper", source="instrument", instrument=self.name)
        buffer = max(math.ceil(self.buffer_time * rate), 10_000)
        if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer) or \
                not 1 <= int(block_size) <= buffer // 2:
            raise LimitError(f"{self.name}: block_size must be a whole number of samples from 1 "
                             f"to {buffer // 2} (half the {self.buffer_time:g} s buffer), not "
                             f"{block_size!r}; nothing was started", quantity="block_size",
                             value=block_size, instrument=self.name)
        self._require("configure")
        if self._running:
            raise InstrumentError(self._label, "configure", "the acquisition runs; stop() "
                                  "first")
        selected = tuple(self._channel_map[c] for c in names)
        self._open(selected)
        with self._daq(f"configure {len(names)} channels at {rate:g} S/s"):
            # DAQmxCfgSampClkTiming, onboard clock (source ""), continuous: the buffer is a
            # ring of `buffer` samples per channel.
            self._task.timing.cfg_samp_clk_timing(
                rate=rate, source="", active_edge=Edge.RISING,
                sample_mode=AcquisitionType.CONTINUOUS, samps_per_chan=buffer)
            # DAQmxSetReadOverWrite: never overwrite unread samples (a lost block is an error,
            # not silently newer data).
            self._task.in_stream.over_write = OverwriteMode.DO_NOT_OVERWRITE_UNREAD_SAMPLES
            # DAQmxTaskControl(Commit): reserve now so that resource errors show here.
            self._task.control(TaskMode.TASK_COMMIT)
            actual = float(self._task.timing.samp_clk_rate)
            self._ranges = [(float(ch.ai_rng_low), float(ch.ai_rng_high))
                            for ch in self._task.ai_channels]
        self._configured = (selected, actual, int(block_size))
        return actual

    def start(self) -> None:
        """Start the continuous acquisition (sample 0 is the first clock edge after this)."""
        self._require("start")
        if self._configured is None:
            raise InstrumentError(self._label, "start", "not configured; call configure first")
        with self._daq("start the analog input"):
            self._task.start()  # DAQmxStartTask
        self._abort.clear()
        self._running = True
        self._samples_read = 0

    def read(self, timeout: float | None = None) -> AnalogBlock:
        """The next ``block_size`` samples of every channel (waits until they are there).

        Raises
        ------
        InstrumentError
            Not started; samples lost because the buffer overflowed (named with the sample
            where the data stop; the acquisition is stopped); a timeout; a device error.
        """
        with self._lock:
            if not self._running or self._configured is None:
                raise InstrumentError(self._label, "read", "not started; call start() first")
            channels, rate, block = self._configured
            wait = block / rate + self.timeout if timeout is None else float(timeout)
            data = np.empty((len(channels), block), dtype=np.float64)
            first = self._samples_read
            try:
                # DAQmxReadAnalogF64, grouped by channel: rows in configuration order.
                got = self._reader.read_many_sample(data, number_of_samples_per_channel=block,
                                                    timeout=wait)
            except nidaqmx.errors.Error as exc:
                self._stop_quietly()
                code = getattr(exc, "error_code", None)
                if self._abort.is_set():
                    cause = f"stopped by safe() after {first} samples ({_daq_cause(exc)})"
                elif code in _OVERFLOW_CODES:
                    cause = (f"samples lost after sample {first} "
                             f"({format_quantity(first / rate, 's')} into the acquisition): "
                             f"the {self.buffer_time:g} s buffer overflowed because blocks "
                             f"were not read in time; the acquisition was stopped (read "
                             f"faster, or raise buffer_time in the bench entry) "
                             f"[{_daq_cause(exc)}]")
                else:
                    cause = _daq_cause(exc)
                raise InstrumentError(self._label, f"read {block} samples", cause) from exc
            if got != block:
                self._stop_quietly()
                raise InstrumentError(self._label, f"read {block} samples",
                                      f"NI-DAQmx returned {got} of {block} samples")
            self._samples_read += block
        over = tuple(bool(np.any(row <= _CLIP_FRACTION * low) or np.any(row >= _CLIP_FRACTION
                                                                          * high))
                     for row, (low, high) in zip(data, self._ranges, strict=True))
        time = (first + np.arange(block)) / rate
        return AnalogBlock(time=time, data=data, channels=tuple(c.name for c in channels),
                           sample_rate=rate, first_sample=first, overrange=over)

    def _stop_quietly(self) -> None:
        self._running = False
        if self._task is not None:
            with contextlib.suppress(Exception):
                self._task.stop()

    def stop(self) -> None:
        """Stop the acquisition (nothing happens if none runs)."""
        if not self._running or self._task is None:
            self._running = False
            return
        self._running = False
        with self._daq("stop the analog input"):
            self._task.stop()  # DAQmxStopTask: back to the committed state

    def safe(self) -> None:
        """Stop the acquisition and release the card's resources; never raises."""
        self._abort.set()
        self._running = False
        task = self._task
        if task is None:
            return
        try:
            task.stop()
            if self._configured is not None:
                task.control(TaskMode.TASK_UNRESERVE)  # free the AI for other tasks
        except Exception as exc:  # safe() must not raise
            _log.warning("%s: could not stop the analog input: %s", self._label, _daq_cause(exc))

    def snapshot(self) -> dict[str, Any]:
        """Identity, the channels of the bench entry with their ranges, the configured
        acquisition (rate the card uses, block, input ranges it chose), JSON-ready."""
        configured = None
        if self._configured is not None:
            channels, rate, block = self._configured
            configured = {"channels": [c.name for c in channels],
                          "sample_rate": quantity_value(rate, "S/s"), "block_size": block,
                          "input_ranges": [[quantity_value(lo, "V"), quantity_value(hi, "V")]
                                           for lo, hi in self._ranges],
                          "running": self._running, "samples_read": self._samples_read}
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "connected": self.connected, "device": self.device,
                "channels": {c.name: {"input": c.physical, "min": quantity_value(c.low, "V"),
                                      "max": quantity_value(c.high, "V"),
                                      "terminal": c.terminal}
                             for c in self._channel_map.values()},
                "buffer_time": quantity_value(self.buffer_time, "s"),
                "max_aggregate_rate": quantity_value(self.max_aggregate_rate, "S/s"),
                "configuration": configured}

    def __repr__(self) -> str:
        return (f"NIDAQAnalogInput(name={self.name!r}, device={self.device!r}, "
                f"channels={list(self._channel_map)!r})")
