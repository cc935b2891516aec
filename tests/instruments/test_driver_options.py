"""Each driver's options are a validated model: a bench file's mistakes in driver options are
reported with the rest, all at once, each with its line; relative pyvisa-sim models are read
from the bench file's folder."""

import inspect
import os
import shutil
import textwrap
from typing import Annotated

import pytest
from pydantic import TypeAdapter

from nvsense.instruments import BenchConfigError, load_bench, load_bench_config
from nvsense.instruments.drivers import SIM_ADDRESSES, sim_path
from nvsense.instruments.fields import quantity  # noqa: F401  (the module imports cleanly)
from nvsense.instruments.registry import DRIVERS, build_instrument


def write(tmp_path, text, name="bench.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_three_mistakes_are_reported_at_once_each_with_its_line(tmp_path):
    path = write(tmp_path, """
        sample:
          linwidth: "1 MHz"
        instruments:
          mw: {driver: sg384, address: "TCPIP0::10.0.0.11::5025::SOCKET",
               visa_libary: "@py"}
          laser: {driver: simulated}
          counter: {driver: simulated}
        limits:
          max_mw_power: "0 dbm!"
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench(path)
    message = str(info.value)
    assert "3 problems" in message
    assert "line 2, sample.linwidth: unknown key; did you mean 'linewidth'?" in message
    assert ("line 5, instruments.mw.visa_libary: driver 'sg384' has no option 'visa_libary'; "
            "did you mean 'visa_library'?") in message
    assert "line 9, limits.max_mw_power" in message
    lines = [line.strip() for line in message.splitlines()[1:]]
    assert [line.split(",")[0] for line in lines] == ["line 2", "line 5", "line 9"]


def test_option_values_are_checked_with_units_and_lines(tmp_path):
    path = write(tmp_path, """
        instruments:
          mw: {driver: simulated}
          laser:
            driver: nidaq_gate
            power: "fifty"
          counter:
            driver: nidaq
            duty_cycle: 2
            kind: photons
            timeout: "-1 s"
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench_config(path)
    message = str(info.value)
    assert "4 problems" in message
    assert 'line 5, instruments.laser.power:' in message and 'e.g. "50 mW"' in message
    assert "line 8, instruments.counter.duty_cycle:" in message
    assert "line 9, instruments.counter.kind: 'photons' is not one of counts, volts" in message
    assert "line 10, instruments.counter.timeout: must be positive" in message


def test_a_required_option_is_named_with_an_example(tmp_path):
    path = write(tmp_path, """
        instruments:
          mw: {driver: simulated}
          laser: {driver: nidaq_gate, device: Dev2}
          counter: {driver: simulated}
        """)
    with pytest.raises(BenchConfigError,
                       match=r"line 3, instruments.laser: driver nidaq_gate needs power; "
                             r"e\.g\. \{driver: nidaq_gate"):
        load_bench_config(path)


def test_validated_options_reach_the_driver_in_si_units():
    bench = load_bench({"instruments": {
        "mw": {"driver": "sg384", "address": "TCPIP0::10.0.0.11::5025::SOCKET",
               "timeout": "500 ms", "frequency_max": "3.2 GHz", "power_max": "-3 dBm",
               "model": "sg386"},
        "laser": {"driver": "cobolt", "address": "ASRL1::INSTR", "max_power": "80 mW"},
        "counter": {"driver": "nidaq", "ai_min": "-2 V", "ai_max": "2000 mV",
                    "ai_max_rate": "100 kHz"}}})
    mw, laser, counter = bench.mw.inner, bench.laser.inner, bench.counter
    assert mw.timeout == 0.5 and mw.model == "SG386"
    assert mw.limits.frequency_max == 3.2e9 and mw.limits.power_max == -3.0
    assert laser.max_power == pytest.approx(0.08)
    assert (counter.ai_min, counter.ai_max, counter.ai_max_rate) == (-2.0, 2.0, 1e5)


def test_build_instrument_reports_every_bad_option():
    with pytest.raises(BenchConfigError) as info:
        build_instrument("mw", "smb100a", {"address": "TCPIP0::h::inst0::INSTR",
                                           "list_name": "no spaces allowed",
                                           "trigger_slope": "up"})
    message = str(info.value)
    assert "instruments.mw.list_name" in message and "instruments.mw.trigger_slope" in message


#: Constructor arguments that are not bench options: what the bench passes, and the doubles
#: and clocks tests inject.
NOT_OPTIONS = {"self", "name", "sample", "resource_manager", "task_factory", "reader_factory",
               "writer_factory", "session_factory", "client_factory", "camera_factory",
               "spinapi", "module", "clock", "sleep"}


def _constructor_defaults(cls):
    params = inspect.signature(cls.__init__).parameters
    return {n: p.default for n, p in params.items()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
            and (n not in NOT_OPTIONS or (n == "clock" and not callable(p.default)))}


def _all_defaults(cls):
    """The keyword arguments of ``cls``, and of its base when it passes **options on."""
    found = _constructor_defaults(cls)
    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        base = next(k for k in cls.__mro__[1:] if "__init__" in vars(k))
        found = {**_all_defaults(base), **found}
    return found


@pytest.mark.parametrize("info", [d for d in DRIVERS if d.options is not None],
                         ids=lambda d: f"{d.kind}-{d.name}")
def test_every_option_model_matches_its_driver(info):
    """The model offers exactly the driver's keyword arguments, with the same defaults (a
    default with a unit, such as "500 MHz", is read by the model's own field)."""
    cls = info.load()
    driver = _all_defaults(cls)
    fields = info.options.model_fields
    assert set(fields) == set(driver), info.name
    for key, field in fields.items():
        if field.is_required():
            assert driver[key] is inspect.Parameter.empty or driver[key] is None, key
            continue
        default = driver[key]
        if default is not None and default != field.default:
            annotation = (Annotated[field.annotation, *field.metadata] if field.metadata
                          else field.annotation)
            adapter = TypeAdapter(annotation)
            default = adapter.validate_python(list(default) if isinstance(default, tuple)
                                              else default)
            if isinstance(field.default, tuple):
                default = tuple(default)
        if isinstance(default, float | tuple) and not isinstance(default, bool):
            assert field.default == pytest.approx(default, rel=1e-12), (info.name, key)
        else:
            assert field.default == default, (info.name, key)


def test_a_relative_sim_model_is_read_from_the_bench_files_folder(tmp_path, monkeypatch):
    lab = tmp_path / "lab"
    (lab / "sims").mkdir(parents=True)
    shutil.copy(sim_path("sg384"), lab / "sims" / "sg384.yaml")
    path = write(lab, f"""
        instruments:
          mw: {{driver: sg384, address: "{SIM_ADDRESSES['sg384']}",
               visa_library: "sims/sg384.yaml@sim"}}
          laser: {{driver: simulated}}
          counter: {{driver: simulated}}
        """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory has no sims/ folder
    bench = load_bench(os.path.relpath(path, elsewhere))
    assert bench.mw.inner.visa_library == f"{(lab / 'sims' / 'sg384.yaml').resolve()}@sim"
    with bench:
        assert bench.mw.identity.startswith("Stanford Research Systems,SG384")


def test_a_missing_sim_model_is_an_error_with_its_line(tmp_path):
    path = write(tmp_path, """
        instruments:
          mw:
            driver: sg384
            address: "TCPIP0::localhost::5025::SOCKET"
            visa_library: "sims/nowhere.yaml@sim"
          laser: {driver: simulated}
          counter: {driver: simulated}
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench_config(path)
    message = str(info.value)
    assert "line 5, instruments.mw.visa_library: pyvisa-sim model 'sims/nowhere.yaml' not " \
           "found" in message
    assert str(tmp_path) in message  # where it looked


def test_a_mapping_takes_its_folder_from_base_dir(tmp_path):
    (tmp_path / "m").mkdir()
    shutil.copy(sim_path("dp800"), tmp_path / "m" / "dp.yaml")
    mapping = {"instruments": {
        "mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
        "counter": {"driver": "simulated"},
        "coil": {"driver": "dp800", "address": SIM_ADDRESSES["dp800"],
                 "visa_library": "m/dp.yaml@sim"}}}
    bench = load_bench(mapping, base_dir=tmp_path)
    assert bench.coil.inner.visa_library.startswith(str(tmp_path.resolve()))
