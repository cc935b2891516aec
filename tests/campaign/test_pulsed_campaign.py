"""A campaign of pulsed measurements: a Rabi run at two microwave powers."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from nvsense.campaign import CampaignError, load_campaign, run_campaign
from nvsense.storage import Catalog

BENCH = {
    "name": "campaign_pulsed",
    "sample": {"field": ["0.57735 mT"] * 3, "nucleus": "none", "axes": [0],
               "contrast": 0.15, "count_rate": "3e6 /s", "mw_reference_power": "-20 dBm",
               "mw_saturation_power": "-20 dBm", "laser_reference_power": "1 mW",
               "laser_saturation_power": "1 mW", "seed": 3},
    "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                    "counter": {"driver": "simulated"}, "pulser": {"driver": "simulated"},
                    "gated_counter": {"driver": "simulated",
                                      "spin": {"rabi_frequency": "8 MHz"}}},
    "limits": {"frequency": ["2.7 GHz", "3.05 GHz"], "max_mw_power": "-5 dBm"},
}


def _campaign(tmp_path, powers):
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump(BENCH))
    path = tmp_path / "rabi_powers.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: rabi-powers
        bench: bench.yaml
        measurement: pulsed
        settings:
          protocol: rabi
          mw_frequency: "2841.968 MHz"
          tau: "0:300ns:31"
          averages: 2
          repetitions: 100000
        steps:
          mw_power: {powers}
        """))
    return path


def test_a_campaign_steps_the_power_of_a_rabi_measurement(tmp_path):
    campaign = load_campaign(_campaign(tmp_path, '["-20 dBm", "-14 dBm"]'))
    catalog = Catalog(tmp_path / "data")
    result = run_campaign(campaign, catalog=catalog)
    assert [o.status for o in result.outcomes] == ["completed", "completed"]
    rows = sorted(catalog.records(campaign="rabi-powers"), key=lambda r: r["campaign_point"])
    assert [r["kind"] for r in rows] == ["pulsed", "pulsed"]
    low, high = (r["results"]["rabi_frequency_hz"] for r in rows)
    # 6 dB more power is twice the microwave amplitude: twice the Rabi frequency
    assert low == pytest.approx(8e6, rel=0.03)
    assert high / low == pytest.approx(2.0, rel=0.03)


def test_a_pulsed_campaign_beyond_the_bench_limits_is_refused_before_it_runs(tmp_path):
    with pytest.raises(CampaignError, match="mw_power"):
        load_campaign(_campaign(tmp_path, '["-20 dBm", "0 dBm"]'))
    assert not (tmp_path / "data").exists()
