"""What happened at each point of a campaign, and the campaign's summary table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..formatting import field_text
from .points import CampaignPoint

__all__ = ["POINT_STATUSES", "CampaignResult", "PointOutcome", "describe_field"]

#: Status of a point in a campaign, the same words in every output (progress, summary, table,
#: JSON, journal, ``nvsense campaign status``):
#: completed (measured by this session), skipped (not measured again: an earlier session
#: completed it; ``--resume``), failed (an instrument fault or error; its run, if any, is
#: aborted in the catalogue), stopped (Ctrl-C, a stop request or a killed process), not run
#: (not attempted yet, or the campaign stopped before it).
POINT_STATUSES = ("completed", "skipped", "failed", "stopped", "not run")


@dataclass
class PointOutcome:
    """The outcome of one campaign point.

    Attributes
    ----------
    point
        The point.
    status
        One of :data:`POINT_STATUSES`.
    reason
        Why it failed or stopped (or which earlier run completed it).
    run_id, file
        Its run in the catalogue (``None`` if no run file was made).
    results
        Key results of the run, as catalogued (``field_x`` ... or ``field_parallel`` in T, ``D``
        and ``linewidth`` in Hz, ``contrast``; tracking also ``noise_floor`` in T/√Hz).
    elapsed
        Wall-clock time the point took, s (0 for skipped points).
    error
        The exception that made it fail, if any.
    result
        What the measurement returned (``OdmrResult`` / ``TrackResult``), for points measured
        now.
    """

    point: CampaignPoint
    status: str
    reason: str | None = None
    run_id: str | None = None
    file: Path | None = None
    results: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0
    error: BaseException | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        """Completed now or earlier."""
        return self.status in ("completed", "skipped")

    def value(self, key: str) -> float:
        """A key result as a float (NaN if missing); ``noise_floor`` is the tracking
        magnetometer's noise floor in T/√Hz."""
        value = self.results.get(key)
        return float(value) if isinstance(value, int | float) else math.nan

    def row(self) -> dict[str, Any]:
        """One row of the summary table: the point, its values, status and key results."""
        row: dict[str, Any] = {"point": self.point.index}
        row.update(self.point.values)
        if self.point.coil_current is not None and "coil_current" not in row:
            row["coil_current"] = self.point.coil_current
        row.update(status=self.status, reason=self.reason, run_id=self.run_id)
        for key in ("field_x", "field_y", "field_z", "field_parallel", "D", "linewidth",
                    "contrast", "noise_floor"):
            row[key] = self.value(key)
        return row


def describe_field(results: dict[str, Any]) -> str:
    """The field of a run for a table cell, one unit per vector: ``(1.9000, 1.1000, 0.4000)
    mT``, ``B∥ 1.2340 mT``; a run that measured no resonance says so instead of showing a
    field."""
    return field_text(results)


@dataclass
class CampaignResult:
    """The outcome of a campaign (or of one session of it, with ``--resume``).

    Attributes
    ----------
    name
        The campaign's name.
    outcomes
        One per point, in order (points after a stop are ``not run``).
    stopped_reason
        Why the campaign stopped early (Ctrl-C, ``on_error: stop``, the bench lost), or
        ``None`` if every point was attempted.
    """

    name: str
    outcomes: list[PointOutcome]
    stopped_reason: str | None = None

    def count(self, status: str) -> int:
        """Number of points with this status."""
        return sum(o.status == status for o in self.outcomes)

    @property
    def complete(self) -> bool:
        """Every point has a completed run (now or in an earlier session)."""
        return all(o.ok for o in self.outcomes)

    def summary(self) -> str:
        """``"4 completed, 2 skipped, 0 failed, 0 stopped, 2 not run"`` (every status)."""
        return ", ".join(f"{self.count(s)} {s}" for s in POINT_STATUSES)

    @property
    def faulted(self) -> bool:
        """Some point failed with an instrument error."""
        return any(o.status == "failed" for o in self.outcomes)

    def table(self) -> pd.DataFrame:
        """The summary table: one row per point (point, stepped values, status, reason,
        run id, field components in T, D and linewidth in Hz, contrast, noise floor in
        T/√Hz for tracking)."""
        return pd.DataFrame([o.row() for o in self.outcomes]).set_index("point")
