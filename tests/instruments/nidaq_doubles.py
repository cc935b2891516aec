"""Test doubles of nidaqmx's Task, channels, timing, triggers, streams, readers and writers.

NI-DAQmx does not install on CI.  Every call a driver makes on these doubles is checked
against the signature of the real nidaqmx method (a misspelt keyword fails here as it would on
the bench), and every property it sets must exist on the real nidaqmx class.  The doubles also
play the hardware: a clocked counter input produces samples only while both the input and the
clock task run; an analog input while its task runs; a read asking for more samples than were
produced fails with NI-DAQmx's timeout error; an injected failure (``daq.failures[(role,
event)]``) is raised where that event happens.  A task's *role* is the last part of its name
(``clock``, ``counts``, ``volts``, ``gate``, ``ai``, ``ao``, ``gated``).
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import nidaqmx
import nidaqmx.errors
import numpy as np
from nidaqmx.stream_readers import (
    AnalogMultiChannelReader,
    AnalogSingleChannelReader,
    CounterReader,
)
from nidaqmx.stream_writers import AnalogSingleChannelWriter
from nidaqmx.task import InStream, OutStream, Timing
from nidaqmx.task.channels import AIChannel, AOChannel, CIChannel, COChannel, DOChannel
from nidaqmx.task.collections import (
    AIChannelCollection,
    AOChannelCollection,
    CIChannelCollection,
    COChannelCollection,
    DOChannelCollection,
)
from nidaqmx.task.triggering import PauseTrigger, StartTrigger

#: Bipolar input ranges of an X-series analog input, V.
AI_RANGES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
TIMEOUT = -200284  # NI-DAQmx: samples not yet available (read timeout)
OVERFLOW = -200279  # NI-DAQmx: samples no longer available (buffer overwritten)


def _bind(real: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Arguments of a call as the real nidaqmx method would receive them (TypeError if not)."""
    bound = inspect.signature(real).bind(None, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop("self")
    return arguments


def _timeout_error(task: str) -> nidaqmx.errors.DaqReadError:
    return nidaqmx.errors.DaqReadError(
        "Some or all of the samples requested have not yet been acquired.", TIMEOUT, 0,
        task_name=task)


class FakeChannel:
    """A channel: records the properties set or reset; refuses names nidaqmx does not have."""

    def __init__(self, task: FakeTask, real_cls: type, physical: str, args: dict[str, Any],
                 props: dict[str, Any]) -> None:
        object.__setattr__(self, "_task", task)
        object.__setattr__(self, "_real", real_cls)
        object.__setattr__(self, "physical", physical)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "props", dict(props))
        object.__setattr__(self, "defaults", dict(props))

    def _check(self, name: str) -> None:
        assert isinstance(getattr(self._real, name, None), property), (
            f"{self._real.__name__} has no property {name}")

    def __getattr__(self, name: str) -> Any:
        self._check(name)
        return self.props[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self._check(name)
        self._task.record("set", name=name, value=value)
        self.props[name] = value

    def __delattr__(self, name: str) -> None:
        self._check(name)
        self._task.record("reset", name=name)
        self.props[name] = self.defaults.get(name)


class FakeCollection:
    def __init__(self, task: FakeTask, real_cls: type, channel_cls: type) -> None:
        self._task, self._real, self._channel_cls = task, real_cls, channel_cls

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._real, method)

        def add(*args: Any, **kwargs: Any) -> FakeChannel:
            arguments = _bind(real, *args, **kwargs)
            self._task.record(method, **arguments)
            physical = next(iter(arguments.values()))
            props: dict[str, Any] = {}
            if "co_" in method:
                props["co_pulse_term"] = self._task.daq.default_co_term
            if method == "add_ai_voltage_chan":  # the card picks the smallest range holding it
                span = max(abs(arguments["min_val"]), abs(arguments["max_val"]))
                rng = next((r for r in AI_RANGES if r >= span - 1e-12), AI_RANGES[-1])
                props.update(ai_rng_low=-rng, ai_rng_high=rng)
            channel = FakeChannel(self._task, self._channel_cls, physical, arguments, props)
            self._task.channels.append(channel)
            return channel

        return add

    def __iter__(self) -> Any:
        return iter([c for c in self._task.channels if c._real is self._channel_cls])


class FakeTiming:
    def __init__(self, task: FakeTask) -> None:
        self._task = task
        self.config: dict[str, Any] = {}

    def cfg_samp_clk_timing(self, *args: Any, **kwargs: Any) -> None:
        self.config = _bind(Timing.cfg_samp_clk_timing, *args, **kwargs)
        self._task.record("cfg_samp_clk_timing", **self.config)

    def cfg_implicit_timing(self, *args: Any, **kwargs: Any) -> None:
        self.config = _bind(Timing.cfg_implicit_timing, *args, **kwargs)
        self._task.record("cfg_implicit_timing", **self.config)

    @property
    def samp_clk_rate(self) -> float:
        return self._task.daq.coerce_rate(self.config["rate"])


class FakeStartTrigger:
    def __init__(self, task: FakeTask) -> None:
        self._task = task

    def cfg_dig_edge_start_trig(self, *args: Any, **kwargs: Any) -> None:
        self._task.record("cfg_dig_edge_start_trig",
                          **_bind(StartTrigger.cfg_dig_edge_start_trig, *args, **kwargs))

    def disable_start_trig(self) -> None:
        self._task.record("disable_start_trig")


class FakePauseTrigger:
    """Records the properties set on ``task.triggers.pause_trigger`` (real names only)."""

    def __init__(self, task: FakeTask) -> None:
        object.__setattr__(self, "_task", task)

    def __setattr__(self, name: str, value: Any) -> None:
        assert isinstance(getattr(PauseTrigger, name, None), property), (
            f"PauseTrigger has no property {name}")
        self._task.record("pause_trigger", name=name, value=value)


class FakeStream:
    """``task.in_stream`` / ``task.out_stream``: records the properties set (real names only);
    ``avail_samp_per_chan`` is what the DAQ double says has arrived."""

    def __init__(self, task: FakeTask, real_cls: type) -> None:
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "_real", real_cls)
        object.__setattr__(self, "props", {})

    def __getattr__(self, name: str) -> Any:
        assert isinstance(getattr(self._real, name, None), property), (
            f"{self._real.__name__} has no property {name}")
        if name == "avail_samp_per_chan":
            return self.task.daq.available(self.task)
        return self.props[name]

    def __setattr__(self, name: str, value: Any) -> None:
        assert isinstance(getattr(self._real, name, None), property), (
            f"{self._real.__name__} has no property {name}")
        self.task.record("stream", name=name, value=value)
        self.props[name] = value


class FakeTask:
    """A stand-in for nidaqmx.Task."""

    def __init__(self, daq: FakeDAQ, new_task_name: str = "") -> None:
        self.daq = daq
        self.name = new_task_name
        self.role = new_task_name.rsplit(".", 1)[-1]  # clock, counts, volts, gate
        self.channels: list[FakeChannel] = []
        self.ci_channels = FakeCollection(self, CIChannelCollection, CIChannel)
        self.co_channels = FakeCollection(self, COChannelCollection, COChannel)
        self.ai_channels = FakeCollection(self, AIChannelCollection, AIChannel)
        self.do_channels = FakeCollection(self, DOChannelCollection, DOChannel)
        self.ao_channels = FakeCollection(self, AOChannelCollection, AOChannel)
        self.timing = FakeTiming(self)
        self.triggers = SimpleNamespace(start_trigger=FakeStartTrigger(self),
                                        pause_trigger=FakePauseTrigger(self))
        self.in_stream = FakeStream(self, InStream)
        self.out_stream = FakeStream(self, OutStream)
        self.devices = [SimpleNamespace(name="Dev1", product_type="PCIe-6363",
                                        serial_num=0x1F2E3D4C)]
        self.running = False
        self.closed = False
        self.starts = 0

    def record(self, event: str, **details: Any) -> None:
        assert not self.closed, f"{event} on a closed task"
        self.daq.log.append((self.role, event, details))
        failure = self.daq.failures.get((self.role, event))
        if failure is not None:
            raise failure

    def start(self) -> None:
        self.record("start")
        self.running = True
        self.starts += 1

    def stop(self) -> None:
        self.record("stop")
        self.running = False

    def close(self) -> None:
        self.record("close")
        self.running = False
        self.closed = True

    def control(self, *args: Any, **kwargs: Any) -> None:
        self.record("control", **_bind(nidaqmx.Task.control, *args, **kwargs))

    def wait_until_done(self, *args: Any, **kwargs: Any) -> None:
        self.record("wait_until_done", **_bind(nidaqmx.Task.wait_until_done, *args, **kwargs))

    def write(self, *args: Any, **kwargs: Any) -> int:
        self.record("write", **_bind(nidaqmx.Task.write, *args, **kwargs))
        return 1


class FakeReader:
    """CounterReader / AnalogSingleChannelReader double: serves the DAQ's prepared samples."""

    def __init__(self, daq: FakeDAQ, kind: str, in_stream: Any) -> None:
        self.daq, self.kind, self.task = daq, kind, in_stream.task
        self.position = 0
        self.seen_start = 0

    def _read(self, real: Any, source: np.ndarray, dtype: type, *args: Any,
              **kwargs: Any) -> int:
        arguments = _bind(real, *args, **kwargs)
        data, n = arguments["data"], arguments["number_of_samples_per_channel"]
        # The real readers insist on an array of exactly n samples of the right type.
        assert data.shape == (n,) and data.dtype == dtype and data.flags.c_contiguous
        self.daq.reads.append((n, arguments["timeout"]))
        if self.task.starts != self.seen_start:  # a new acquisition
            self.seen_start, self.position = self.task.starts, 0
        hook = self.daq.on_read
        if hook is not None:
            hook(len(self.daq.reads))
        clocked = self.task.role not in ("gated",)  # the gate latches the gated counter
        clock_runs = self.daq.task("clock").running if clocked else True
        produced = len(source) if self.task.running and clock_runs else 0
        self.task.record("read", n=n)
        if self.position + n > produced:
            raise _timeout_error(self.task.name)
        data[:] = source[self.position:self.position + n]
        self.position += n
        return n

    def read_many_sample_uint32(self, *args: Any, **kwargs: Any) -> int:
        return self._read(CounterReader.read_many_sample_uint32, self.daq.cumulative, np.uint32,
                          *args, **kwargs)

    def read_many_sample(self, *args: Any, **kwargs: Any) -> int:
        return self._read(AnalogSingleChannelReader.read_many_sample, self.daq.volts,
                          np.float64, *args, **kwargs)


class FakeDAQ:
    """Task factory and reader factory for the drivers, with the log of every call."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, dict[str, Any]]] = []
        self.tasks: list[FakeTask] = []
        self.reads: list[tuple[int, float]] = []
        self.failures: dict[tuple[str, str], Exception] = {}
        self.default_co_term = "/Dev1/PFI13"  # ctr1's default output on X-series
        self.cumulative = np.zeros(0, dtype=np.uint32)
        self.volts = np.zeros(0)
        self.on_read: Any = None
        self.coerce_rate = lambda rate: rate
        self.readers: list[FakeReader] = []
        #: Latches arrived so far in the gated counter's buffer (None: all of them).
        self.arrived: int | None = None
        #: Samples (channels × n) the analog input produces while it runs.
        self.ai_data = np.zeros((0, 0))
        #: What the analog output was given: (task, data) per write_many_sample.
        self.ao_writes: list[tuple[FakeTask, np.ndarray]] = []

    def task_factory(self, new_task_name: str = "") -> FakeTask:
        task = FakeTask(self, new_task_name)
        self.tasks.append(task)
        return task

    def reader_factory(self, kind: str, in_stream: Any) -> FakeReader:
        assert isinstance(in_stream.task, FakeTask)
        reader = FakeReader(self, kind, in_stream)
        self.readers.append(reader)
        return reader

    def ai_reader_factory(self, in_stream: Any) -> FakeMultiReader:
        assert isinstance(in_stream.task, FakeTask)
        return FakeMultiReader(self, in_stream)

    def writer_factory(self, out_stream: Any) -> FakeWriter:
        assert isinstance(out_stream.task, FakeTask)
        return FakeWriter(self, out_stream)

    def available(self, task: FakeTask) -> int:
        """Samples that have arrived and not been read (the gated counter polls it)."""
        if not task.running:
            return 0
        reader = next((r for r in reversed(self.readers) if r.task is task), None)
        position = reader.position if reader is not None and reader.seen_start == task.starts \
            else 0
        arrived = len(self.cumulative) if self.arrived is None else min(self.arrived,
                                                                        len(self.cumulative))
        return max(arrived - position, 0)

    def task(self, role: str) -> FakeTask:
        return next(t for t in reversed(self.tasks) if t.role == role)

    def events(self, role: str, event: str) -> list[dict[str, Any]]:
        return [d for r, e, d in self.log if r == role and e == event]

    def sequence(self, *events: str) -> list[tuple[str, str]]:
        return [(r, e) for r, e, _ in self.log if e in events]

    def photons(self, counts: np.ndarray, before: int = 0) -> None:
        """What the counter latches: `before` counts until edge 0, then the running total,
        in a 32-bit register that wraps."""
        running = np.concatenate(([before], before + np.cumsum(np.asarray(counts, np.int64))))
        self.cumulative = (running % 2**32).astype(np.uint32)




class FakeMultiReader:
    """AnalogMultiChannelReader double: serves ``daq.ai_data`` while the task runs."""

    def __init__(self, daq: FakeDAQ, in_stream: Any) -> None:
        self.daq, self.task = daq, in_stream.task
        self.position = 0
        self.seen_start = 0

    def read_many_sample(self, *args: Any, **kwargs: Any) -> int:
        arguments = _bind(AnalogMultiChannelReader.read_many_sample, *args, **kwargs)
        data, n = arguments["data"], arguments["number_of_samples_per_channel"]
        channels = len([c for c in self.task.channels if c._real is AIChannel])
        # The real reader insists on a C-contiguous float64 array (channels, n).
        assert data.shape == (channels, n) and data.dtype == np.float64
        assert data.flags.c_contiguous
        self.daq.reads.append((n, arguments["timeout"]))
        if self.task.starts != self.seen_start:
            self.seen_start, self.position = self.task.starts, 0
        self.task.record("read", n=n)
        produced = self.daq.ai_data.shape[1] if self.task.running else 0
        if self.position + n > produced:
            raise _timeout_error(self.task.name)
        data[:] = self.daq.ai_data[:channels, self.position:self.position + n]
        self.position += n
        return n


class FakeWriter:
    """AnalogSingleChannelWriter double: records the buffer written."""

    def __init__(self, daq: FakeDAQ, out_stream: Any) -> None:
        self.daq, self.task = daq, out_stream.task

    def write_many_sample(self, *args: Any, **kwargs: Any) -> int:
        arguments = _bind(AnalogSingleChannelWriter.write_many_sample, *args, **kwargs)
        data = np.array(arguments["data"], dtype=np.float64)
        assert data.ndim == 1
        self.task.record("write_many_sample", n=data.size)
        self.daq.ao_writes.append((self.task, data))
        return data.size


def overflow_error(task: str) -> nidaqmx.errors.DaqReadError:
    """NI-DAQmx's error for samples overwritten before they were read."""
    return nidaqmx.errors.DaqReadError(
        "Attempted to read samples that are no longer available.", OVERFLOW, 0, task_name=task)
