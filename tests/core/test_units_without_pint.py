"""The common units are read without pint (which costs ~0.3 s at every start of `nvsense`),
with exactly pint's results."""

from __future__ import annotations

import random
import subprocess
import sys

import pint
import pytest

from nvsense.units import parse_quantity

PREFIXES = ["p", "n", "u", "µ", "m", "", "k", "M", "G"]


@pytest.mark.parametrize("unit", ["Hz", "s", "W", "T", "V", "A", "K", "T/A"])
def test_prefixed_units_give_pints_values_to_the_last_bit(unit):
    ureg = pint.UnitRegistry()
    rng = random.Random(unit)
    for prefix in PREFIXES:
        for _ in range(200):
            x = rng.choice([rng.uniform(-1e4, 1e4), round(rng.uniform(0, 100), 3), 2.87, 0.1])
            expected = float(ureg.Quantity(x, prefix + unit).to(unit).magnitude)
            assert parse_quantity(f"{x!r} {prefix}{unit}", unit) == expected, (x, prefix)


@pytest.mark.parametrize(("text", "unit"), [("1.5 min", "s"), ("2 h", "s"), ("3 d", "s"),
                                            ("2.5 %", "1"), ("3 kHz", "1/s"), ("7 Hz", "1/s"),
                                            ("1e7 /s", "1/s")])
def test_other_units_give_pints_values(text, unit):
    ureg = pint.UnitRegistry()
    number, unit_text = text.split()
    unit_text = "1" + unit_text if unit_text.startswith("/") else unit_text
    target = "dimensionless" if unit == "1" else unit
    expected = float(ureg.Quantity(float(number), unit_text).to(target).magnitude)
    assert parse_quantity(text, unit) == expected


def test_common_values_do_not_load_pint():
    """Nor the built-in bench file, nor the CLI's defaults."""
    code = ("import sys\nfrom nvsense.units import parse_quantity as p\n"
            "p('2.87 GHz', 'Hz'); p('1 ms', 's'); p('-10 dBm', 'dBm'); p('50 mW', 'dBm');"
            "p('1.2 mT', 'T'); p('12 G', 'T'); p('1e7 /s', '1/s'); p('2 h', 's');"
            "p('1 mT/A', 'T/A')\n"
            "print('pint' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
    code = ("import sys\nfrom nvsense.instruments import load_bench\nload_bench()\n"
            "print('pint' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
    # and the rest still goes through pint
    assert parse_quantity("25 degC", "K") == pytest.approx(298.15)


@pytest.mark.parametrize("text", ["0/0", "1 /0", "2 m/0s", "3 **", "4 ((", "5 1e999 s"])
def test_any_unit_pint_cannot_read_is_an_unknown_unit(text):
    from nvsense.units import QuantityError

    with pytest.raises(QuantityError, match=r"unknown unit|cannot read|not finite"):
        parse_quantity(text, "s")
