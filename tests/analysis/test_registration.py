"""Drift registration: known sub-pixel shifts are found, and undone."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.analysis.registration import DriftTracker, register, shift_frames
from nvsense.instruments.simulated.widefield import widefield_bench


def band_limited(n: int, seed: int, scale: float = 3.0) -> np.ndarray:
    """A smooth random texture on an n×n grid, periodic, with a known exact Fourier shift."""
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(n)
    envelope = np.exp(-2 * (np.pi * scale) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2))
    return np.fft.fft2(rng.standard_normal((n, n))) * envelope


def shifted(spectrum: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """The texture moved by (dy, dx): image(p − d)."""
    n = spectrum.shape[0]
    k = np.fft.fftfreq(n)
    phase = np.exp(-2j * np.pi * (k[:, None] * dy + k[None, :] * dx))
    return np.fft.ifft2(spectrum * phase).real


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.37, -1.62), (-4.25, 2.9), (7.5, 0.05)])
def test_known_shifts_of_a_lit_texture_are_found_to_a_few_hundredths(shift):
    spectrum = band_limited(128, seed=1)
    y, x = np.mgrid[0:128, 0:128]
    light = 2e4 * np.exp(-((x - 64) ** 2 + (y - 64) ** 2) / (2 * 60.0**2))  # does not move
    reference = light * (1 + 0.1 * shifted(spectrum, 0, 0) / shifted(spectrum, 0, 0).std())
    moving = light * (1 + 0.1 * shifted(spectrum, *shift) / shifted(spectrum, 0, 0).std())
    rng = np.random.default_rng(2)
    reference, moving = rng.poisson(reference), rng.poisson(moving)  # shot noise
    result = register(reference, moving)
    assert result.reliable
    assert result.shift == pytest.approx(shift, abs=0.03)


def test_the_simulated_cameras_drift_is_recovered():
    bench = widefield_bench(sensor=(128, 128), drift=(0.3, -0.2), drift_interval="1 s", seed=4)
    bench.laser.on = True
    cam = bench.camera
    cam.exposure = 5e-3
    cam.frame_period = 10e-3
    cam.start(2000)
    tracker = DriftTracker()
    for _ in range(6):  # one "sweep" of 100 frames a second: the drift steps between them
        block = cam.read_frames(min_frames=100, timeout=2)
        frames = block.frames[:100].astype(float)
        truth = cam.frame_log[len(cam.frame_log) - len(block)].drift
        result = tracker.update(frames.mean(axis=0))
        assert result.shift == pytest.approx(truth, abs=0.05)
    assert tracker.max_drift == pytest.approx(np.hypot(1.5, 1.0), abs=0.07)


def test_unrelated_images_are_flagged_unreliable():
    a = np.random.default_rng(1).poisson(1e4, (64, 64))
    b = np.random.default_rng(2).poisson(1e4, (64, 64))
    assert not register(a, b).reliable


def test_integer_shift_re_indexes_and_marks_the_edges():
    frames = np.arange(2 * 6 * 5, dtype=float).reshape(2, 6, 5)  # (points, rows, cols)
    out, valid = shift_frames(frames, (1.2, -2.4), method="integer")
    # corrected(p) = frames(p + (1, -2))
    np.testing.assert_array_equal(out[:, 0:5, 2:5], frames[:, 1:6, 0:3])
    assert valid.sum() == 5 * 3 and not valid[5].any() and not valid[:, :2].any()
    assert np.all(out[:, ~valid] == 0)


def test_fourier_shift_undoes_a_sub_pixel_drift():
    spectrum = band_limited(64, seed=3)
    moved = shifted(spectrum, 2.3, -1.7)
    out, valid = shift_frames(moved[..., None], (2.3, -1.7), method="fourier", axes=(0, 1))
    np.testing.assert_allclose(out[..., 0][valid], shifted(spectrum, 0, 0)[valid], atol=1e-5)


def test_linear_shift_matches_on_smooth_images():
    spectrum = band_limited(64, seed=3, scale=6.0)
    moved = shifted(spectrum, 0.5, 0.25)
    out, valid = shift_frames(moved, (0.5, 0.25), method="linear")
    truth = shifted(spectrum, 0, 0)
    assert np.abs(out[valid] - truth[valid]).max() < 0.05 * np.abs(truth).max()


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="shapes"):
        register(np.ones((16, 16)), np.ones((16, 17)))
    with pytest.raises(ValueError, match="NaN"):
        register(np.full((16, 16), np.nan), np.ones((16, 16)))
    with pytest.raises(ValueError, match="method"):
        shift_frames(np.ones((4, 4)), (1, 1), method="cubic")
