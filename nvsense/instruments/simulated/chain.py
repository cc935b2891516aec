"""The simulated bench's lock-in instruments: lock-in, analog input and FM drive on one
photodiode chain.

The simulated lock-in (:class:`~.lockin.SimulatedLockIn`) and analog input
(:class:`~.analog_input.SimulatedAnalogInput`) read a
:class:`~.photodiode.SimulatedPhotodiodeBench`.  On a bench they must read the *same* chain,
made from the bench's sample (``sample.photodiode`` of the bench file), so that they see the
microwave source and laser of the bench.  :func:`photodiode_chain` builds it on first use and
keeps it with the sample; the classes here are the bench drivers (``driver: simulated`` in the
``lockin``, ``analog_input`` and ``fm_drive`` slots), constructed like every simulated driver
as ``Class(name=<slot>, sample=<the bench's sample>, **options)``.

:class:`ChainFMDrive` is the simulated counterpart of an NI analog output clocked by the
analog input: its sine (:class:`~.photodiode.SineDrive`, ±1 V = full deviation) drives the
simulated source's external FM input on the acquisition's clock, so its phase at sample 0 is
the phase it was started with.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...units import format_quantity
from ..errors import InstrumentError
from ..fm_drive import FMDriveBase, FMDriveLimits, whole_period_buffer
from ..snapshot import quantity_value
from .analog_input import SimulatedAnalogInput
from .base import SimulatedInstrument
from .lockin import SimulatedLockIn
from .photodiode import (
    LaserNoise,
    PhotodiodeSensor,
    SimulatedPhotodiodeBench,
    SineDrive,
)
from .sample import SimulatedSample

__all__ = ["ChainAnalogInput", "ChainFMDrive", "ChainLockIn", "photodiode_chain"]


def photodiode_chain(sample: SimulatedSample) -> SimulatedPhotodiodeBench:
    """The photodiode chain of ``sample`` (made from ``sample.config.photodiode`` on first
    use, then shared by every instrument that asks)."""
    chain = sample.photodiode
    if chain is None:
        cfg = sample.config.photodiode
        sensors = [
            PhotodiodeSensor(sample, {
                "photon_rate": cfg.photon_rate,
                "reference_photon_rate": cfg.reference_photon_rate,
                "quantum_efficiency": cfg.quantum_efficiency,
                "transimpedance": cfg.transimpedance,
                "amplifier_noise": cfg.amplifier_noise,
                "flux_concentrator_gain": cfg.flux_concentrator_gain,
                "source_coupling": 1.0 if i == 0 else cfg.far_source_coupling,
            }, name=name)
            for i, name in enumerate(cfg.sensors)]
        seed = sample.seed
        chain = SimulatedPhotodiodeBench(
            sensors, sample_rate=cfg.sample_rate,
            laser_noise=LaserNoise(white=cfg.rin, corner=cfg.rin_corner,
                                   enabled=cfg.rin > 0),
            environment=(SimulatedPhotodiodeBench.make_environment(cfg.sample_rate, seed)
                         if cfg.environment else None),
            test_source=(SimulatedPhotodiodeBench.make_test_source(seed)
                         if cfg.test_source else None),
            seed=seed)
        sample.photodiode = chain
    return chain


class ChainLockIn(SimulatedLockIn):
    """The simulated lock-in of a bench (``driver: simulated`` in ``lockin``).

    Parameters
    ----------
    name
        The bench slot.
    sample
        The bench's sample (its photodiode chain is the lock-in's input).
    channel
        Input channel (default the first sensor's signal photodiode, ``s0.signal``).
    """

    def __init__(self, name: str = "lockin", sample: SimulatedSample | None = None, *,
                 channel: str | None = None) -> None:
        super().__init__(name, photodiode_chain(sample if sample is not None
                                                else SimulatedSample()), channel=channel)

    def _snapshot_state(self) -> dict[str, Any]:
        return {"input": self.channel, "time_constant": quantity_value(self._tau, "s"),
                "filter_order": self._order,
                "sensitivity": quantity_value(self._sensitivity, "V"),
                "reference_source": self._source,
                "reference_frequency": quantity_value(self._frequency, "Hz"),
                "reference_phase": quantity_value(self._phase, "deg"),
                "harmonic": self._harmonic,
                "sine_amplitude": quantity_value(self._amplitude, "V"),
                "capturing": self._capture_running, "overloaded": self.overloaded}


class ChainAnalogInput(SimulatedAnalogInput):
    """The simulated multi-channel analog input of a bench (``driver: simulated`` in
    ``analog_input``): the channels of the bench's photodiode chain (``s0.signal``,
    ``s0.reference``, ``sync``, ``trigger``), at the chain's sample rate.

    Parameters
    ----------
    name
        The bench slot.
    sample
        The bench's sample.
    input_range, resolution_bits, max_aggregate_rate
        See :class:`~.analog_input.SimulatedAnalogInput`.
    """

    slot: ClassVar[str] = "analog_input"

    def __init__(self, name: str = "analog_input", sample: SimulatedSample | None = None, *,
                 input_range: float = 10.0, resolution_bits: int | None = 16,
                 max_aggregate_rate: float = 4e6) -> None:
        super().__init__(name, photodiode_chain(sample if sample is not None
                                                else SimulatedSample()),
                         input_range=input_range, resolution_bits=resolution_bits,
                         max_aggregate_rate=max_aggregate_rate)
        self._rate: float | None = None

    def configure(self, channels: Any, sample_rate: float, block_size: int) -> float:
        rate = super().configure(channels, sample_rate, block_size)
        self._rate = rate
        return rate

    @property
    def sample_rate(self) -> float | None:
        """The configured sample rate, S/s (``None`` before :meth:`configure`)."""
        return self._rate

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels, in the order of a block's rows."""
        return self._channels

    @property
    def running(self) -> bool:
        """Whether the acquisition runs."""
        return self._running

    def _snapshot_state(self) -> dict[str, Any]:
        return {"channels": list(self._channels),
                "available_channels": list(self.available_channels),
                "sample_rate": quantity_value(self._rate, "S/s"),
                "block_size": self._block or None, "running": self._running,
                "input_range": quantity_value(self.input_range, "V"),
                "resolution_bits": self.resolution_bits,
                "max_aggregate_rate": quantity_value(self.max_aggregate_rate, "S/s")}


class ChainFMDrive(SimulatedInstrument, FMDriveBase):
    """A simulated analog output on the analog input's sample clock driving the simulated
    source's external FM input (``driver: simulated`` in ``fm_drive``).

    ``start(f, deviation, phase_deg=φ)`` sets the source's FM to ``deviation`` at full scale
    on its external input and plays ``sin(2π f t + φ)`` (±1 V, full scale) from the first
    sample of the next acquisition of the analog input.

    Parameters
    ----------
    name
        The bench slot.
    sample
        The bench's sample.
    max_samples
        Longest output buffer; the frequency played is the nearest one with a whole number of
        periods in it (:func:`~nvsense.instruments.fm_drive.whole_period_buffer`).
    """

    model: ClassVar[str] = "SimulatedFMDrive"
    slot: ClassVar[str] = "fm_drive"

    def __init__(self, name: str = "fm_drive", sample: SimulatedSample | None = None, *,
                 max_samples: int = 65_536) -> None:
        SimulatedInstrument.__init__(self, name, sample)
        FMDriveBase.__init__(self, name)
        if isinstance(max_samples, bool) or int(max_samples) < 2:
            raise ValueError(f"instruments.{name}.max_samples must be ≥ 2, not {max_samples!r}")
        self.max_samples = int(max_samples)
        self._drive: SineDrive | None = None

    @property
    def chain(self) -> SimulatedPhotodiodeBench:
        """The photodiode chain whose FM input this drives."""
        return photodiode_chain(self.sample)

    @property
    def limits(self) -> FMDriveLimits:
        return FMDriveLimits(0.1, self.chain.sample_rate / 4, 1.0)

    def _start_output(self, frequency: float, phase_deg: float) -> float:
        self._require("start")
        ai = self._analog_input("start")
        if getattr(ai, "running", False):
            raise InstrumentError(self.name, f"start {frequency:g} Hz",
                                  "the analog input already runs: start the FM drive before "
                                  "the analog input, so that its phase at sample 0 is known")
        rate = getattr(ai, "sample_rate", None) or self.chain.sample_rate
        _, _, played = whole_period_buffer(frequency, rate, max_samples=self.max_samples)
        self._drive = SineDrive(played, 1.0, phase_deg)
        self.chain.fm_drive = self._drive
        return played

    def _stop_output(self) -> None:
        chain = self.sample.photodiode
        if chain is not None and self._drive is not None and chain.fm_drive is self._drive:
            chain.fm_drive = None  # the output at 0 V
        self._drive = None

    def _snapshot_state(self) -> dict[str, Any]:
        return FMDriveBase._snapshot_state(self)

    def __repr__(self) -> str:
        return (f"<ChainFMDrive {self.name!r} "
                f"({format_quantity(self._frequency, 'Hz') if self._running else 'stopped'})>")
