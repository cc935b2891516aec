"""Every VISA driver meets the construction contract the bench loader relies on:
``Class(name=<slot>, address=..., visa_library=..., timeout=..., **options)`` does no I/O, the
class describes itself, and bad options are refused by name."""

import pytest

from nvsense.instruments.errors import BenchConfigError
from nvsense.instruments.registry import DRIVERS, build_instrument

VISA_DRIVERS = [d for d in DRIVERS if d.bus in ("VISA", "serial")]
#: Options a driver needs beyond the registry's example entry.
EXTRA = {"cobolt": {"max_power": "100 mW"}}


def test_all_shipped_visa_drivers_are_registered():
    names = {d.name for d in VISA_DRIVERS}
    assert {"sg384", "smb100a", "n5181b", "synthhd", "obis", "cobolt", "dp800", "sr860"} <= names


@pytest.mark.parametrize("info", VISA_DRIVERS, ids=lambda d: d.name)
def test_construction_from_a_bench_entry_does_no_io(info):
    options = {**info.example, **EXTRA.get(info.name, {}), "timeout": 1.0}
    instrument = build_instrument(info.kind, info.name, options)
    assert instrument.name == info.kind
    assert not instrument.connected
    description = type(instrument).description
    assert description.kind == info.kind
    assert description.models and description.manual


@pytest.mark.parametrize("info", VISA_DRIVERS, ids=lambda d: d.name)
def test_misspelt_option_is_refused_by_name(info):
    options = {**info.example, **EXTRA.get(info.name, {}), "adress": "x"}
    with pytest.raises(BenchConfigError, match="adress"):
        build_instrument(info.kind, info.name, options)
