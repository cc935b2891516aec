"""NI X-series DAQ as photon counter or photodiode digitiser (bench driver ``nidaq``).

Counts an APD's TTL pulses with a counter input (``kind: counts``) or digitises a photodiode on
an analog input (``kind: volts``), in bins clocked by a pulse train from a second counter.  The
same pulse train can leave the card on a PFI line wired to the microwave source's trigger
input, so that each bin also steps the microwave frequency list (``trigger_mw``: a
:class:`~nvsense.instruments.protocols.MicrowaveTrigger`).  With ``gate_terminal`` wired, the
photon counter counts only while a gate signal is high (a
:class:`~nvsense.instruments.protocols.ExternalGate`, for pulsed read-out windows).

Timing of one acquisition of ``n_bins`` bins of ``bin_time`` seconds
--------------------------------------------------------------------
The clock counter emits ``n_bins + 1`` rising edges, one every ``bin_time``.  Edge ``k`` starts
bin ``k``; edge ``n_bins`` ends the last bin.  With ``trigger_mw`` each edge also reaches the
microwave source, so during bin ``k`` the source has received ``k + 1`` trigger edges, and it
receives ``n_bins + 1`` edges per acquisition.

- ``counts``: the counter input latches its running edge count on every clock edge
  (buffered, sample-clocked edge counting), giving ``n_bins + 1`` cumulative values ``C``.  The
  counts in bin ``k`` are ``C[k+1] - C[k]`` modulo 2**32 (the count register is 32 bits wide and
  wraps).  ``C[0]`` holds the counts between arming and the first edge, an interval of unknown
  length, and is used only as the reference.  With a gate, a pause trigger (digital level on
  ``gate_terminal``) stops the count register while the gate is inactive; the latches still
  come from the bin clock, so a bin holds the photons of the gate windows inside it.
- ``volts``: the mean photodiode voltage of each bin.  With ``oversample`` samples per bin
  (chosen automatically, see :class:`NIDAQCounter`), the analog input runs on its own sample
  clock at ``oversample / bin_time``, started by clock edge 0; both clocks divide the card's
  100 MHz timebase, so they stay locked, and the driver checks the rates the card accepted.
  With one sample per bin the analog input is clocked by the falling edge of the bin clock, i.e.
  in the middle of each bin, away from the microwave step at the bin's start.

Long acquisitions are read in chunks of about 0.1 s of data, so that the host buffer never
fills and :meth:`NIDAQCounter.safe` can stop an acquisition from another thread.

References: nidaqmx-python API (nidaqmx.readthedocs.io): ``Task``, ``CIChannelCollection``,
``COChannelCollection``, ``AIChannelCollection``, ``Timing``, ``StartTrigger``,
``PauseTrigger``, ``stream_readers.CounterReader``, ``stream_readers.AnalogSingleChannelReader``;
NI-DAQmx C Reference for the functions they wrap (named at each call below); NI X Series User
Manual, chapters "Counters" (edge counting, pause triggers, pulse train generation) and
"Analog Input".
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import nidaqmx
import nidaqmx.errors
import numpy as np
from nidaqmx.constants import (
    AcquisitionType,
    CountDirection,
    Edge,
    Level,
    TaskMode,
    TerminalConfiguration,
    TriggerType,
)
from numpy.typing import NDArray

from ....units import format_quantity
from ...errors import BenchConfigError, InstrumentError, LimitError
from ...limits import out_of_range
from ...snapshot import quantity_value
from .common import (
    _COUNTER_WRAP,
    _SAMPLES_NOT_YET_AVAILABLE,
    MAX_BIN_TIME,
    MAX_OVERSAMPLE,
    MIN_BIN_TIME,
    READS_PER_SECOND,
    TIMEBASE_HZ,
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

__all__ = ["NIDAQCounter"]

_log = logging.getLogger("nvsense.instruments.drivers.nidaq")


@dataclass(frozen=True)
class _Plan:
    """One configured acquisition."""

    n_bins: int
    bin_time: float
    trigger_mw: bool
    oversample: int  # analog samples per bin (1 in counts mode)
    n_samples: int  # samples to read: n_bins + 1 cumulative counts, or n_bins * oversample
    chunk: int  # samples per read
    edges: int  # rising edges of the bin clock

    @property
    def duration(self) -> float:
        return self.n_bins * self.bin_time


class NIDAQCounter(NIDAQDriver):
    """APD photon counter or photodiode digitiser on an NI X-series card (driver ``nidaq``).

    Parameters
    ----------
    name
        The bench slot (``"counter"``).
    device
        The card's name in NI MAX / ``nilsdev`` (``"Dev1"``).
    kind
        ``"counts"`` (APD edge counting, counts per bin) or ``"volts"`` (mean photodiode voltage
        per bin).
    counter
        Counter that counts the APD pulses (``"ctr0"``); unused in volts mode.
    clock_counter
        Counter that generates the bin clock (``"ctr1"``).
    source_terminal
        Terminal the APD's TTL output is wired to (``"PFI0"``).
    clock_terminal
        Terminal the bin clock is sent to when ``trigger_mw`` is set, wired to the microwave
        source's trigger input (``"PFI12"``).  It must not be the clock counter's default output
        terminal (on X-series ctr0..ctr3 default to PFI12..PFI15), because that terminal carries
        the clock even when the microwave list must not be stepped; :meth:`connect` checks it.
    gate_terminal
        Terminal a gate signal is wired to (``"PFI1"``), for gated counting
        (:meth:`set_gate`); ``None`` (default): no gate wired.
    edge
        APD pulse edge that is counted: ``"rising"`` or ``"falling"``.
    ai_channel
        Analog input of the photodiode in volts mode (``"ai0"``).
    ai_min, ai_max
        Expected voltage range in V; the card picks the smallest input range that holds it.
    ai_terminal
        Input configuration: ``"default"``, ``"rse"``, ``"nrse"``, ``"diff"`` or
        ``"pseudo_diff"``.
    oversample
        Analog samples averaged per bin in volts mode.  ``None`` (default) takes the largest
        divisor of the bin time in 10 ns ticks that keeps the sample rate at or below
        ``ai_max_rate`` (and at most 1000), so that the analog sample clock divides the bin
        exactly; ``1`` samples once per bin, in its middle.
    ai_max_rate
        Highest analog sample rate to use in volts mode, in S/s (default 250 kS/s, which every
        X-series card sustains on one channel).
    duty_cycle
        High fraction of the bin clock's period (default 0.5).  The microwave source needs a
        pulse wider than its minimum trigger width.
    sample_mode
        ``"finite"`` (default): the clock emits exactly ``n_bins + 1`` edges and the input
        buffer holds the whole acquisition.  ``"continuous"``: the clock runs until the last bin
        is read and the input uses a circular buffer of a few seconds, for very long
        acquisitions; the microwave list cannot be stepped then (the number of edges is not
        fixed).
    timeout
        Time allowed beyond the acquisition time, in s (default 5 s): :meth:`acquire` waits at
        most 1.5 × ``n_bins × bin_time`` + ``timeout``.
    task_factory
        Creates a task from a task name; default :class:`nidaqmx.Task`.  Tests pass a double.
    reader_factory
        Creates the stream reader from ``(kind, task.in_stream)``; default
        :class:`nidaqmx.stream_readers.CounterReader` for counts and
        :class:`nidaqmx.stream_readers.AnalogSingleChannelReader` for volts.

    Notes
    -----
    ``__init__`` checks the options and does no I/O; :meth:`connect` creates the tasks.
    """

    name: str
    kind: Literal["counts", "volts"]
    #: The clock sends one edge before bin 0 (edge k starts bin k): see the module docstring.
    mw_trigger_lead: int = 1

    def __init__(
        self,
        name: str = "counter",
        *,
        device: str = "Dev1",
        kind: str = "counts",
        counter: str = "ctr0",
        clock_counter: str = "ctr1",
        source_terminal: str = "PFI0",
        clock_terminal: str = "PFI12",
        gate_terminal: str | None = None,
        edge: str = "rising",
        ai_channel: str = "ai0",
        ai_min: float | str = -10.0,
        ai_max: float | str = 10.0,
        ai_terminal: str = "default",
        oversample: int | None = None,
        ai_max_rate: float | str = 250e3,
        duty_cycle: float | str = 0.5,
        sample_mode: str = "finite",
        timeout: float | str = 5.0,
        task_factory: TaskFactory | None = None,
        reader_factory: ReaderFactory | None = None,
    ) -> None:
        d = "nidaq"
        self.name = str(name)
        self.device = _name(device, "device", d, r"[A-Za-z_][\w\-]*", '"Dev1"')
        self.kind = _choice(kind, ("counts", "volts"), "kind", d)  # type: ignore[assignment]
        self.counter = _name(counter, "counter", d, r"(\S+/)?ctr\d+", '"ctr0"')
        self.clock_counter = _name(clock_counter, "clock_counter", d, r"(\S+/)?ctr\d+",
                                   '"ctr1"')
        if self.kind == "counts" and (self.counter.rsplit("/", 1)[-1].lower()
                                      == self.clock_counter.rsplit("/", 1)[-1].lower()):
            raise BenchConfigError(f"nidaq.clock_counter: {clock_counter!r} is also the photon "
                                   "counter; use two different counters, e.g. ctr0 and ctr1")
        self.source_terminal = _name(source_terminal, "source_terminal", d, r"\S+", '"PFI0"')
        self.clock_terminal = _name(clock_terminal, "clock_terminal", d, r"\S+", '"PFI12"')
        self.gate_terminal = (None if gate_terminal is None else
                              _name(gate_terminal, "gate_terminal", d, r"\S+", '"PFI1"'))
        self.edge = _choice(edge, ("rising", "falling"), "edge", d)
        self.ai_channel = _name(ai_channel, "ai_channel", d, r"(\S+/)?ai\d+", '"ai0"')
        self.ai_min = _option(ai_min, "V", "ai_min", d)
        self.ai_max = _option(ai_max, "V", "ai_max", d)
        if not self.ai_min < self.ai_max:
            raise BenchConfigError(f"nidaq.ai_min ({self.ai_min} V) must be below nidaq.ai_max "
                                   f"({self.ai_max} V)")
        self.ai_terminal = _choice(ai_terminal, ("default", "rse", "nrse", "diff", "pseudo_diff"),
                                   "ai_terminal", d)
        if oversample is not None and (isinstance(oversample, bool)
                                       or not isinstance(oversample, int)
                                       or not 1 <= oversample <= MAX_OVERSAMPLE):
            raise BenchConfigError(f"nidaq.oversample: {oversample!r} must be a whole number "
                                   f"from 1 to {MAX_OVERSAMPLE}, or left out for automatic")
        self.oversample = oversample
        self.ai_max_rate = _option(ai_max_rate, "Hz", "ai_max_rate", d)
        if self.ai_max_rate <= 0:
            raise BenchConfigError("nidaq.ai_max_rate must be positive, e.g. 250 kHz")
        self.duty_cycle = _option(duty_cycle, "1", "duty_cycle", d)
        if not 0.0 < self.duty_cycle < 1.0:
            raise BenchConfigError(f"nidaq.duty_cycle: {duty_cycle!r} must be between 0 and 1, "
                                   "e.g. 0.5")
        self.sample_mode = _choice(sample_mode, ("finite", "continuous"), "sample_mode", d)
        self.timeout = _option(timeout, "s", "timeout", d)
        if self.timeout <= 0:
            raise BenchConfigError(f"nidaq.timeout: {timeout!r} must be positive, e.g. 5 s")
        self._task_factory = task_factory
        self._reader_factory = reader_factory or _default_reader

        self._clock_task: Any = None
        self._clock_chan: Any = None
        self._input_task: Any = None
        self._reader: Any = None
        self._plan: _Plan | None = None
        self._abort = threading.Event()
        self._committed = False  # tasks explicitly committed by configure()
        #: Gated counting asked for (by set_gate), and the level that lets counts through.
        self._gate: tuple[bool, Literal["high", "low"]] = (False, "high")
        self._gate_programmed = False  # a pause trigger was set on the input task

    # -- names -------------------------------------------------------------------------------

    @property
    def clock_source(self) -> str:
        """The clock counter's internal output terminal, the sample clock of the input task."""
        number = self.clock_counter.rsplit("/", 1)[-1][3:]
        return f"/{self.device}/Ctr{number}InternalOutput"

    @property
    def connected(self) -> bool:
        return self._input_task is not None

    # -- errors ------------------------------------------------------------------------------

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> None:
        """Create the clock and input tasks and their channels; read the card's identity.

        Raises
        ------
        InstrumentError
            NI-DAQmx is missing (the message says how to install it), the device or a counter
            does not exist, or a resource is in use.
        BenchConfigError
            ``clock_terminal`` is the clock counter's default output terminal.
        """
        if self.connected:
            return
        factory = self._task_factory or nidaqmx.Task
        tag = f"nvsense.{self.name}.{id(self):x}"
        try:
            clock_ch = _physical_channel(self.device, self.clock_counter)
            with self._daq(f"create the bin clock on {clock_ch}"):
                self._clock_task = factory(f"{tag}.clock")
                # DAQmxCreateCOPulseChanFreq: a pulse train, low when idle; the frequency set here
                # is replaced by configure().
                self._clock_chan = self._clock_task.co_channels.add_co_pulse_chan_freq(
                    clock_ch, idle_state=Level.LOW, initial_delay=0.0, freq=1000.0,
                    duty_cycle=self.duty_cycle)
                # DAQmx_CO_Pulse_Term, read before any change: the counter's default output.
                default_term = str(self._clock_chan.co_pulse_term)
            routed = _terminal(self.device, self.clock_terminal)
            if default_term and _same_terminal(default_term, routed):
                raise BenchConfigError(
                    f"nidaq.clock_terminal: {self.clock_terminal} is the default output of "
                    f"{self.clock_counter}, so the bin clock would step the microwave list even "
                    "when it must not; wire the microwave trigger to another PFI line (and set "
                    "clock_terminal to it) or use another clock_counter")
            if self.kind == "counts":
                self._connect_counts(factory, tag)
            else:
                self._connect_volts(factory, tag)
            self._identity = _device_identity(self._input_task, self.device)
        except BaseException:
            self._close_tasks(raise_errors=False)
            raise
        _log.info("%s: connected to %s", self.name, self._identity)

    def _connect_counts(self, factory: TaskFactory, tag: str) -> None:
        ctr = _physical_channel(self.device, self.counter)
        with self._daq(f"create the photon counter on {ctr}"):
            self._input_task = factory(f"{tag}.counts")
            # DAQmxCreateCICountEdgesChan: count up from 0 on each APD edge.
            chan = self._input_task.ci_channels.add_ci_count_edges_chan(
                ctr, edge=Edge.RISING if self.edge == "rising" else Edge.FALLING,
                initial_count=0, count_direction=CountDirection.COUNT_UP)
            # DAQmx_CI_CountEdges_Term: the APD is wired to source_terminal, not necessarily to
            # the counter's default source pin.
            chan.ci_count_edges_term = _terminal(self.device, self.source_terminal)
            self._reader = self._reader_factory("counts", self._input_task.in_stream)

    def _connect_volts(self, factory: TaskFactory, tag: str) -> None:
        ai = _physical_channel(self.device, self.ai_channel)
        config = {"default": TerminalConfiguration.DEFAULT, "rse": TerminalConfiguration.RSE,
                  "nrse": TerminalConfiguration.NRSE, "diff": TerminalConfiguration.DIFF,
                  "pseudo_diff": TerminalConfiguration.PSEUDO_DIFF}[self.ai_terminal]
        with self._daq(f"create the photodiode input on {ai}"):
            self._input_task = factory(f"{tag}.volts")
            # DAQmxCreateAIVoltageChan: min/max select the input range.
            self._input_task.ai_channels.add_ai_voltage_chan(
                ai, terminal_config=config, min_val=self.ai_min, max_val=self.ai_max)
            self._reader = self._reader_factory("volts", self._input_task.in_stream)

    def close(self) -> None:
        """Stop and clear both tasks (idempotent).

        Raises
        ------
        InstrumentError
            NI-DAQmx failed to clear a task (after trying both).
        """
        self._abort.set()
        self._close_tasks(raise_errors=True)

    def _close_tasks(self, *, raise_errors: bool) -> None:
        first: InstrumentError | None = None
        # Clock first: no further edge may reach the microwave source or the input.
        for attr, what in (("_clock_task", "bin clock"), ("_input_task", "input")):
            task = getattr(self, attr)
            if task is None:
                continue
            setattr(self, attr, None)
            try:
                with self._daq(f"clear the {what} task"):
                    task.close()  # DAQmxClearTask: stops the task and releases its resources
            except InstrumentError as exc:
                _log.warning("%s", exc)
                first = first or exc
        self._clock_chan = None
        self._reader = None
        self._plan = None
        self._committed = False
        self._gate_programmed = False
        if first is not None and raise_errors:
            raise first

    # -- acquisition -------------------------------------------------------------------------

    def _make_plan(self, n_bins: int, bin_time: float, trigger_mw: bool) -> _Plan:
        if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
            raise LimitError(f"{self.name}: n_bins must be a whole number ≥ 1, not {n_bins!r}",
                             quantity="n_bins", value=n_bins, limit=1, unit="", bound="lower",
                             source="instrument", instrument=self.name)
        n_bins = int(n_bins)
        bin_time = float(bin_time)
        if not (math.isfinite(bin_time) and MIN_BIN_TIME <= bin_time <= MAX_BIN_TIME):
            raise out_of_range(
                f"{self.name}: bin time {bin_time!r} s is outside "
                f"{format_quantity(MIN_BIN_TIME, 's')} .. {format_quantity(MAX_BIN_TIME, 's')}",
                quantity="bin_time", value=bin_time, low=MIN_BIN_TIME, high=MAX_BIN_TIME,
                unit="s", instrument=self.name)
        if trigger_mw and self.sample_mode == "continuous":
            raise BenchConfigError(
                f"{self.name}: sample_mode: continuous cannot step the microwave list (the clock "
                "runs until it is stopped, so the number of trigger edges is not fixed); set "
                "sample_mode: finite in the bench file")
        per_read = max(1, int(1.0 / (READS_PER_SECOND * bin_time)))  # bins per ~0.1 s
        if self.kind == "counts":
            return _Plan(n_bins, bin_time, trigger_mw, 1, n_bins + 1,
                         min(per_read, n_bins + 1), n_bins + 1)
        oversample = self._oversample(bin_time)
        return _Plan(n_bins, bin_time, trigger_mw, oversample, n_bins * oversample,
                     min(per_read, n_bins) * oversample, n_bins + 1)

    def _oversample(self, bin_time: float) -> int:
        if self.oversample is not None:
            return self.oversample
        limit = min(MAX_OVERSAMPLE, int(self.ai_max_rate * bin_time * (1 + 1e-9)))
        ticks = round(bin_time * TIMEBASE_HZ)
        # The largest divisor of the bin's tick count within the limit: the AI sample period is
        # then a whole number of ticks and `oversample` of them span exactly one bin.
        for candidate in range(max(limit, 1), 0, -1):
            if ticks % candidate == 0:
                return candidate
        return 1  # pragma: no cover - 1 divides everything

    def set_gate(self, enabled: bool, *, active: Literal["high", "low"] = "high") -> None:
        """Count photons only while the gate at ``gate_terminal`` is at its ``active`` level.

        Takes effect at the next :meth:`configure` (a DAQmx pause trigger on the photon
        counter: the count register holds while the gate is inactive).  Counts mode only.

        Raises
        ------
        BenchConfigError
            No ``gate_terminal`` in the bench entry, or ``kind: volts``.
        """
        if active not in ("high", "low"):
            raise ValueError(f"{self.name}: active must be 'high' or 'low', not {active!r}")
        if enabled and self.gate_terminal is None:
            raise BenchConfigError(
                f"{self.name}: gated counting needs the gate wired to a PFI line: set "
                f"gate_terminal (e.g. gate_terminal: PFI1) in the bench entry")
        if enabled and self.kind != "counts":
            raise BenchConfigError(f"{self.name}: gating is for photon counting (kind: counts), "
                                   f"not for kind: {self.kind}")
        self._gate = (bool(enabled), active)

    @property
    def gate(self) -> dict[str, Any]:
        """Gating asked for: ``{"enabled": bool, "active": "high"|"low", "terminal": ...}``."""
        return {"enabled": self._gate[0], "active": self._gate[1],
                "terminal": self.gate_terminal}

    def configure(self, n_bins: int, bin_time: float, *, trigger_mw: bool = False) -> None:
        """Program the bin clock and the input for ``n_bins`` bins of ``bin_time`` seconds.

        Parameters
        ----------
        n_bins
            Number of bins.
        bin_time
            Bin length in s, from 1 µs to 42.9 s.
        trigger_mw
            Send the bin clock to ``clock_terminal`` (the microwave source's trigger input):
            ``n_bins + 1`` rising edges, edge ``k`` at the start of bin ``k``.  Otherwise the
            clock stays on the clock counter's default output terminal.

        Raises
        ------
        LimitError
            A value is out of range, or (volts) the card cannot split a bin into the analog
            samples asked for; nothing was started.
        BenchConfigError
            ``trigger_mw`` with ``sample_mode: continuous``.
        InstrumentError
            Not connected, or NI-DAQmx rejected the settings.
        """
        plan = self._make_plan(n_bins, bin_time, trigger_mw)
        self._require("configure")
        self._plan = None
        if self._committed:
            with self._daq("release the tasks for reconfiguration"):
                # DAQmxTaskControl(Unreserve): back to the verified state before new settings.
                self._input_task.control(TaskMode.TASK_UNRESERVE)
                self._clock_task.control(TaskMode.TASK_UNRESERVE)
            self._committed = False
        finite = self.sample_mode == "finite"
        mode = AcquisitionType.FINITE if finite else AcquisitionType.CONTINUOUS
        clock_ch = _physical_channel(self.device, self.clock_counter)
        with self._daq(f"configure the bin clock on {clock_ch}"):
            # DAQmx_CO_Pulse_Freq / _DutyCyc: one period per bin.
            self._clock_chan.co_pulse_freq = 1.0 / plan.bin_time
            self._clock_chan.co_pulse_duty_cyc = self.duty_cycle
            # DAQmxCfgImplicitTiming: for a finite pulse train, samps_per_chan is the number of
            # pulses.
            self._clock_task.timing.cfg_implicit_timing(sample_mode=mode,
                                                        samps_per_chan=plan.edges)
            if trigger_mw:
                # DAQmx_CO_Pulse_Term: route the pulses to the microwave trigger line.
                self._clock_chan.co_pulse_term = _terminal(self.device, self.clock_terminal)
            else:
                del self._clock_chan.co_pulse_term  # DAQmxResetCOPulseTerm: default terminal
        if self.kind == "counts":
            self._configure_counts(plan, mode)
        else:
            self._configure_volts(plan, mode)
        with self._daq("commit the tasks"):
            # DAQmxTaskControl(Commit): reserve and program the hardware now, so that routing or
            # resource errors show up here and each acquisition starts quickly.
            self._input_task.control(TaskMode.TASK_COMMIT)
            self._clock_task.control(TaskMode.TASK_COMMIT)
        self._committed = True
        if plan.oversample > 1:
            self._check_ai_rate(plan)
        self._plan = plan

    def _buffer(self, plan: _Plan) -> int:
        """Buffer size: the whole acquisition (finite), or a ring of ≥ 10 reads (continuous)."""
        if self.sample_mode == "finite":
            return plan.n_samples
        return max(10 * plan.chunk, 10_000)

    def _configure_counts(self, plan: _Plan, mode: AcquisitionType) -> None:
        ctr = _physical_channel(self.device, self.counter)
        with self._daq(f"configure the photon counter on {ctr}"):
            # DAQmxCfgSampClkTiming with an external source: latch the running count on each
            # rising edge of the clock counter's internal output (buffered edge counting).
            self._input_task.timing.cfg_samp_clk_timing(
                rate=1.0 / plan.bin_time, source=self.clock_source, active_edge=Edge.RISING,
                sample_mode=mode, samps_per_chan=self._buffer(plan))
            self._configure_gate()

    def _configure_gate(self) -> None:
        """Program (or clear) the pause trigger that gates the photon counter."""
        enabled, active = self._gate
        if not enabled and not self._gate_programmed:
            return  # never gated: leave the task's default (no pause trigger)
        trigger = self._input_task.triggers.pause_trigger
        if enabled:
            assert self.gate_terminal is not None
            # DAQmx_PauseTrig_Type = DigLvl, _DigLvl_Src, _DigLvl_When: the counter pauses
            # while the gate is at the inactive level.
            trigger.trig_type = TriggerType.DIGITAL_LEVEL
            trigger.dig_lvl_src = _terminal(self.device, self.gate_terminal)
            trigger.dig_lvl_when = Level.LOW if active == "high" else Level.HIGH
            self._gate_programmed = True
        else:
            trigger.trig_type = TriggerType.NONE
            self._gate_programmed = False

    def _configure_volts(self, plan: _Plan, mode: AcquisitionType) -> None:
        ai = _physical_channel(self.device, self.ai_channel)
        task = self._input_task
        with self._daq(f"configure the photodiode input on {ai}"):
            if plan.oversample == 1:
                # One sample per bin on the falling clock edge, i.e. inside the bin, after the
                # microwave step made by the rising edge.
                task.triggers.start_trigger.disable_start_trig()  # DAQmxDisableStartTrig
                task.timing.cfg_samp_clk_timing(
                    rate=1.0 / plan.bin_time, source=self.clock_source, active_edge=Edge.FALLING,
                    sample_mode=mode, samps_per_chan=self._buffer(plan))
                return
            rate = plan.oversample / plan.bin_time
            # Onboard AI sample clock (source ""), started by edge 0 of the bin clock
            # (DAQmxCfgDigEdgeStartTrig); both divide the 100 MHz timebase.
            task.timing.cfg_samp_clk_timing(rate=rate, source="", active_edge=Edge.RISING,
                                            sample_mode=mode, samps_per_chan=self._buffer(plan))
            task.triggers.start_trigger.cfg_dig_edge_start_trig(
                trigger_source=self.clock_source, trigger_edge=Edge.RISING)

    def _check_ai_rate(self, plan: _Plan) -> None:
        """Refuse an analog sample clock whose samples would drift out of their bins."""
        with self._daq("read back the sample rates"):
            # After commit, DAQmx_SampClk_Rate and DAQmx_CO_Pulse_Freq hold the values the card
            # really uses (coerced to whole numbers of timebase ticks).
            actual_rate = float(self._input_task.timing.samp_clk_rate)
            actual_bin = 1.0 / float(self._clock_chan.co_pulse_freq)
        drift = plan.n_bins * abs(plan.oversample / actual_rate - actual_bin)
        if drift > 0.01 * actual_bin:
            raise LimitError(
                f"{self.name}: {plan.oversample} analog samples at "
                f"{format_quantity(actual_rate, 'S/s')} do not fill a bin of "
                f"{format_quantity(actual_bin, 's')}; over {plan.n_bins} bins the samples would "
                f"drift by {drift / actual_bin:.2g} bin. Use a bin time that is a whole number "
                "of 10 ns ticks divisible by oversample, or leave oversample out",
                quantity="bin_time", value=actual_bin, unit="s", source="instrument",
                instrument=self.name)

    def acquire(self, timeout: float | None = None) -> NDArray[np.float64]:
        """Run the configured acquisition; return counts per bin or mean volts per bin.

        Parameters
        ----------
        timeout
            Longest wait in s for the whole acquisition; default 1.5 × its duration + the
            ``timeout`` option.

        Raises
        ------
        InstrumentError
            Not configured, timeout, a DAQmx error (device, operation, cause and NI-DAQmx code
            in the message), or :meth:`safe` called from another thread.
        """
        plan = self._plan
        if plan is None:
            self._require("acquire")
            raise InstrumentError(self._label, "acquire", "not configured; call configure()")
        limit = 1.5 * plan.duration + self.timeout if timeout is None else float(timeout)
        if not limit > 0:
            raise ValueError(f"{self.name}: timeout must be positive, not {timeout!r}")
        deadline = time.monotonic() + limit
        self._abort.clear()
        try:
            with self._daq("start the acquisition"):
                # Input first: it must be waiting for the clock before edge 0 arrives.
                self._input_task.start()  # DAQmxStartTask
                self._clock_task.start()
            data = self._read_all(plan, deadline, limit)
            if self.sample_mode == "finite":
                # Let the last edge (end of the last bin) reach the microwave source, so that it
                # always receives n_bins + 1 edges (DAQmxWaitUntilTaskDone).
                wait = max(deadline - time.monotonic(), 2.0 * plan.bin_time)
                with self._daq("wait for the end of the bin clock"):
                    self._clock_task.wait_until_done(timeout=wait)
        except BaseException:
            self._stop(raise_errors=False)
            raise
        self._stop(raise_errors=True)
        return data

    def _stop(self, *, raise_errors: bool) -> None:
        """Stop the clock, then the input (both, even if the first fails)."""
        first: InstrumentError | None = None
        for task, what in ((self._clock_task, "bin clock"), (self._input_task, "input")):
            if task is None:
                continue
            try:
                with self._daq(f"stop the {what} task"):
                    task.stop()  # DAQmxStopTask: back to the committed state
            except InstrumentError as exc:
                _log.warning("%s", exc)
                first = first or exc
        if first is not None and raise_errors:
            raise first

    def _read_all(self, plan: _Plan, deadline: float, limit: float) -> NDArray[np.float64]:
        out = np.empty(plan.n_bins, dtype=np.float64)
        counts = self.kind == "counts"
        buf = np.empty(plan.chunk, dtype=np.uint32 if counts else np.float64)
        source = (_physical_channel(self.device, self.counter) if counts
                  else _physical_channel(self.device, self.ai_channel))
        operation = f"read {'counts' if counts else 'volts'} from {source}"
        done = 0  # samples read
        bins = 0  # bins filled
        previous: np.int64 | None = None  # last cumulative count of the previous chunk
        while done < plan.n_samples:
            if self._abort.is_set():
                raise InstrumentError(self._label, operation,
                                      f"stopped by safe() after {bins} of {plan.n_bins} bins")
            want = min(plan.chunk, plan.n_samples - done)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise InstrumentError(self._label, operation,
                                      f"timed out after {limit:.3g} s with {bins} of "
                                      f"{plan.n_bins} bins read")
            view = buf[:want]  # the reader wants an array of exactly `want` samples
            try:
                if counts:
                    # DAQmxReadCounterU32Ex: cumulative counts, one per clock edge.
                    got = self._reader.read_many_sample_uint32(
                        view, number_of_samples_per_channel=want, timeout=remaining)
                else:
                    # DAQmxReadAnalogF64: scaled volts.
                    got = self._reader.read_many_sample(
                        view, number_of_samples_per_channel=want, timeout=remaining)
            except nidaqmx.errors.Error as exc:
                cause = _daq_cause(exc)
                if self._abort.is_set():  # safe() stopped the tasks under a blocked read
                    cause = f"stopped by safe() after {bins} of {plan.n_bins} bins ({cause})"
                elif getattr(exc, "error_code", None) == _SAMPLES_NOT_YET_AVAILABLE:
                    cause = (f"timed out after {limit:.3g} s with {bins} of {plan.n_bins} bins "
                             f"read: {cause}")
                raise InstrumentError(self._label, operation, cause) from exc
            if got != want:
                raise InstrumentError(self._label, operation,
                                      f"NI-DAQmx returned {got} of {want} samples")
            if counts:
                values = view.astype(np.int64)
                if previous is None:  # C[0]: counts before edge 0, the reference only
                    previous, values = values[0], values[1:]
                if values.size:
                    # Differences modulo 2**32 undo the wrap of the 32-bit count register.
                    diffs = np.diff(values, prepend=previous) % _COUNTER_WRAP
                    out[bins:bins + diffs.size] = diffs
                    bins += diffs.size
                    previous = values[-1]
            else:
                n = want // plan.oversample
                out[bins:bins + n] = view.reshape(n, plan.oversample).mean(axis=1)
                bins += n
            done += want
        return out

    def safe(self) -> None:
        """Stop any running acquisition and release the counters and lines; never raises."""
        self._abort.set()
        for task, what in ((self._clock_task, "bin clock"), (self._input_task, "input")):
            if task is None:
                continue
            try:
                task.stop()  # DAQmxStopTask: the pulse train ends and the line idles low
                if self._committed:
                    # DAQmxTaskControl(Unreserve): free the counters and terminals for other
                    # tasks; the next start reserves them again with the same settings.
                    task.control(TaskMode.TASK_UNRESERVE)
            except Exception as exc:  # safe() must not raise
                _log.warning("%s: could not stop the %s task: %s", self._label, what,
                             _daq_cause(exc))
        self._committed = False

    def snapshot(self) -> dict[str, Any]:
        """Identity, wiring and the configured acquisition, with the bin time the card
        accepted (read back after :meth:`configure`), JSON-ready."""
        plan = self._plan
        acquisition = None
        if plan is not None:
            with self._daq("read back the bin clock"):
                accepted = 1.0 / float(self._clock_chan.co_pulse_freq)
            acquisition = {"n_bins": plan.n_bins, "bin_time": quantity_value(plan.bin_time, "s"),
                           "bin_time_read_back": quantity_value(accepted, "s"),
                           "trigger_mw": plan.trigger_mw, "oversample": plan.oversample}
        data: dict[str, Any] = {
            "name": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "identity": self.identity, "connected": self.connected,
            "device": self.device, "kind": self.kind, "counter": self.counter,
            "clock_counter": self.clock_counter, "source_terminal": self.source_terminal,
            "clock_terminal": self.clock_terminal, "edge": self.edge, "gate": self.gate,
            "sample_mode": self.sample_mode, "duty_cycle": self.duty_cycle,
            "mw_trigger_lead": self.mw_trigger_lead,
            "timeout": quantity_value(self.timeout, "s"), "configuration": acquisition,
        }
        if self.kind == "volts":
            data["analog_input"] = {"channel": self.ai_channel, "terminal": self.ai_terminal,
                                    "min": quantity_value(self.ai_min, "V"),
                                    "max": quantity_value(self.ai_max, "V"),
                                    "max_rate": quantity_value(self.ai_max_rate, "S/s"),
                                    "oversample": self.oversample}
        return data

    def __repr__(self) -> str:
        return (f"NIDAQCounter(name={self.name!r}, device={self.device!r}, kind={self.kind!r}, "
                f"counter={self.counter!r}, clock_counter={self.clock_counter!r})")
