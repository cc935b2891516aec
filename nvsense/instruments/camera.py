"""Cameras for widefield ODMR: the protocol, its dataclasses and the checks of its settings.

A widefield magnetometer images the NV layer on a camera while the microwave frequency steps,
so that every frame belongs to one frequency.  What the acquisition needs from a camera:

- exposure (s), a region of interest on the sensor and a (square) binning;
- who clocks the frames (:class:`TriggerMode`): the camera itself with nothing linked, an
  edge on its trigger input per frame (the DAQ's clock, which also steps the microwave list),
  or the camera's own clock with its exposure output stepping the rest of the bench;
- a ring buffer the camera fills while it acquires, read in blocks (:class:`FrameBlock`): the
  frames with the camera's frame counter and a timestamp for each, so that a lost, repeated
  or missed frame is detected (:mod:`nvsense.instruments.frame_sync`) instead of shifting
  every later frame to the wrong frequency;
- the conversion of its grey levels (ADU) to photo-electrons, so that a cube is in counts
  and fitted with Poisson weights.

Every setting is checked against :class:`CameraLimits` before any command reaches the camera
(:func:`check_exposure`, :func:`check_roi`, :func:`check_binning`, ...); a violation raises
:class:`~nvsense.instruments.errors.LimitError` naming the value, the limit and the fix.

Implementations: :class:`nvsense.instruments.simulated.camera.SimulatedCamera` and the
pylablib drivers in :mod:`nvsense.instruments.drivers.camera_pylablib` (Andor SDK3, Hamamatsu
DCAM, Allied Vision Vimba X).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..units import format_quantity
from .errors import LimitError
from .protocols import Instrument

__all__ = [
    "Camera",
    "CameraLimits",
    "FrameBlock",
    "PixelCalibration",
    "Roi",
    "TriggerMode",
    "check_binning",
    "check_buffer_frames",
    "check_exposure",
    "check_roi",
    "check_trigger_mode",
]


class TriggerMode(StrEnum):
    """Who clocks the frames, and what the camera tells the rest of the bench.

    ``INTERNAL``
        The camera free-runs on its own clock; nothing goes in or out.  For focusing,
        snapshots, or sweeps stepped by software (one frequency, wait, frames, next).
    ``EXTERNAL``
        One frame per edge on the camera's trigger input.  The same pulse train (a DAQ
        counter output) steps the microwave list, so frame *k* belongs to list entry *k*
        unless the camera misses an edge (it was still reading out): the frame timestamps
        show that, the frame counter does not.
    ``EXPOSURE_OUT``
        The camera free-runs on its own clock and its exposure (fire) output steps the
        microwave list at the end of every exposure: the camera is the master clock, every
        exposure is one list step, and a frame lost on its way to the computer shows as a gap
        in the frame counter.
    """

    INTERNAL = "internal"
    EXTERNAL = "external"
    EXPOSURE_OUT = "exposure_out"


@dataclass(frozen=True)
class Roi:
    """A region of interest on the sensor, in unbinned sensor pixels.

    Attributes
    ----------
    x, y
        Column and row of the top-left pixel (from 0).
    width, height
        Size in sensor pixels; with binning ``b`` the frames are ``height // b`` rows by
        ``width // b`` columns.
    """

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise LimitError(f"roi {name} must be a whole number of pixels, not {value!r}; "
                                 "nothing was sent")
            object.__setattr__(self, name, int(value))
        if self.x < 0 or self.y < 0:
            raise LimitError(f"roi starts at ({self.x}, {self.y}); x and y must be ≥ 0; "
                             "nothing was sent")
        if self.width < 1 or self.height < 1:
            raise LimitError(f"roi is {self.width}×{self.height} pixels; give a width and height "
                             "of at least 1; nothing was sent")

    @classmethod
    def full(cls, width: int, height: int) -> Roi:
        """The whole sensor."""
        return cls(0, 0, width, height)

    def frame_shape(self, binning: int = 1) -> tuple[int, int]:
        """(rows, columns) of a frame read with ``binning``."""
        return self.height // binning, self.width // binning

    def as_dict(self) -> dict[str, int]:
        """``{"x": ..., "y": ..., "width": ..., "height": ...}`` for metadata."""
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class CameraLimits:
    """What a camera accepts.

    Attributes
    ----------
    exposure_min, exposure_max
        Exposure range in s.
    sensor_width, sensor_height
        Sensor size in pixels.
    binnings
        Square binning factors the camera offers (1 = none).
    roi_step
        Granularity of the region's position and size in sensor pixels (some sCMOS cameras
        need multiples of 4 or 8).
    roi_min
        Smallest width and height in sensor pixels.
    trigger_modes
        The :class:`TriggerMode` values the camera (and its driver) supports.
    max_buffer_frames
        Most frames the ring buffer may hold.
    bits
        Significant bits per pixel (12 or 16 for sCMOS): frames are ``uint16``.
    """

    exposure_min: float
    exposure_max: float
    sensor_width: int
    sensor_height: int
    binnings: tuple[int, ...] = (1,)
    roi_step: int = 1
    roi_min: int = 1
    trigger_modes: tuple[TriggerMode, ...] = tuple(TriggerMode)
    max_buffer_frames: int = 100_000
    bits: int = 16

    def __post_init__(self) -> None:
        if not 0 < self.exposure_min <= self.exposure_max:
            raise ValueError(f"exposure range ({self.exposure_min}, {self.exposure_max}) must "
                             "be positive and increasing")
        object.__setattr__(self, "binnings", tuple(sorted(int(b) for b in self.binnings)))
        object.__setattr__(self, "trigger_modes",
                           tuple(TriggerMode(m) for m in self.trigger_modes))

    @property
    def full_roi(self) -> Roi:
        """The whole sensor as a :class:`Roi`."""
        return Roi.full(self.sensor_width, self.sensor_height)


@dataclass(frozen=True)
class PixelCalibration:
    """How grey levels (ADU) become photo-electrons: ``e = (ADU − offset) × electrons_per_adu``.

    Attributes
    ----------
    electrons_per_adu
        Conversion gain, e⁻/ADU (≈ 0.46 for a Hamamatsu ORCA-Flash4.0 at 16 bit, ≈ 0.25–0.6
        for Andor Zyla/Sona settings): from the camera's test sheet or a photon-transfer
        curve.
    offset
        Dark level in ADU (100 on Hamamatsu cameras).
    read_noise
        Read noise, e⁻ rms (1–2 for sCMOS).
    full_well
        Full-well capacity, e⁻ (~30,000 for sCMOS).
    """

    electrons_per_adu: float = 0.5
    offset: float = 100.0
    read_noise: float = 1.5
    full_well: float = 30_000.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.electrons_per_adu) and self.electrons_per_adu > 0):
            raise ValueError(f"electrons_per_adu must be positive, not {self.electrons_per_adu}")
        if not (math.isfinite(self.offset) and self.offset >= 0):
            raise ValueError(f"offset must be ≥ 0 ADU, not {self.offset}")
        if not (math.isfinite(self.read_noise) and self.read_noise >= 0):
            raise ValueError(f"read_noise must be ≥ 0 e⁻, not {self.read_noise}")
        if not (math.isfinite(self.full_well) and self.full_well > 0):
            raise ValueError(f"full_well must be positive, not {self.full_well}")

    def to_electrons(self, adu: NDArray[np.generic]) -> NDArray[np.float32]:
        """Frames in ADU → photo-electrons (float32)."""
        out = np.asarray(adu, dtype=np.float32) - np.float32(self.offset)
        out *= np.float32(self.electrons_per_adu)
        return out

    def as_dict(self) -> dict[str, float]:
        """Plain values for metadata."""
        return {"electrons_per_adu": self.electrons_per_adu, "offset_adu": self.offset,
                "read_noise_e": self.read_noise, "full_well_e": self.full_well}


@dataclass(frozen=True)
class FrameBlock:
    """Frames read from the ring buffer, with what the camera says about each.

    Attributes
    ----------
    frames
        (n, rows, columns) ``uint16`` grey levels.
    frame_number
        (n,) the camera's frame counter, 0 for the first frame after :meth:`Camera.start`.
        A gap means frames were lost between the sensor and this read; a repeat, a frame
        delivered twice.
    timestamp
        (n,) exposure start in s on the camera's clock since the acquisition started (NaN
        where the camera gives none).
    lost
        Frames the camera or driver reports as overwritten in the ring buffer (read too late)
        before this block; the gaps in ``frame_number`` show which.
    """

    frames: NDArray[np.uint16]
    frame_number: NDArray[np.int64]
    timestamp: NDArray[np.float64]
    lost: int = 0

    def __post_init__(self) -> None:
        n = len(self.frames)
        if self.frames.ndim != 3:
            raise ValueError(f"frames must be (n, rows, columns), not shape {self.frames.shape}")
        if len(self.frame_number) != n or len(self.timestamp) != n:
            raise ValueError(f"{n} frames but {len(self.frame_number)} frame numbers and "
                             f"{len(self.timestamp)} timestamps")

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def empty(cls, shape: tuple[int, int], lost: int = 0) -> FrameBlock:
        """A block without frames (nothing arrived in time)."""
        return cls(np.empty((0, *shape), np.uint16), np.empty(0, np.int64),
                   np.empty(0, np.float64), lost)

    @classmethod
    def concatenate(cls, blocks: list[FrameBlock]) -> FrameBlock:
        """One block of several, in order."""
        if not blocks:
            raise ValueError("concatenate needs at least one block")
        return cls(np.concatenate([b.frames for b in blocks]),
                   np.concatenate([b.frame_number for b in blocks]),
                   np.concatenate([b.timestamp for b in blocks]),
                   sum(b.lost for b in blocks))


@runtime_checkable
class Camera(Instrument, Protocol):
    """A scientific camera imaging the NV layer.

    The usual sequence::

        cam.connect()
        cam.roi, cam.binning = Roi(0, 0, 512, 512), 2
        cam.exposure = 5e-3
        cam.trigger_mode = TriggerMode.EXPOSURE_OUT
        cam.start(buffer_frames=1000)
        block = cam.read_frames(min_frames=1, timeout=1.0)   # repeatedly
        cam.stop()
        cam.safe(); cam.close()

    Settings may only change while the camera is not acquiring (:class:`InstrumentError`
    otherwise).
    """

    #: Who numbers the frames: "camera" (a hardware counter: a gap is a frame lost on the way
    #: to the computer) or "host" (the driver counts arrivals: a frame the camera could not
    #: deliver shows only in the timestamps).
    counter_source: Literal["camera", "host"]

    def connect(self) -> None:
        """Open the camera and put it in a known state (not acquiring, internal trigger)."""

    def close(self) -> None:
        """Release the camera (idempotent)."""

    @property
    def identity(self) -> str:
        """Manufacturer, model, serial number (and firmware) as the camera reports them."""

    @property
    def limits(self) -> CameraLimits:
        """What the camera accepts."""

    @property
    def calibration(self) -> PixelCalibration:
        """ADU → photo-electrons, read noise, full well."""

    @property
    def exposure(self) -> float:
        """Exposure in s, read back."""

    @exposure.setter
    def exposure(self, value: float) -> None: ...

    @property
    def frame_period(self) -> float:
        """Time between frame starts in s in the free-running modes (exposure + readout, or
        longer if set)."""

    @property
    def roi(self) -> Roi:
        """The region of interest, read back (sensor pixels)."""

    @roi.setter
    def roi(self, value: Roi | None) -> None: ...

    @property
    def binning(self) -> int:
        """Square binning factor, read back."""

    @binning.setter
    def binning(self, value: int) -> None: ...

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(rows, columns) of the frames with the current region and binning."""

    @property
    def trigger_mode(self) -> TriggerMode:
        """Who clocks the frames (see :class:`TriggerMode`), read back."""

    @trigger_mode.setter
    def trigger_mode(self, value: TriggerMode | str) -> None: ...

    @property
    def acquiring(self) -> bool:
        """Whether an acquisition runs."""

    @property
    def mw_trigger_lead(self) -> int:
        """List steps the trigger sends before the first frame's exposure (1 when the edge
        that starts a frame also steps the list, 0 when the list steps as an exposure ends):
        load the list rotated by it (:meth:`SweepPlan.hardware_list`)."""

    def start(self, buffer_frames: int = 1000) -> None:
        """Start acquiring into a ring buffer of ``buffer_frames`` frames; the frame counter
        starts at 0.  Frames not read before the buffer wraps are lost (and reported)."""

    def stop(self) -> None:
        """Stop acquiring; frames still in the buffer can no longer be read."""

    def read_frames(self, min_frames: int = 1, max_frames: int | None = None,
                    timeout: float = 1.0) -> FrameBlock:
        """The unread frames, oldest first (at most ``max_frames``).

        Waits up to ``timeout`` s until ``min_frames`` are there, then returns what there is,
        possibly fewer (even none: the caller decides what a late trigger means).

        Raises
        ------
        InstrumentError
            Not acquiring, or the camera failed (transfer error, lost connection).
        """

    def safe(self) -> None:
        """Stop acquiring and release the trigger lines (internal trigger, exposure output
        off); never raises for a reachable camera."""


# --- checks --------------------------------------------------------------------------------


def check_exposure(value: float, limits: CameraLimits, *, who: str = "camera") -> float:
    """The exposure as a float, or :class:`LimitError` if outside the camera's range."""
    fields = {"quantity": "exposure", "unit": "s", "source": "instrument", "instrument": who}
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LimitError(f"{who} exposure {value!r} is not a number of seconds; give e.g. "
                         "5e-3 (5 ms); nothing was sent", value=value, **fields) from None
    if not (math.isfinite(value) and limits.exposure_min <= value <= limits.exposure_max):
        upper = math.isfinite(value) and value > limits.exposure_max
        raise LimitError(
            f"{who} exposure {_seconds(value)} is outside the camera's range "
            f"{_seconds(limits.exposure_min)} – {_seconds(limits.exposure_max)}; "
            "nothing was sent", value=value,
            limit=limits.exposure_max if upper else limits.exposure_min,
            bound=("upper" if upper else "lower") if math.isfinite(value) else None, **fields)
    return value


def check_binning(value: int, limits: CameraLimits, *, who: str = "camera") -> int:
    """The binning as an int, or :class:`LimitError` if the camera does not offer it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) \
            or int(value) not in limits.binnings:
        offered = ", ".join(str(b) for b in limits.binnings)
        raise LimitError(f"{who} binning {value!r} is not offered; this camera bins "
                         f"{offered} (square); nothing was sent", quantity="binning",
                         value=value, unit="", source="instrument", instrument=who)
    return int(value)


def check_roi(roi: Roi | None, limits: CameraLimits, binning: int = 1, *,
              who: str = "camera") -> Roi:
    """The region (the whole sensor for ``None``), or :class:`LimitError` if it does not fit
    the sensor, its step or minimum size, or the binning."""
    if roi is None:
        return limits.full_roi
    fields = {"quantity": "roi", "value": roi, "unit": "", "source": "instrument",
              "instrument": who}
    if not isinstance(roi, Roi):
        raise LimitError(f"{who} roi must be a Roi(x, y, width, height), not {roi!r}; "
                         "nothing was sent", **fields)
    if roi.x + roi.width > limits.sensor_width or roi.y + roi.height > limits.sensor_height:
        raise LimitError(
            f"{who} roi x {roi.x}–{roi.x + roi.width}, y {roi.y}–{roi.y + roi.height} leaves the "
            f"{limits.sensor_width}×{limits.sensor_height}-pixel sensor; nothing was sent",
            **fields)
    step = limits.roi_step
    bad = [f"{n} {v}" for n, v in roi.as_dict().items() if v % step]
    if bad:
        raise LimitError(f"{who} roi {', '.join(bad)} is not a multiple of {step} pixels, which "
                         "this camera needs; nothing was sent", **fields)
    if min(roi.width, roi.height) < limits.roi_min:
        raise LimitError(f"{who} roi {roi.width}×{roi.height} is smaller than the camera's "
                         f"minimum {limits.roi_min} pixels; nothing was sent", **fields)
    if roi.width % binning or roi.height % binning:
        raise LimitError(f"{who} roi {roi.width}×{roi.height} is not a whole number of "
                         f"{binning}×{binning} bins; make width and height multiples of "
                         f"{binning}; nothing was sent", **fields)
    return roi


def check_trigger_mode(value: TriggerMode | str, limits: CameraLimits, *,
                       who: str = "camera") -> TriggerMode:
    """The mode as a :class:`TriggerMode`, or :class:`LimitError` if unknown or unsupported."""
    try:
        mode = TriggerMode(value)
    except ValueError:
        known = ", ".join(m.value for m in TriggerMode)
        raise LimitError(f"{who} trigger mode {value!r} is unknown; use one of {known}; "
                         "nothing was sent", quantity="trigger_mode", value=value,
                         instrument=who) from None
    if mode not in limits.trigger_modes:
        offered = ", ".join(m.value for m in limits.trigger_modes)
        raise LimitError(f"{who} does not support trigger mode {mode.value!r} (it offers "
                         f"{offered}); nothing was sent", quantity="trigger_mode",
                         value=mode.value, source="instrument", instrument=who)
    return mode


def check_buffer_frames(n: int, limits: CameraLimits, frame_shape: tuple[int, int], *,
                        who: str = "camera", max_bytes: float = 4e9) -> int:
    """A ring-buffer size in frames, or :class:`LimitError` (not a whole number ≥ 2, above
    the camera's maximum, or more than ``max_bytes`` of memory)."""
    fields = {"quantity": "buffer_frames", "value": n, "unit": "", "instrument": who}
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise LimitError(f"{who} buffer_frames must be a whole number ≥ 2, not {n!r}; "
                         "nothing was sent", limit=2, bound="lower", **fields)
    if n > limits.max_buffer_frames:
        raise LimitError(f"{who} buffer of {n} frames is above the camera's maximum "
                         f"{limits.max_buffer_frames}; nothing was sent",
                         limit=limits.max_buffer_frames, bound="upper", source="instrument",
                         **fields)
    size = int(n) * frame_shape[0] * frame_shape[1] * 2
    if size > max_bytes:
        raise LimitError(f"{who} buffer of {n} frames of {frame_shape[0]}×{frame_shape[1]} "
                         f"pixels needs {size / 1e9:.1f} GB of memory (limit "
                         f"{max_bytes / 1e9:.1f} GB); use fewer frames, a smaller roi or "
                         "binning; nothing was sent", bound="upper", **fields)
    return int(n)


def _seconds(value: float) -> str:
    return format_quantity(value, "s", 4) if math.isfinite(value) else repr(value)
