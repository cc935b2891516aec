"""Step values: lists, ranges by count or increment, in the parameter's unit; grids and zips."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvsense.campaign.steps import MAX_POINTS, StepError, combine, step_values


def test_range_by_count_includes_both_ends_in_the_parameters_unit():
    assert step_values("mw_power", {"start": "-20 dBm", "stop": "-5 dBm", "steps": 4},
                       "dBm") == [-20.0, -15.0, -10.0, -5.0]
    assert step_values("laser_power", {"start": "50 mW", "stop": "0.15 W", "steps": 3},
                       "W") == [0.05, 0.1, 0.15]


def test_range_by_increment_stops_at_or_before_stop_and_runs_downwards_too():
    assert step_values("coil_current", {"start": "0 A", "stop": "1 A", "step": "250 mA"},
                       "A") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert step_values("coil_current", {"start": "1 A", "stop": "0 A", "step": "0.4 A"},
                       "A") == [1.0, 0.6, 0.2]
    # a power step is written in dB (a ratio), or as a plain number
    assert step_values("mw_power", {"start": -20, "stop": -10, "step": "5 dB"},
                       "dBm") == [-20.0, -15.0, -10.0]


def test_whole_number_settings_step_in_whole_numbers():
    assert step_values("sweeps", {"start": 2, "stop": 10, "step": 4}, "1",
                       integer=True) == [2, 6, 10]
    assert all(isinstance(v, int) for v in step_values("sweeps", {"start": 1, "stop": 3,
                                                                   "steps": 3}, "1", integer=True))
    with pytest.raises(StepError, match="not a whole number"):
        step_values("sweeps", {"start": 1, "stop": 2, "steps": 3}, "1", integer=True)
    # a plain number that is not a count steps freely
    assert step_values("ki", {"start": 0.2, "stop": 0.4, "steps": 3}, "1") == [0.2, 0.3, 0.4]


def test_lists_are_kept_as_written_for_the_settings_to_parse():
    assert step_values("mw_power", ["-20 dBm", -10], "dBm") == ["-20 dBm", -10]


@pytest.mark.parametrize(("spec", "unit", "message"), [
    ({"start": 0, "stop": 1}, "A", "either steps"),
    ({"start": 0, "stop": 1, "steps": 3, "step": 0.5}, "A", "either steps"),
    ({"start": 0, "steps": 3}, "A", "needs start and stop"),
    ({"start": 0, "stop": 1, "steps": 1}, "A", "at least 2"),
    ({"start": 0, "stop": 1, "step": 0}, "A", "must not be zero"),
    ({"start": 0, "stop": 1, "step": "1 nA"}, "A", "check the step's unit"),
    ({"start": 0, "stop": 1, "stpe": 1}, "A", "unknown key 'stpe'"),
    ({"start": "0 V", "stop": 1, "steps": 2}, "A", "'V' is not a unit of current"),
    ({"start": 1, "stop": 2, "steps": 2}, None, "cannot be a range"),
    ([], "A", "the list is empty"),
    ("1 A", "A", "give a list of values"),
])
def test_bad_steps_say_what_to_write(spec, unit, message):
    with pytest.raises(StepError, match=message):
        step_values("x", spec, unit)


def test_grid_is_every_combination_with_the_first_parameter_outermost():
    assert combine({"a": 2, "b": 3}, "grid") == [
        {"a": 0, "b": 0}, {"a": 0, "b": 1}, {"a": 0, "b": 2},
        {"a": 1, "b": 0}, {"a": 1, "b": 1}, {"a": 1, "b": 2}]
    assert combine({}, "grid") == [{}]


def test_zip_pairs_values_and_needs_equal_lengths():
    assert combine({"a": 2, "b": 2}, "zip") == [{"a": 0, "b": 0}, {"a": 1, "b": 1}]
    with pytest.raises(StepError, match=r"a: 2, b: 3"):
        combine({"a": 2, "b": 3}, "zip")


def test_oversized_grids_are_refused():
    with pytest.raises(StepError, match="more than"):
        combine({"a": 1000, "b": 1000}, "grid")


@given(start=st.floats(-30, 0), span=st.floats(0.1, 30), count=st.integers(2, 50))
def test_ranges_by_count_are_evenly_spaced_from_start_to_stop(start, span, count):
    values = step_values("mw_power", {"start": start, "stop": start + span, "steps": count},
                         "dBm")
    assert len(values) == count <= MAX_POINTS
    assert values[0] == pytest.approx(start) and values[-1] == pytest.approx(start + span)
    gaps = [b - a for a, b in itertools.pairwise(values)]
    assert max(gaps) - min(gaps) < 1e-9 * max(1.0, span)
