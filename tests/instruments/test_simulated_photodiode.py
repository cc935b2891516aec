"""The simulated photodiode chain against independent computations: photocurrent and shot
noise √(2qI), laser noise spectrum seen by both photodiodes, ODMR line shape with 14N
hyperfine lines at the instantaneous microwave frequency, FM lock-in signal, temperature
drift of D, environment and test source, and continuity across blocks."""

import math

import numpy as np
import pytest
from scipy import signal

from nvsense.dsp import AdaptiveSubtraction, SoftwareLockIn
from nvsense.instruments.simulated import SimulatedLaser, SimulatedMicrowave, SimulatedSample
from nvsense.instruments.simulated.photodiode import (
    LaserNoise,
    MicrowaveNoise,
    PhotodiodeConfig,
    PhotodiodeSensor,
    SimulatedPhotodiodeBench,
    SineDrive,
)
from nvsense.physics import A_PARALLEL_14N_HZ, NV_AXES, transition_frequencies, zfs_at
from nvsense.physics.lockin_sensitivity import ELEMENTARY_CHARGE_C as Q
from nvsense.physics.lockin_sensitivity import fm_first_harmonic

FS = 200e3
FIELD = (0.0, 0.0, 2e-3)
QUIET = LaserNoise(enabled=False)


def make_sample(**config):
    options = {"field": [str(b) + " T" for b in FIELD], "seed": 1, "axes": [0],
               "linewidth": "1 MHz", "contrast": 0.01} | config
    sample = SimulatedSample(options)
    mw, laser = SimulatedMicrowave("mw", sample), SimulatedLaser("laser", sample)
    mw.connect()
    laser.connect()
    laser.on = True
    mw.power = -10
    return sample, mw


def upper_line(sample):
    """The ms=0 -> +1 line of axis 0, from the Hamiltonian (independent of the chain)."""
    f = transition_frequencies(np.array(FIELD), zfs_at(300.0), 0.0, NV_AXES[[0]])
    return float(f[0, 1])


def bench_for(sample, sample_rate=FS, **kwargs):
    config = kwargs.pop("config", {"photon_rate": 1e15, "quantum_efficiency": 1.0})
    kwargs.setdefault("laser_noise", QUIET)
    return SimulatedPhotodiodeBench(PhotodiodeSensor(sample, config), sample_rate=sample_rate,
                                    seed=7, **kwargs)


def asd(x, fs, nperseg):
    f, p = signal.welch(x, fs, nperseg=nperseg)
    return f, np.sqrt(p)


def test_photocurrent_and_its_shot_noise():
    sample, mw = make_sample()
    mw.output = False
    bench = bench_for(sample, config={"photon_rate": 5e14, "quantum_efficiency": 0.8,
                                      "transimpedance": 2e4})
    v = bench.read(400_000).data["s0.signal"]
    current = Q * 0.8 * 5e14
    assert v.mean() == pytest.approx(2e4 * current, rel=1e-5)
    f, a = asd(v, FS, 4096)
    band = (f > 1e3) & (f < 90e3)
    # √(2qI) one-sided: ~1800 bins × 195 half-overlapping segments: the ASD scatters by
    # ~0.3 %; 3 % is far outside it
    assert np.mean(a[band] ** 2) ** 0.5 == pytest.approx(2e4 * math.sqrt(2 * Q * current),
                                                         rel=0.03)


def test_laser_noise_spectrum_is_seen_by_both_photodiodes():
    sample, mw = make_sample()
    mw.output = False
    rin = LaserNoise(white=1e-5, corner=2e3)
    bench = bench_for(sample, sample_rate=20e3, laser_noise=rin,
                      config={"photon_rate": 1e15, "reference_photon_rate": 4e14,
                              "quantum_efficiency": 1.0})
    block = bench.read(400_000)
    s, r = block.data["s0.signal"], block.data["s0.reference"]
    for x in (s, r):
        f, a = asd(x / x.mean(), 20e3, 8192)
        for f0 in (50.0, 300.0, 5e3):
            near = (f > f0 * 0.9) & (f < f0 * 1.1)
            expected = 1e-5 * math.sqrt(1 + 2e3 / f0)
            # shot noise (√(2/R) ≈ 4.5e-8 and 7e-8 /√Hz) is negligible against 1e-5
            assert np.mean(a[near] ** 2) ** 0.5 == pytest.approx(expected, rel=0.1)
    # one laser: the reference photodiode cancels it, leaving the two shot noises
    cleaned = AdaptiveSubtraction(20e3).process(s, r).cleaned
    f, a = asd(cleaned, 20e3, 8192)
    # gain g = 1e15/4e14 = 2.5: σ² = 2q·I_s + g²·2q·I_r
    shot = 1e4 * Q * math.sqrt(2 * 1e15 + 2.5 ** 2 * 2 * 4e14)
    band = (f > 100) & (f < 9e3)
    assert np.mean(a[band] ** 2) ** 0.5 == pytest.approx(shot, rel=0.05)


def test_odmr_line_shape_with_14n_hyperfine_at_the_microwave_frequency():
    sample, mw = make_sample(nucleus="14N", linewidth="300 kHz", contrast=0.03)
    mw.output = True
    bench = bench_for(sample, sample_rate=20e3)
    centre = upper_line(sample)
    splitting = abs(A_PARALLEL_14N_HZ)
    detunings = np.linspace(-4e6, 4e6, 81)
    measured = []
    for d in detunings:
        mw.frequency = centre + d
        measured.append(bench.read(200).data["s0.signal"].mean())
    v0 = 1e4 * Q * 1e15
    width, c_line = 300e3, 0.03 / 3  # each 14N component holds a third of the contrast
    lines = centre + splitting * np.array([-1, 0, 1])
    hw = width / 2
    x = (centre + detunings)[:, None] - lines[None, :]
    expected = v0 * (1 - np.sum(c_line * hw ** 2 / (x ** 2 + hw ** 2), axis=1))
    # the lower transition of this axis is 130 MHz away; its tail is < 1e-7
    assert np.max(np.abs(np.array(measured) - expected)) < 2e-4 * v0
    # the three dips are where the Hamiltonian and A∥ put them
    minima = detunings[signal.argrelmin(np.array(measured), order=5)[0]]
    assert minima == pytest.approx([-splitting, 0.0, splitting], abs=0.11e6)


@pytest.mark.parametrize("detuning", [-0.6e6, -0.2e6, 0.0, 0.35e6])
def test_fm_signal_demodulates_to_the_exact_first_harmonic(detuning):
    sample, mw = make_sample()
    mw.output = True
    deviation = 0.35e6
    mw.frequency = upper_line(sample) + detuning
    mw.set_fm(deviation, rate=10e3)  # internal FM: m(t) = sin(2π·rate·t)
    bench = bench_for(sample)
    block = bench.read(40_000)
    assert bench.modulation_phase_deg() == 0.0
    lia = SoftwareLockIn(FS, 10e3, time_constant=2e-3, order=4, scale="peak")
    x = lia.process(block.data["s0.signal"]).x[0, 0, -1]
    v0 = 1e4 * Q * 1e15
    expected = v0 * fm_first_harmonic(detuning, 1e6, 0.01, deviation)
    # shot noise in a 1/(8·2ms) ≈ 31 Hz ENBW: ~1e-6 of v0
    assert x == pytest.approx(expected, abs=2e-5 * v0)
    np.testing.assert_allclose(block.data["sync"], np.sin(2 * np.pi * 10e3 * block.time),
                               atol=1e-9)


def test_external_fm_follows_the_drive_on_the_acquisition_clock():
    sample, mw = make_sample()
    mw.output = True
    mw.frequency = upper_line(sample)
    mw.set_fm(0.3e6, source="external")
    bench = bench_for(sample, fm_drive=SineDrive(5e3, amplitude=0.5, phase_deg=30.0))
    block = bench.read(1000)
    t = block.time - block.time[0]
    expected = 0.5 * np.sin(2 * np.pi * 5e3 * t + math.radians(30))
    np.testing.assert_allclose(block.data["sync"], expected, atol=1e-12)
    np.testing.assert_allclose(block.truth["s0.frequency"],
                               upper_line(sample) + 0.3e6 * expected, rtol=0, atol=1e-3)
    assert bench.modulation_phase_deg() == 30.0


def test_temperature_drift_moves_d_and_the_lines():
    sample, mw = make_sample()
    mw.output = True
    mw.frequency = upper_line(sample) + 0.5e6  # on the flank: the signal follows the line
    bench = bench_for(sample, sample_rate=20e3,
                      config={"photon_rate": 1e15, "quantum_efficiency": 1.0,
                              "temperature_drift": 0.5})
    block = bench.read(40_000)  # 2 s: +1 K, D moves by -74.2 kHz
    assert block.truth["s0.zfs_shift"][-1] == pytest.approx(-74.2e3 * 0.5 * (2 - 5e-5),
                                                            rel=1e-6)
    v = block.data["s0.signal"]
    hw, v0 = 0.5e6, 1e4 * Q * 1e15
    for k in (0, -1):
        # the upper line moves with D (dν/dD = 1 on axis)
        x = 0.5e6 - block.truth["s0.zfs_shift"][k]
        expected = v0 * (1 - 0.01 * hw ** 2 / (x ** 2 + hw ** 2))
        window = slice(0, 2000) if k == 0 else slice(-2000, None)
        assert v[window].mean() == pytest.approx(expected, abs=2e-6 * v0 + abs(
            v0 * 0.01 * 2 * hw ** 2 * x / (x ** 2 + hw ** 2) ** 2 * 74.2e3 * 0.05))


def test_environment_and_test_source_reach_the_sensors_with_their_gains():
    sample, mw = make_sample()
    mw.output = False
    fs = 5e3
    env = SimulatedPhotodiodeBench.make_environment(fs, 3, mains_frequency=60.0,
                                                    mains_amplitude=50e-9, urban_noise=0.0,
                                                    urban_floor=0.0)
    src = SimulatedPhotodiodeBench.make_test_source(3, rhythm_amplitude=0.0,
                                                    evoked_amplitude=1e-12, jitter=0.05)
    near = PhotodiodeSensor(sample, {"flux_concentrator_gain": 10.0}, name="near")
    far = PhotodiodeSensor(sample, {"source_coupling": 0.1, "environment_gain": 1.02},
                           name="far")
    bench = SimulatedPhotodiodeBench([near, far], sample_rate=fs, laser_noise=QUIET,
                                     environment=env, test_source=src, seed=3)
    block = bench.read(int(3.2 * fs))
    t = block.time
    mains = env.mains(t)
    np.testing.assert_allclose(block.truth["near.environment"], 10 * mains, rtol=1e-12)
    np.testing.assert_allclose(block.truth["far.environment"], 1.02 * mains, rtol=1e-12)
    np.testing.assert_allclose(block.truth["far.source"], 0.1 * block.truth["near.source"] / 10)
    # the evoked responses peak at the latency after each trigger edge, at their amplitude
    trig = block.data["trigger"]
    edges = t[1:][(trig[1:] > 2.5) & (trig[:-1] < 2.5)]
    assert edges.size == 3
    assert np.allclose(edges, src.onsets_between(0, 3.2), atol=1 / fs)
    for onset in edges:
        window = (t >= onset) & (t < onset + 0.3)
        peak_time = t[window][np.argmax(block.truth["near.source"][window])]
        assert peak_time - onset == pytest.approx(0.1, abs=2 / fs)
        assert block.truth["near.source"][window].max() == pytest.approx(10e-12, rel=1e-3)
    channels = bench.channels
    assert channels == ("near.signal", "near.reference", "far.signal", "far.reference", "sync",
                        "trigger")


def test_urban_noise_is_one_over_f_at_its_stated_level():
    env = SimulatedPhotodiodeBench.make_environment(1e3, 5, mains_amplitude=0.0,
                                                    urban_noise=1e-9, urban_floor=1e-11)
    b = env.field(np.arange(2_000_000) / 1e3)
    f, a = asd(b, 1e3, 16384)
    for f0 in (1.0, 10.0):
        near = (f > 0.8 * f0) & (f < 1.25 * f0)
        assert np.mean(a[near] ** 2) ** 0.5 == pytest.approx(
            1e-9 / math.sqrt(f0) * math.sqrt(1 + f0 / 1e4), rel=0.15)


def test_rhythm_is_at_ten_hertz():
    src = SimulatedPhotodiodeBench.make_test_source(1, rhythm_amplitude=2e-12,
                                                    evoked_amplitude=0.0)
    t = np.arange(0, 20, 1e-3)
    f, a = asd(src.field(t), 1e3, 4096)
    assert f[np.argmax(a)] == pytest.approx(10.0, abs=0.3)


def test_microwave_amplitude_noise_enters_through_the_contrast():
    sample, mw = make_sample()
    mw.output = True
    mw.frequency = upper_line(sample)  # line centre: signal = v0·(1 − C(P))
    noise = MicrowaveNoise(amplitude_white=1e-3)
    bench = bench_for(sample, sample_rate=20e3, microwave_noise=noise)
    v = bench.read(200_000).data["s0.signal"]
    v0 = 1e4 * Q * 1e15
    # C(P) = C_sat·s/(1+s), s = 1 at -10 dBm: dC/d(δP/P) = C_sat·s/(1+s)² = C/2
    expected = v0 * 0.01 / 2 * 1e-3
    shot = 1e4 * math.sqrt(2 * Q * v0 / 1e4)
    f, a = asd(v, 20e3, 4096)
    band = (f > 100) & (f < 9e3)
    assert np.mean(a[band] ** 2) ** 0.5 == pytest.approx(math.hypot(expected, shot), rel=0.05)


def test_microwave_phase_noise_shifts_the_instantaneous_frequency():
    sample, mw = make_sample()
    mw.output = True
    mw.frequency = upper_line(sample)
    bench = bench_for(sample, sample_rate=20e3,
                      microwave_noise=MicrowaveNoise(phase_white=1e-4))
    offset = bench.read(200_000).truth["s0.frequency"] - upper_line(sample)
    f, a = asd(offset, 20e3, 4096)
    # dφ/dt / 2π of white phase noise: ASD f·1e-4 Hz/√Hz (the backward difference reads
    # (fs/π)·sin(πf/fs) for f, 2 % low at 1 kHz)
    for f0 in (300.0, 1000.0):
        near = (f > f0 * 0.9) & (f < f0 * 1.1)
        assert np.mean(a[near] ** 2) ** 0.5 == pytest.approx(f0 * 1e-4, rel=0.1)


def test_two_sensors_share_the_laser_noise_not_the_shot_noise():
    sample, mw = make_sample()
    mw.output = False
    bench = SimulatedPhotodiodeBench(
        [PhotodiodeSensor(sample, {"photon_rate": 1e15}, name="a"),
         PhotodiodeSensor(sample, {"photon_rate": 1e15}, name="b")],
        sample_rate=20e3, laser_noise=LaserNoise(white=1e-6, corner=0.0), seed=2)
    block = bench.read(100_000)
    a, b = block.data["a.signal"], block.data["b.signal"]
    # laser noise 1e-6/√Hz vs shot noise √(2/(0.85e15)) = 4.9e-8/√Hz: correlation ≈ 0.998
    assert np.corrcoef(a, b)[0, 1] > 0.99
    quiet = SimulatedPhotodiodeBench(
        [PhotodiodeSensor(sample, {"photon_rate": 1e15}, name="a"),
         PhotodiodeSensor(sample, {"photon_rate": 1e15}, name="b")],
        sample_rate=20e3, laser_noise=QUIET, seed=2).read(100_000)
    # independent shot noise: |r| < 5/√n (p > 1 - 1e-6)
    assert abs(np.corrcoef(quiet.data["a.signal"], quiet.data["b.signal"])[0, 1]) < 5 / 316


def test_blocks_continue_the_record_exactly():
    def build():
        sample, mw = make_sample(seed=4)
        mw.output = True
        mw.frequency = upper_line(sample) + 0.2e6
        mw.set_fm(0.35e6, rate=10e3)
        env = SimulatedPhotodiodeBench.make_environment(FS, 9, urban_noise=1e-9)
        src = SimulatedPhotodiodeBench.make_test_source(9, interval=0.02, jitter=0.005,
                                                        first_onset=0.01)
        return bench_for(sample, laser_noise=LaserNoise(), environment=env, test_source=src,
                         microwave_noise=MicrowaveNoise(1e-4, 100.0, 1e-5, 10.0),
                         config={"photon_rate": 1e15, "temperature_drift": 1.0})

    whole = build().read(50_000)
    bench = build()
    parts = [bench.read(n) for n in (1, 999, 17_000, 3, 31_997)]
    for name in whole.data:
        joined = np.concatenate([p.data[name] for p in parts])
        # equal up to the rounding of the sample times (t0 + k/fs)
        scale = np.max(np.abs(whole.data[name])) or 1.0
        np.testing.assert_allclose(joined, whole.data[name], rtol=0, atol=1e-10 * scale)
    assert parts[-1].first_sample == 18_003


def test_laser_off_gives_no_light_and_bad_configs_are_refused():
    sample, _mw = make_sample()
    sample.laser.on = False
    block = bench_for(sample).read(100)
    assert not block.data["s0.signal"].any() and not block.data["s0.reference"].any()
    with pytest.raises(ValueError, match="photon_rate"):
        PhotodiodeConfig(photon_rate=-1)
    with pytest.raises(ValueError, match="quantum_efficiency"):
        PhotodiodeConfig(quantum_efficiency=1.5)
    assert PhotodiodeConfig(photon_rate="1e15 /s").photon_rate == 1e15
    with pytest.raises(ValueError, match="names must differ"):
        SimulatedPhotodiodeBench([PhotodiodeSensor(sample), PhotodiodeSensor(sample)])
