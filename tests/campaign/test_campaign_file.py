"""Campaign files: points built from steps, and every mistake caught before anything runs, with
the line and the fix."""

from __future__ import annotations

import pytest

from nvsense.campaign import CampaignError, load_campaign


def test_grid_points_in_file_order_first_step_outermost(write_campaign):
    path = write_campaign("""\
        name: grid
        bench: {bench}
        measurement: odmr
        settings: {sweeps: 2}
        steps:
          coil_current: ["0 A", "500 mA"]
          mw_power: {start: "-20 dBm", stop: "-10 dBm", steps: 3}
        """)
    campaign = load_campaign(path)
    assert campaign.name == "grid" and campaign.stepped == ["coil_current", "mw_power"]
    got = [(p.index, p.coil_current, p.settings.mw_power) for p in campaign.points]
    assert got == [(0, 0.0, -20.0), (1, 0.0, -15.0), (2, 0.0, -10.0),
                   (3, 0.5, -20.0), (4, 0.5, -15.0), (5, 0.5, -10.0)]
    assert all(p.settings.sweeps == 2 for p in campaign.points)
    assert campaign.points[4].label() == "coil_current=500 mA, mw_power=-15 dBm"
    assert len({p.key for p in campaign.points}) == 6


def test_zip_steps_parameters_together(write_campaign):
    path = write_campaign("""\
        bench: {bench}
        measurement: odmr
        combine: zip
        steps:
          dwell: ["1 ms", "2 ms", "4 ms"]
          laser_power: {start: "50 mW", stop: "150 mW", step: "50 mW"}
        """)
    campaign = load_campaign(path)
    assert campaign.name == "scan"  # from the file name
    assert [(p.settings.dwell, p.settings.laser_power) for p in campaign.points] == [
        (1e-3, 0.05), (2e-3, 0.1), (4e-3, 0.15)]


def test_no_steps_is_a_campaign_of_one_point(write_campaign):
    path = write_campaign("bench: {bench}\nmeasurement: odmr\nsettings: {coil_current: 0.2}\n")
    campaign = load_campaign(path)
    assert len(campaign) == 1 and campaign.points[0].coil_current == pytest.approx(0.2)


def test_point_key_changes_with_any_setting_and_not_with_spelling(write_campaign):
    def keys(settings: str) -> list[str]:
        path = write_campaign(f"bench: {{bench}}\nmeasurement: odmr\nsettings: {settings}\n"
                              "steps: {mw_power: [-20, -10]}\n")
        return [p.key for p in load_campaign(path).points]

    base = keys("{sweeps: 2, dwell: 1 ms}")
    assert keys("{sweeps: 2, dwell: 0.001}") == base  # same settings, other spelling
    assert keys("{sweeps: 3, dwell: 1 ms}")[0] != base[0]
    assert keys("{sweeps: 2, dwell: 1 ms, coil_current: 0.1}")[0] != base[0]


@pytest.mark.parametrize(("body", "line", "expected"), [
    # a typo in a stepped parameter: the line, and the right name
    ("steps:\n  mw_pwr: [-20, -10]\n", 4, "did you mean 'mw_power'"),
    # a typo in a fixed setting
    ("settings:\n  dwel: 1 ms\n", 4, "did you mean 'dwell'"),
    # a bad unit in the third value of a list: that value's line
    ('steps:\n  mw_power:\n    - "-20 dBm"\n    - "-15 dBm"\n    - "-10 dBx"\n', 7,
     "steps.mw_power[2] = '-10 dBx'"),
    # a value outside the bench's limits (0 dBm)
    ('steps:\n  mw_power: ["-10 dBm", "+5 dBm"]\n', 4, "above 0 dBm"),
    # a coil current beyond the bench's 2 A
    ("steps:\n  coil_current: {start: 0 A, stop: 3 A, steps: 4}\n", 4,
     "steps.coil_current (range value 3 A)"),
    # a setting out of its range in the fixed settings
    ("settings:\n  dwell: 20 s\n", 4, "settings.dwell"),
    # a dwell the counter cannot take: the measurement's own check, before any point runs
    ("settings:\n  dwell: 1 ns\n", 4, "settings.dwell: counter: dwell 1 ns is shorter"),
    # an unknown top-level key
    ("stepz:\n  mw_power: [-20]\n", 3, "did you mean 'steps'"),
    # zip with lists of different lengths
    ("combine: zip\nsteps:\n  mw_power: [-20, -10]\n  dwell: [1 ms]\n", 3,
     "same number of values (mw_power: 2, dwell: 1)"),
    # a range with both steps and step
    ("steps:\n  mw_power: {start: -20 dBm, stop: -10 dBm, steps: 3, step: 5 dB}\n", 4,
     "either steps"),
    # a single value where a list belongs
    ("steps:\n  mw_power: -10 dBm\n", 4, "goes under settings:"),
    # a key given twice (YAML would silently keep the last)
    ("steps:\n  mw_power: [-20]\n  mw_power: [-10]\n", 5, "given twice (first on line 4)"),
    # not YAML at all
    ("steps:\n  mw_power: [-20, -10\n", 5, "not valid YAML"),
])
def test_mistakes_name_the_line_and_the_fix(write_campaign, body, line, expected):
    path = write_campaign("bench: {bench}\nmeasurement: odmr\n" + body)
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    message = str(info.value)
    assert f"line {line}" in message, message
    assert expected in message, message
    assert str(path) in message


def test_a_tracking_step_the_counter_cannot_take_names_its_value(write_campaign):
    """The point is checked by the tracking kind's own check: the dither bins a rate gives
    are checked against the counter before anything runs."""
    path = write_campaign("bench: {bench}\nmeasurement: track\nsteps:\n  rate: [100 Hz, 5 kHz]\n"
                          "settings:\n  dither_periods: 100\n")
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    message = str(info.value)
    assert "line 4: steps.rate[1] = '5 kHz': counter: rate 5 kHz" in message, message
    assert "steps.rate[0]" not in message


def test_every_problem_is_listed_once_even_when_many_grid_points_share_it(write_campaign):
    path = write_campaign("""\
        bench: {bench}
        measurement: odmr
        steps:
          laser_power: ["100 mW", "1 W"]
          mw_power: [-20, -15, -10, 5]
        """)
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    message = str(info.value)
    assert "2 problems" in message
    assert message.count("steps.laser_power[1]") == 1 and message.count("steps.mw_power[3]") == 1
    assert "line 4: steps.laser_power[1] = '1 W'" in message
    assert "line 5: steps.mw_power[3] = 5" in message
    assert "change the value in the campaign" in message


def test_missing_bench_and_measurement_are_explained(write_campaign):
    with pytest.raises(CampaignError, match="bench: missing; name the bench"):
        load_campaign(write_campaign("measurement: odmr\n"))
    with pytest.raises(CampaignError, match="measurement: missing; add measurement: odmr"):
        load_campaign(write_campaign("bench: simulated\n"))
    with pytest.raises(CampaignError, match=r"line 2: measurement: unknown measurement 'odrm'"):
        load_campaign(write_campaign("bench: simulated\nmeasurement: odrm\n"))


def test_bench_problems_are_reported_against_the_bench_line(write_campaign, tmp_path):
    with pytest.raises(CampaignError, match=r"line 1: bench: bench file 'nope.yaml' not found"):
        load_campaign(write_campaign("bench: nope.yaml\nmeasurement: odmr\n"))
    (tmp_path / "nocoil.yaml").write_text("name: nocoil\n")
    path = write_campaign("bench: nocoil.yaml\nmeasurement: odmr\n"
                          "steps:\n  coil_current: [0, 0.5]\n")
    with pytest.raises(CampaignError, match=r"scan.yaml, line 4: steps.coil_current: this "
                       r"bench has no coil; add instruments.coil"):
        load_campaign(path)


def test_the_bench_and_name_can_be_overridden(write_campaign):
    path = write_campaign("name: scan\nbench: nope.yaml\nmeasurement: odmr\n")
    campaign = load_campaign(path, bench="single_nv", name="other")
    assert campaign.name == "other" and campaign.bench.config.name == "single_nv"
    with pytest.raises(CampaignError, match="campaign name 'a b' is not valid"):
        load_campaign(path, bench="simulated", name="a b")


def test_a_mapping_works_like_a_file():
    campaign = load_campaign({"name": "m", "bench": "simulated", "measurement": "odmr",
                              "steps": {"sweeps": {"start": 1, "stop": 3, "step": 1}}})
    assert [p.settings.sweeps for p in campaign.points] == [1, 2, 3]
    with pytest.raises(CampaignError, match=r"^campaign: steps.sweeps: .*whole number"):
        load_campaign({"name": "m", "bench": "simulated", "measurement": "odmr",
                       "steps": {"sweeps": {"start": 1, "stop": 2, "steps": 3}}})
