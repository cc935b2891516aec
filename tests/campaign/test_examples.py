"""The example campaign files are valid and stay so."""

from __future__ import annotations

from pathlib import Path

import pytest

from nvsense.campaign import load_campaign

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "campaigns").glob("*.yaml"))


def test_there_are_examples_for_both_measurements():
    kinds = {load_campaign(path).measurement.name for path in EXAMPLES}
    assert kinds == {"odmr", "track"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_campaign_is_valid(path):
    campaign = load_campaign(path)
    assert len(campaign) >= 3 and campaign.bench.config.name == "simulated"
    assert len({p.key for p in campaign.points}) == len(campaign)
