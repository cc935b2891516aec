"""Exceptions of the campaign layer."""

from __future__ import annotations

__all__ = ["CampaignError", "CampaignLockedError", "CampaignMismatchError"]


class CampaignError(ValueError):
    """A campaign file or a campaign point is invalid; nothing was run.

    The message names the file and line (for campaign files), the setting, and the fix.
    """


class CampaignMismatchError(CampaignError):
    """``--resume`` found completed points measured with other parameters than the campaign
    file now gives: the file was edited since.  Nothing was run."""


class CampaignLockedError(CampaignError):
    """Another process is running the same campaign on the same data folder."""
