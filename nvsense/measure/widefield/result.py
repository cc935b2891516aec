"""What a widefield run produced (:class:`WidefieldResult`), and the JSON of ``nvsense
widefield measure --json``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..documents import WidefieldMap
from .settings import WidefieldSettings

__all__ = ["JSON_KEYS", "WidefieldResult"]

#: The keys of ``nvsense widefield measure --json``, in order.
JSON_KEYS = ("run_id", "file", "status", "reason", "frames", "dropped_frames", "sweeps",
             "drift_px", "duplicated_frames", "remeasured_frames", "marked_points",
             "saturated_pixels", "skipped_sweeps", "live_success_fraction", "frame_period")


@dataclass
class WidefieldResult:
    """What a widefield run produced.

    Attributes
    ----------
    run_id, file, status, reason
        The run, its file, ``"completed"`` or ``"aborted"`` and why.
    sweeps
        Sweeps recorded in the file.
    frames
        Frames received from the camera (hardware sequence; duplicates included).
    dropped_frames
        Triggers without a usable frame (lost in transfer, missed, rejected): each was
        measured again or its point marked, never shifted.
    duplicated_frames, remeasured_frames, marked_points
        Duplicates dropped, frames measured again, (sweep, point) pairs left out of the cube.
    saturated_pixels
        Frame pixels at the camera's full scale (clipped counts: shorten the exposure).
    skipped_sweeps
        Sweeps of which no frame arrived (not written; their frames count as dropped).
    drift_px
        The last registered drift (dy, dx) against the first sweep, pixels (NaN: none).
    live_map
        The last live map document, if any.
    frame_period
        The camera's frame period during the run, s (as asked with ``frame_period``, or the
        camera's own: exposure plus readout); NaN if the run never started the camera.
    error
        The instrument fault that aborted the run, if any (the CLI exits 1 for it).
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    settings: WidefieldSettings
    frequencies: NDArray[np.float64]
    sweeps: int
    frames: int
    dropped_frames: int
    duplicated_frames: int
    remeasured_frames: int
    marked_points: int
    drift_px: tuple[float, float]
    saturated_pixels: int = 0
    skipped_sweeps: int = 0
    live_map: WidefieldMap | None = None
    frame_period: float = math.nan
    safe_report: list[str] = field(default_factory=list)
    error: Exception | None = None

    @property
    def warnings(self) -> list[str]:
        """What the person at the bench must know about the data."""
        out = []
        if self.saturated_pixels:
            out.append(f"{self.saturated_pixels} frame pixel(s) at the camera's full scale or "
                       "full well: "
                       "their counts are clipped and the field there is wrong; shorten the "
                       "exposure (or bin less)")
        asked = self.settings.frame_period
        if asked is not None and self.frame_period > asked * (1 + 1e-6):
            out.append(f"the camera ran at a frame period of {self.frame_period * 1e3:.4g} ms, "
                       f"longer than the {asked * 1e3:.4g} ms asked: its exposure plus readout "
                       "take that long (shorten the exposure or the region)")
        if self.sweeps and self.marked_points:
            out.append(f"{self.marked_points} frequency point(s) of some sweeps are left out "
                       "of the cube (frames lost and not measured again)")
        return out

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``nvsense widefield measure --json`` (keys :data:`JSON_KEYS`)."""
        live = self.live_map
        success = float(np.mean(live.success)) if live is not None and live.success.size \
            else None
        drift = [_num(v) for v in self.drift_px]
        return {
            "run_id": self.run_id,
            "file": str(self.file) if self.file else None,
            "status": self.status,
            "reason": self.reason,
            "frames": self.frames,
            "dropped_frames": self.dropped_frames,
            "sweeps": self.sweeps,
            "drift_px": None if all(v is None for v in drift) else drift,
            "duplicated_frames": self.duplicated_frames,
            "remeasured_frames": self.remeasured_frames,
            "marked_points": self.marked_points,
            "saturated_pixels": self.saturated_pixels,
            "skipped_sweeps": self.skipped_sweeps,
            "live_success_fraction": success,
            "frame_period": _num(self.frame_period),
        }


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
