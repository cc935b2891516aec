"""Bench files: what they accept, what they become, and the errors a typo gets."""

from __future__ import annotations

import textwrap

import pytest

from nvsense.instruments import (
    BUILTIN_BENCHES,
    BenchConfigError,
    DriverUnavailableError,
    load_bench,
    load_bench_config,
)
from nvsense.instruments.registry import DRIVERS, driver_names


def write(tmp_path, text, name="bench.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_no_bench_file_means_the_built_in_simulated_bench():
    bench = load_bench()
    assert bench.source is not None and bench.source.name == "simulated.yaml"
    assert set(bench.instruments) == {"mw", "laser", "counter", "coil"}
    assert all(bench.driver_of(slot) == "simulated" for slot in bench.instruments)
    assert bench.sample is not None
    assert bench.limits.frequency == (2.5e9, 3.3e9)
    assert bench.limits.max_mw_power == 0.0
    assert bench.limits.max_laser_power == 0.5


@pytest.mark.parametrize("name", list(BUILTIN_BENCHES))
def test_every_built_in_bench_validates(name):
    config, path = load_bench_config(name)
    assert path is not None and path.is_file()
    assert config.name == name


def test_the_real_bench_example_names_real_drivers_and_their_addresses():
    config, _ = load_bench_config("example_real")
    entries = config.instruments.entries()
    assert {slot: e.driver for slot, e in entries.items()} == {
        "mw": "sg384", "laser": "obis", "counter": "nidaq", "coil": "dp800"}
    assert entries["mw"].options["address"] == "TCPIP0::10.0.0.11::5025::SOCKET"
    assert entries["mw"].options["visa_library"] == "@py"
    assert config.safe_state.laser == "standby"
    assert config.simulated_slots == []


def test_quantities_become_si_floats(tmp_path):
    path = write(tmp_path, """
        sample:
          field: "4 G, 0.5 mT, 0"
          field_ac: {amplitude: "50 nT", frequency: "10 Hz", direction: [1, 1, 1]}
          temperature: "25 degC"
          strain: "3 MHz"
          nucleus: 15n
          axes: [0, 2]
          linewidth: "800 kHz"
          contrast: [0.02, 0.01]
          count_rate: "1e7 /s"
          mw_reference_power: "0.1 mW"
          coil_constant: "2 mT/A"
          faults: {counter_timeout_at_sweep: 3, mw_disconnect_at_time: "2 s"}
        limits: {frequency: ["2.5 GHz", "3300 MHz"], max_mw_power: "1 mW",
                 max_laser_power: "500 mW"}
        safe_state: {laser: off}
        """)
    config, source = load_bench_config(path)
    s = config.sample
    assert source == path
    assert s.field == pytest.approx((4e-4, 5e-4, 0.0))
    assert s.field_ac[0].amplitude == pytest.approx(50e-9)
    assert s.field_ac[0].direction == pytest.approx((3 ** -0.5,) * 3)
    assert s.temperature == pytest.approx(298.15)
    assert (s.strain, s.nucleus, s.axes, s.linewidth) == (3e6, "15N", (0, 2), 8e5)
    assert s.axis_contrasts() == (0.02, 0.01)
    assert s.count_rate == 1e7 and s.mw_reference_power == pytest.approx(-10.0)
    assert s.coil_constant == pytest.approx(2e-3)
    assert s.faults.counter_timeout_at_sweep == 3 and s.faults.mw_disconnect_at_time == 2.0
    assert config.limits.frequency == (2.5e9, 3.3e9)
    assert config.limits.max_mw_power == pytest.approx(0.0)
    assert config.safe_state.laser == "off"  # YAML reads a bare `off` as false


def test_an_empty_file_is_the_default_simulated_bench(tmp_path):
    bench = load_bench(write(tmp_path, "# nothing yet\n"))
    assert bench.driver_of("mw") == "simulated" and bench.coil is None
    assert bench.limits.frequency is None  # no bench limits: the instruments' apply


def test_a_typo_names_the_file_line_key_and_the_likely_key(tmp_path):
    path = write(tmp_path, """
        sample:
          field: ["0.4 mT", "1.1 mT", "1.9 mT"]
          linwidth: "1 MHz"
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 4" in message
    assert "sample.linwidth" in message
    assert "did you mean 'linewidth'" in message


def test_a_bad_quantity_shows_the_key_and_an_example(tmp_path):
    path = write(tmp_path, """
        sample:
          linewidth: "1 MHzz"
        limits: {max_mw_power: "loud"}
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench(path)
    message = str(info.value)
    assert "2 problems" in message
    assert 'line 3, sample.linewidth' in message and 'e.g. "1 MHz"' in message
    assert 'line 4, limits.max_mw_power' in message and 'e.g. "0 dBm"' in message


def test_a_quantity_in_the_wrong_unit_is_refused():
    with pytest.raises(BenchConfigError, match=r"sample\.temperature.*e\.g\. \"300 K\""):
        load_bench({"sample": {"temperature": "300 mT"}})


def test_unknown_driver_lists_the_known_ones_for_that_slot():
    with pytest.raises(BenchConfigError) as info:
        load_bench({"instruments": {"mw": {"driver": "sg385"}, "laser": {"driver": "simulated"},
                                    "counter": {"driver": "simulated"}}})
    message = str(info.value)
    assert "instruments.mw.driver" in message and "'sg385'" in message
    for name in driver_names("mw"):
        assert name in message


def test_a_driver_in_the_wrong_slot_says_what_it_drives():
    with pytest.raises(BenchConfigError, match="'obis' drives a laser"):
        load_bench({"instruments": {"mw": {"driver": "obis", "address": "ASRL1::INSTR"},
                                    "laser": {"driver": "simulated"},
                                    "counter": {"driver": "simulated"}}})


def test_a_visa_driver_without_address_is_refused_with_an_example(tmp_path):
    path = write(tmp_path, """
        instruments:
          mw: {driver: sg384, visa_library: "@py"}
          laser: {driver: simulated}
          counter: {driver: simulated}
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench_config(path)
    message = str(info.value)
    assert "line 3, instruments.mw: driver sg384 needs address" in message
    assert "TCPIP0::" in message


def test_every_visa_and_serial_driver_requires_an_address():
    for info in DRIVERS:
        if info.bus in ("VISA", "serial"):
            assert "address" in info.requires, info.name


def test_a_missing_slot_is_named_with_an_example():
    with pytest.raises(BenchConfigError, match=r"instruments\.counter: missing.*driver: simulated"):
        load_bench({"instruments": {"mw": {"driver": "simulated"},
                                    "laser": {"driver": "simulated"}}})


def test_an_option_the_driver_does_not_take_is_named():
    with pytest.raises(BenchConfigError, match=r"instruments\.counter\.knd.*did you mean 'kind'"):
        load_bench({"instruments": {"mw": {"driver": "simulated"},
                                    "laser": {"driver": "simulated"},
                                    "counter": {"driver": "simulated", "knd": "volts"}}})


def test_a_driver_whose_module_is_missing_gives_an_error_naming_it():
    with pytest.raises(DriverUnavailableError) as info:
        load_bench({"instruments": {"mw": {"driver": "nvsense_no_such_pkg.sources:Source"},
                                    "laser": {"driver": "simulated"},
                                    "counter": {"driver": "simulated"}}})
    assert "instruments.mw" in str(info.value)
    assert "nvsense_no_such_pkg.sources" in str(info.value)
    assert isinstance(info.value, BenchConfigError)  # a bad bench: CLI exit code 2


def test_yaml_syntax_errors_give_the_line(tmp_path):
    path = write(tmp_path, "sample:\n  field: [1, 2\ninstruments: {}\n")
    with pytest.raises(BenchConfigError, match=r"line \d+: not valid YAML"):
        load_bench(path)


def test_a_file_that_is_not_a_mapping(tmp_path):
    with pytest.raises(BenchConfigError, match="a bench file is a mapping"):
        load_bench(write(tmp_path, "- mw\n- laser\n"))


def test_a_missing_file_names_the_built_in_benches():
    with pytest.raises(BenchConfigError, match=r"not found.*simulated, single_nv"):
        load_bench("no/such/bench.yaml")


@pytest.mark.parametrize(("sample", "fragment"), [
    ({"axes": [0, 0]}, "repeats an axis"),
    ({"axes": [4]}, "sample.axes"),
    ({"contrast": 0.6}, "saturated contrast above 1"),
    ({"contrast": [0.01, 0.02], "axes": [0, 1, 2]}, "one per axis"),
    ({"temperature": "77 K"}, "zfs_model: chen2011"),
    ({"field": ["1 mT", "2 mT"]}, "three components"),
    ({"field_ac": {"amplitude": "1 nT"}}, "sample.field_ac.frequency: missing"),
    ({"coil_direction": [0, 0, 0]}, "must not be zero"),
    ({"faults": {"counter_timeout_at_swep": 3}}, "did you mean 'counter_timeout_at_sweep'"),
    ({"pace": "slow"}, "sample.pace"),
])
def test_invalid_samples(sample, fragment):
    with pytest.raises(BenchConfigError, match="bench mapping") as info:
        load_bench({"sample": sample})
    assert fragment in str(info.value)


def test_limits_must_be_ordered_and_safe_state_known():
    with pytest.raises(BenchConfigError, match=r"limits\.frequency: give \[lowest, highest\]"):
        load_bench({"limits": {"frequency": ["3.3 GHz", "2.5 GHz"]}})
    with pytest.raises(BenchConfigError, match=r"safe_state\.laser"):
        load_bench({"safe_state": {"laser": "on"}})
    assert load_bench({"safe_state": {"laser": "standby"}}).config.safe_state.laser == "standby"


def test_the_bench_sets_name_and_sample_itself():
    with pytest.raises(BenchConfigError, match=r"instruments\.mw\.name: not an option"):
        load_bench({"instruments": {"mw": {"driver": "simulated", "name": "rf"},
                                    "laser": {"driver": "simulated"},
                                    "counter": {"driver": "simulated"}}})
