"""Software lock-in: amplitudes and phases of known sinusoids, harmonics, filter closed forms,
streaming in blocks, decimation, noise bandwidth, recorded references."""

import itertools
import math

import numpy as np
import pytest

from nvsense.dsp import (
    ClockReference,
    PLLReference,
    SoftwareLockIn,
    ZeroCrossingReference,
    rc_enbw,
    rc_step_response,
)

FS = 200e3
F = 10e3


def times(n, fs=FS):
    return np.arange(n) / fs


@pytest.mark.parametrize("psi", [0.0, 0.7, -2.0, math.pi / 2, 3.0])
def test_amplitude_and_phase_of_a_sine(psi):
    t = times(40000)
    lia = SoftwareLockIn(FS, F, time_constant=1e-3, order=4)
    out = lia.process(0.8 * np.sin(2 * np.pi * F * t + psi))
    a_rms = 0.8 / math.sqrt(2)
    assert out.x[0, 0, -1] == pytest.approx(a_rms * math.cos(psi), abs=1e-6)
    assert out.y[0, 0, -1] == pytest.approx(a_rms * math.sin(psi), abs=1e-6)
    assert out.r[0, 0, -1] == pytest.approx(a_rms, rel=1e-6)
    assert out.theta_deg[0, 0, -1] == pytest.approx(math.degrees(math.atan2(math.sin(psi),
                                                                            math.cos(psi))),
                                                    abs=1e-4)


def test_peak_scale_and_phase_setting():
    t = times(40000)
    s = 0.3 * np.sin(2 * np.pi * F * t + 0.5)
    out = SoftwareLockIn(FS, F, time_constant=1e-3, scale="peak", phase_deg=30).process(s)
    assert out.r[0, 0, -1] == pytest.approx(0.3, rel=1e-6)
    assert out.theta[0, 0, -1] == pytest.approx(0.5 - math.radians(30), abs=1e-5)


def test_each_harmonic_recovers_its_own_component():
    t = times(60000)
    w = 2 * np.pi * F * t
    s = 1.0 + 0.4 * np.sin(w + 0.1) + 0.2 * np.sin(2 * w - 1.0) + 0.05 * np.sin(3 * w + 2.0)
    out = SoftwareLockIn(FS, F, time_constant=1e-3, order=4, harmonics=(1, 2, 3),
                         scale="peak").process(s)
    for h, (amp, phase) in {1: (0.4, 0.1), 2: (0.2, -1.0), 3: (0.05, 2.0)}.items():
        z = out.harmonic(h)[-1]
        assert abs(z) == pytest.approx(amp, rel=1e-5)
        assert np.angle(z) == pytest.approx(phase, abs=1e-4)
    with pytest.raises(KeyError, match="harmonic 4"):
        out.harmonic(4)


def test_several_channels_share_the_reference():
    t = times(40000)
    s = np.vstack([np.sin(2 * np.pi * F * t), 2 * np.cos(2 * np.pi * F * t)])
    out = SoftwareLockIn(FS, F, time_constant=1e-3, n_channels=2, scale="peak").process(s)
    assert out.z.shape == (2, 1, 40000)
    assert out.z[0, 0, -1] == pytest.approx(1.0, abs=1e-6)
    assert out.z[1, 0, -1] == pytest.approx(2j, abs=1e-6)


@pytest.mark.parametrize("order", [1, 2, 4, 8])
def test_switch_on_follows_the_rc_step_response(order):
    tau = 0.5e-3
    n = 20000
    t = times(n)
    s = np.where(t >= 0.01, np.sin(2 * np.pi * F * t), 0.0)
    out = SoftwareLockIn(FS, F, time_constant=tau, order=order, scale="peak").process(s)
    expected = rc_step_response(t - 0.01 + 1 / FS, order, tau)
    ripple = (2 * np.pi * 2 * F * tau) ** -order  # 2f leak of the filter
    assert np.max(np.abs(out.x[0, 0] - expected)) < 5e-3 + ripple


def test_output_noise_matches_the_enbw():
    # white noise of one-sided PSD S: each of X and Y has variance S·ENBW (RMS scale)
    fs = 20e3
    rng = np.random.default_rng(7)
    sigma = 1.0
    n = 400_000
    psd = 2 * sigma ** 2 / fs
    tau, order = 2e-3, 2
    lia = SoftwareLockIn(fs, 2e3, time_constant=tau, order=order, output_rate=1e3)
    out = lia.process(sigma * rng.standard_normal(n))
    x = out.x[0, 0, 50:]
    expected = psd * rc_enbw(order, tau)
    # ~2·ENBW·T = 5000 independent samples: the variance is within 12 % with p > 1 - 1e-6
    assert np.var(x) == pytest.approx(expected, rel=0.12)
    assert lia.enbw == rc_enbw(order, tau)


def test_blocks_of_any_size_give_exactly_the_whole_record():
    rng = np.random.default_rng(3)
    n = 30000
    t = times(n)
    s = np.vstack([np.sin(2 * np.pi * F * t) + 0.1 * rng.standard_normal(n),
                   rng.standard_normal(n)])
    kwargs = dict(time_constant=2e-4, order=3, harmonics=(1, 2), output_rate=10e3,
                  n_channels=2, phase_deg=12.0)
    whole = SoftwareLockIn(FS, F, **kwargs).process(s)
    lia = SoftwareLockIn(FS, F, **kwargs)
    cuts = np.concatenate([[0], np.sort(rng.choice(np.arange(1, n), 40, replace=False)), [n]])
    parts = [lia.process(s[:, a:b]) for a, b in itertools.pairwise(cuts)]
    z = np.concatenate([p.z for p in parts], axis=-1)
    time = np.concatenate([p.time for p in parts])
    assert np.array_equal(z, whole.z)
    assert np.array_equal(time, whole.time)
    assert lia.samples_seen == n


def test_decimation_picks_the_last_sample_of_each_interval_and_stamps_it():
    lia = SoftwareLockIn(FS, F, time_constant=1e-3, output_rate=1e3, start_time=5.0)
    out = lia.process(np.zeros(1000))
    assert lia.decimation == 200
    assert out.time.tolist() == [5.0 + 199 / FS, 5.0 + 399 / FS, 5.0 + 599 / FS,
                                 5.0 + 799 / FS, 5.0 + 999 / FS]
    assert lia.process(np.zeros(150)).time.size == 0
    assert lia.process(np.zeros(50)).time.tolist() == [5.0 + 1199 / FS]


def test_clock_reference_phase_is_continuous_over_long_runs():
    ref = ClockReference(1234.5678, FS, phase_deg=90)
    start = 10 ** 11  # 5.8 days at 200 kS/s
    got = ref.phases(start, 5)
    exact = [(2 * math.pi * ((1234.5678 * (start + k) / FS) + 0.25)) % (2 * math.pi)
             for k in range(5)]
    assert np.allclose(got, exact, atol=2e-5)


def test_bad_settings_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="Nyquist"):
        SoftwareLockIn(FS, 60e3, time_constant=1e-3, harmonics=(1, 2))
    with pytest.raises(ValueError, match="nearest valid"):
        SoftwareLockIn(FS, F, time_constant=1e-3, output_rate=3e3)
    with pytest.raises(ValueError, match="harmonics"):
        SoftwareLockIn(FS, F, time_constant=1e-3, harmonics=(1, 1))
    with pytest.raises(ValueError, match="1 to 8"):
        SoftwareLockIn(FS, F, time_constant=1e-3, order=9)
    lia = SoftwareLockIn(FS, F, time_constant=1e-3, n_channels=2)
    with pytest.raises(ValueError, match=r"\(2, n\)"):
        lia.process(np.zeros(10))


# --- recorded references --------------------------------------------------------------------

def sync_and_signal(f_true, n, phase0, fs=FS, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    theta = 2 * np.pi * f_true * times(n, fs) + phase0
    sync = np.sin(theta) + noise * rng.standard_normal(n)
    signal = 0.25 * np.sin(theta + 0.6) + 0.1 * np.sin(2 * theta - 0.4)
    return sync, signal


@pytest.mark.parametrize("make_reference", [
    lambda: ZeroCrossingReference(10e3, FS, hysteresis=0.05),
    lambda: PLLReference(10e3, FS, loop_bandwidth=100.0),
], ids=["zero-crossing", "pll"])
def test_recorded_sync_gives_amplitude_and_phase_of_an_off_nominal_modulation(make_reference):
    sync, s = sync_and_signal(10.07e3, 80000, phase0=1.1)  # 0.7 % above nominal
    ref = make_reference()
    lia = SoftwareLockIn(FS, ref, time_constant=1e-3, order=4, harmonics=(1, 2), scale="peak")
    out = lia.process(s, sync=sync)
    assert ref.locked
    assert ref.frequency == pytest.approx(10.07e3, rel=1e-4)
    z1, z2 = out.harmonic(1)[-1], out.harmonic(2)[-1]
    assert abs(z1) == pytest.approx(0.25, rel=1e-3)
    assert np.angle(z1) == pytest.approx(0.6, abs=5e-3)
    assert abs(z2) == pytest.approx(0.1, rel=1e-3)
    assert np.angle(z2) == pytest.approx(-0.4, abs=1e-2)


def test_zero_crossing_reference_is_independent_of_the_block_cuts():
    sync, s = sync_and_signal(9.93e3, 30000, phase0=-0.3, noise=0.01, seed=2)
    kwargs = dict(time_constant=5e-4, order=2, output_rate=20e3)
    whole = SoftwareLockIn(FS, ZeroCrossingReference(10e3, FS, hysteresis=0.1),
                           **kwargs).process(s, sync=sync)
    lia = SoftwareLockIn(FS, ZeroCrossingReference(10e3, FS, hysteresis=0.1), **kwargs)
    cuts = [0, 7, 19, 20, 1000, 1013, 17777, 30000]
    z = np.concatenate([lia.process(s[a:b], sync=sync[a:b]).z
                        for a, b in itertools.pairwise(cuts)], axis=-1)
    assert np.array_equal(z, whole.z)


def test_pll_reference_is_independent_of_the_block_cuts_to_rounding():
    sync, s = sync_and_signal(10.02e3, 30000, phase0=0.4, noise=0.02, seed=4)
    kwargs = dict(time_constant=5e-4, order=2, output_rate=20e3)
    whole = SoftwareLockIn(FS, PLLReference(10e3, FS), **kwargs).process(s, sync=sync)
    lia = SoftwareLockIn(FS, PLLReference(10e3, FS), **kwargs)
    cuts = [0, 5, 333, 9000, 9001, 30000]
    z = np.concatenate([lia.process(s[a:b], sync=sync[a:b]).z
                        for a, b in itertools.pairwise(cuts)], axis=-1)
    assert np.allclose(z, whole.z, rtol=0, atol=1e-9)


def test_zero_crossing_reference_follows_a_ttl_sync_with_its_level():
    n = 40000
    theta = 2 * np.pi * 10.0e3 * times(n) + 2.0
    ttl = np.where(np.sin(theta) >= 0, 5.0, 0.0)  # rising edge at θ = 0
    ref = ZeroCrossingReference(10e3, FS, level=2.5, hysteresis=0.5)
    lia = SoftwareLockIn(FS, ref, time_constant=1e-3, scale="peak")
    z = lia.process(np.sin(theta + 0.3), sync=ttl).z[0, 0, -1]
    # edges are located to within a sample (20 samples per period): phase within 2π/20/2
    assert abs(z) == pytest.approx(1.0, rel=2e-2)
    assert np.angle(z) == pytest.approx(0.3, abs=0.16)


def test_recorded_reference_without_sync_is_a_clear_error():
    lia = SoftwareLockIn(FS, ZeroCrossingReference(10e3, FS), time_constant=1e-3)
    with pytest.raises(ValueError, match="sync"):
        lia.process(np.zeros(100))
    with pytest.raises(ValueError, match="too fast"):
        PLLReference(60e3, FS)
