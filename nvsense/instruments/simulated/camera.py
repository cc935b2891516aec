"""Simulated sCMOS camera imaging the simulated NV sample: a widefield ODMR microscope.

Each pixel of the camera looks at one point of the NV layer.  What it records, frame by frame:

1. the field there: the sample's bias (static field + coil) plus a spatial field map
   (:mod:`.field_sources`: uniform, gradient, magnetic dipoles, a current-carrying wire);
2. the ODMR spectrum of that field at the microwave frequency of the frame: exact
   Hamiltonian transitions of every NV axis of the sample
   (:func:`nvsense.physics.transition_frequencies`, D from the temperature, strain E,
   optional 14N/15N hyperfine lines), Lorentzian dips whose depth and width follow the RF
   power as the simulated sample says (:meth:`SimulatedSample.dip_parameters`);
3. the light: the NV layer's brightness (a smooth random inhomogeneity that moves with the
   sample), the laser spot and the optics' vignetting (fixed to the camera), blurred by a
   Gaussian point-spread function;
4. the sensor: photo-electrons with Poisson shot noise (its Gaussian limit above 1000 e⁻),
   laser intensity noise common to the frame, dark current, read noise, the full well,
   conversion to ADU with an offset, 16-bit clipping; square binning sums pixels after
   readout, as sCMOS cameras bin.

The sample drifts slowly: a translation ``drift`` (pixels/s, optionally plus a random walk)
of the NV layer under the camera, updated every ``drift_interval``.  :meth:`drift_at` gives
the true shift.

Timing follows a real camera: the frame period is the exposure plus the readout of the
region's rows (or longer if set).  In :attr:`TriggerMode.EXPOSURE_OUT` every exposure end
steps a running microwave list (frame *k* sees list entry *k*, ``mw_trigger_lead`` = 0); in
:attr:`TriggerMode.EXTERNAL` the pulse train of period ``trigger_period`` (the DAQ clock wired
to both) starts a frame and steps the list on every edge (``mw_trigger_lead`` = 1), and an edge
that arrives while the camera still reads out is missed: the list steps, no frame is taken.
Frames go to a ring buffer; frames not read before it wraps are lost (a gap in the frame
counter).  In real-time pace the camera makes its frames as hardware does, on its own: a
producer thread renders each frame when it is read out, whether or not anyone reads, so the
cost of the simulation does not fall on the reader (which copies finished frames out of the
ring buffer, and renders any the producer has not reached yet).  :class:`CameraFaults`
injects lost transfers, repeated frames and missed triggers for tests.  The log
:attr:`SimulatedCamera.frame_log` holds the truth of every delivered frame (microwave
frequency, list entry, drift).

Speed: the field and the per-pixel line frequencies are computed once per drift step (the
Hamiltonian is never diagonalised per frame); a frame costs a few vectorised passes over
the image: about 4 ms for 256×256 pixels and eight lines on one core.
"""

from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from ...physics import NV_AXES, axial_field, hyperfine_offsets, transition_frequencies
from ...units import parse_quantity
from ..camera import (
    CameraLimits,
    FrameBlock,
    PixelCalibration,
    Roi,
    TriggerMode,
    check_binning,
    check_buffer_frames,
    check_exposure,
    check_roi,
    check_trigger_mode,
)
from ..errors import InstrumentError, LimitError
from ..snapshot import kind_state, quantity_value
from .base import SimulatedInstrument
from .field_sources import FieldMap, FieldSource, as_field_map
from .sample import SimulatedSample

__all__ = ["CameraFaults", "FrameTruth", "SimulatedCamera"]

log = logging.getLogger(__name__)

#: Above this many expected electrons a pixel's Poisson noise is drawn as its Gaussian limit
#: (relative error of the variance below 0.1 %, and five times faster).
GAUSSIAN_LIMIT_E = 1000.0
#: Longest frame period the simulated camera accepts, s.
MAX_FRAME_PERIOD = 10.0


@dataclass(frozen=True)
class CameraFaults:
    """Faults the simulated camera injects (frame numbers count from 0 at :meth:`start`).

    Attributes
    ----------
    dropped
        Frame numbers lost between camera and computer: the counter advances, the frame
        never arrives.
    duplicated
        Frame numbers delivered twice (same data, counter and timestamp).
    missed_triggers
        Trigger edges (from 0) the camera ignores in external mode: the microwave list
        steps, no frame is taken, the counter does not advance.
    drop_probability
        Chance of losing any frame in transfer, drawn with the camera's seed.
    """

    dropped: frozenset[int] = frozenset()
    duplicated: frozenset[int] = frozenset()
    missed_triggers: frozenset[int] = frozenset()
    drop_probability: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dropped", "duplicated", "missed_triggers"):
            object.__setattr__(self, name, frozenset(int(i) for i in getattr(self, name)))
        if not 0 <= self.drop_probability < 1:
            raise ValueError(f"drop_probability must be in [0, 1), not {self.drop_probability}")


@dataclass(frozen=True)
class FrameTruth:
    """What the simulation knows about one delivered frame."""

    frame_number: int
    trigger: int  # list steps (trigger edges) before this frame's exposure, from start()
    list_entry: int  # microwave list entry during the exposure (-1: no list running)
    frequency: float  # Hz (NaN with RF off)
    time: float  # exposure start, simulated s
    drift: tuple[float, float]  # (dy, dx) pixels of the NV layer under the camera


@dataclass
class _Render:
    """Per-drift-step precomputation: everything a frame needs except the microwave."""

    drift: tuple[float, float]
    field_key: tuple[float, ...]
    f_ref: float
    lines: NDArray[np.float32]  # (L, rows, cols) line frequency − f_ref, Hz
    brightness: NDArray[np.float32]  # (rows, cols) NV-layer brightness × laser spot


@dataclass(slots=True)
class _Exposed:
    """A frame read out of the sensor into the ring buffer (its image made once rendered)."""

    number: int
    t_start: float  # exposure start, simulated s
    triggers: int  # trigger count before it
    entry: int  # list entry during the exposure
    image: NDArray[np.uint16] | None = None
    frequency: float = math.nan
    drift: tuple[float, float] = (0.0, 0.0)


@dataclass
class _Acquisition:
    t0: float  # simulated time of start()
    buffer: int
    list_index0: int
    list_active: bool
    triggers: int = 0  # trigger edges / list steps accounted for so far
    next_frame: int = 0  # frame number of the next frame to be exposed
    next_edge: int = 0  # external mode: next trigger edge to examine
    busy_until: float = -math.inf  # external mode: end of the current readout
    pending: deque[_Exposed] = field(default_factory=deque)  # the ring buffer, oldest first
    rendered: int = 0  # frames at the front of ``pending`` whose image is made
    last_image: tuple[int, NDArray[np.uint16]] | None = None  # for a repeated frame
    lost: int = 0
    halted: threading.Event = field(default_factory=threading.Event)
    producer: threading.Thread | None = None
    made: threading.Condition = field(default_factory=threading.Condition)  # a frame rendered


class SimulatedCamera(SimulatedInstrument):
    """An sCMOS camera on the simulated bench, imaging the simulated sample.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample (microwave, laser, field, clock).
    sensor
        (width, height) in pixels (default 256 × 256).
    pixel_size
        Size of one sensor pixel in the sample plane (the camera pixel over the
        magnification), e.g. ``"1 um"``.
    field_map
        The spatial field added to the sample's bias: a preset name (``"wire"``,
        ``"dipoles"``, ``"gradient"``, ``"uniform"``, ``"none"``), a mapping
        ``{"name": "wire", "current": 2e-3, "standoff": 8e-6}``, sources, or a
        :class:`~.field_sources.FieldMap`.
    photon_rate
        Photo-electrons per second in one unbinned pixel at the centre of the laser spot
        (laser at the sample's reference power, off resonance): ``"4e6 /s"`` fills two
        thirds of a 30,000 e⁻ well in 5 ms.
    psf_sigma
        Standard deviation of the Gaussian point-spread function, sensor pixels (0: none).
    spot
        1/e² radius of the laser spot as a fraction of the sensor diagonal (``None``: flat).
    vignetting
        Fractional loss of light at the sensor corners (quadratic fall-off).
    texture
        RMS of the NV layer's brightness inhomogeneity (what drift registration locks on).
    texture_scale
        Correlation length of that inhomogeneity, sensor pixels.
    drift
        (dy, dx) drift of the sample under the camera, pixels/s.
    drift_walk
        Random-walk part of the drift, pixels/√s.
    drift_interval
        Simulated seconds between drift (and field) updates.
    calibration
        Gain, offset, read noise and full well (:class:`~..camera.PixelCalibration`).
    dark_current
        e⁻/pixel/s.
    row_time
        Readout time per sensor row, s (4.87 µs: 100 frames/s full-frame on a 2048-row
        sCMOS).
    binnings, roi_step
        What the camera offers.
    trigger_period
        Period of the pulse train on the trigger input in external mode, s (the DAQ clock).
    faults
        Injected faults (:class:`CameraFaults`).
    seed
        Seed of the camera's noise, texture and faults (default: the sample's seed).
    sleep
        Sleep used while waiting for frames in real-time pace (replaceable in tests).
    """

    model: ClassVar[str] = "SimulatedCamera"
    slot: ClassVar[str] = "camera"
    #: The simulated camera counts its frames itself.
    counter_source: ClassVar[Literal["camera", "host"]] = "camera"

    def __init__(
        self,
        name: str = "camera",
        sample: SimulatedSample | None = None,
        *,
        sensor: tuple[int, int] = (256, 256),
        pixel_size: Any = "1 um",
        field_map: FieldMap | str | Mapping[str, Any] | Iterable[FieldSource] | None = "wire",
        photon_rate: Any = "4e6 /s",
        psf_sigma: float = 1.0,
        spot: float | None = 0.9,
        vignetting: float = 0.15,
        texture: float = 0.08,
        texture_scale: float = 3.0,
        drift: tuple[float, float] = (0.0, 0.0),
        drift_walk: float = 0.0,
        drift_interval: Any = "1 s",
        calibration: PixelCalibration | None = None,
        dark_current: Any = "0.5 /s",
        row_time: Any = "4.87 us",
        binnings: tuple[int, ...] = (1, 2, 4, 8),
        roi_step: int = 4,
        trigger_period: Any = "10 ms",
        faults: CameraFaults | None = None,
        seed: int | None = None,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> None:
        super().__init__(name, sample)
        key = f"instruments.{name}"
        width, height = (int(v) for v in sensor)
        if width < 8 or height < 8:
            raise ValueError(f"{key}.sensor must be at least 8×8 pixels, not {sensor!r}")
        self._limits = CameraLimits(
            exposure_min=10e-6, exposure_max=10.0, sensor_width=width, sensor_height=height,
            binnings=binnings, roi_step=roi_step, roi_min=max(8, roi_step),
            max_buffer_frames=1_000_000, bits=16)
        self.pixel_size = parse_quantity(pixel_size, "m", name=f"{key}.pixel_size")
        self.photon_rate = parse_quantity(photon_rate, "1/s", name=f"{key}.photon_rate")
        self.dark_current = parse_quantity(dark_current, "1/s", name=f"{key}.dark_current")
        self.row_time = parse_quantity(row_time, "s", name=f"{key}.row_time")
        self.drift_interval = parse_quantity(drift_interval, "s", name=f"{key}.drift_interval")
        self.trigger_period = parse_quantity(trigger_period, "s", name=f"{key}.trigger_period")
        for label, value in (("pixel_size", self.pixel_size), ("photon_rate", self.photon_rate),
                             ("drift_interval", self.drift_interval),
                             ("trigger_period", self.trigger_period)):
            if not value > 0:
                raise ValueError(f"{key}.{label} must be positive, not {value!r}")
        if not (0 <= vignetting < 1 and texture >= 0 and texture_scale > 0 and psf_sigma >= 0
                and drift_walk >= 0 and self.dark_current >= 0 and self.row_time >= 0):
            raise ValueError(f"{key}: vignetting must be in [0, 1); texture, psf_sigma, "
                             "drift_walk, dark_current and row_time ≥ 0; texture_scale > 0")
        self.calibration = calibration or PixelCalibration()
        self.psf_sigma = float(psf_sigma)
        self.drift = (float(drift[0]), float(drift[1]))
        self.drift_walk = float(drift_walk)
        self.faults = faults or CameraFaults()
        seed = self.sample.seed if seed is None else seed
        self.rng = np.random.default_rng(seed)
        self._sleep = sleep
        extent = self.pixel_size * max(width, height)
        bias = self._dc_field()
        self.field_map = as_field_map(field_map, extent=extent, bias_direction=bias)
        self._static_gain = _static_gain(height, width, spot, vignetting)
        self._texture_spectrum = _texture_spectrum(height, width, texture, texture_scale,
                                                   np.random.default_rng(
                                                       np.random.SeedSequence(seed).spawn(1)[0]))
        self._walk_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        self._walk: list[tuple[float, float]] = [(0.0, 0.0)]  # random walk per drift step
        # settings
        self._exposure = 5e-3
        self._frame_interval = 0.0
        self._roi = self._limits.full_roi
        self._binning = 1
        self._trigger_mode = TriggerMode.INTERNAL
        self._acq: _Acquisition | None = None
        # guards the acquisition (ring buffer, frame counters, list steps) and the rendering
        # state between the reader and the producer thread of real-time pace
        self._lock = threading.RLock()
        self._render: _Render | None = None
        #: Truth of every delivered frame, in delivery order.
        self.frame_log: list[FrameTruth] = []
        #: Frames rendered and the wall-clock seconds that took (the simulation's own cost),
        #: and how many of them the producer thread of real-time pace rendered.
        self.frames_rendered = 0
        self.render_seconds = 0.0
        self.frames_produced = 0

    # --- protocol: identity, limits, settings ------------------------------------------

    def _snapshot_state(self) -> dict[str, Any]:
        """Exposure, region, binning, trigger, calibration and limits; the sensor and the
        field map it images."""
        return {**kind_state("camera", self),
                "sensor": [self._limits.sensor_width, self._limits.sensor_height],
                "pixel_size": quantity_value(self.pixel_size, "m")}


    def connect(self) -> None:
        """Connect; the camera is idle with internal trigger."""
        super().connect()
        self._halt()
        self._trigger_mode = TriggerMode.INTERNAL

    def close(self) -> None:
        """Stop acquiring and disconnect (idempotent)."""
        self._halt()
        super().close()

    @property
    def limits(self) -> CameraLimits:
        """What the camera accepts."""
        return self._limits

    @property
    def exposure(self) -> float:
        """Exposure, s."""
        self._require("EXPOSURE?")
        return self._exposure

    @exposure.setter
    def exposure(self, value: float) -> None:
        value = check_exposure(value, self._limits, who=self.name)
        self._require_idle(f"EXPOSURE {value:g}")
        self._exposure = value

    @property
    def frame_period(self) -> float:
        """Time between frame starts when free-running: the exposure plus the readout of the
        region's rows, or the set interval if longer."""
        self._require("FRAME PERIOD?")
        readout = self._roi.height * self.row_time
        return max(self._exposure + readout, self._frame_interval)

    @frame_period.setter
    def frame_period(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and 0 <= value <= MAX_FRAME_PERIOD):
            raise LimitError(f"{self.name} frame period {value!r} s is outside 0 – "
                             f"{MAX_FRAME_PERIOD:g} s (0: as fast as possible); nothing was sent")
        self._require_idle(f"FRAME PERIOD {value:g}")
        self._frame_interval = value

    @property
    def roi(self) -> Roi:
        """Region of interest, sensor pixels."""
        self._require("ROI?")
        return self._roi

    @roi.setter
    def roi(self, value: Roi | None) -> None:
        roi = check_roi(value, self._limits, self._binning, who=self.name)
        self._require_idle(f"ROI {roi}")
        self._roi = roi
        self._render = None

    @property
    def binning(self) -> int:
        """Square binning factor."""
        self._require("BINNING?")
        return self._binning

    @binning.setter
    def binning(self, value: int) -> None:
        value = check_binning(value, self._limits, who=self.name)
        check_roi(self._roi, self._limits, value, who=self.name)
        self._require_idle(f"BINNING {value}")
        self._binning = value

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(rows, columns) of a frame."""
        return self._roi.frame_shape(self._binning)

    @property
    def trigger_mode(self) -> TriggerMode:
        """Who clocks the frames."""
        self._require("TRIGGER?")
        return self._trigger_mode

    @trigger_mode.setter
    def trigger_mode(self, value: TriggerMode | str) -> None:
        mode = check_trigger_mode(value, self._limits, who=self.name)
        self._require_idle(f"TRIGGER {mode.value}")
        self._trigger_mode = mode

    @property
    def mw_trigger_lead(self) -> int:
        """List steps before the first frame's exposure: 1 in external mode (the edge that
        starts a frame also steps the list), else 0 (the exposure output steps the list at
        the end of each exposure)."""
        return 1 if self._trigger_mode == TriggerMode.EXTERNAL else 0

    @property
    def acquiring(self) -> bool:
        return self._acq is not None

    @property
    def frames_exposed(self) -> int:
        """Frames the sensor has exposed since :meth:`start`, as of now (simulation truth:
        delivered, waiting in the ring buffer, or lost)."""
        with self._lock:
            acq = self._acq
            if acq is None:
                return 0
            self._expose_until(self.sample.now())
            return acq.next_frame

    # --- acquisition ---------------------------------------------------------------------

    def start(self, buffer_frames: int = 1000) -> None:
        """Start acquiring into a ring buffer of ``buffer_frames`` frames."""
        n = check_buffer_frames(buffer_frames, self._limits, self.frame_shape, who=self.name)
        # An external trigger faster than the camera is accepted, as by real cameras: the
        # camera then misses the edges that arrive while it reads out.
        self._require_idle("START")
        mw = self.sample.mw
        with self._lock, self.sample.lock:
            acq = _Acquisition(
                t0=self.sample.now(), buffer=n, list_index0=mw.list_index,
                list_active=bool(mw.list_active and mw.list_frequencies is not None),
                made=threading.Condition(self._lock))
            self._acq = acq
            if self.sample.pace == "realtime":
                acq.producer = threading.Thread(target=self._produce, args=(acq,),
                                                name=f"nvsense-{self.name}-frames", daemon=True)
                acq.producer.start()

    def stop(self) -> None:
        """Stop acquiring; unread frames are discarded."""
        self._require("STOP")
        self._halt()

    def safe(self) -> None:
        """Stop acquiring and return to internal trigger (exposure output off)."""
        self._require("STOP")
        self._halt()
        self._trigger_mode = TriggerMode.INTERNAL

    def _halt(self) -> None:
        """End the acquisition and its producer thread (a frame it renders finishes first)."""
        with self._lock:
            acq, self._acq = self._acq, None
            if acq is not None:
                acq.made.notify_all()
        if acq is None:
            return
        acq.halted.set()
        if acq.producer is not None and acq.producer is not threading.current_thread():
            acq.producer.join(timeout=5.0)

    def _produce(self, acq: _Acquisition) -> None:
        """Real-time pace: read frames out of the sensor into the ring buffer as the clock
        reaches them, rendering each, until the acquisition ends."""
        try:
            while not acq.halted.is_set():
                with self._lock:
                    if self._acq is not acq:
                        return
                    now = self.sample.now()
                    self._expose_until(now)
                    if self._render_next(acq):
                        self.frames_produced += 1
                        acq.made.notify_all()
                        continue  # the lock is let go between frames: the reader gets in
                    wait = self._ready_time(1) - now
                acq.halted.wait(min(max(wait, 1e-3), 0.1))
        except Exception:  # the reader renders what is left itself (and meets the error)
            log.exception("%s: the frame producer stopped", self.name)
        finally:
            with self._lock:
                acq.made.notify_all()

    def read_frames(self, min_frames: int = 1, max_frames: int | None = None,
                    timeout: float = 1.0) -> FrameBlock:
        """Unread frames, oldest first; waits up to ``timeout`` s for ``min_frames``.

        In fast pace, waiting advances the simulated clock; in real-time pace it sleeps.
        """
        acq = self._acq
        if acq is None:
            self._require("READ")
            raise InstrumentError(self.name, "read frames", "not acquiring; call start() first")
        if isinstance(min_frames, bool) or int(min_frames) < 0:
            raise ValueError(f"min_frames must be a whole number ≥ 0, not {min_frames!r}")
        if max_frames is not None and int(max_frames) < 1:
            raise ValueError(f"max_frames must be ≥ 1 or None, not {max_frames!r}")
        if not (math.isfinite(timeout) and timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds ≥ 0, not {timeout!r}")
        sample = self.sample
        with self._lock:
            if self._acq is not acq:
                raise InstrumentError(self.name, "read frames", "the acquisition was stopped")
            now = sample.now()
            deadline = now + timeout
            self._expose_until(now)
            unread = self._unread()
            ready = self._ready_time(int(min_frames) - unread) if unread < min_frames else now
        # wait until min_frames are there (lost or dropped frames never arrive: keep going)
        while unread < int(min_frames) and now < deadline:
            ready = min(ready, deadline)
            if ready > now:
                if sample.pace == "realtime":
                    self._sleep(ready - now)
                else:
                    sample.advance(ready - now)
            with self._lock:
                if self._acq is not acq:
                    raise InstrumentError(self.name, "read frames",
                                          "the acquisition was stopped")
                now = sample.now()
                if sample.pace != "realtime":
                    now = max(now, ready)  # the clock may round a hair below the ready time
                self._expose_until(now)
                unread = self._unread()
                if unread < min_frames:
                    ready = self._ready_time(int(min_frames) - unread)
        self._require("READ", at=now)
        with self._lock:
            if self._acq is not acq:
                raise InstrumentError(self.name, "read frames", "the acquisition was stopped")
            if self._producing(acq):
                # frames arrive once the camera has made them (its producer thread): wait
                # for those read out, the rest of the timeout at most
                want = min(int(min_frames), len(acq.pending))
                acq.made.wait_for(lambda: acq.rendered >= want or self._acq is not acq
                                  or not self._producing(acq),
                                  timeout=max(deadline - sample.now(), 0.0))
                if self._acq is not acq:
                    raise InstrumentError(self.name, "read frames",
                                          "the acquisition was stopped")
                if self._producing(acq):
                    return self._deliver(acq.rendered if max_frames is None
                                         else min(acq.rendered, int(max_frames)))
            return self._deliver(max_frames)

    @staticmethod
    def _producing(acq: _Acquisition) -> bool:
        return acq.producer is not None and acq.producer.is_alive()

    # --- the simulated truth -------------------------------------------------------------

    def drift_at(self, time: float) -> tuple[float, float]:
        """(dy, dx) shift of the NV layer under the camera at simulated ``time``, pixels.

        Piecewise constant over ``drift_interval``: the value of the step ``time`` falls in.
        """
        step = max(0, math.floor(time / self.drift_interval))
        t = step * self.drift_interval
        while len(self._walk) <= step:
            sd = self.drift_walk * math.sqrt(self.drift_interval)
            dy, dx = self._walk[-1]
            self._walk.append((dy + sd * self._walk_rng.standard_normal(),
                               dx + sd * self._walk_rng.standard_normal()))
        wy, wx = self._walk[step]
        return (self.drift[0] * t + wy, self.drift[1] * t + wx)

    def sample_positions(self, drift: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
        """Sample-plane positions (rows, cols, 3) in m seen by the region's sensor pixels
        (unbinned) when the sample has drifted by ``drift`` (dy, dx) pixels."""
        roi, (width, height) = self._roi, (self._limits.sensor_width, self._limits.sensor_height)
        rows = np.arange(roi.y, roi.y + roi.height) - (height - 1) / 2 - drift[0]
        cols = np.arange(roi.x, roi.x + roi.width) - (width - 1) / 2 - drift[1]
        yy, xx = np.meshgrid(rows * self.pixel_size, cols * self.pixel_size, indexing="ij")
        return np.stack([xx, yy, np.zeros_like(xx)], axis=-1)

    def true_field(self, drift: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
        """Total field (rows, cols, 3) in T, crystal frame, at the region's unbinned pixels."""
        return self._dc_field() + self.field_map.field_at(self.sample_positions(drift))

    def observed_field(self, axis: ArrayLike | int = 0,
                       drift: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
        """The field an ideal two-line fit reports at each frame pixel, T.

        Each of the axis's two transitions (exact Hamiltonian, without hyperfine splitting) is
        averaged over the light that reaches the pixel (blurred by the PSF, weighted by the
        brightness, summed over a bin), and |B∥| = |f₊ − f₋| / 2γ as
        :func:`nvsense.physics.axial_field` takes it.  The reference for field-map errors.

        Parameters
        ----------
        axis
            Index into :data:`nvsense.physics.NV_AXES` or a direction.
        drift
            (dy, dx) drift of the sample, pixels.
        """
        n = NV_AXES[axis] if isinstance(axis, int | np.integer) else _unit(axis)
        sample = self.sample
        lines = transition_frequencies(self.true_field(drift), sample.zfs,
                                       sample.config.strain, n[None, :])[..., 0, :]
        light = self._brightness(drift) * self._roi_gain()
        weight = _bin(self._blur(light), self._binning)
        low, high = (_bin(self._blur(light * lines[..., i]), self._binning) / weight
                     for i in (0, 1))
        return np.asarray(axial_field(low, high)[0])

    def brightness(self, drift: tuple[float, float] = (0.0, 0.0)) -> NDArray[np.float64]:
        """Expected off-resonance electrons per frame and frame pixel (no noise, no offset)."""
        laser = self.sample.detected_rate() / self.sample.config.count_rate
        light = self._blur(self._brightness(drift) * self._roi_gain())
        e = light * self.photon_rate * laser * self._exposure + self.dark_current * self._exposure
        return _bin(e, self._binning)

    # --- internals: timing -----------------------------------------------------------------

    def _require_idle(self, command: str) -> None:
        self._require(command)
        if self._acq is not None:
            raise InstrumentError(self.name, command,
                                  "the camera is acquiring; call stop() before changing settings")

    def _unread(self) -> int:
        acq = self._acq
        return 0 if acq is None else len(acq.pending)

    def _ready_time(self, k: int) -> float:
        """Simulated time at which ``k`` more frames (beyond those exposed) are read out."""
        acq = self._acq
        assert acq is not None
        readout = self._roi.height * self.row_time
        if self._trigger_mode == TriggerMode.EXTERNAL:
            # edges that will be accepted: the camera is free again after each readout
            t_free, edge, found, last = acq.busy_until, acq.next_edge, 0, acq.t0
            while found < k:
                t_edge = acq.t0 + (edge + 1) * self.trigger_period
                if t_edge >= t_free and edge not in self.faults.missed_triggers:
                    found += 1
                    last = t_edge + self._exposure + readout
                    t_free = last
                edge += 1
                if edge - acq.next_edge > 1_000_000:
                    break
            return last
        period = self.frame_period
        k_last = acq.next_frame + k - 1
        return acq.t0 + k_last * period + self._exposure + readout

    def _expose_until(self, now: float) -> None:
        """Account for every frame read out by ``now``: list steps, ring buffer, faults."""
        acq = self._acq
        assert acq is not None
        readout = self._roi.height * self.row_time
        new: list[tuple[int, float, int]] = []  # (frame number, exposure start, triggers)
        if self._trigger_mode == TriggerMode.EXTERNAL:
            while True:
                t_edge = acq.t0 + (acq.next_edge + 1) * self.trigger_period
                if t_edge + self._exposure + readout > now:
                    break
                edge = acq.next_edge
                acq.next_edge += 1
                if t_edge >= acq.busy_until and edge not in self.faults.missed_triggers:
                    acq.busy_until = t_edge + self._exposure + readout
                    new.append((acq.next_frame, t_edge, edge + 1))
                    acq.next_frame += 1
            steps = acq.next_edge - acq.triggers
        else:
            period = self.frame_period
            while acq.t0 + acq.next_frame * period + self._exposure + readout <= now:
                k = acq.next_frame
                new.append((k, acq.t0 + k * period, k))
                acq.next_frame += 1
            steps = acq.next_frame - acq.triggers if \
                self._trigger_mode == TriggerMode.EXPOSURE_OUT else 0
        if steps > 0:
            if acq.list_active:
                self.sample.advance(0.0, trigger_mw=True, n_bins=steps)
            acq.triggers += steps
        for k, t_start, triggers in new:
            if k in self.faults.dropped or (self.faults.drop_probability > 0 and
                                            self.rng.random() < self.faults.drop_probability):
                continue
            entry = self._list_entry(triggers)
            acq.pending.append(_Exposed(k, t_start, triggers, entry))
            if k in self.faults.duplicated:
                acq.pending.append(_Exposed(k, t_start, triggers, entry))
        while len(acq.pending) > acq.buffer:  # the ring buffer wraps: the oldest are lost
            acq.pending.popleft()
            acq.rendered = max(acq.rendered - 1, 0)
            acq.lost += 1

    def _list_entry(self, triggers: int) -> int:
        acq = self._acq
        assert acq is not None
        mw = self.sample.mw
        if not (acq.list_active and mw.list_active and mw.list_frequencies is not None):
            return -1
        if self._trigger_mode == TriggerMode.INTERNAL:
            return int(mw.list_index)
        return int((acq.list_index0 + triggers) % mw.list_frequencies.size)

    def _deliver(self, max_frames: int | None) -> FrameBlock:
        acq = self._acq
        assert acq is not None
        n = len(acq.pending) if max_frames is None else min(len(acq.pending), int(max_frames))
        shape = self.frame_shape
        lost, acq.lost = acq.lost, 0
        if n == 0:
            return FrameBlock.empty(shape, lost)
        while acq.rendered < n:  # frames the producer has not reached (or no producer)
            self._render_next(acq)
        frames = np.empty((n, *shape), np.uint16)
        numbers = np.empty(n, np.int64)
        stamps = np.empty(n, np.float64)
        for i in range(n):
            item = acq.pending.popleft()
            assert item.image is not None
            frames[i] = item.image
            numbers[i] = item.number
            stamps[i] = round((item.t_start - acq.t0) * 1e6) / 1e6  # µs clock, like DCAM
            self.frame_log.append(FrameTruth(item.number, item.triggers, item.entry,
                                             item.frequency, item.t_start, item.drift))
        acq.rendered -= n
        return FrameBlock(frames, numbers, stamps, lost)

    def _render_next(self, acq: _Acquisition) -> bool:
        """Make the image of the oldest frame in the ring buffer still without one (in frame
        order: the noise is drawn in the same order whoever renders); False if none."""
        if acq.rendered >= len(acq.pending):
            return False
        item = acq.pending[acq.rendered]
        last = acq.last_image
        if last is not None and last[0] == item.number:  # a repeated frame: the same data
            item.image = last[1]
        else:
            start = _time.perf_counter()
            item.image = self._frame(item.t_start, item.entry)
            self.render_seconds += _time.perf_counter() - start
            self.frames_rendered += 1
        assert self._render is not None
        item.drift = self._render.drift
        item.frequency = self._frequency(item.entry)
        acq.last_image = (item.number, item.image)
        acq.rendered += 1
        return True

    # --- internals: physics and optics -----------------------------------------------------

    def _dc_field(self) -> NDArray[np.float64]:
        sample = self.sample
        field_t = sample.static_field
        coil = sample.coil
        if coil.output:
            field_t = field_t + sample.config.coil_constant * np.asarray(
                sample.config.coil_direction) * coil.current
        return field_t

    def _mw(self, entry: int) -> tuple[bool, float, float]:
        """(RF on, frequency, power) during a frame at list ``entry`` (-1: CW)."""
        mw = self.sample.mw
        if entry >= 0 and mw.list_frequencies is not None:
            return mw.output, float(mw.list_frequencies[entry]), mw.list_power
        return mw.output, mw.frequency, mw.power

    def _frequency(self, entry: int) -> float:
        on, f, _ = self._mw(entry)
        return f if on else math.nan

    def _prepare(self, t: float) -> _Render:
        """The per-drift-step precomputation for a frame exposed at ``t``."""
        drift = self.drift_at(t)
        sample = self.sample
        dc = self._dc_field()
        key = (*dc, sample.zfs, float(sample.config.strain), *self._roi.as_dict().values())
        render = self._render
        if render is not None and render.drift == drift and render.field_key == key:
            return render
        cfg = sample.config
        axes = NV_AXES[list(cfg.axes)]
        hf = hyperfine_offsets(cfg.nucleus)
        field_t = dc + self.field_map.field_at(self.sample_positions(drift))
        lines = transition_frequencies(field_t, sample.zfs, cfg.strain, axes)  # (r, c, ax, 2)
        lines = (lines[..., None] + hf).reshape(*lines.shape[:2], -1)
        f_ref = float(np.mean(lines))
        # float32 offsets from f_ref keep ~mHz resolution (absolute GHz in float32: 256 Hz)
        rel = np.ascontiguousarray(np.moveaxis(lines - f_ref, -1, 0), dtype=np.float32)
        render = _Render(drift, key, f_ref, rel,
                         (self._brightness(drift) * self._roi_gain()).astype(np.float32))
        self._render = render
        return render

    def _brightness(self, drift: tuple[float, float]) -> NDArray[np.float64]:
        """NV-layer brightness at the region's pixels after drift (moves with the sample)."""
        spectrum = self._texture_spectrum
        if spectrum is None:
            texture = np.ones((self._limits.sensor_height, self._limits.sensor_width))
        else:
            n = spectrum.shape[0]
            ky = np.fft.fftfreq(n)[:, None]
            kx = np.fft.rfftfreq(n)[None, :]
            phase = np.exp(-2j * np.pi * (ky * drift[0] + kx * drift[1]))
            texture = np.fft.irfft2(spectrum * phase, s=(n, n))
            # the texture tile is larger than the sensor, so drift does not wrap it into view
            height, width = self._limits.sensor_height, self._limits.sensor_width
            my, mx = (n - height) // 2, (n - width) // 2
            texture = 1.0 + texture[my:my + height, mx:mx + width]
        roi = self._roi
        region = texture[roi.y:roi.y + roi.height, roi.x:roi.x + roi.width]
        return np.maximum(region, 0.0)

    def _roi_gain(self) -> NDArray[np.float64]:
        roi = self._roi
        return self._static_gain[roi.y:roi.y + roi.height, roi.x:roi.x + roi.width]

    def _blur(self, image: NDArray[Any]) -> NDArray[Any]:
        if self.psf_sigma <= 0:
            return image
        return ndimage.gaussian_filter(image, self.psf_sigma, mode="nearest", truncate=3.5)

    def _frame(self, t_start: float, entry: int) -> NDArray[np.uint16]:
        """One frame exposed from ``t_start`` at list ``entry``, in ADU."""
        render = self._prepare(t_start)
        rf_on, frequency, power = self._mw(entry)
        sample = self.sample
        scale = (self.photon_rate * self._exposure * sample.detected_rate()
                 / sample.config.count_rate)
        if sample.config.laser_noise > 0:
            sigma = sample.config.laser_noise / math.sqrt(2 * self._exposure)
            scale *= max(1.0 + sigma * self.rng.standard_normal(), 0.0)
        # in place on two work images: a frame is a few passes over memory
        light, tmp = self._work(render.brightness.shape)
        if rf_on:
            contrast, width = sample.dip_parameters(power)
            hw2 = np.float32((0.5 * width) ** 2)
            detuning = np.float32(frequency - render.f_ref)
            light.fill(1.0)
            for line, c in zip(render.lines, contrast):
                np.subtract(detuning, line, out=tmp)
                np.multiply(tmp, tmp, out=tmp)
                tmp += hw2
                np.divide(np.float32(c) * hw2, tmp, out=tmp)
                light -= tmp
            np.maximum(light, 0.0, out=light)
            light *= render.brightness
        else:
            np.copyto(light, render.brightness)
        light *= np.float32(scale)
        expected = light
        if self.psf_sigma > 0:  # the blur is linear: blur the scaled light once
            ndimage.gaussian_filter(light, self.psf_sigma, mode="nearest", truncate=3.5,
                                    output=tmp)
            expected = tmp
        expected += np.float32(self.dark_current * self._exposure)
        return self._sensor(expected, light if expected is tmp else tmp)

    def _work(self, shape: tuple[int, ...]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        work = getattr(self, "_work_images", None)
        if work is None or work[0].shape != shape:
            work = (np.empty(shape, np.float32), np.empty(shape, np.float32))
            self._work_images = work
        return work

    def _sensor(self, expected: NDArray[np.float32],
                scratch: NDArray[np.float32]) -> NDArray[np.uint16]:
        """Shot noise, full well, binning with read noise, ADU conversion."""
        cal = self.calibration
        rng = self.rng
        b = self._binning
        if float(expected.min()) > GAUSSIAN_LIMIT_E:
            noise = rng.standard_normal(expected.shape, dtype=np.float32)
            if b == 1 and cal.read_noise > 0:
                # Gaussian shot and read noise add in quadrature: one draw for both (the
                # full well then clips the read noise too, a negligible 1.5 e⁻ effect)
                np.add(expected, np.float32(cal.read_noise**2), out=scratch)
                np.sqrt(scratch, out=scratch)
                read_done = True
            else:
                np.sqrt(expected, out=scratch)
                read_done = False
            noise *= scratch
            noise += expected
            electrons = noise
        else:
            electrons = rng.poisson(expected).astype(np.float32)
            read_done = False
        np.clip(electrons, 0.0, np.float32(cal.full_well), out=electrons)
        binned = _bin(electrons, b) if b > 1 else electrons
        if cal.read_noise > 0 and not read_done:
            read = rng.standard_normal(binned.shape, dtype=np.float32)
            read *= np.float32(cal.read_noise * b)  # b² pixels read out and summed
            binned += read
        binned *= np.float32(1.0 / cal.electrons_per_adu)
        binned += np.float32(cal.offset)
        np.rint(binned, out=binned)
        np.clip(binned, 0, 2**self._limits.bits - 1, out=binned)
        return binned.astype(np.uint16)


def _unit(v: ArrayLike) -> NDArray[np.float64]:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _bin(image: NDArray[Any], b: int) -> NDArray[Any]:
    if b == 1:
        return image
    ny, nx = image.shape[0] // b, image.shape[1] // b
    return image[: ny * b, : nx * b].reshape(ny, b, nx, b).sum(axis=(1, 3))


def _static_gain(height: int, width: int, spot: float | None,
                 vignetting: float) -> NDArray[np.float64]:
    """Laser spot × vignetting over the sensor (fixed to the camera), 1 at the centre."""
    y, x = np.mgrid[0:height, 0:width].astype(float)
    r2 = (x - (width - 1) / 2) ** 2 + (y - (height - 1) / 2) ** 2
    corner2 = ((width - 1) / 2) ** 2 + ((height - 1) / 2) ** 2
    gain = 1.0 - vignetting * r2 / corner2
    if spot is not None:
        waist = spot * math.sqrt(width**2 + height**2)
        gain = gain * np.exp(-2.0 * r2 / waist**2)
    return gain


def _texture_spectrum(height: int, width: int, rms: float, scale: float,
                      rng: np.random.Generator) -> NDArray[np.complex128] | None:
    """Fourier coefficients of a smooth random brightness field on a tile larger than the
    sensor (so drifts up to a quarter of the sensor never wrap into view), RMS ``rms``."""
    if rms == 0:
        return None
    n = 2 ** math.ceil(math.log2(1.5 * max(height, width)))
    white = rng.standard_normal((n, n))
    ky = np.fft.fftfreq(n)[:, None]
    kx = np.fft.rfftfreq(n)[None, :]
    envelope = np.exp(-2 * (math.pi * scale) ** 2 * (ky**2 + kx**2))  # Gaussian of σ = scale
    spectrum = np.fft.rfft2(white) * envelope
    field = np.fft.irfft2(spectrum, s=(n, n))
    return spectrum * (rms / field.std())
