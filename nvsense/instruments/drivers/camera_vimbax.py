"""Allied Vision industrial cameras (Alvium, Mako, Manta, Prosilica GT) through Vimba X and
pylablib: the GenICam family.

pylablib class: ``pylablib.devices.AlliedVision.AlliedVisionVimbaXCamera`` (VmbC library of
Vimba X).  GenICam SFNC features used (Standard Features Naming Convention, Acquisition
and Trigger Control, Digital I/O Control, Image Format Control): ``TriggerSelector =
FrameStart``, ``TriggerMode`` (On/Off), ``TriggerSource`` (``Line0`` ...),
``TriggerActivation = RisingEdge``; ``LineSelector``, ``LineMode = Output``,
``LineSource = ExposureActive`` for the exposure output; ``ExposureTime`` (µs);
``BinningHorizontal``/``BinningVertical``; ``OffsetX``/``OffsetY``/``Width``/``Height`` in
binned pixels, which this driver converts to and from sensor pixels.

Frames carry the camera's frame ID (``framestamp``, counted by the camera:
``counter_source = "camera"``) and a timestamp in ticks of ``timestamp_frequency`` (read
from ``GevTimestampTickFrequency`` where the camera has it, else 1 GHz: Vimba X cameras
time-stamp in ns).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..camera import CameraLimits, Roi, TriggerMode
from .camera_pylablib import PylablibCamera

__all__ = ["AlliedVisionVimbaX"]


class AlliedVisionVimbaX(PylablibCamera):
    """An Allied Vision camera through Vimba X.

    Parameters
    ----------
    trigger_line
        Input line of the frame trigger in external mode (default "Line0").
    output_line
        Line that carries the exposure output (default "Line1").
    timestamp_frequency
        Timestamp ticks per second, if the camera does not report it.
    **options
        See :class:`~nvsense.instruments.drivers.camera_pylablib.PylablibCamera`.
    """

    vendor: ClassVar[str] = "Allied Vision"
    sdk: ClassVar[str] = "Allied Vision Vimba X SDK (VmbC library)"
    install: ClassVar[str] = "Vimba X from alliedvision.com, with its transport layer"
    dll_key: ClassVar[str] = "alliedvision_vimbax"
    counter_field: ClassVar[str] = "framestamp"
    counter_source: ClassVar[Literal["camera", "host"]] = "camera"
    family_binnings: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 5, 6, 7, 8)

    def __init__(self, name: str = "camera", *, trigger_line: str = "Line0",
                 output_line: str = "Line1", timestamp_frequency: float | None = None,
                 **options: Any) -> None:
        super().__init__(name, **options)
        self.trigger_line = str(trigger_line)
        self.output_line = str(output_line)
        self._tick = float(timestamp_frequency) if timestamp_frequency else 0.0

    def _open(self, index: int) -> Any:
        from pylablib.devices import AlliedVision

        return AlliedVision.AlliedVisionVimbaXCamera(idx=index)

    def _prepare(self, cam: Any) -> None:
        if self._tick <= 0:
            tick = cam.get_attribute_value("GevTimestampTickFrequency", error_on_missing=False,
                                           default=None)
            self._tick = float(tick) if tick else 1e9

    def _timestamps(self, info: NDArray[Any], fields: list[str]) -> NDArray[np.float64]:
        if "timestamp" not in fields:
            return np.full(len(info), np.nan)
        return info[:, fields.index("timestamp")].astype(np.float64) / self._tick

    def _exposure_range(self, cam: Any) -> tuple[float, float]:
        for name in ("ExposureTime", "ExposureTimeAbs"):
            low, high = self._attribute_range(cam, name, 1e-6)
            if (low, high) != self._exposure_fallback:
                return low, high
        return self._exposure_fallback  # type: ignore[return-value]

    def _read_limits(self, cam: Any) -> CameraLimits:
        limits = super()._read_limits(cam)
        try:
            maxbin = int(cam.get_attribute("BinningHorizontal").max)
        except Exception:
            maxbin = 1
        binnings = tuple(b for b in self.family_binnings if b <= maxbin)
        return CameraLimits(limits.exposure_min, limits.exposure_max, limits.sensor_width,
                            limits.sensor_height, binnings, limits.roi_step, limits.roi_min,
                            limits.trigger_modes, limits.max_buffer_frames, limits.bits)

    def _read_roi(self, cam: Any) -> tuple[Roi, int]:
        binning = int(cam.get_attribute_value("BinningHorizontal", error_on_missing=False,
                                              default=1) or 1)
        hstart, hend, vstart, vend = (int(v) * binning for v in cam.get_roi()[:4])
        return Roi(hstart, vstart, hend - hstart, vend - vstart), binning

    def _apply_roi(self, cam: Any, roi: Roi, binning: int) -> None:
        for name in ("BinningHorizontal", "BinningVertical"):
            cam.set_attribute_value(name, binning, error_on_missing=binning != 1)
        b = binning
        cam.set_roi(roi.x // b, (roi.x + roi.width) // b, roi.y // b, (roi.y + roi.height) // b)

    def _apply_trigger(self, cam: Any, mode: TriggerMode) -> None:
        cam.set_attribute_value("TriggerSelector", "FrameStart")
        if mode == TriggerMode.EXTERNAL:
            cam.set_attribute_value("TriggerSource", self.trigger_line)
            cam.set_attribute_value("TriggerActivation", "RisingEdge")
            cam.set_attribute_value("TriggerMode", "On")
        else:
            cam.set_attribute_value("TriggerMode", "Off")
        if mode == TriggerMode.EXPOSURE_OUT:
            cam.set_attribute_value("LineSelector", self.output_line)
            cam.set_attribute_value("LineMode", "Output", error_on_missing=False)
            cam.set_attribute_value("LineSource", "ExposureActive")
