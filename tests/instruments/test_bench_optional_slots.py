"""The optional slots of a bench (lockin, analog_input, fm_drive, pulser, gated_counter,
camera): built on first use, sharing the simulated sample, guarded by the bench's limits, left
safe with the rest, in snapshots, and reported with their lines when the bench file is wrong."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import yaml

from nvsense.dsp import ClockReference, SoftwareLockIn
from nvsense.instruments import (
    BenchConfigError,
    CapabilityError,
    InstrumentError,
    LimitError,
    load_bench,
)
from nvsense.instruments.analog_input import AnalogInputStream
from nvsense.instruments.camera import Camera
from nvsense.instruments.config import builtin_bench_path
from nvsense.instruments.fm_drive import FMDrive
from nvsense.instruments.gated_counter import GatedCounter
from nvsense.instruments.lockin import LockIn
from nvsense.instruments.pulser import Pulser, mw_duty_cycle
from nvsense.instruments.registry import CORE_SLOTS, DRIVERS, OPTIONAL_SLOTS
from nvsense.pulses import Block, PulseProgram, Repeat, normalised_signal, rabi

CORE_ONLY = {"instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                             "counter": {"driver": "simulated"}}}


def write(tmp_path, text):
    path = tmp_path / "bench.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_the_simulated_bench_has_every_kind_and_an_odmr_run_builds_none_of_them():
    bench = load_bench()
    assert bench.slots == (*CORE_SLOTS, *OPTIONAL_SLOTS)
    with bench:
        bench.laser.on = True
        bench.mw.load_list(np.linspace(2.8e9, 2.94e9, 50), -10.0)
        bench.mw.start_list()
        bench.mw.output = True
        bench.counter.configure(50, 1e-3, trigger_mw=True)
        bench.counter.acquire()
        assert set(bench.instruments) == set(CORE_SLOTS)
        assert bench.sample.photodiode is None and bench.sample.pulsed is None
    assert bench.safe_report == ["mw: RF off, list stopped", "laser: off", "counter: stopped",
                                 "coil: output off"]


def test_a_bench_file_without_instruments_gets_every_simulated_kind_too():
    bench = load_bench({"sample": {"seed": 3}})
    assert set(OPTIONAL_SLOTS) <= set(bench.slots) and "coil" not in bench.slots


def test_each_kind_meets_its_protocol_on_the_simulated_bench():
    with load_bench() as bench:
        assert isinstance(bench.lockin, LockIn)
        assert isinstance(bench.analog_input, AnalogInputStream)
        assert isinstance(bench.fm_drive, FMDrive)
        assert isinstance(bench.pulser, Pulser)
        assert isinstance(bench.gated_counter, GatedCounter)
        assert isinstance(bench.camera, Camera)
        # one sample, one photodiode chain
        chain = bench.sample.photodiode
        assert bench.lockin.inner.bench is chain and bench.analog_input.bench is chain
        assert bench.camera.sample is bench.sample and bench.pulser.inner.sample is bench.sample
        assert bench.camera.frame_shape == (128, 128)  # as simulated.yaml sets it
        assert set(bench.instruments) == {*CORE_SLOTS, *OPTIONAL_SLOTS}
    assert bench.safe_report[4:] == [
        "pulser: stopped, outputs low", "fm_drive: stopped, output 0 V",
        "lockin: capture stopped, sine output down", "analog_input: stopped",
        "gated_counter: stopped", "camera: acquisition stopped"]


def test_a_bench_without_an_optional_slot_says_what_to_add():
    bench = load_bench(CORE_ONLY)
    assert bench.lockin is None and bench.camera is None and not bench.has("pulser")
    with pytest.raises(CapabilityError) as info:
        bench.require("analog_input", "lockin")
    message = str(info.value)
    assert "has no analog_input, lockin" in message
    assert "instruments.lockin (lock-in amplifier), e.g. lockin: {driver: sr860, address:" \
        in message
    assert "driver: nidaq" in message
    with pytest.raises(KeyError, match="not a bench slot"):
        bench.instrument("lockinn")


def test_the_simulated_lockin_scheme_sees_the_derivative_of_the_line():
    """FM drive on the analog input's clock + the simulated photodiode: the 1f signal,
    demodulated with a ClockReference, changes sign across the line and vanishes at its
    centre (the derivative line shape of FM lock-in detection)."""
    bench = load_bench({"sample": {"field": ["0", "0", "0.5 mT"], "axes": [0],
                                   "linewidth": "1 MHz", "contrast": 0.02, "seed": 4,
                                   "photodiode": {"photon_rate": "1e14 /s", "rin": 0}}})
    line = None
    x = {}
    with bench:
        ai, fm = bench.require("analog_input", "fm_drive")
        line = float(bench.sample.line_frequencies()[0, 0, 0])
        bench.laser.on = True
        bench.mw.power = -10.0
        bench.mw.output = True
        for offset in (-0.4e6, 0.0, 0.4e6):
            bench.mw.frequency = line + offset
            rate = ai.configure(["s0.signal"], 200e3, 20_000)
            f = fm.start(10e3, 0.3e6)
            ai.start()
            block = ai.read()
            ai.stop()
            fm.stop()
            lia = SoftwareLockIn(rate, ClockReference(f, rate), time_constant=5e-3, order=2)
            x[offset] = float(lia.process(block.data[0]).x[0, 0, -1])
    assert x[-0.4e6] * x[0.4e6] < 0  # opposite sides of the line, opposite signs
    assert abs(x[0.0]) < 0.1 * min(abs(x[-0.4e6]), abs(x[0.4e6]))


def test_a_rabi_measurement_through_the_bench():
    config = yaml.safe_load(builtin_bench_path("single_nv").read_text(encoding="utf-8"))
    config["sample"]["seed"] = 1
    with load_bench(config) as bench:
        pulser, counter = bench.require("pulser", "gated_counter")
        bench.laser.power, bench.laser.on = 1e-3, True
        bench.mw.frequency = float(bench.sample.line_frequencies()[0, 0].mean())
        bench.mw.power, bench.mw.output = -20.0, True
        program = rabi(np.arange(0, 200e-9, 4e-9), references=("ref0",))
        pulser.upload(program)
        counter.configure(program.windows_per_pass, 50_000)
        counter.arm()
        pulser.start(50_000)
        signal, _ = normalised_signal(program.by_point(counter.read(timeout=60)),
                                      program.readouts)
    # 8 MHz Rabi frequency (single_nv.yaml): bright around 0, darker around the π pulse
    # (62 ns); ~1500 photons a window, so each ratio is within ±4 % (1σ)
    tau = np.asarray(program.sweep.values)
    bright = signal[tau < 14e-9].mean()
    dark = signal[(tau > 50e-9) & (tau < 76e-9)].mean()
    assert bright == pytest.approx(1.0, abs=0.12)
    assert dark < bright - 0.08


def test_camera_frames_through_the_bench():
    with load_bench() as bench:
        camera = bench.camera
        camera.exposure = 1e-3
        camera.start(buffer_frames=10)
        block = camera.read_frames(min_frames=3, timeout=1.0)
        assert block.frames.shape[1:] == (128, 128) and len(block) >= 3
    assert "camera: acquisition stopped" in bench.safe_report
    assert not camera.acquiring


def test_an_unreachable_optional_instrument_is_named_and_the_rest_stays_connected():
    bench = load_bench({"sample": {"faults": {"lockin_unreachable": True}}})
    with bench:
        with pytest.raises(InstrumentError, match=r"lockin \(simulated\): connect failed.*"
                                                  r"sample\.faults"):
            bench.lockin  # noqa: B018
        assert bench.connected and bench.mw.output is False
        assert "lockin" in bench.connect_errors
        snap = bench.snapshot()
        assert "no response" in snap["instruments"]["lockin"]["error"]
        assert snap["instruments"]["camera"] == {"driver": "simulated", "used": False}
        json.dumps(snap)
    assert not any(line.startswith("lockin") for line in bench.safe_report)


def test_one_optional_instrument_failing_to_be_safe_does_not_stop_the_others(monkeypatch):
    bench = load_bench()
    with bench:
        camera, pulser = bench.camera, bench.pulser

        def broken() -> None:
            raise InstrumentError("camera", "stop", "cable pulled")

        monkeypatch.setattr(camera, "safe", broken)
        pulser.upload(rabi(np.arange(0, 100e-9, 20e-9)))
        pulser.start(None)
    assert "camera: NOT made safe: camera: stop failed: cable pulled" in bench.safe_report
    assert "pulser: stopped, outputs low" in bench.safe_report and not pulser.running
    assert "camera" in bench.safe_errors


def test_the_bench_limits_bound_the_modulation_and_the_microwave_duty_cycle():
    bench = load_bench({"limits": {"max_modulation_voltage": "0.5 V",
                                   "max_mw_duty_cycle": "10 %"}})
    with bench:
        lockin, pulser = bench.lockin, bench.pulser
        lockin.sine_amplitude = 0.4
        with pytest.raises(LimitError) as info:
            lockin.sine_amplitude = 0.6
        assert info.value.quantity == "modulation_voltage" and info.value.limit == 0.5
        assert lockin.sine_amplitude == pytest.approx(0.4)
        assert lockin.limits.sine_amplitude_max == 0.5  # the effective limit
        with pytest.raises(LimitError, match="modulation drive 1 V is above 500 mV"):
            bench.fm_drive.start(10e3, 0.3e6)  # the simulated drive plays ±1 V
        cool = rabi(np.arange(0, 100e-9, 20e-9))
        hot = rabi(np.linspace(5e-6, 10e-6, 3))
        pulser.upload(cool)
        with pytest.raises(LimitError) as info:
            pulser.check(hot)
        assert info.value.quantity == "mw_duty_cycle" and info.value.limit == 0.1
        with pytest.raises(LimitError, match="max_mw_duty_cycle"):
            pulser.upload(hot)
        assert pulser.compiled.program is cool
        snap = bench.snapshot()
        assert snap["limits"]["max_mw_duty_cycle"] == 0.1
        assert snap["instruments"]["pulser"]["effective_limits"]["max_mw_duty_cycle"] == 0.1


def test_the_microwave_duty_cycle_counts_repeats_without_unrolling():
    program = PulseProgram([Block("init", 1000, ("laser",)),
                            Repeat("xy", 100, (Block("pi", 20, ("mw",)), Block("wait", 80))),
                            Block("read", 1000, ("laser", "gate"), readout="signal")])
    # 100 × 20 ns of microwave in 1000 + 100 × 100 + 1000 ns
    assert mw_duty_cycle(program) == pytest.approx(2000 / 12000)


def test_mistakes_in_optional_slots_are_reported_with_their_lines(tmp_path):
    path = write(tmp_path, """
        instruments:
          mw: {driver: simulated}
          laser: {driver: simulated}
          counter: {driver: simulated}
          lockin: {driver: sr860, adress: "TCPIP0::1.2.3.4::inst0::INSTR"}
          pulser:
            driver: simulated
            channels: {lasr: 0, mw: 1}
          camera: {driver: simulated, sensor: [4, 4]}
          gated_counter: {driver: timetagger, gate_channel: 1, click_channels: [1, 2]}
          analog_input:
            driver: nidaq
            channels: {s0.signal: ai0, sync: port0/line1}
        limits: {max_mw_duty_cycle: 2}
        """)
    with pytest.raises(BenchConfigError) as info:
        load_bench(path)
    message = str(info.value)
    assert "8 problems" in message
    assert "line 5, instruments.lockin: driver sr860 needs address" in message
    assert ("line 5, instruments.lockin.adress: driver 'sr860' has no option 'adress'; "
            "did you mean 'address'?") in message
    assert "line 8, instruments.pulser.channels: channels: unknown logical channel 'lasr'" \
        in message
    assert "line 9, instruments.camera.sensor" in message
    assert "line 10, instruments.gated_counter: gate_channel 1 is also a click channel" \
        in message
    assert "line 13, instruments.analog_input.channels: channel sync: 'port0/line1' is not " \
           "an analog input" in message
    assert "line 14, limits.max_mw_duty_cycle" in message


def test_an_unknown_driver_in_an_optional_slot_lists_the_known_ones():
    with pytest.raises(BenchConfigError) as info:
        load_bench({**CORE_ONLY, "instruments": {**CORE_ONLY["instruments"],
                                                 "camera": {"driver": "basler"}}})
    assert "known camera drivers: simulated, andor, dcam, vimbax" in str(info.value)
    with pytest.raises(BenchConfigError, match=r"'sr860' drives a lock-in amplifier, not a "
                                               r"pulse generator"):
        load_bench({"instruments": {**CORE_ONLY["instruments"], "pulser": {"driver": "sr860"}}})


def test_a_simulated_reader_with_a_real_source_is_warned_about(tmp_path):
    from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library

    bench = load_bench({"instruments": {
        "mw": {"driver": "sg384", "address": SIM_ADDRESSES["sg384"],
               "visa_library": sim_library("sg384")},
        "laser": {"driver": "simulated"}, "counter": {"driver": "nidaq"},
        "lockin": {"driver": "simulated"}}})
    assert any(w.startswith("instruments.lockin is simulated, but mw (sg384) is real")
               for w in bench.warnings)


@pytest.mark.parametrize("info", [d for d in DRIVERS if d.kind in OPTIONAL_SLOTS],
                         ids=lambda d: f"{d.kind}-{d.name}")
def test_every_optional_driver_is_built_from_its_example_entry_without_io(info):
    """The construction contract: the registry's example entry validates, the bench builds the
    driver under its slot's name and connects nothing."""
    entry = {"driver": info.name, **info.example}
    bench = load_bench({"instruments": {**CORE_ONLY["instruments"], info.kind: entry}})
    instrument = bench.instrument(info.kind)
    inner = getattr(instrument, "inner", instrument)
    assert type(inner).__name__ == info.target.rpartition(":")[2]
    assert inner.name == info.kind
    assert not bench.connected and info.kind not in bench.connect_errors
    assert getattr(inner, "connected", False) is False
