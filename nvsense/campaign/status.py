"""What a campaign has measured so far, read from the catalogue and the campaign journal: no
bench, no lock, nothing written.

:func:`campaign_status` gives the same :class:`~nvsense.campaign.CampaignResult` that running
the campaign gives, so its :meth:`~nvsense.campaign.CampaignResult.table` is the campaign's
results table, e.g. in a notebook while the campaign still runs in the lab::

    from nvsense.campaign import campaign_table

    campaign_table("examples/campaigns/power_grid.yaml", data_dir="nvsense-data")

``nvsense campaign status FILE [--json]`` prints it.  Each point has the status its latest
session gave it (:data:`~nvsense.campaign.POINT_STATUSES`): ``completed`` (measured by that
session), ``skipped`` (that session found it completed by an earlier one), ``failed``,
``stopped`` or ``not run``; a point with a completed run is never shown as failed or not run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..instruments import Bench
from ..storage import Catalog, resolve_data_dir
from .campaign_file import Campaign, load_campaign
from .history import campaign_runs, completed_points
from .journal import CampaignJournal
from .outcomes import CampaignResult, PointOutcome
from .points import CampaignPoint

__all__ = ["campaign_status", "campaign_table"]

#: Reason given for a point whose run the catalogue holds as interrupted (process killed).
INTERRUPTED_REASON = "its run was interrupted (the process ended without closing it)"


def campaign_status(
    campaign: Campaign | str | Path | Mapping[str, Any],
    *,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    bench: str | Path | Mapping[str, Any] | Bench | None = None,
    name: str | None = None,
) -> CampaignResult:
    """Each point's outcome so far, without a bench: from the catalogue and the journal.

    Parameters
    ----------
    campaign
        A loaded :class:`Campaign`, or a campaign file (or mapping) to load (``bench`` and
        ``name`` as for :func:`~nvsense.campaign.load_campaign`; the bench file is read, never
        connected).
    data_dir, catalog
        Where the campaign's runs are (``catalog`` wins).

    Raises
    ------
    CampaignError
        The campaign file is invalid, or
        :class:`~nvsense.campaign.CampaignMismatchError`: it was edited after some points
        were measured (their runs no longer match their points).
    """
    if not isinstance(campaign, Campaign):
        campaign = load_campaign(campaign, bench=bench, name=name)
    catalog = catalog if catalog is not None else Catalog(resolve_data_dir(data_dir))
    rows = campaign_runs(catalog, campaign.name)
    done = completed_points(campaign.points, rows, campaign.name)
    latest = {int(r["campaign_point"]): r for r in rows if r.get("campaign_point") is not None}
    journal = CampaignJournal(catalog.data_dir, campaign.name).last_outcomes()
    outcomes = [_outcome(p, done.get(p.index), latest.get(p.index), journal.get(p.index))
                for p in campaign.points]
    return CampaignResult(campaign.name, outcomes, _stopped_reason(catalog, campaign.name))


def campaign_table(
    campaign: Campaign | str | Path | Mapping[str, Any],
    *,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    bench: str | Path | Mapping[str, Any] | Bench | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """The campaign's results table so far (the columns of
    :meth:`CampaignResult.table`), read-only: see :func:`campaign_status`."""
    return campaign_status(campaign, data_dir=data_dir, catalog=catalog, bench=bench,
                           name=name).table()


def _outcome(point: CampaignPoint, done: dict[str, Any] | None, run: dict[str, Any] | None,
             entry: dict[str, Any] | None) -> PointOutcome:
    elapsed = float((entry or {}).get("elapsed") or 0.0)
    if done is not None:
        # the point's word is the one its latest session used: measured then, or skipped
        # because an earlier session had completed it
        skipped = entry is not None and entry.get("status") == "skipped" \
            and entry.get("run_id") == done["id"]
        status = "skipped" if skipped else "completed"
        reason = entry.get("reason") if skipped and entry is not None else None
        return PointOutcome(point, status, reason, run_id=done["id"],
                            file=Path(done["file"]) if done.get("file") else None,
                            results=dict(done.get("results") or {}),
                            elapsed=0.0 if skipped else elapsed)
    if entry is not None and entry.get("status") in ("failed", "stopped", "not run"):
        same = run is not None and run.get("id") == entry.get("run_id")
        return PointOutcome(point, entry["status"], entry.get("reason"),
                            run_id=entry.get("run_id"), elapsed=elapsed,
                            file=_file(run, entry.get("run_id")),
                            results=dict(run.get("results") or {}) if same else {})
    if run is not None and run.get("status") == "running":
        return PointOutcome(point, "not run", "its run is being measured now",
                            run_id=run["id"], file=_file(run, run["id"]))
    if run is not None and run.get("status") in ("aborted", "interrupted"):
        status = "failed" if run["status"] == "aborted" else "stopped"
        reason = run.get("abort_reason") or (INTERRUPTED_REASON if status == "stopped" else None)
        return PointOutcome(point, status, reason, run_id=run["id"], file=_file(run, run["id"]),
                            results=dict(run.get("results") or {}))
    return PointOutcome(point, "not run")


def _file(run: dict[str, Any] | None, run_id: str | None) -> Path | None:
    if run is not None and run.get("id") == run_id and run.get("file"):
        return Path(run["file"])
    return None


def _stopped_reason(catalog: Catalog, name: str) -> str | None:
    """Why the latest session stopped early, from its end line in the journal."""
    for entry in reversed(CampaignJournal(catalog.data_dir, name).entries()):
        if entry.get("event") == "end":
            return entry.get("reason")
        if entry.get("event") == "start":
            return None  # running now, or killed before it could write its end
    return None
