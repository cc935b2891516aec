"""Printed quantities: a value and its error in one unit, a vector in one unit."""

from __future__ import annotations

import doctest
import re

import pytest

import nvsense.formatting as formatting
from nvsense.formatting import (
    StickyUnit,
    choose_prefix,
    field_text,
    format_value_error,
    format_vector,
)
from nvsense.units import parse_quantity

PAIR = re.compile(r"^(?P<v>[-\d.]+) ± (?P<e>[\d.]+) (?P<unit>\S+)$")


def read_back(text: str, unit: str) -> tuple[float, float]:
    """The value and error of ``"v ± e unit"`` in SI, read with the package's own parser."""
    found = PAIR.match(text)
    assert found, text
    return (parse_quantity(f"{found['v']} {found['unit']}", unit),
            parse_quantity(f"{found['e']} {found['unit']}", unit))


@pytest.mark.parametrize(("value", "error", "unit"), [
    (0.9992e-3, 0.79e-6, "T"),       # the issue's B∥: a value in mT, an error in µT
    (1.90003e-3, 0.154e-6, "T"),
    (-2.5e-9, 3.1e-10, "T"),
    (12e-15, 40e-15, "T"),           # an error larger than the value
    (2.8700011e9, 2.52e3, "Hz"),
    (1.2e-9, 0.03e-9, "T/√Hz"),
])
def test_value_and_error_share_one_unit_and_read_back_right(value, error, unit):
    text = format_value_error(value, error, unit)
    found = PAIR.match(text)
    assert found, text
    v, e = read_back(text, unit)
    decimals = len(found["e"].split(".")[1]) if "." in found["e"] else 0
    last_digit = parse_quantity(f"1 {found['unit']}", unit) * 10.0 ** -decimals
    # the error to two significant digits, the value to the same decimal place
    assert len(found["e"].replace(".", "").lstrip("0")) == 2
    assert e == pytest.approx(error, abs=0.5 * last_digit)
    assert v == pytest.approx(value, abs=0.5 * last_digit)


def test_the_issue_line_prints_the_value_in_its_own_unit():
    text = format_value_error(0.9992e-3, 0.79e-6, "T")
    assert text == "999.20 ± 0.79 µT"
    assert format_value_error(0.9992e-3, 0.79e-6, "T", prefix="m") == "0.99920 ± 0.00079 mT"


def test_unknown_errors_and_unprefixed_units():
    assert format_value_error(1.5e-3, None, "T") == "1.50000 mT"
    assert format_value_error(1.5e-3, float("nan"), "T") == "1.50000 ± ? mT"
    assert format_value_error(-10.0, 0.05, "dBm") == "-10.000 ± 0.050 dBm"
    assert format_value_error(float("nan"), 1.0, "T") == "? T"


def test_a_vector_has_one_unit():
    # the issue's nvsense runs line: x=400.23 µT, y=1.1001 mT
    assert format_vector([0.40023e-3, 1.1001e-3, 1.90003e-3], unit="T") == \
        "(0.4002, 1.1001, 1.9000) mT"
    text = format_vector([0.4e-3, 1.1e-3, 1.9e-3], [0.15e-6, 0.16e-6, float("nan")], "T")
    assert text == "(0.40000 ± 0.00015, 1.10000 ± 0.00016, 1.90000 ± ?) mT"
    assert format_vector([1e-9, -2e-9, 0.5e-9], unit="T") == "(1.0000, -2.0000, 0.5000) nT"


def test_field_text_of_catalogue_results():
    assert field_text({"field_x": 0.40023e-3, "field_y": 1.1001e-3, "field_z": 1.9e-3}) == \
        "(0.4002, 1.1001, 1.9000) mT"
    assert field_text({"field_parallel": 0.9994e-3}) == "B∥ 999.40 µT"
    assert field_text({}) == "—"


def test_a_live_display_keeps_its_first_unit():
    unit = StickyUnit("T")
    assert unit.format(1.0003e-3, 0.8e-6).endswith(" mT")
    assert unit.format(0.9992e-3, 0.8e-6) == "0.99920 ± 0.00080 mT"  # not 999.20 µT
    assert unit.format_vector([0.5e-3, 0.2e-3, 0.1e-3]).endswith(" mT")


def test_choose_prefix_boundaries():
    assert choose_prefix(1e-3, "T") == (1e-3, "m")
    assert choose_prefix(0.999999e-3, "T") == (1e-6, "µ")
    assert choose_prefix(3e-15, "T") == (1e-15, "f")
    assert choose_prefix(5.0, "K") == (1.0, "")


def test_the_module_examples_hold():
    assert doctest.testmod(formatting).failed == 0


def test_a_run_without_resonance_shows_no_field():
    from nvsense.measure.resonance import RESONANCE_KEY

    results = {"field_parallel": 1e-3, RESONANCE_KEY: False}
    assert field_text(results) == "no resonance"
    assert field_text({**results, RESONANCE_KEY: True}) == "B∥ 1.0000 mT"
