"""Hamamatsu sCMOS cameras (ORCA-Flash4.0, ORCA-Fusion, ORCA-Quest) through DCAM-API and
pylablib.

pylablib class: ``pylablib.devices.DCAM.DCAMCamera`` (dcamapi library of the Hamamatsu
DCAM-API).  DCAM properties used (DCAM-API reference, ``dcamprop.h``): ``TRIGGER SOURCE``
(through pylablib's ``set_trigger_mode``: "int" = INTERNAL 1, "ext" = EXTERNAL 2),
``OUTPUT TRIGGER KIND[i]`` (LOW 1, EXPOSURE 2, PROGRAMABLE 3, TRIGGER READY 4, HIGH 5) and
``OUTPUT TRIGGER POLARITY[i]`` (NEGATIVE 1, POSITIVE 2) on output connector ``i``,
``EXPOSURE TIME``, ``BINNING`` (1, 2, 4).

Frames carry the camera's frame stamp (``framestamp``, counted by the camera:
``counter_source = "camera"``) and a timestamp in µs.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ..camera import TriggerMode
from .camera_pylablib import PylablibCamera

__all__ = ["HamamatsuDCAM"]

#: DCAMPROP_OUTPUTTRIGGER_KIND values.
OUTPUT_KIND_LOW = 1
OUTPUT_KIND_EXPOSURE = 2
#: DCAMPROP_OUTPUTTRIGGER_POLARITY__POSITIVE.
POLARITY_POSITIVE = 2


class HamamatsuDCAM(PylablibCamera):
    """A Hamamatsu DCAM camera.

    Parameters
    ----------
    output_connector
        Index ``i`` of the output trigger connector wired to the microwave source's trigger
        input (``OUTPUT TRIGGER KIND[i]``), default 0.
    **options
        See :class:`~nvsense.instruments.drivers.camera_pylablib.PylablibCamera`.
    """

    vendor: ClassVar[str] = "Hamamatsu"
    sdk: ClassVar[str] = "Hamamatsu DCAM-API (dcamapi library)"
    install: ClassVar[str] = ("the DCAM-API installer from hamamatsu.com, with the driver for "
                              "the camera's interface (USB 3, CoaXPress, Camera Link)")
    dll_key: ClassVar[str] = "dcamapi"
    counter_field: ClassVar[str] = "framestamp"
    counter_source: ClassVar[Literal["camera", "host"]] = "camera"
    family_binnings: ClassVar[tuple[int, ...]] = (1, 2, 4)

    def __init__(self, name: str = "camera", *, output_connector: int = 0,
                 **options: Any) -> None:
        if isinstance(output_connector, bool) or int(output_connector) < 0:
            raise ValueError(f"instruments.{name}.output_connector must be ≥ 0, not "
                             f"{output_connector!r}")
        super().__init__(name, **options)
        self.output_connector = int(output_connector)

    def _open(self, index: int) -> Any:
        from pylablib.devices import DCAM

        return DCAM.DCAMCamera(idx=index)

    def _timestamps(self, info: NDArray[Any], fields: list[str]) -> NDArray[np.float64]:
        if "timestamp_us" not in fields:
            return np.full(len(info), np.nan)
        return info[:, fields.index("timestamp_us")].astype(np.float64) * 1e-6

    def _exposure_range(self, cam: Any) -> tuple[float, float]:
        return self._attribute_range(cam, "EXPOSURE TIME")

    def _apply_trigger(self, cam: Any, mode: TriggerMode) -> None:
        cam.set_trigger_mode("ext" if mode == TriggerMode.EXTERNAL else "int")
        i = self.output_connector
        if mode == TriggerMode.EXPOSURE_OUT:
            cam.set_attribute_value(f"OUTPUT TRIGGER KIND[{i}]", OUTPUT_KIND_EXPOSURE)
            cam.set_attribute_value(f"OUTPUT TRIGGER POLARITY[{i}]", POLARITY_POSITIVE)
        else:  # the output stays low: nothing steps the microwave list
            cam.set_attribute_value(f"OUTPUT TRIGGER KIND[{i}]", OUTPUT_KIND_LOW,
                                    error_on_missing=False)
