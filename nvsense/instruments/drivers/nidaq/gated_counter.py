"""NI X-series counter gated by the pulse generator: one value per read-out window (bench
driver ``nidaq`` in the ``gated_counter`` slot).

The pulser's ``gate`` output is high during each read-out window of a pulse program.  Wired to
``gate_terminal``, it does two things to the photon counter (an edge-counting counter input
on ``source_terminal``):

- a pause trigger (digital level, paused while the gate is low) lets the count register run
  only inside the windows;
- its falling edge is the counter's sample clock: the running count is latched at the end of
  every window.

So the latched values are cumulative counts, window after window; the counts of window *k*
are latch *k* minus latch *k − 1* (modulo 2³², the register's width), latch −1 being the 0 the
counter starts from when armed (it is paused until the first window opens).  A pass of the
program has ``windows_per_pass`` windows in play order; the driver reads
``windows_per_pass × passes`` latches in chunks as they arrive (a continuous acquisition into
a ring buffer, so memory does not grow with the number of passes) and sums them per window:
``read()`` returns ``windows_per_pass`` sums, which
:meth:`~nvsense.pulses.PulseProgram.by_point` arranges as points × readouts.

Arm the counter (:meth:`arm`) before starting the pulser, with the pulser's outputs low.

References: nidaqmx-python API: ``CIChannelCollection.add_ci_count_edges_chan``,
``Timing.cfg_samp_clk_timing`` (external source, ``AcquisitionType.CONTINUOUS``),
``PauseTrigger.trig_type``/``dig_lvl_src``/``dig_lvl_when``, ``InStream.avail_samp_per_chan``,
``stream_readers.CounterReader.read_many_sample_uint32``; NI-DAQmx C Reference
(``DAQmxCreateCICountEdgesChan``, ``DAQmxCfgSampClkTiming``, ``DAQmx_PauseTrig_*``,
``DAQmxReadCounterU32Ex``); NI X Series User Manual, "Counters: edge counting, buffered
(sample clock), pause trigger".
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import nidaqmx
import nidaqmx.errors
import numpy as np
from nidaqmx.constants import (
    AcquisitionType,
    CountDirection,
    Edge,
    Level,
    OverwriteMode,
    TaskMode,
    TriggerType,
)
from numpy.typing import NDArray

from ...errors import BenchConfigError, InstrumentError
from ...gated_counter import check_gated_configuration
from ...snapshot import quantity_value
from .analog_input import _OVERFLOW_CODES
from .common import (
    _COUNTER_WRAP,
    NIDAQDriver,
    ReaderFactory,
    TaskFactory,
    _choice,
    _daq_cause,
    _default_reader,
    _device_identity,
    _name,
    _option,
    _physical_channel,
    _same_terminal,
    _terminal,
)

__all__ = ["NIDAQGatedCounter"]

_log = logging.getLogger("nvsense.instruments.drivers.nidaq")

#: Most latches read at once (a chunk), and the smallest ring buffer.
_CHUNK = 100_000
_MIN_BUFFER = 1_000_000


class NIDAQGatedCounter(NIDAQDriver):
    """Photon counts per read-out window on an NI X-series counter gated by the pulser (bench
    driver ``nidaq`` in ``gated_counter``; a
    :class:`~nvsense.instruments.gated_counter.GatedCounter`).

    Parameters
    ----------
    name
        The bench slot (``"gated_counter"``).
    device
        The card's name in NI MAX / ``nilsdev``.
    counter
        The counter that counts the APD pulses (``"ctr0"``).
    source_terminal
        Terminal the APD's TTL output is wired to (``"PFI0"``).
    gate_terminal
        Terminal the pulser's gate output is wired to (``"PFI1"``): high during each window.
    edge
        APD edge counted: ``"rising"`` or ``"falling"``.
    max_window_rate
        Highest rate of read-out windows, per second (sizes the card's buffers).
    timeout
        Longest wait for the next window while reading, s (a pulser that stopped or a gate
        that is not wired shows as a timeout naming how many windows arrived).
    task_factory, reader_factory
        As for :class:`~nvsense.instruments.drivers.nidaq.NIDAQCounter`; tests pass doubles.
    sleep, clock
        Used while waiting for windows (replaceable in tests).
    """

    model: ClassVar[str] = "NI gated counter"
    kind: ClassVar[str] = "counts"

    def __init__(self, name: str = "gated_counter", *, device: str = "Dev1",
                 counter: str = "ctr0", source_terminal: str = "PFI0",
                 gate_terminal: str = "PFI1", edge: str = "rising",
                 max_window_rate: float | str = 1e6, timeout: float | str = 10.0,
                 task_factory: TaskFactory | None = None,
                 reader_factory: ReaderFactory | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        d = "nidaq"
        self.name = str(name)
        self.device = _name(device, "device", d, r"[A-Za-z_][\w\-]*", '"Dev1"')
        self.counter = _name(counter, "counter", d, r"(\S+/)?ctr\d+", '"ctr0"')
        self.source_terminal = _name(source_terminal, "source_terminal", d, r"\S+", '"PFI0"')
        self.gate_terminal = _name(gate_terminal, "gate_terminal", d, r"\S+", '"PFI1"')
        if _same_terminal(self.source_terminal, self.gate_terminal):
            raise BenchConfigError(f"nidaq: source_terminal and gate_terminal are both "
                                   f"{self.source_terminal}; the APD and the gate need two lines")
        self.edge = _choice(edge, ("rising", "falling"), "edge", d)
        self.max_window_rate = _option(max_window_rate, "Hz", "max_window_rate", d)
        self.timeout = _option(timeout, "s", "timeout", d)
        self._task_factory = task_factory
        self._reader_factory = reader_factory or _default_reader
        self._sleep = sleep
        self._clock = clock
        self._task: Any = None
        self._reader: Any = None
        self._config: tuple[int, int] | None = None
        self._committed = False
        self._armed = False
        self._abort = threading.Event()

    @property
    def configuration(self) -> dict[str, int] | None:
        """``{"windows_per_pass", "passes"}`` of the last :meth:`configure`, or ``None``."""
        if self._config is None:
            return None
        return {"windows_per_pass": self._config[0], "passes": self._config[1]}

    # --- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Create the counter task (edge counting on ``source_terminal``) and read the card's
        identity; nothing counts until :meth:`arm`."""
        if self._task is not None:
            return
        factory = self._task_factory or nidaqmx.Task
        ctr = _physical_channel(self.device, self.counter)
        try:
            with self._daq(f"create the gated counter on {ctr}"):
                self._task = factory(f"nvsense.{self.name}.{id(self):x}.gated")
                # DAQmxCreateCICountEdgesChan: count up from 0 on each APD edge.
                chan = self._task.ci_channels.add_ci_count_edges_chan(
                    ctr, edge=Edge.RISING if self.edge == "rising" else Edge.FALLING,
                    initial_count=0, count_direction=CountDirection.COUNT_UP)
                chan.ci_count_edges_term = _terminal(self.device, self.source_terminal)
                self._reader = self._reader_factory("counts", self._task.in_stream)
            self._identity = _device_identity(self._task, self.device)
        except BaseException:
            self._discard_task()
            raise

    def close(self) -> None:
        """Stop and clear the task (idempotent)."""
        self._abort.set()
        task, self._task = self._task, None
        self._reader, self._config, self._committed, self._armed = None, None, False, False
        if task is not None:
            with self._daq("clear the gated counter task"):
                task.close()

    # --- counting ---------------------------------------------------------------------------

    def configure(self, windows_per_pass: int, passes: int) -> None:
        """Prepare counting ``windows_per_pass`` windows per pass for ``passes`` passes: the
        gate's falling edge latches the count, a pause trigger holds it outside the windows.

        Raises
        ------
        LimitError
            Not whole numbers ≥ 1; nothing was sent.
        InstrumentError
            Not connected, or NI-DAQmx refused the settings.
        """
        check_gated_configuration(self.name, windows_per_pass, passes)
        self._require("configure")
        self.safe()
        self._abort.clear()
        total = int(windows_per_pass) * int(passes)
        gate = _terminal(self.device, self.gate_terminal)
        with self._daq(f"configure gated counting on {gate}"):
            if self._committed:
                self._task.control(TaskMode.TASK_UNRESERVE)
                self._committed = False
            # DAQmxCfgSampClkTiming, external source: latch at the end of every window.
            self._task.timing.cfg_samp_clk_timing(
                rate=self.max_window_rate, source=gate, active_edge=Edge.FALLING,
                sample_mode=AcquisitionType.CONTINUOUS,
                samps_per_chan=max(_MIN_BUFFER, min(total, 10 * _MIN_BUFFER)))
            # DAQmx_PauseTrig_Type = DigLvl: the count register holds while the gate is low.
            trigger = self._task.triggers.pause_trigger
            trigger.trig_type = TriggerType.DIGITAL_LEVEL
            trigger.dig_lvl_src = gate
            trigger.dig_lvl_when = Level.LOW
            self._task.in_stream.over_write = OverwriteMode.DO_NOT_OVERWRITE_UNREAD_SAMPLES
            self._task.control(TaskMode.TASK_COMMIT)
            self._committed = True
        self._config = (int(windows_per_pass), int(passes))

    def arm(self) -> None:
        """Start counting: the count starts at 0 and runs inside the next windows (call
        before starting the pulser)."""
        self._require("arm")
        if self._config is None:
            raise InstrumentError(self._label, "arm", "not configured; call configure() first")
        with self._daq("arm the gated counter"):
            self._task.start()  # DAQmxStartTask
        self._abort.clear()
        self._armed = True

    def read(self, timeout: float | None = None) -> NDArray[np.float64]:
        """Wait until every window of every pass is counted; the sums per window, shape
        ``(windows_per_pass,)``, float64 counts.

        Parameters
        ----------
        timeout
            Longest wait for the whole read, s; ``None``: as long as windows keep arriving
            (at most the ``timeout`` option between two chunks).

        Raises
        ------
        InstrumentError
            Not armed; a timeout (naming how many windows arrived); windows lost because the
            buffer overflowed; a device error.  The counter is stopped.
        """
        if not self._armed or self._config is None:
            raise InstrumentError(self._label, "read", "not armed; call configure() and arm() "
                                  "before starting the pulser")
        windows, passes = self._config
        total = windows * passes
        sums = np.zeros(windows, dtype=np.float64)
        deadline = None if timeout is None else self._clock() + float(timeout)
        idle_since = self._clock()
        done = 0
        previous = np.int64(0)
        buf = np.empty(_CHUNK, dtype=np.uint32)
        operation = f"read {total} windows from {_physical_channel(self.device, self.counter)}"
        try:
            while done < total:
                if self._abort.is_set():
                    raise InstrumentError(self._label, operation,
                                          f"stopped by safe() after {done} of {total} windows")
                with self._daq(operation):
                    available = int(self._task.in_stream.avail_samp_per_chan)
                now = self._clock()
                if available <= 0:
                    late = (deadline is not None and now >= deadline) or \
                        (deadline is None and now - idle_since >= self.timeout)
                    if late:
                        waited = (float(timeout) if timeout is not None  # type: ignore[arg-type]
                                  else self.timeout)
                        raise InstrumentError(
                            self._label, operation,
                            f"timed out after {waited:.3g} s with {done} of {total} windows "
                            f"counted (is the pulser running, and its gate output wired to "
                            f"{self.gate_terminal}?)")
                    self._sleep(0.005)
                    continue
                idle_since = now
                want = min(available, total - done, _CHUNK)
                view = buf[:want]
                try:
                    # DAQmxReadCounterU32Ex: the count latched at the end of each window.
                    got = self._reader.read_many_sample_uint32(
                        view, number_of_samples_per_channel=want, timeout=self.timeout)
                except nidaqmx.errors.Error as exc:
                    cause = _daq_cause(exc)
                    if getattr(exc, "error_code", None) in _OVERFLOW_CODES:
                        cause = (f"windows lost after {done} of {total}: the buffer "
                                 f"overflowed because they were not read in time [{cause}]")
                    raise InstrumentError(self._label, operation, cause) from exc
                if got != want:
                    raise InstrumentError(self._label, operation,
                                          f"NI-DAQmx returned {got} of {want} values")
                values = view.astype(np.int64)
                counts = np.diff(values, prepend=previous) % _COUNTER_WRAP
                previous = values[-1]
                slots = (done + np.arange(want)) % windows
                sums += np.bincount(slots, weights=counts, minlength=windows)
                done += want
        finally:
            self._armed = False
            with contextlib.suppress(Exception):
                self._task.stop()  # back to the committed state: ready to arm again
        return sums

    def safe(self) -> None:
        """Stop counting and release the counter; never raises."""
        self._abort.set()
        self._armed = False
        task = self._task
        if task is None:
            return
        try:
            task.stop()
            if self._committed:
                task.control(TaskMode.TASK_UNRESERVE)
                self._committed = False
        except Exception as exc:  # safe() must not raise
            _log.warning("%s: could not stop the gated counter: %s", self._label,
                         _daq_cause(exc))

    def snapshot(self) -> dict[str, Any]:
        """Identity, wiring and the configured counting, JSON-ready."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "connected": self.connected, "device": self.device,
                "counter": self.counter, "source_terminal": self.source_terminal,
                "gate_terminal": self.gate_terminal, "edge": self.edge,
                "max_window_rate": quantity_value(self.max_window_rate, "Hz"),
                "timeout": quantity_value(self.timeout, "s"),
                "configuration": self.configuration, "armed": self._armed}

    def __repr__(self) -> str:
        return (f"NIDAQGatedCounter(name={self.name!r}, device={self.device!r}, "
                f"counter={self.counter!r}, gate_terminal={self.gate_terminal!r})")

