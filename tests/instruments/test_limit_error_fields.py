"""``LimitError`` says which quantity, value and limit in attributes, not only in its text, so
that a program (the GUI) can mark the right field without reading the message."""

import math

import pytest

from nvsense.instruments import LimitError, load_bench
from nvsense.instruments.drivers.sg384 import SG384
from nvsense.instruments.drivers.testing import expected_protocol
from nvsense.instruments.limits import BenchLimits, check_mw_power, out_of_range
from nvsense.instruments.protocols import MicrowaveLimits


def test_a_bench_limit_names_quantity_value_limit_and_source():
    with load_bench() as bench:  # bench limits 2.5-3.3 GHz, <= 0 dBm, <= 0.5 W
        with pytest.raises(LimitError) as info:
            bench.mw.frequency = 3.5e9
        error = info.value
        assert (error.quantity, error.value, error.limit) == ("frequency", 3.5e9, 3.3e9)
        assert (error.unit, error.bound, error.source, error.instrument) == (
            "Hz", "upper", "bench", "mw")
        assert "3.5 GHz is above 3.3 GHz" in str(error)  # the message is unchanged

        with pytest.raises(LimitError) as info:
            bench.laser.power = 0.6
        assert (info.value.quantity, info.value.limit, info.value.unit) == (
            "laser_power", 0.5, "W")

        with pytest.raises(LimitError) as info:
            bench.coil.current = -2.5
        assert (info.value.quantity, info.value.bound, info.value.limit) == (
            "coil_current", "lower", -2.0)


def test_an_instrument_limit_is_told_apart_from_the_bench_limit():
    limits = MicrowaveLimits(1e6, 4e9, -110.0, 16.5)
    with pytest.raises(LimitError) as info:
        check_mw_power(20.0, instrument=limits, bench=BenchLimits(max_mw_power=0.0), who="mw")
    assert (info.value.quantity, info.value.source, info.value.limit) == (
        "mw_power", "instrument", 16.5)
    with pytest.raises(LimitError) as info:
        check_mw_power(5.0, instrument=limits, bench=BenchLimits(max_mw_power=0.0), who="mw")
    assert (info.value.source, info.value.limit, info.value.bound) == ("bench", 0.0, "upper")


def test_a_value_that_is_not_a_number_has_no_limit_or_bound():
    with load_bench() as bench, pytest.raises(LimitError) as info:
        bench.mw.power = math.nan
    assert info.value.quantity == "mw_power"
    assert info.value.limit is None and info.value.bound is None


def test_drivers_fill_the_fields_too():
    with expected_protocol(SG384, []) as mw:
        with pytest.raises(LimitError) as info:
            mw.frequency = 5e9  # an SG384 ends at 4.05 GHz
        assert (info.value.quantity, info.value.limit, info.value.source) == (
            "frequency", 4.05e9, "instrument")
        with pytest.raises(LimitError) as info:
            mw.load_list([2.87e9] * 2001, -10)
        assert (info.value.quantity, info.value.value, info.value.limit) == (
            "list_points", 2001, 2000)


def test_counter_settings_are_named():
    with load_bench() as bench, pytest.raises(LimitError) as info:
        bench.counter.configure(10, 1e-9)
    assert (info.value.quantity, info.value.unit, info.value.bound) == ("bin_time", "s", "lower")


def test_as_dict_is_plain_data():
    error = out_of_range("x", quantity="fm_rate", value=2e6, low=0.0, high=1e6, unit="Hz",
                         instrument="mw")
    assert error.as_dict() == {"message": "x", "quantity": "fm_rate", "value": 2e6,
                               "limit": 1e6, "unit": "Hz", "bound": "upper",
                               "source": "instrument", "instrument": "mw"}
