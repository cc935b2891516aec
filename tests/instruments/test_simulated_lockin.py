"""The simulated lock-in (software lock-in on the simulated photodiode) and the simulated
multi-channel analog input: protocol behaviour, FM drive from the oscillator, the dispersive
signal the physics predicts, captures in blocks, shot-noise-limited output noise."""

import math

import numpy as np
import pytest

from nvsense.dsp import rc_enbw
from nvsense.instruments.analog_input import AnalogInputStream
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.lockin import LockIn
from nvsense.instruments.simulated import SimulatedLaser, SimulatedMicrowave, SimulatedSample
from nvsense.instruments.simulated.analog_input import SimulatedAnalogInput
from nvsense.instruments.simulated.lockin import SimulatedLockIn
from nvsense.instruments.simulated.photodiode import (
    LaserNoise,
    PhotodiodeSensor,
    SimulatedPhotodiodeBench,
)
from nvsense.physics.lockin_sensitivity import ELEMENTARY_CHARGE_C as Q
from nvsense.physics.lockin_sensitivity import fm_first_harmonic, fm_mean_dip

FS = 200e3
DEVIATION = 0.35e6


def setup(photon_rate=1e15, laser_noise=None):
    sample = SimulatedSample({"field": ["0", "0", "2 mT"], "seed": 2, "axes": [0],
                              "linewidth": "1 MHz", "contrast": 0.01})
    mw, laser = SimulatedMicrowave("mw", sample), SimulatedLaser("laser", sample)
    mw.connect()
    laser.connect()
    laser.on = True
    mw.power = -10
    mw.output = True
    line = float(sample.line_frequencies()[0, 1, 0])
    mw.frequency = line
    mw.set_fm(DEVIATION, source="external")
    bench = SimulatedPhotodiodeBench(
        PhotodiodeSensor(sample, {"photon_rate": photon_rate, "quantum_efficiency": 1.0}),
        sample_rate=FS, laser_noise=laser_noise or LaserNoise(enabled=False), seed=5)
    lia = SimulatedLockIn("lockin", bench)
    lia.connect()
    lia.reference_frequency = 10e3
    lia.time_constant = 1e-3
    lia.filter_order = 4
    lia.sine_amplitude = 1.0
    return sample, mw, bench, lia, line


def test_meets_the_lock_in_protocol():
    *_, lia, _ = setup()
    assert isinstance(lia, LockIn)
    assert lia.limits.max_filter_order == 8


def test_oscillator_drives_the_fm_and_x_follows_the_exact_first_harmonic():
    sample, mw, _bench, lia, line = setup()
    v0 = 1e4 * Q * 1e15
    for detuning in (-1.0e6, -0.3e6, 0.0, 0.5e6):
        mw.set_fm(DEVIATION, enabled=False)
        mw.frequency = line + detuning
        mw.set_fm(DEVIATION, source="external")
        sample.advance(0.02)  # let the filter settle (20 time constants)
        x, y = lia.read_xy()
        expected = v0 * fm_first_harmonic(detuning, 1e6, 0.01, DEVIATION) / math.sqrt(2)
        assert x == pytest.approx(expected, abs=3e-6 * v0)
        assert abs(y) < 3e-6 * v0


def test_external_reference_locks_to_the_sources_internal_fm():
    _sample, mw, _bench, lia, line = setup()
    lia.reference_source = "external"
    mw.set_fm(DEVIATION, enabled=False)
    mw.frequency = line + 0.3e6
    mw.set_fm(DEVIATION, rate=12.5e3)  # internal FM; its sync is recorded
    with pytest.raises(InstrumentError, match="internal' first"):
        lia.reference_frequency = 1e3
    x, _ = lia.read_xy()
    v0 = 1e4 * Q * 1e15
    assert lia.reference_frequency == pytest.approx(12.5e3, rel=1e-5)
    assert x == pytest.approx(v0 * fm_first_harmonic(0.3e6, 1e6, 0.01, DEVIATION)
                              / math.sqrt(2), rel=2e-3)


def test_capture_in_blocks_and_its_noise_is_the_shot_noise_of_the_photocurrent():
    rig = setup()
    lia = rig[3]
    # τ = 1 ms at 48 dB/oct: the 10 kHz leak of the photodiode's DC level (which a 5 kS/s
    # capture would alias to 0 Hz) is 1.6 V·(2π·10 kHz·τ)^-8 ≈ 4e-15 V
    lia.filter_order = 8
    rate = lia.configure_capture(100_000, 5e3)
    lia.start_capture()
    blocks = []
    while not blocks or not blocks[-1].complete:
        blocks.append(lia.read_capture())
    x = np.concatenate([b.x for b in blocks])
    assert x.size == 100_000 and len(blocks) == 400
    assert blocks[3].first_index == 750
    assert np.allclose(np.diff(np.concatenate([b.time for b in blocks])), 1 / rate)
    # at the line centre X is 0 on average; its variance is 2qI·G²·ENBW (RMS output)
    current = Q * 1e15 * (1 - fm_mean_dip(0.0, 1e6, 0.01, DEVIATION))
    enbw = rc_enbw(8, 1e-3)
    expected = 1e4 * math.sqrt(2 * Q * current * enbw)
    independent = 2 * enbw * 20.0
    # the std is within 5.5/√(2N) of its value, the mean within 5.5/√N (p > 1 - 1e-6)
    assert np.std(x[100:]) == pytest.approx(expected, rel=5.5 / math.sqrt(2 * independent))
    assert abs(np.mean(x[100:])) < 5.5 * expected / math.sqrt(independent)


def test_capture_rate_must_divide_the_sample_rate_and_limits_send_nothing():
    *_, lia, _ = setup()
    with pytest.raises(LimitError, match="nearest"):
        lia.configure_capture(100, 3e3)
    with pytest.raises(LimitError, match="1 to 8"):
        lia.filter_order = 9
    with pytest.raises(LimitError, match="outside"):
        lia.reference_frequency = 60e3  # the limit is fs/4
    with pytest.raises(InstrumentError, match="no capture running"):
        lia.read_capture()


def test_overload_is_flagged_and_safe_stops_the_drive():
    sample, _mw, bench, lia, _line = setup()
    lia.sensitivity = 0.5  # the photodiode sits at 1.6 V
    sample.advance(0.01)
    lia.read_xy()
    assert lia.overloaded
    lia.safe()
    assert bench.fm_drive is None


def test_analog_input_digitises_the_chosen_channels_in_blocks():
    _sample, _mw, bench, _lia, _line = setup(laser_noise=LaserNoise())
    ai = SimulatedAnalogInput("ai", bench, input_range=2.0, resolution_bits=16)
    ai.connect()
    assert isinstance(ai, AnalogInputStream)
    ai.configure(["s0.signal", "s0.reference", "sync"], FS, 10_000)
    ai.start()
    first, second = ai.read(), ai.read()
    assert first.data.shape == (3, 10_000)
    assert second.first_sample == 10_000
    assert second.time[0] - first.time[-1] == pytest.approx(1 / FS)
    step = 4.0 / 2 ** 16
    assert np.allclose(first.data / step, np.round(first.data / step))
    assert first.overrange == (False, False, False)
    np.testing.assert_allclose(first.channel("sync"), np.sin(2 * np.pi * 10e3 * (
        first.time - first.time[0])), atol=step)
    with pytest.raises(KeyError, match="no channel"):
        first.channel("s1.signal")


def test_analog_input_flags_overrange_and_refuses_bad_configurations():
    _sample, _mw, bench, _lia, _line = setup()
    ai = SimulatedAnalogInput("ai", bench, input_range=1.0)
    ai.connect()
    ai.configure(["s0.signal"], FS, 100)
    ai.start()
    block = ai.read()
    assert block.overrange == (True,)  # 1.6 V on a ±1 V range: clipped, and said so
    assert block.data.max() == 1.0
    with pytest.raises(LimitError, match="bench's"):
        ai.configure(["s0.signal"], 100e3, 100)
    with pytest.raises(LimitError, match="distinct names"):
        ai.configure(["s0.signl"], FS, 100)
    with pytest.raises(LimitError, match="aggregate"):
        SimulatedAnalogInput("ai", bench, max_aggregate_rate=5e5).configure(
            ["s0.signal", "s0.reference", "sync"], FS, 100)
    with pytest.raises(ValueError, match="input_range"):
        SimulatedAnalogInput("ai", bench, input_range=3.0)
