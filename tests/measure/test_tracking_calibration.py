"""Lock calibration against closed forms: dither depth, slope, thresholds, shot noise, lines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nvsense.measure.tracking.calibration import (
    CalibrationError,
    LineShape,
    calibrate_line,
    cw_limit_density,
    reference_frequency,
    select_lines,
    shot_noise_density,
)
from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, transition_frequencies

F0 = 2.9e9
WIDTH = 1e6
C = 0.02


def lorentzian_line(contrast: float = C, width: float = WIDTH) -> LineShape:
    return LineShape(np.array([F0]), np.array([width]), np.array([contrast]))


def test_dither_depth_is_the_steepest_point_of_a_lorentzian():
    cal = calibrate_line(lorentzian_line(), F0, WIDTH)
    assert cal.delta == pytest.approx(WIDTH / (2 * math.sqrt(3)), rel=1e-4)


def test_dither_depth_of_a_gaussian_is_its_inflection_point():
    shape = LineShape(np.array([F0]), np.array([WIDTH]), np.array([C]), "gaussian")
    sigma = WIDTH / (2 * math.sqrt(2 * math.log(2)))  # steepest point of a Gaussian
    assert calibrate_line(shape, F0, WIDTH).delta == pytest.approx(sigma, rel=1e-3)


def test_slope_and_lock_depth_match_the_closed_form():
    # e = (S(f0-δ) - S(f0+δ)) / (S(f0-δ) + S(f0+δ)); at δ = Δν/(2√3) each point has dip 3C/4
    # and slope 3√3·C/(4Δν), so de/dx = [3√3·C/(4Δν)] / (1 - 3C/4)
    cal = calibrate_line(lorentzian_line(), F0, WIDTH)
    assert cal.lock_depth == pytest.approx(0.75 * C, rel=1e-5)
    expected = 3 * math.sqrt(3) * C / (4 * WIDTH) / (1 - 0.75 * C)
    assert cal.slope == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("x", [2e3, 1e5, 2.5e5, 3.5e5, -3e5])
def test_offset_inverts_the_discriminator_beyond_its_linear_range(x):
    cal = calibrate_line(lorentzian_line(), F0, WIDTH)
    L = lambda u: 1 / (1 + (2 * u / WIDTH) ** 2)  # noqa: E731 - the line, written out
    f0 = F0 - x  # the line sits x above the dither centre
    lo, hi = 1 - C * L(f0 - cal.delta - F0), 1 - C * L(f0 + cal.delta - F0)
    assert cal.offset((lo - hi) / (lo + hi)) == pytest.approx(x, rel=1e-3, abs=5.0)


def test_offsets_beyond_the_discriminator_peak_read_as_its_maximum():
    cal = calibrate_line(lorentzian_line(), F0, WIDTH)
    assert cal.offset(1.0) == pytest.approx(cal.saturation)
    assert cal.offset(-1.0) == pytest.approx(-cal.saturation)
    assert cal.delta < cal.saturation < WIDTH


def test_depth_threshold_is_the_depth_at_the_capture_range():
    cap = 0.7e6
    cal = calibrate_line(lorentzian_line(), F0, WIDTH, capture_range=cap)
    L = lambda u: 1 / (1 + (2 * u / WIDTH) ** 2)  # noqa: E731
    depth = C * 0.5 * (L(cap - cal.delta) + L(cap + cal.delta))
    assert cal.capture_range == cap
    assert cal.depth_threshold == pytest.approx(depth / (0.75 * C), rel=1e-4)
    assert cal.depth_ratio(0.0) == pytest.approx(1.0)


def test_no_dip_gives_a_clear_error():
    flat = LineShape(np.array([F0]), np.array([WIDTH]), np.array([0.0]))
    with pytest.raises(CalibrationError, match="no dip"):
        calibrate_line(flat, F0, WIDTH)


def test_cw_limit_is_root_two_times_the_published_sensitivity():
    # REFERENCES.md: 1 MHz, 1 %, 1e12/s -> η = 2.75 nT/√Hz (δB·√t); as a one-sided ASD √2·η
    assert cw_limit_density(1e6, 0.01, 1e12) == pytest.approx(math.sqrt(2) * 2.746e-9,
                                                              rel=1e-3)


def test_shot_noise_of_the_lock_is_the_cw_limit_with_its_photons():
    cal = calibrate_line(lorentzian_line(), F0, WIDTH, count_rate=1e9)
    eta_hz = 4 / (3 * math.sqrt(3)) * WIDTH / (C * math.sqrt(1e9))  # Dréau, in Hz/√Hz
    for fraction in (1.0, 0.5, 20 / 21):
        expected = math.sqrt(2) * eta_hz * math.sqrt((1 - 0.75 * C) / fraction)
        assert shot_noise_density(cal, fraction) == pytest.approx(expected, rel=1e-4)


# -- which lines belong to which axis ----------------------------------------------------------

B_TRUE = np.array([0.4e-3, 1.1e-3, 1.9e-3])


def test_eight_lines_with_a_guess_give_each_axis_its_own_pair():
    lines = transition_frequencies(B_TRUE)  # (4, 2), the truth per axis
    centers = np.sort(lines.ravel())
    sel = select_lines(centers, None, [0, 1, 2, 3], field_guess=B_TRUE)
    for axis, (lo, hi) in enumerate(sel.indices):
        assert centers[[lo, hi]] == pytest.approx(lines[axis], abs=1.0)
    assert sel.field == pytest.approx(B_TRUE, abs=1e-9)
    assert sel.n_found == 8


def test_without_a_guess_axis_0_is_the_outermost_pair():
    centers = np.sort(transition_frequencies(B_TRUE).ravel())
    sel = select_lines(centers, None, [0])
    assert sel.indices == ((0, 7),)
    # the field reported is a symmetric image with |B·n0| the largest projection
    proj = np.abs(NV_AXES @ sel.field)
    assert proj[0] == pytest.approx(proj.max())


def test_two_lines_are_axis_0_of_a_single_axis_sample():
    b = 1e-3
    lo, hi = 2.87e9 - GAMMA_NV_HZ_PER_T * b, 2.87e9 + GAMMA_NV_HZ_PER_T * b
    sel = select_lines([hi, lo], None, [0])
    assert sel.indices == ((0, 1),)
    assert sel.field[2] == pytest.approx(b, rel=1e-9)
    assert sel.D == pytest.approx(2.87e9)
    with pytest.raises(CalibrationError, match="only axis 0"):
        select_lines([lo, hi], None, [1])


def test_coinciding_lines_cannot_be_tracked_apart():
    # a field along [110] has B·n = 0 on axes 1 and 2 and equal |B·n| on axes 0 and 3: the
    # eight transitions merge into four lines, each shared by two axes
    lines = np.unique(np.round(transition_frequencies([1.4e-3, 1.4e-3, 0.0]).ravel()))
    assert lines.size == 4
    with pytest.raises(CalibrationError, match="coincide with those of axis"):
        select_lines(lines, None, [0])
    # a field along [100] projects equally on all four axes: one pair, so only "axis 0"
    pair = np.unique(np.round(transition_frequencies([2e-3, 0.0, 0.0]).ravel()))
    with pytest.raises(CalibrationError, match="only axis 0"):
        select_lines(pair, None, [2])


def test_one_line_is_not_enough():
    with pytest.raises(CalibrationError, match="shows 1 line"):
        select_lines([2.9e9], None, [0])


def test_reference_frequency_keeps_clear_of_every_line():
    centers = np.array([2.82e9, 2.93e9])
    f = reference_frequency(centers, [1e6, 1e6])
    assert f == pytest.approx(2.82e9 - 30e6)

    def allowed(freq: float) -> None:  # a bench that stops at 2.80 GHz
        if freq < 2.80e9:
            raise ValueError(f"{freq} below 2.80 GHz")

    assert reference_frequency(centers, [1e6, 1e6], allowed=allowed) == pytest.approx(2.96e9)
    with pytest.raises(CalibrationError, match="no off-resonance"):
        reference_frequency(centers, [1e6, 1e6], allowed=lambda f: 1 / 0)
