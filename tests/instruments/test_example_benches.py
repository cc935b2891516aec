"""The example bench files of a lock-in lab, a pulsed lab and a widefield lab load, and their
instruments work together from those entries: VISA instruments on their pyvisa-sim models, NI
cards, the Pulse Streamer and the camera on doubles (no vendor driver needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from camera_doubles import andor  # tests/instruments (conftest.py)
from nidaq_doubles import FakeDAQ
from pulser_doubles import FakeClient

from nvsense.instruments import BUILTIN_BENCHES, load_bench
from nvsense.instruments.camera import TriggerMode
from nvsense.instruments.config import builtin_bench_path
from nvsense.instruments.drivers import SIM_ADDRESSES, sim_path
from nvsense.instruments.errors import LimitError
from nvsense.instruments.pulser import mw_duty_cycle
from nvsense.pulses import rabi


def load_example(name: str, tmp_path: Path, sims: dict[str, str],
                 change: dict[str, Any] | None = None):
    """The built-in example ``name``, its VISA instruments on private copies of their
    pyvisa-sim models (the rest of every entry as the file gives it)."""
    path = builtin_bench_path(name)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for slot, driver in sims.items():
        model = shutil.copy(sim_path(driver), tmp_path / f"{slot}.yaml")
        data["instruments"][slot].update(address=SIM_ADDRESSES[driver],
                                         visa_library=f"{model}@sim")
    data["instruments"].update(change or {})
    return load_bench(data, base_dir=path.parent), data


def test_the_examples_are_built_in_benches_that_validate():
    for name in ("example_lockin", "example_pulsed", "example_widefield"):
        assert name in BUILTIN_BENCHES
        bench = load_bench(name)  # validated, built, nothing connected
        assert bench.config.name == name and not bench.warnings
    assert set(load_bench("example_lockin").optional_slots) == {"analog_input", "fm_drive",
                                                                 "lockin"}


def test_the_lockin_lab(tmp_path):
    bench, entries = load_example("example_lockin", tmp_path,
                                  {"mw": "sg384", "laser": "obis", "lockin": "sr860"})
    daq = FakeDAQ()
    bench.counter._task_factory, bench.counter._reader_factory = (daq.task_factory,
                                                                   daq.reader_factory)
    ai, fm, lockin = (bench.instrument(s) for s in ("analog_input", "fm_drive", "lockin"))
    ai._task_factory, ai._reader_factory = daq.task_factory, daq.ai_reader_factory
    fm._task_factory, fm._writer_factory = daq.task_factory, daq.writer_factory
    with bench:
        assert set(ai.available_channels) == set(entries["instruments"]["analog_input"]
                                                 ["channels"])
        bench.mw.frequency = 2.87e9
        assert ai.configure(["s0.signal", "s0.reference", "sync"], 200e3, 2000) == 200e3
        assert fm.start(10e3, 0.35e6) == 10e3
        task, data = daq.ao_writes[-1]
        assert task.role == "ao" and np.max(np.abs(data)) == pytest.approx(1.0)  # amplitude
        timing = daq.events("ao", "cfg_samp_clk_timing")[-1]
        assert timing["source"] == "/Dev1/ai/SampleClock"
        daq.ai_data = np.zeros((3, 4000))
        ai.start()
        assert ai.read().data.shape == (3, 2000)
        lockin.time_constant = 3e-3
        lockin.sine_amplitude = 0.5
        with pytest.raises(LimitError, match="max_modulation_voltage"):
            lockin.sine_amplitude = 1.5  # the source's MOD IN takes ±1 V
        assert lockin.sine_amplitude == pytest.approx(0.5)  # nothing was sent
        assert "SR860" in lockin.identity
        snap = bench.snapshot()
        json.dumps(snap)
        assert snap["instruments"]["lockin"]["time_constant"] == {"value": 3e-3, "unit": "s"}
        assert snap["instruments"]["analog_input"]["configuration"]["sample_rate"] == \
            {"value": 200e3, "unit": "S/s"}
        assert snap["instruments"]["mw"]["fm"]["enabled"] is True
        assert snap["limits"]["max_modulation_voltage"] == {"value": 1.0, "unit": "V"}
    assert bench.safe_report == [
        "mw: RF off, list stopped", "laser: standby", "counter: stopped",
        "fm_drive: stopped, output 0 V", "lockin: capture stopped, sine output down",
        "analog_input: stopped"]
    assert daq.events("ao", "write")[-1]["data"] == 0.0
    assert all(t.closed for t in daq.tasks)


def test_the_pulsed_lab(tmp_path):
    pytest.importorskip("pulsestreamer")
    bench, _ = load_example("example_pulsed", tmp_path, {"mw": "sg384", "laser": "obis"})
    daq = FakeDAQ()
    bench.counter._task_factory, bench.counter._reader_factory = (daq.task_factory,
                                                                   daq.reader_factory)
    pulser, counter = bench.instrument("pulser"), bench.instrument("gated_counter")
    clients: list[FakeClient] = []
    pulser._factory = lambda address: clients.append(FakeClient(address)) or clients[-1]
    counter._task_factory, counter._reader_factory = daq.task_factory, daq.reader_factory
    program = rabi(np.arange(0, 200e-9, 20e-9), pi_pulse=50e-9, references=("ref0", "ref1"))
    assert mw_duty_cycle(program) < 0.2
    with bench:
        assert clients[0].address == "169.254.8.2"
        assert pulser.channel_map.has_iq and pulser.channel_map.digital["gate"] == 2
        compiled = pulser.upload(program)
        assert compiled.windows_per_pass == program.windows_per_pass
        counter.configure(program.windows_per_pass, 100)
        daq.cumulative = (np.arange(1, 100 * program.windows_per_pass + 1) * 3).astype(
            np.uint32)  # 3 photons in every window
        counter.arm()
        pulser.start(100)
        sums = counter.read(timeout=5)
        np.testing.assert_array_equal(sums, np.full(program.windows_per_pass, 300.0))
        hot = rabi(np.linspace(5e-6, 10e-6, 4))  # microwave on most of each pass
        with pytest.raises(LimitError, match="max_mw_duty_cycle"):
            pulser.upload(hot)
        assert pulser.compiled.program is program  # the device keeps what it had
        pause = {d["name"]: d["value"] for d in daq.events("gated", "pause_trigger")}
        assert pause["dig_lvl_src"] == "/Dev1/PFI1"
        snap = bench.snapshot()["instruments"]
        json.dumps(snap)
        assert snap["pulser"]["program"]["name"] == program.name
        assert snap["pulser"]["identity"].startswith("Swabian Instruments,Pulse Streamer 8/2")
        assert snap["pulser"]["effective_limits"]["max_mw_duty_cycle"] == 0.2
        assert snap["gated_counter"]["configuration"] == {
            "windows_per_pass": program.windows_per_pass, "passes": 100}
    assert "pulser: stopped, outputs low" in bench.safe_report
    assert "gated_counter: stopped" in bench.safe_report


def test_the_pulsed_lab_with_a_time_tagger_validates(tmp_path):
    bench, _ = load_example("example_pulsed", tmp_path, {}, change={
        "gated_counter": {"driver": "timetagger", "click_channels": [1, 3], "gate_channel": 2,
                          "trigger_level": "0.5 V"}})
    counter = bench.instrument("gated_counter")
    assert counter.click_channels == [1, 3] and counter.trigger_level == 0.5


def test_the_widefield_lab(tmp_path):
    bench, _ = load_example("example_widefield", tmp_path, {"mw": "sg384", "laser": "cobolt"})
    daq = FakeDAQ()
    bench.counter._task_factory, bench.counter._reader_factory = (daq.task_factory,
                                                                   daq.reader_factory)
    camera = bench.instrument("camera")
    _, fake = andor()
    camera._factory = lambda: fake
    with bench:
        assert camera.calibration.electrons_per_adu == 0.25
        camera.exposure = 5e-3
        camera.trigger_mode = TriggerMode.EXPOSURE_OUT
        assert fake.attributes["AuxiliaryOutSource"].value == "FireAny"
        assert camera.mw_trigger_lead == 0
        freqs = np.linspace(2.80e9, 2.94e9, 11)
        bench.mw.load_list(np.roll(freqs, camera.mw_trigger_lead), -10.0)
        bench.mw.start_list()
        snap = bench.snapshot()["instruments"]["camera"]
        assert snap["trigger_mode"] == "exposure_out"
        assert snap["exposure"]["value"] == pytest.approx(5e-3, rel=0.01)
    assert "camera: acquisition stopped" in bench.safe_report
    assert fake.trigger == "int"  # left on internal trigger
