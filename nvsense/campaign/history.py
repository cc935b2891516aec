"""What a campaign already measured, from the catalogue: the basis of ``--resume``.

A point counts as done when the catalogue has a *completed* run of the campaign at that point
index whose recorded point key matches the point's key (a hash of its measurement, settings
and coil current).  Aborted and interrupted runs (a kill, a fault) are kept in the catalogue
but do not count: the point is measured again.  A completed run whose key differs means the
campaign file was edited after that run: resuming would mix two campaigns, so it is refused,
naming the points and what changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..storage import Catalog
from .errors import CampaignMismatchError
from .points import CampaignPoint

__all__ = ["POINT_KEY", "campaign_runs", "completed_points", "parameter_changes"]

#: Run parameter that records the campaign point's key (see :func:`~.points.point_key`).
POINT_KEY = "campaign_point_key"

_MAX_LISTED = 6


def campaign_runs(catalog: Catalog, name: str) -> list[dict[str, Any]]:
    """Catalogue rows of the campaign's runs, oldest first (none if no catalogue yet).

    Runs left 'running' by a process that is gone are reported as 'interrupted' (the
    catalogue checks their writers)."""
    if not catalog.path.exists():
        return []
    return catalog.records(campaign=name)


def completed_points(points: Sequence[CampaignPoint], rows: Sequence[dict[str, Any]],
                     name: str) -> dict[int, dict[str, Any]]:
    """The points already done: point index -> its completed run's catalogue row.

    Raises
    ------
    CampaignMismatchError
        A completed run of the campaign was measured with other parameters than its point
        now has (or at a point the campaign no longer has).
    """
    by_index = {p.index: p for p in points}
    done: dict[int, dict[str, Any]] = {}
    mismatches: list[str] = []
    for row in rows:
        if row.get("status") != "completed" or row.get("campaign_point") is None:
            continue
        index = int(row["campaign_point"])
        point = by_index.get(index)
        if point is None:
            mismatches.append(f"point {index} (run {row['id']}) was measured, but the campaign "
                              f"now has {len(points)} points")
            continue
        params = row.get("parameters") or {}
        recorded = params.get(POINT_KEY)
        if recorded == point.key or (recorded is None and not parameter_changes(point, params)):
            done.setdefault(index, row)
            continue
        changes = parameter_changes(point, params)
        what = "; ".join(changes[:4]) if changes else "other settings"
        mismatches.append(f"point {index} ({point.label() or 'the only point'}): run {row['id']} "
                          f"was measured with {what}")
    if mismatches:
        listed = mismatches[:_MAX_LISTED]
        if len(mismatches) > _MAX_LISTED:
            listed.append(f"... and {len(mismatches) - _MAX_LISTED} more")
        raise CampaignMismatchError(
            f"campaign {name!r}: the campaign changed since some of its points were measured, "
            "so resuming would mix two campaigns:\n  " + "\n  ".join(listed) + "\nPut the "
            "campaign file back as it was to resume, or give the campaign a new name (name: in "
            "the file, or --name) to start it afresh; nothing was run")
    return done


def parameter_changes(point: CampaignPoint, recorded: dict[str, Any]) -> list[str]:
    """How a run's recorded parameters differ from a point's: ``"sweeps 3 (now 5)"``."""
    changes = []
    for key, value in point.record().items():
        old = recorded.get(key)
        if not _same(old, value):
            changes.append(f"{key} {_show(old)} (now {_show(value)})")
    return changes


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-15)
    return a == b


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
