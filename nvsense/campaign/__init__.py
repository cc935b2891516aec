"""Measurement campaigns: step parameters over many runs, unattended, resumable.

From a campaign file::

    from nvsense.campaign import load_campaign, run_campaign

    campaign = load_campaign("examples/campaigns/power_grid.yaml")  # validates every point
    result = run_campaign(campaign, data_dir="nvsense-data", resume=True)
    result.table()                        # point, stepped values, status, field, ...

In a custom loop (a notebook choosing its own points), the same runner::

    from nvsense.campaign import CampaignSession

    with CampaignSession("coil-scan", settings={"sweeps": 3}, data_dir="nvsense-data") as s:
        for current in ["0 A", "0.5 A", "1 A"]:
            s.measure(coil_current=current)

Every run is catalogued with the campaign's name and point index
(``Catalog(data_dir).runs(campaign="coil-scan")``).  The results table of a campaign, without
connecting its bench (while it runs elsewhere, or long after)::

    from nvsense.campaign import campaign_table

    campaign_table("examples/campaigns/power_grid.yaml", data_dir="nvsense-data")

The campaign file format and resume semantics are documented on the Campaigns page of the
nvsense documentation (``docs/campaigns.md`` in the source tree).
"""

from .campaign_file import Campaign, load_campaign
from .errors import CampaignError, CampaignLockedError, CampaignMismatchError
from .events import CampaignFinished, CampaignStarted, PointFinished, PointStarted
from .journal import CampaignJournal
from .measurements import COIL_CURRENT, MEASUREMENTS
from .outcomes import POINT_STATUSES, CampaignResult, PointOutcome, describe_field
from .points import CampaignPoint
from .runner import run_campaign
from .session import CampaignSession
from .status import campaign_status, campaign_table

__all__ = [
    "COIL_CURRENT",
    "MEASUREMENTS",
    "POINT_STATUSES",
    "Campaign",
    "CampaignError",
    "CampaignFinished",
    "CampaignJournal",
    "CampaignLockedError",
    "CampaignMismatchError",
    "CampaignPoint",
    "CampaignResult",
    "CampaignSession",
    "CampaignStarted",
    "PointFinished",
    "PointOutcome",
    "PointStarted",
    "campaign_status",
    "campaign_table",
    "describe_field",
    "load_campaign",
    "run_campaign",
]
