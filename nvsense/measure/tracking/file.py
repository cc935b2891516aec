"""The tracking run file: the storage layout plus what reanalysis needs, and its attributes.

The layout is :func:`nvsense.storage.tracking_schema` (``time`` appended, ``field_parallel``
for one axis or ``field (time, vector)``, ``D``, ``frequency_locked``, ``error_signal``,
``locked``) with the raw material of every sample added, so that a run can be re-analysed with
another calibration: ``dither_center`` (f0), ``counts`` at f0 ± δ, ``counts_reference`` and the
lock detector's ``lock_quality``; ``line`` and ``dither`` get label coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ...storage import CoordSpec, RunSchema, VariableSpec, tracking_schema
from ...storage.metadata import to_json
from .result import TrackCalibration
from .settings import TrackSettings

__all__ = ["FIELD_CONVENTION", "file_attributes", "track_schema"]

#: How the field variables are defined (the ``field_convention`` attribute).
FIELD_CONVENTION = {
    "parallel": "field_parallel is B.n (T) of the tracked NV axis n; its sign is that of the "
                "initial sweep's field vector (positive for a two-line sample)",
    "vector": "field is the vector (T) in the crystal frame of the NV axes",
}


def track_schema(settings: TrackSettings, labels: Sequence[str], counts: bool) -> RunSchema:
    """The run-file layout for ``settings`` with the locked lines ``labels``."""
    base = tracking_schema(len(labels), field=settings.field_kind, error_units="1")
    units = "1" if counts else "V"
    what = "photon counts" if counts else "summed photodiode voltage"
    extra = [
        VariableSpec("dither_center", ("time", "line"), "Hz",
                     "dither centre f0 (frequency_locked is f0 plus the offset the error gives)"),
        VariableSpec("counts", ("time", "line", "dither"), units,
                     f"{what} at f0 + delta and f0 - delta"),
        VariableSpec("counts_reference", ("time",), units,
                     f"{what} of the off-resonance reference bin"),
        VariableSpec("lock_quality", ("time", "line"), "1",
                     "windowed dip depth over the locked depth (1 locked, 0 line gone)"),
    ]
    coords = [*base.coords, CoordSpec("line", list(labels), "1", "locked line"),
              CoordSpec("dither", ["+delta", "-delta"], "1", "dither point")]
    return replace(base, variables=[*base.variables, *extra], coords=coords)


def file_attributes(settings: TrackSettings, calibration: TrackCalibration | None,
                    survey: dict[str, Any], error: str | None, counts: bool) -> dict[str, Any]:
    """Global attributes: the field convention and the calibration it locked with.

    Without a calibration (the initial sweep failed), ``calibration`` holds the sweep and the
    error, so that nothing measured is lost.
    """
    attrs: dict[str, Any] = {
        "field_kind": settings.field_kind,
        "tracked_axes": np.array(settings.axes, dtype=np.int64),
        "counter_kind": "1" if counts else "V",
        "field_convention": FIELD_CONVENTION[settings.field_kind],
    }
    if calibration is None:
        attrs["calibration"] = to_json({"survey": survey, "error": error})
        return attrs
    attrs["calibration"] = to_json(calibration.record())
    attrs.update(calibration.attributes())
    bins = 2 * len(calibration.lines) * settings.dither_periods + 1
    attrs.update({"bins_per_sample": bins, "bin_time": 1.0 / (settings.rate * bins),
                  "dither_rate": settings.dither_periods * settings.rate,
                  "loss_window": calibration.loss_window,
                  "reference_window": calibration.reference_window})
    return attrs
