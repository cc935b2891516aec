"""Reference-beam subtraction: the fitted gain, the noise left, the suppression reported."""

import numpy as np
import pytest
from scipy import signal as sps

from nvsense.dsp import AdaptiveSubtraction, SoftwareLockIn, rin_suppression

FS = 20e3
F_MOD = 2e3


def records(n, seed=0, rin=1e-3, shot=1e-5, s_dc=1.0, r_dc=0.62, tone=1e-4, r_end=None):
    """Signal and reference photodiode records sharing one laser-noise realisation."""
    rng = np.random.default_rng(seed)
    # laser noise: red (1/f-like) plus white, common to both beams
    red = sps.lfilter([0.02], [1, -0.98], rng.standard_normal(n))
    laser = rin * (red + rng.standard_normal(n))
    t = np.arange(n) / FS
    s = s_dc * (1 + laser) + tone * np.sin(2 * np.pi * F_MOD * t) + shot * rng.standard_normal(n)
    r_level = r_dc if r_end is None else np.linspace(r_dc, r_end, n)
    r = r_level * (1 + laser) + shot * rng.standard_normal(n)
    return s, r


def test_least_squares_gain_is_the_ratio_of_the_beams_and_leaves_shot_noise():
    s, r = records(200_000)
    sub = AdaptiveSubtraction(FS)
    out = sub.process(s, r)
    assert out.gain[0] == pytest.approx(1.0 / 0.62, rel=1e-3)
    left = out.cleaned - out.cleaned.mean()
    t = np.arange(s.size) / FS
    left -= 1e-4 * np.sin(2 * np.pi * F_MOD * t)  # the NV signal is kept, not subtracted
    # what remains is the two shot noises: σ² = σ_s² + g²σ_r²
    expected = 1e-5 * np.sqrt(1 + (1 / 0.62) ** 2)
    assert np.std(left) == pytest.approx(expected, rel=0.02)


def test_suppression_report_in_db_at_f_mod_and_in_band():
    s, r = records(400_000, rin=2e-4)
    out = AdaptiveSubtraction(FS).process(s, r)
    report = rin_suppression(s, out.cleaned, FS, F_MOD)
    # white laser noise 2e-4 against shot noise 1e-5·√(1+g²) = 1.9e-5: ≈ 20·log10(10.5) dB
    expected_db = 10 * np.log10((2e-4 ** 2 + 1e-5 ** 2) / (1e-5 ** 2 * (1 + (1 / 0.62) ** 2)))
    assert report.at_modulation_db == pytest.approx(expected_db, abs=1.0)
    assert report.in_band_db == pytest.approx(expected_db, abs=0.5)
    assert report.resolution_hz <= 10 / 8


def test_the_signal_at_f_mod_survives_and_demodulates_to_its_amplitude():
    s, r = records(100_000, rin=1e-3, shot=1e-6)
    cleaned = AdaptiveSubtraction(FS).process(s, r).cleaned
    z = SoftwareLockIn(FS, F_MOD, time_constant=0.05, order=4, scale="peak").process(cleaned).z
    assert abs(z[0, 0, -1]) == pytest.approx(1e-4, rel=1e-2)


def test_blocks_with_memory_and_lms_converge_to_the_same_gain():
    s, r = records(200_000, seed=5)
    ls = AdaptiveSubtraction(FS, memory=0.9)
    lms = AdaptiveSubtraction(FS, method="lms", step=0.5)
    for a in range(0, s.size, 2000):
        g_ls = ls.process(s[a:a + 2000], r[a:a + 2000]).gain[0]
        g_lms = lms.process(s[a:a + 2000], r[a:a + 2000]).gain[0]
    assert g_ls == pytest.approx(1 / 0.62, rel=2e-3)
    assert g_lms == pytest.approx(1 / 0.62, rel=2e-3)


def test_gain_follows_a_drift_of_the_beam_ratio():
    s, r = records(200_000, seed=1, r_dc=0.62, r_end=0.5)  # the pick-off drifts by 20 %
    sub = AdaptiveSubtraction(FS)
    for a in range(0, s.size, 4000):
        gain = sub.process(s[a:a + 4000], r[a:a + 4000]).gain[0]
    ratio_last_block = 1 / np.linspace(0.62, 0.5, s.size)[-4000:].mean()
    assert gain == pytest.approx(ratio_last_block, rel=2e-3)


def test_each_signal_channel_gets_its_own_gain():
    s, r = records(50_000)
    sub = AdaptiveSubtraction(FS, n_channels=2)
    out = sub.process(np.vstack([s, 0.5 * s]), r)
    assert out.gain == pytest.approx([1 / 0.62, 0.5 / 0.62], rel=2e-3)
    assert out.cleaned.shape == (2, s.size)


def test_bad_input_is_refused_by_name():
    with pytest.raises(ValueError, match="method"):
        AdaptiveSubtraction(FS, method="manual")
    with pytest.raises(ValueError, match="memory"):
        AdaptiveSubtraction(FS, memory=1.0)
    sub = AdaptiveSubtraction(FS)
    with pytest.raises(ValueError, match="constant"):
        sub.process(np.ones(100), np.ones(100))
    with pytest.raises(ValueError, match="shape"):
        sub.process(np.ones(100), np.ones(50))
    with pytest.raises(ValueError, match="needs at least"):
        rin_suppression(np.ones(100), np.ones(100), FS, F_MOD)
