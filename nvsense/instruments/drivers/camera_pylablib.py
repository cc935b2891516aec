"""Scientific cameras through pylablib: the common part of the Andor, Hamamatsu and Allied
Vision drivers.

pylablib (https://pylablib.readthedocs.io) wraps each vendor's SDK behind one camera API,
which this module uses (from ``pylablib.devices.interface.camera``):

- ``set_exposure``/``get_frame_timings`` (exposure, frame period), ``set_frame_period``;
- ``get_detector_size``, ``get_roi``/``set_roi`` (sensor pixels, ``hend``/``vend``
  exclusive; Andor and DCAM also take ``hbin``/``vbin``), ``get_roi_limits`` (min, max,
  position step, size step, max binning per axis);
- ``setup_acquisition(mode="sequence", nframes=N)`` (a ring buffer of N frames),
  ``start_acquisition``, ``stop_acquisition``, ``wait_for_frame``,
  ``read_multiple_images(rng, missing_frame="skip", return_info=True)`` with the frame format
  ``"array"`` (one (n, rows, columns) array) and the frame info as an array whose columns
  ``get_frame_info_fields()`` names (``frame_index``, and per camera family a camera frame
  counter and a timestamp), ``get_frames_status()`` (acquired, unread, skipped, size);
- vendor attributes (``get_attribute_value``/``set_attribute_value``) for triggers and
  outputs.

pylablib and the vendor SDK are loaded when :meth:`PylablibCamera.connect` runs; a missing
one gives an :class:`~nvsense.instruments.errors.InstrumentError` that names what to install.
Every setting is checked against :class:`~nvsense.instruments.camera.CameraLimits` (read from
the camera when it connects) before anything is sent, and read back.  Tests drive these
classes with doubles of the pylablib camera objects (``camera_factory``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

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
from ..errors import CapabilityError, InstrumentError, LimitError
from ..snapshot import kind_state

__all__ = ["PylablibCamera"]

#: Relative (and absolute, s) difference allowed between a requested and a read-back
#: exposure: cameras round exposures to whole row times.
EXPOSURE_READBACK = (0.01, 20e-6)


class PylablibCamera:
    """Base of the pylablib camera drivers (see the subclasses for each family).

    Parameters
    ----------
    name
        The bench key.
    index
        Camera index among those of this family on the computer (pylablib's ``idx``).
    electrons_per_adu, offset, read_noise, full_well
        The camera's conversion gain (e⁻/ADU), dark offset (ADU), read noise (e⁻) and full
        well (e⁻) from its test sheet or a photon-transfer measurement: they turn frames
        into photo-electron counts (:class:`~nvsense.instruments.camera.PixelCalibration`).
    mw_trigger_lead
        List steps the microwave source makes before the first frame's exposure
        (default: 1 in external trigger mode, where the edge that starts a frame also steps
        the list; 0 with the exposure output, which steps it as each exposure ends).
    exposure_range
        (shortest, longest) exposure when the camera does not report its range.
    camera_factory
        Called with no argument to make the pylablib camera object (tests pass a double);
        default: open camera ``index`` with pylablib.
    """

    #: Camera family and vendor SDK, for messages.
    vendor: ClassVar[str] = ""
    sdk: ClassVar[str] = ""
    #: Where the SDK comes from.
    install: ClassVar[str] = ""
    #: pylablib's library-path parameter, ``pylablib.par["devices/dlls/<key>"]``.
    dll_key: ClassVar[str] = ""
    #: The frame-info field holding the frame counter, and whether the camera counts
    #: ("camera": a gap is a lost frame) or the computer does ("host": gaps show only in
    #: timestamps).
    counter_field: ClassVar[str] = "frame_index"
    counter_source: ClassVar[Literal["camera", "host"]] = "host"
    #: Square binnings the family offers at most (filtered by the camera's maximum).
    family_binnings: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 8)

    def __init__(self, name: str = "camera", *, index: int = 0,
                 electrons_per_adu: float = 0.5, offset: float = 100.0,
                 read_noise: float = 1.5, full_well: float = 30_000.0,
                 mw_trigger_lead: int | None = None,
                 exposure_range: tuple[Any, Any] = ("10 us", "10 s"),
                 camera_factory: Callable[[], Any] | None = None) -> None:
        self.name = name
        self.index = int(index)
        self._calibration = PixelCalibration(float(electrons_per_adu), float(offset),
                                             float(read_noise), float(full_well))
        if mw_trigger_lead not in (None, 0, 1):
            raise ValueError(f"instruments.{name}.mw_trigger_lead must be 0 or 1, not "
                             f"{mw_trigger_lead!r}")
        self._lead = mw_trigger_lead
        self._exposure_fallback = tuple(
            parse_quantity(v, "s", name=f"instruments.{name}.exposure_range")
            for v in exposure_range)
        self._factory = camera_factory
        self._cam: Any = None
        self._limits: CameraLimits | None = None
        self._fields: list[str] = []
        self._mode = TriggerMode.INTERNAL
        self._origin: tuple[int, float] | None = None  # (counter offset, first timestamp)
        self._skipped = 0

    # --- connection ----------------------------------------------------------------------

    def connect(self) -> None:
        """Open the camera (loading pylablib and the SDK), read its limits, stop any
        acquisition, set internal trigger and the array frame format."""
        if self._cam is not None:
            return
        cam = self._factory() if self._factory is not None else self._open_with_pylablib()
        self._cam = cam
        try:
            cam.stop_acquisition()
            cam.set_frame_format("array")
            cam.set_frame_info_format("array")
            self._prepare(cam)
            self._fields = list(cam.get_frame_info_fields())
            self._limits = self._read_limits(cam)
            self._apply_trigger(cam, TriggerMode.INTERNAL)
            self._mode = TriggerMode.INTERNAL
        except Exception as exc:
            self._cam = None
            self._close_quietly(cam)
            raise self._error("connect", exc) from exc

    def _open_with_pylablib(self) -> Any:
        try:
            import pylablib  # noqa: F401  (the package itself first: a clear message)
        except ImportError as exc:
            raise InstrumentError(
                self.name, "connect",
                f"pylablib is not installed; install it with `pip install nvsense[camera]` "
                f"(or `pip install pylablib`), and the {self.sdk} ({self.install})") from exc
        try:
            return self._open(self.index)
        except ImportError as exc:
            raise InstrumentError(self.name, "connect",
                                  f"pylablib cannot import its {self.vendor} module ({exc}); "
                                  f"install the {self.sdk} ({self.install})") from exc
        except OSError as exc:
            raise InstrumentError(
                self.name, "connect",
                f"cannot load the {self.sdk}: install it ({self.install}); if it is installed "
                f"elsewhere, set pylablib.par['devices/dlls/{self.dll_key}'] to its folder. "
                f"pylablib loads vendor libraries on Windows only unless "
                f"pylablib.par['devices/only_windows_dlls'] is False. ({exc})") from exc
        except Exception as exc:
            raise self._error(f"open camera {self.index}", exc) from exc

    def _open(self, index: int) -> Any:
        """Import the family's pylablib class and open camera ``index``."""
        raise NotImplementedError

    def _prepare(self, cam: Any) -> None:
        """Family set-up after opening (metadata on, overflow behaviour ...)."""

    def close(self) -> None:
        """Release the camera (idempotent)."""
        cam, self._cam = self._cam, None
        if cam is not None:
            self._close_quietly(cam)

    @staticmethod
    def _close_quietly(cam: Any) -> None:
        try:
            cam.stop_acquisition()
        except Exception:  # closing must not fail on a camera already gone
            pass
        try:
            cam.close()
        except Exception:
            pass

    @property
    def identity(self) -> str:
        """Vendor, model and serial number as the camera reports them."""
        info = self._call("get_device_info", lambda cam: cam.get_device_info())
        parts = [str(v) for v in (info if isinstance(info, tuple) else (info,))
                 if v not in (None, "") and not isinstance(v, dict)]
        return f"{self.vendor}: " + ", ".join(parts)

    @property
    def limits(self) -> CameraLimits:
        """What the camera accepts (read when it connected)."""
        self._require("limits")
        assert self._limits is not None
        return self._limits

    @property
    def calibration(self) -> PixelCalibration:
        return self._calibration

    @property
    def acquiring(self) -> bool:
        return bool(self._call("acquisition_in_progress",
                               lambda cam: cam.acquisition_in_progress()))

    @property
    def mw_trigger_lead(self) -> int:
        """List steps before the first frame's exposure (see the class parameters)."""
        if self._lead is not None:
            return self._lead
        return 1 if self._mode == TriggerMode.EXTERNAL else 0

    # --- settings --------------------------------------------------------------------------

    @property
    def exposure(self) -> float:
        return float(self._call("get_exposure", lambda cam: cam.get_exposure()))

    @exposure.setter
    def exposure(self, value: float) -> None:
        value = check_exposure(value, self.limits, who=self.name)
        self._require_idle(f"set_exposure({value:g})")
        actual = float(self._call(f"set_exposure({value:g})",
                                  lambda cam: cam.set_exposure(value) or cam.get_exposure()))
        rel, absolute = EXPOSURE_READBACK
        if abs(actual - value) > rel * value + absolute:
            raise InstrumentError(self.name, f"set_exposure({value:g})",
                                  f"the camera set {actual:g} s instead; choose an exposure "
                                  "the camera can take")

    @property
    def frame_period(self) -> float:
        timings = self._call("get_frame_timings", lambda cam: cam.get_frame_timings())
        return float(timings[1])

    @frame_period.setter
    def frame_period(self, value: float) -> None:
        value = float(value)
        if not (math.isfinite(value) and value >= 0):
            raise LimitError(f"{self.name} frame period {value!r} s must be ≥ 0 (0: as fast as "
                             "the exposure allows); nothing was sent")
        self._require_idle(f"set_frame_period({value:g})")
        cam = self._require("set_frame_period")
        if not hasattr(cam, "set_frame_period"):
            raise CapabilityError(f"{self.name}: {self.vendor} cameras set their frame period "
                                  "from the exposure and readout; use external triggering for "
                                  "a slower rate; nothing was sent")
        self._call(f"set_frame_period({value:g})", lambda c: c.set_frame_period(value))

    @property
    def roi(self) -> Roi:
        return self._read_roi(self._require("get_roi"))[0]

    @roi.setter
    def roi(self, value: Roi | None) -> None:
        roi = check_roi(value, self.limits, self.binning, who=self.name)
        self._set_geometry(roi, self.binning)

    @property
    def binning(self) -> int:
        return self._read_roi(self._require("get_roi"))[1]

    @binning.setter
    def binning(self, value: int) -> None:
        value = check_binning(value, self.limits, who=self.name)
        roi = check_roi(self.roi, self.limits, value, who=self.name)
        self._set_geometry(roi, value)

    @property
    def frame_shape(self) -> tuple[int, int]:
        roi, binning = self._read_roi(self._require("get_roi"))
        return roi.frame_shape(binning)

    def _set_geometry(self, roi: Roi, binning: int) -> None:
        command = f"set_roi({roi}, bin {binning})"
        self._require_idle(command)
        self._call(command, lambda cam: self._apply_roi(cam, roi, binning))
        got, got_bin = self._read_roi(self._require(command))
        if got != roi or got_bin != binning:
            raise InstrumentError(self.name, command,
                                  f"the camera set {got} with binning {got_bin} instead; use "
                                  f"a region on its {self.limits.roi_step}-pixel grid")

    @property
    def trigger_mode(self) -> TriggerMode:
        return self._mode

    @trigger_mode.setter
    def trigger_mode(self, value: TriggerMode | str) -> None:
        mode = check_trigger_mode(value, self.limits, who=self.name)
        self._require_idle(f"trigger {mode.value}")
        self._call(f"trigger {mode.value}", lambda cam: self._apply_trigger(cam, mode))
        self._mode = mode

    # --- acquisition -----------------------------------------------------------------------

    def start(self, buffer_frames: int = 1000) -> None:
        """Start acquiring into a ring buffer of ``buffer_frames`` frames."""
        n = check_buffer_frames(buffer_frames, self.limits, self.frame_shape, who=self.name)
        self._require_idle("start_acquisition")

        def start(cam: Any) -> None:
            cam.setup_acquisition(mode="sequence", nframes=n)
            cam.start_acquisition()

        self._call(f"start_acquisition(nframes={n})", start)
        self._origin = None
        self._skipped = 0

    def stop(self) -> None:
        self._call("stop_acquisition", lambda cam: cam.stop_acquisition())

    def safe(self) -> None:
        """Stop acquiring and return to internal trigger with the exposure output off; never
        raises (a camera that is gone is safe)."""
        cam = self._cam
        if cam is None:
            return
        for step in (lambda: cam.stop_acquisition(),
                     lambda: self._apply_trigger(cam, TriggerMode.INTERNAL)):
            try:
                step()
            except Exception:  # safe() must reach every step
                pass
        self._mode = TriggerMode.INTERNAL

    def read_frames(self, min_frames: int = 1, max_frames: int | None = None,
                    timeout: float = 1.0) -> FrameBlock:
        """Unread frames from the ring buffer (see the protocol)."""
        cam = self._require("read_multiple_images")
        shape = self.frame_shape
        if min_frames > 0:
            try:
                cam.wait_for_frame(since="lastread", nframes=int(min_frames), timeout=timeout)
            except Exception as exc:
                if not _is_timeout(cam, exc):
                    raise self._error("wait_for_frame", exc) from exc
        rng = self._call("get_new_images_range", lambda c: c.get_new_images_range())
        if rng is None:
            return FrameBlock.empty(shape, self._new_skipped(cam))
        first, last = int(rng[0]), int(rng[1])
        if max_frames is not None:
            last = min(last, first + int(max_frames))
        frames, info = self._call(
            "read_multiple_images",
            lambda c: c.read_multiple_images(rng=(first, last), missing_frame="skip",
                                             return_info=True))
        frames = np.asarray(frames)
        if frames.size == 0:
            return FrameBlock.empty(shape, self._new_skipped(cam))
        info = np.asarray(info)
        numbers, stamps = self._decode_info(info)
        return FrameBlock(frames.astype(np.uint16, copy=False), numbers, stamps,
                          self._new_skipped(cam))

    def _decode_info(self, info: NDArray[Any]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Frame counter (from 0 at the first frame read) and timestamps (s from it)."""
        fields = self._fields
        counter = info[:, fields.index(self.counter_field)].astype(np.int64)
        index = info[:, fields.index("frame_index")].astype(np.int64)
        stamps = self._timestamps(info, fields)
        if self._origin is None:
            # the first frame read is frame index[0] of the acquisition: the counters' offset
            self._origin = (int(counter[0] - index[0]), float(stamps[0]))
        offset, t0 = self._origin
        return counter - offset, stamps - t0

    def _timestamps(self, info: NDArray[Any], fields: list[str]) -> NDArray[np.float64]:
        """Exposure timestamps in s on the camera clock (NaN where the camera has none)."""
        return np.full(len(info), np.nan)

    def _new_skipped(self, cam: Any) -> int:
        try:
            skipped = int(cam.get_frames_status()[2])
        except Exception:
            return 0
        new, self._skipped = max(skipped - self._skipped, 0), skipped
        return new

    # --- family hooks ------------------------------------------------------------------------

    def _read_limits(self, cam: Any) -> CameraLimits:
        width, height = (int(v) for v in cam.get_detector_size())
        hlim, vlim = cam.get_roi_limits()
        step = max(int(hlim[2]), int(hlim[3]), int(vlim[2]), int(vlim[3]), 1)
        maxbin = max(1, min(int(hlim[4]), int(vlim[4])))
        low, high = self._exposure_range(cam)
        return CameraLimits(
            exposure_min=low, exposure_max=high, sensor_width=width, sensor_height=height,
            binnings=tuple(b for b in self.family_binnings if b <= maxbin),
            roi_step=step, roi_min=max(int(hlim[0]), int(vlim[0]), 1),
            trigger_modes=tuple(TriggerMode))

    def _exposure_range(self, cam: Any) -> tuple[float, float]:
        return self._exposure_fallback  # type: ignore[return-value]

    def _attribute_range(self, cam: Any, name: str, scale: float = 1.0) -> tuple[float, float]:
        """(min, max) of a camera attribute, or the fallback range."""
        try:
            attr = cam.get_attribute(name)
            low, high = float(attr.min) * scale, float(attr.max) * scale
        except Exception:
            return self._exposure_fallback  # type: ignore[return-value]
        if not (0 < low <= high and math.isfinite(high)):
            return self._exposure_fallback  # type: ignore[return-value]
        return low, high

    def _read_roi(self, cam: Any) -> tuple[Roi, int]:
        values = self._call("get_roi", lambda c: c.get_roi())
        hstart, hend, vstart, vend = (int(v) for v in values[:4])
        binning = int(values[4]) if len(values) > 4 else 1
        return Roi(hstart, vstart, hend - hstart, vend - vstart), binning

    def _apply_roi(self, cam: Any, roi: Roi, binning: int) -> None:
        cam.set_roi(roi.x, roi.x + roi.width, roi.y, roi.y + roi.height, binning, binning)

    def _apply_trigger(self, cam: Any, mode: TriggerMode) -> None:
        raise NotImplementedError

    # --- plumbing ------------------------------------------------------------------------------

    def _require(self, command: str) -> Any:
        if self._cam is None:
            raise InstrumentError(self.name, command,
                                  "not connected; call connect() first (a Bench connects its "
                                  "instruments in a with-block)")
        return self._cam

    def _require_idle(self, command: str) -> None:
        cam = self._require(command)
        try:
            busy = cam.acquisition_in_progress()
        except Exception as exc:
            raise self._error(command, exc) from exc
        if busy:
            raise InstrumentError(self.name, command,
                                  "the camera is acquiring; call stop() before changing settings")

    def _call(self, command: str, action: Callable[[Any], Any]) -> Any:
        cam = self._require(command)
        try:
            return action(cam)
        except InstrumentError:
            raise
        except Exception as exc:
            raise self._error(command, exc) from exc

    def _error(self, command: str, exc: BaseException) -> InstrumentError:
        if isinstance(exc, InstrumentError):
            return exc
        return InstrumentError(self.name, command, f"{type(exc).__name__}: {exc}")

    def snapshot(self) -> dict[str, Any]:
        """Identity, settings read back from the camera (exposure, frame period, region,
        binning, trigger), calibration and limits, JSON-ready."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "index": self.index,
                **kind_state("camera", self)}

    def __repr__(self) -> str:
        state = "connected" if self._cam is not None else "not connected"
        return f"<{type(self).__name__} {self.name!r} ({state})>"


def _is_timeout(cam: Any, exc: BaseException) -> bool:
    timeout = getattr(cam, "TimeoutError", None)
    return isinstance(exc, TimeoutError) or (isinstance(timeout, type)
                                             and isinstance(exc, timeout))
