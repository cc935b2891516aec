"""TrackSettings: units, defaults, one clear error per bad value."""

from __future__ import annotations

import json

import pytest

from nvsense.measure import SettingsError, TrackSettings


def test_quantities_with_units_are_read_in_si():
    s = TrackSettings.parse({"duration": "2 min", "rate": "1 kHz", "mw_power": "-7 dBm",
                             "laser_power": "50 mW", "capture_range": "0.8 MHz",
                             "sweep": "2.80GHz:2.94GHz:561", "sweep_dwell": "2 ms",
                             "calibration_time": "500 ms",
                             "field_guess": "0.4 mT, 1.1 mT, 1.9 mT"})
    assert (s.duration, s.rate, s.mw_power, s.laser_power) == (120.0, 1000.0, -7.0, 0.05)
    assert s.capture_range == pytest.approx(0.8e6)
    assert (s.sweep.start, s.sweep.stop, s.sweep.points) == (2.80e9, 2.94e9, 561)
    assert s.sweep_dwell == pytest.approx(2e-3) and s.calibration_time == pytest.approx(0.5)
    assert s.field_guess == pytest.approx((0.4e-3, 1.1e-3, 1.9e-3))


def test_defaults_track_axis_0_for_10_s_at_100_hz():
    s = TrackSettings()
    assert (s.duration, s.axis, s.rate, s.both_lines) == (10.0, 0, 100.0, False)
    assert s.axes == (0,) and s.field_kind == "parallel" and s.n_samples == 1000
    assert s.locked_lines == [(0, 0)]
    assert TrackSettings(both_lines=True).locked_lines == [(0, 0), (0, 1)]
    assert TrackSettings(line="upper").locked_lines == [(0, 1)]


def test_several_axes_make_a_vector_run():
    s = TrackSettings.parse({"axis": "0, 1, 2, 3", "both_lines": True})
    assert s.axes == (0, 1, 2, 3) and s.field_kind == "vector"
    assert len(s.locked_lines) == 8
    assert TrackSettings(axis=[2]).axis == 2  # one axis in a list is that axis


@pytest.mark.parametrize(("values", "message"), [
    ({"axis": 4}, "axis 4 does not exist"),
    ({"axis": "0,1"}, "three or four axes"),
    ({"axis": "0,0,1"}, "repeats an axis"),
    ({"axis": "x"}, "give an axis number"),
    ({"rate": "-5 Hz"}, "rate"),
    ({"duration": "0 s"}, "duration must be positive"),
    ({"ki": 2.5}, "unstable"),
    ({"ki": 1.0, "kp": 0.6}, "unstable"),
    ({"capture_range": "-1 MHz"}, "capture_range must be positive"),
    ({"mw_power": "3 W/m"}, "mw_power"),
    ({"model": "hamiltonian"}, "model"),
    ({"speed": 3}, "unknown setting"),
])
def test_bad_values_get_one_clear_error(values, message):
    with pytest.raises(SettingsError, match=message) as info:
        TrackSettings.parse(values, context="nvsense track")
    assert str(info.value).startswith("nvsense track: ")


def test_until_stopped_has_no_planned_samples():
    assert TrackSettings(duration=None).n_samples is None


def test_record_is_json_ready_and_round_trips():
    s = TrackSettings.parse({"axis": "0,1,2", "sweep": "2.8GHz:2.9GHz:101",
                             "field_guess": [1e-3, 0, 0]})
    record = s.as_record()
    json.dumps(record)
    assert record["axis"] == [0, 1, 2] and record["sweep"] == [2.8e9, 2.9e9, 101]
    again = TrackSettings.parse({**record, "sweep": "2.8GHz:2.9GHz:101"})
    assert again.axes == s.axes and again.field_guess == s.field_guess


def test_automatic_sweep_stays_inside_the_bench_limits():
    s = TrackSettings()
    full = s.sweep_range()
    assert (full.start, full.stop) == (2.77e9, 2.97e9)
    clipped = s.sweep_range((2.8e9, 3.3e9))
    assert clipped.start == 2.8e9 and clipped.stop == 2.97e9
    step = (clipped.stop - clipped.start) / (clipped.points - 1)
    assert step == pytest.approx(0.25e6, rel=1e-3)
