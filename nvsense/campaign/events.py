"""Events of a campaign, published to subscribers with the measurements' own events.

A campaign's subscribers see :class:`CampaignStarted`, then for each point
:class:`PointStarted`, the measurement's events (``RunStarted``, ``SweepDone``, ...) and
:class:`PointFinished`, and at the end :class:`CampaignFinished`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .outcomes import CampaignResult, PointOutcome
from .points import CampaignPoint

__all__ = ["CampaignFinished", "CampaignStarted", "PointFinished", "PointStarted", "publish"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignStarted:
    """A campaign (session) starts: ``total`` points, ``done`` of them completed earlier."""

    name: str
    total: int | None
    done: int = 0
    wall_time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class PointStarted:
    """A point starts (``total`` is ``None`` in a custom loop)."""

    name: str
    point: CampaignPoint
    total: int | None
    wall_time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class PointFinished:
    """A point is done (completed, skipped, failed or stopped)."""

    name: str
    outcome: PointOutcome
    total: int | None
    wall_time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class CampaignFinished:
    """The campaign (session) has ended."""

    name: str
    result: CampaignResult
    wall_time: float = field(default_factory=time.time)


def publish(subscribers: Iterable[Callable[[Any], None]], event: Any) -> None:
    """Call every subscriber; one that fails is logged and skipped (a broken display must not
    stop an unattended campaign)."""
    for callback in subscribers:
        try:
            callback(event)
        except Exception:
            log.exception("campaign subscriber %r failed on %s", callback,
                          type(event).__name__)
