"""Quantities with units: what bench files, campaign files and the CLI accept."""

import math
import re

import pytest

from nvsense.units import QuantityError, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("2.87 GHz", "Hz", 2.87e9),
        ("2.80GHz", "Hz", 2.80e9),
        ("100Hz", "Hz", 100.0),
        ("1.2 mT", "T", 1.2e-3),
        ("50 nT", "T", 50e-9),
        ("12 G", "T", 1.2e-3),  # gauss means 1e-4 T, not pint's CGS unit
        ("1 ms", "s", 1e-3),
        ("30s", "s", 30.0),
        ("50 mW", "W", 0.05),
        ("0.1W", "W", 0.1),
        ("-10 dBm", "dBm", -10.0),
        ("-10dBm", "dBm", -10.0),
        ("1 mW", "dBm", 0.0),
        ("10 mW", "dBm", 10.0),
        ("300 K", "K", 300.0),
        ("25 degC", "K", 298.15),
        ("1e7 /s", "1/s", 1e7),
        ("1e7/s", "1/s", 1e7),
        ("0.02", "1", 0.02),
        (0.5, "W", 0.5),
        (3, "Hz", 3.0),
    ],
)
def test_parse_quantity_converts_to_si(text, unit, expected):
    assert math.isclose(parse_quantity(text, unit), expected, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("text", "unit", "fragment"),
    [
        ("1 Mhz", "Hz", "unknown unit 'Mhz'"),
        ("1 mT", "Hz", "not a unit of frequency"),
        ("fast", "s", "cannot read 'fast'"),
        ("-1 W", "dBm", "must be positive"),
        (True, "Hz", "expected a quantity"),
        (float("nan"), "Hz", "not a finite number"),
        ([1, 2], "T", "expected a quantity"),
    ],
)
def test_bad_quantities_name_setting_and_example(text, unit, fragment):
    with pytest.raises(QuantityError) as info:
        parse_quantity(text, unit, name="sample.linewidth")
    message = str(info.value)
    assert message.startswith("sample.linewidth: ")
    assert fragment in message


def test_error_gives_an_example_of_the_right_unit():
    with pytest.raises(QuantityError, match=re.escape('e.g. "2.87 GHz"')):
        parse_quantity("2.87 GHZ", "Hz", name="start")


def test_format_quantity_uses_engineering_prefixes():
    assert format_quantity(2.87e9, "Hz") == "2.87 GHz"
    assert format_quantity(1.2e-3, "T") == "1.2 mT"
    assert format_quantity(3e-9, "T") == "3 nT"
    assert format_quantity(-10, "dBm") == "-10 dBm"
