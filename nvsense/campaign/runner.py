"""Run a campaign file's points: :func:`run_campaign`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..measure.control import RunControl
from ..storage import Catalog
from .campaign_file import Campaign
from .outcomes import CampaignResult
from .session import CampaignSession

__all__ = ["run_campaign"]


def run_campaign(
    campaign: Campaign,
    *,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    resume: bool = False,
    control: RunControl | None = None,
    subscribers: Iterable[Callable[[Any], None]] = (),
) -> CampaignResult:
    """Run every point of a validated campaign on one bench connection.

    Parameters
    ----------
    campaign
        From :func:`~nvsense.campaign.load_campaign` (every point already validated).
    data_dir, catalog
        Where the runs go (``catalog`` wins; default: see
        :func:`nvsense.storage.resolve_data_dir`).
    resume
        Skip points already completed (matched in the catalogue by campaign name, point index
        and point key); refuse to run if a completed point was measured with other
        parameters.  Without it, a campaign that already has runs is refused.
    control
        ``control.stop()`` (the CLI's Ctrl-C) ends the current point after its current sweep
        and the campaign with it; later points are ``not run``.
    subscribers
        Called with the campaign's events and the measurements' events.

    Returns
    -------
    CampaignResult
        One outcome per point.

    Raises
    ------
    CampaignError
        Before anything runs: see :meth:`CampaignSession.start`.
    InstrumentError
        The bench could not be connected (nothing was measured).
    KeyboardInterrupt
        A second Ctrl-C; the bench was left safe, the point recorded as stopped.
    """
    session = CampaignSession(
        campaign.name, measurement=campaign.measurement, settings=campaign.fixed,
        bench=campaign.bench, data_dir=data_dir, catalog=catalog, resume=resume,
        on_error=campaign.on_error, control=control, subscribers=subscribers)
    session.start(campaign.points)
    try:
        for point in campaign.points:
            session.run(point)
    finally:
        result = session.finish()
    return result
