"""NI X-series analog output as the FM drive of a lock-in magnetometer (bench driver ``nidaq``
in the ``fm_drive`` slot).

The output plays a sine into the microwave source's external FM input, clocked by the analog
input's sample clock (``/Dev1/ai/SampleClock``): output sample *k* changes at input sample
*k*, so the modulation's phase at every sample read is known exactly and a software lock-in
demodulates with :class:`nvsense.dsp.ClockReference`, without a recorded sync.  The
generation is continuous with regeneration: one buffer holding a whole number of periods
(:func:`~nvsense.instruments.fm_drive.whole_period_buffer`) repeats without a phase jump.
The task is started before the analog input, so that it waits for the first clock edge.

When stopped (and after :meth:`connect`, :meth:`safe`, :meth:`close`) the output is held at
0 V by an on-demand write.

The source's FM deviation at full scale is set through the bench's guarded source
(``set_fm(deviation, source="external")``); ``amplitude`` is the drive voltage that gives
that full deviation (±1 V on an SG384's modulation input).

References: nidaqmx-python API: ``AOChannelCollection.add_ao_voltage_chan``,
``Timing.cfg_samp_clk_timing`` with ``source="/Dev1/ai/SampleClock"``,
``OutStream.regen_mode``, ``stream_writers.AnalogSingleChannelWriter.write_many_sample``,
``Task.write`` (on demand); NI-DAQmx C Reference (``DAQmxCreateAOVoltageChan``,
``DAQmxCfgSampClkTiming``, ``DAQmxSetWriteRegenMode``, ``DAQmxWriteAnalogF64``); NI X Series
User Manual, "Analog Output" (regeneration, AO sample clock sources including
``ai/SampleClock``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, ClassVar

import nidaqmx
import numpy as np
from nidaqmx.constants import AcquisitionType, Edge, RegenerationMode

from ...errors import BenchConfigError, CapabilityError, InstrumentError
from ...fm_drive import FMDriveBase, FMDriveLimits, whole_period_buffer
from ...snapshot import quantity_value
from .common import (
    NIDAQDriver,
    TaskFactory,
    _device_identity,
    _name,
    _option,
    _physical_channel,
)

__all__ = ["NIDAQFMDrive"]

_log = logging.getLogger("nvsense.instruments.drivers.nidaq")


def _writer(out_stream: Any) -> Any:
    from nidaqmx.stream_writers import AnalogSingleChannelWriter

    return AnalogSingleChannelWriter(out_stream, auto_start=False)


class NIDAQFMDrive(NIDAQDriver, FMDriveBase):
    """A sine on an NI analog output, clocked by the analog input (bench driver ``nidaq`` in
    ``fm_drive``; an :class:`~nvsense.instruments.fm_drive.FMDrive`).

    Parameters
    ----------
    name
        The bench slot (``"fm_drive"``).
    device
        The card's name in NI MAX / ``nilsdev`` (the analog input's card).
    ao_channel
        The analog output wired to the source's FM input (``"ao0"``).
    amplitude
        Peak drive voltage that gives the source's full deviation, V (±1 V for the SG384's
        external modulation input).
    max_samples
        Longest output buffer, samples.
    timeout
        Time allowed for a write, s.
    task_factory, writer_factory
        Make the task (default :class:`nidaqmx.Task`) and the writer of its output stream
        (default :class:`nidaqmx.stream_writers.AnalogSingleChannelWriter`).  Tests pass
        doubles.
    """

    model: ClassVar[str] = "NI analog output"

    def __init__(self, name: str = "fm_drive", *, device: str = "Dev1", ao_channel: str = "ao0",
                 amplitude: float | str = 1.0, max_samples: int = 65_536,
                 timeout: float | str = 5.0, task_factory: TaskFactory | None = None,
                 writer_factory: Any = None) -> None:
        super().__init__(name)
        d = "nidaq"
        self.device = _name(device, "device", d, r"[A-Za-z_][\w\-]*", '"Dev1"')
        self.ao_channel = _name(ao_channel, "ao_channel", d, r"(\S+/)?ao\d+", '"ao0"')
        self.amplitude = _option(amplitude, "V", "amplitude", d)
        if not 0 < self.amplitude <= 10:
            raise BenchConfigError(f"nidaq.amplitude: {amplitude!r} must be above 0 and at most "
                                   f"10 V (the X-series output range)")
        if isinstance(max_samples, bool) or int(max_samples) < 2:
            raise BenchConfigError(f"nidaq.max_samples must be ≥ 2, not {max_samples!r}")
        self.max_samples = int(max_samples)
        self.timeout = _option(timeout, "s", "timeout", d)
        self._task_factory = task_factory
        self._writer_factory = writer_factory or _writer
        self._task: Any = None
        self._clocked = False
        self._buffer: tuple[int, int] | None = None  # (samples, periods)

    @property
    def physical_channel(self) -> str:
        return _physical_channel(self.device, self.ao_channel)

    @property
    def limits(self) -> FMDriveLimits:
        """Up to a quarter of the analog input's sample rate (four samples a period)."""
        ai = self._ai
        rate = (getattr(ai, "sample_rate", None) or getattr(ai, "max_rate", None) or 1e6)
        return FMDriveLimits(0.1, float(rate) / 4, self.amplitude)

    # --- connection -------------------------------------------------------------------------

    def connect(self) -> None:
        """Create the output task and hold the output at 0 V."""
        if self._task is not None:
            return
        self._zero()
        self._identity = (_device_identity(self._task, self.device)
                          + f", {self.ao_channel}")

    def _new_task(self, role: str) -> Any:
        factory = self._task_factory or nidaqmx.Task
        task = factory(f"nvsense.{self.name}.{id(self):x}.{role}")
        try:
            # DAQmxCreateAOVoltageChan: the range is the drive's ±amplitude.
            task.ao_channels.add_ao_voltage_chan(self.physical_channel,
                                                 min_val=-self.amplitude,
                                                 max_val=self.amplitude)
        except BaseException:
            with contextlib.suppress(Exception):
                task.close()
            raise
        return task

    def _clear(self) -> None:
        task, self._task = self._task, None
        self._clocked = False
        if task is not None:
            with self._daq("clear the output task"):
                task.close()  # DAQmxClearTask: the line keeps its last value

    def _zero(self) -> None:
        """An on-demand task holding the output at 0 V."""
        with self._daq(f"set {self.physical_channel} to 0 V"):
            self._clear()
            self._task = self._new_task("ao")
            self._task.write(0.0, auto_start=True)  # DAQmxWriteAnalogScalarF64, on demand

    def close(self) -> None:
        """Output at 0 V, then clear the task (idempotent)."""
        if self._task is None:
            return
        try:
            self._zero()
        finally:
            self._clear()

    # --- FM drive ---------------------------------------------------------------------------

    def _start_output(self, frequency: float, phase_deg: float) -> float:
        if self._task is None:
            raise InstrumentError(self._label, "start", "not connected; call connect() first")
        ai = self._analog_input("start")
        clock = getattr(ai, "sample_clock_terminal", None)
        if clock is None:
            raise CapabilityError(
                f"{self.name}: the NI FM drive is clocked by an NI analog input "
                f"(driver: nidaq in analog_input); this bench's analog input "
                f"({type(getattr(ai, 'inner', ai)).__name__}) has no sample clock to share")
        rate = getattr(ai, "sample_rate", None)
        if rate is None:
            raise InstrumentError(self._label, "start", "configure the analog input first: "
                                  "the drive plays on its sample clock, at its rate")
        if getattr(ai, "running", False):
            raise InstrumentError(self._label, "start", "the analog input already runs: start "
                                  "the FM drive before the analog input, so that its phase at "
                                  "sample 0 is known")
        n, cycles, played = whole_period_buffer(frequency, rate, max_samples=self.max_samples)
        k = np.arange(n)
        data = self.amplitude * np.sin(2 * np.pi * cycles * k / n + np.radians(phase_deg))
        with self._daq(f"play {played:g} Hz on {self.physical_channel} clocked by {clock}"):
            self._clear()
            self._task = self._new_task("ao")
            # DAQmxCfgSampClkTiming with the analog input's sample clock as source: one output
            # sample per input sample, continuous, from a buffer of n samples.
            self._task.timing.cfg_samp_clk_timing(
                rate=rate, source=clock, active_edge=Edge.RISING,
                sample_mode=AcquisitionType.CONTINUOUS, samps_per_chan=n)
            # DAQmxSetWriteRegenMode: the buffer repeats (a whole number of periods).
            self._task.out_stream.regen_mode = RegenerationMode.ALLOW_REGENERATION
            self._writer_factory(self._task.out_stream).write_many_sample(
                data, timeout=self.timeout)
            self._task.start()  # waits for the analog input's first sample clock edge
            self._clocked = True
        self._buffer = (n, cycles)
        return played

    def _stop_output(self) -> None:
        if self._task is None:
            return
        if self._clocked:
            with self._daq("stop the output"):
                self._task.stop()
        self._zero()
        self._buffer = None

    def snapshot(self) -> dict[str, Any]:
        """Identity, output, drive amplitude, what it plays and on which clock, JSON-ready."""
        buffer = None
        if self._buffer is not None:
            buffer = {"samples": self._buffer[0], "periods": self._buffer[1]}
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "connected": self.connected, "device": self.device,
                "ao_channel": self.ao_channel,
                "amplitude": quantity_value(self.amplitude, "V"),
                "clock": getattr(self._ai, "sample_clock_terminal", None), "buffer": buffer,
                **self._snapshot_state()}

    def __repr__(self) -> str:
        return (f"NIDAQFMDrive(name={self.name!r}, device={self.device!r}, "
                f"ao_channel={self.ao_channel!r})")
