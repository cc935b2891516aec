"""Andor sCMOS cameras (Zyla, Neo, Sona, Marana, Balor) through the Andor SDK3 and pylablib.

pylablib class: ``pylablib.devices.Andor.AndorSDK3Camera`` (atcore library of the Andor SDK3,
installed with the SDK3 or with Andor Solis).  Andor SDK3 feature names used (Andor SDK3
manual, "Feature reference"): ``TriggerMode`` (through pylablib's ``set_trigger_mode``:
"int" = Internal, "ext" = External), ``AuxiliaryOutSource`` (FireRow1, FireRowN, FireAll,
FireAny: the TTL output that steps the microwave list), ``ExposureTime``, ``MetadataEnable``
and ``MetadataTimestamp`` with ``TimestampClockFrequency`` (frame timestamps in clock ticks).

The SDK3 frame info carries no hardware frame counter: frames are numbered by the computer
as they arrive (``counter_source = "host"``), so a frame the camera could not deliver shows
as a gap in the timestamps, not in the numbers: :mod:`nvsense.instruments.frame_sync` then
counts triggers from the timestamps.  A buffer overflow inside the SDK raises (pylablib's
overflow behaviour "error") rather than losing frames silently.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..camera import TriggerMode
from .camera_pylablib import PylablibCamera

__all__ = ["AndorSDK3"]

#: Values of ``AuxiliaryOutSource``.
AUX_OUT_SOURCES = ("FireRow1", "FireRowN", "FireAll", "FireAny")


class AndorSDK3(PylablibCamera):
    """An Andor SDK3 camera.

    Parameters
    ----------
    exposure_output
        ``AuxiliaryOutSource`` in exposure-out mode: "FireAny" (high while any row exposes;
        its falling edge ends the frame, default), "FireAll" (while all rows expose),
        "FireRow1", "FireRowN".
    **options
        See :class:`~nvsense.instruments.drivers.camera_pylablib.PylablibCamera`.
    """

    vendor: ClassVar[str] = "Andor"
    sdk: ClassVar[str] = "Andor SDK3 (atcore library)"
    install: ClassVar[str] = "the Andor SDK3 installer or Andor Solis, from andor.oxinst.com"
    dll_key: ClassVar[str] = "andor_sdk3"
    counter_field: ClassVar[str] = "frame_index"
    counter_source: ClassVar[Literal["camera", "host"]] = "host"
    family_binnings: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 8)

    def __init__(self, name: str = "camera", *, exposure_output: str = "FireAny",
                 **options: Any) -> None:
        if exposure_output not in AUX_OUT_SOURCES:
            raise ValueError(f"instruments.{name}.exposure_output must be one of "
                             f"{', '.join(AUX_OUT_SOURCES)}, not {exposure_output!r}")
        super().__init__(name, **options)
        self.exposure_output = exposure_output
        self._tick = 0.0

    def _open(self, index: int) -> Any:
        from pylablib.devices import Andor

        return Andor.AndorSDK3Camera(idx=index)

    def _prepare(self, cam: Any) -> None:
        cam.set_overflow_behavior("error")
        cam.enable_metadata(True)
        cam.set_attribute_value("MetadataTimestamp", True, error_on_missing=False)
        self._tick = float(cam.get_attribute_value("TimestampClockFrequency",
                                                   error_on_missing=False, default=0) or 0)

    def _timestamps(self, info: NDArray[Any], fields: list[str]) -> NDArray[np.float64]:
        if self._tick <= 0 or "timestamp_dev" not in fields:
            return np.full(len(info), np.nan)
        ticks = info[:, fields.index("timestamp_dev")].astype(np.float64)
        return np.where(ticks >= 0, ticks / self._tick, np.nan)

    def _exposure_range(self, cam: Any) -> tuple[float, float]:
        return self._attribute_range(cam, "ExposureTime")

    def _apply_trigger(self, cam: Any, mode: TriggerMode) -> None:
        cam.set_trigger_mode("ext" if mode == TriggerMode.EXTERNAL else "int")
        if mode == TriggerMode.EXPOSURE_OUT:
            cam.set_attribute_value("AuxiliaryOutSource", self.exposure_output)
