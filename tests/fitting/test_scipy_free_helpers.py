"""The peak finder and the row convolution that spare the line detector SciPy's imports
(``nvsense.fitting.peaks``, ``nvsense.fitting.convolve``), checked against SciPy itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import convolve1d
from scipy.signal import find_peaks, peak_widths

from nvsense.fitting.convolve import convolve_rows
from nvsense.fitting.peaks import find_prominent_peaks, local_maxima


def profiles(rng, count):
    for k in range(count):
        n = int(rng.integers(3, 300))
        kind = k % 4
        if kind == 0:
            yield rng.normal(size=n)
        elif kind == 1:  # small integers: flat tops and equal minima
            yield rng.integers(0, 4, size=n).astype(float)
        elif kind == 2:  # smoothed shot noise, as the detector sees it
            yield np.convolve(rng.poisson(30, size=n + 4).astype(float), [1, 4, 6, 4, 1],
                              "valid")
        else:
            x = rng.integers(0, 3, size=n).astype(float)
            x[rng.random(n) < 0.05] = np.nan
            yield x


def test_peaks_prominences_bases_and_widths_are_scipys():
    rng = np.random.default_rng(5)
    for x in profiles(rng, 4000):
        prominence = float(rng.choice([0.0, 0.5, 1.0, 3.0]))
        width = float(rng.choice([0.0, 1.5]))
        peaks, props = find_peaks(x, prominence=prominence, width=width)
        found = find_prominent_peaks(x, prominence, width=width)
        np.testing.assert_array_equal(found.peaks, peaks)
        np.testing.assert_array_equal(found.prominences, props["prominences"])
        np.testing.assert_array_equal(found.left_bases, props["left_bases"])
        np.testing.assert_array_equal(found.right_bases, props["right_bases"])
        np.testing.assert_array_equal(found.widths, props["widths"])
        if peaks.size:
            np.testing.assert_array_equal(found.widths, peak_widths(x, peaks, 0.5)[0])


def test_local_maxima_flat_tops_and_ends():
    np.testing.assert_array_equal(local_maxima([0, 1, 1, 1, 0, 2, 2, 0, 3]), [2, 5])
    assert local_maxima([3, 2, 1]).size == 0 and local_maxima([1, 2]).size == 0


@pytest.mark.parametrize("kernel", [[1.0, 4, 6, 4, 1], [0.25, 0.5, 0.25], [1.0],
                                    [0.3, -1.2, 0.7], [1.0, 0.0, -1.0]])
def test_row_convolution_is_scipys_to_the_last_bit(kernel):
    rng = np.random.default_rng(8)
    for n in (1, 2, 5, 281):
        Y = rng.normal(size=(3, n)) * 1e3
        np.testing.assert_array_equal(convolve_rows(Y, kernel),
                                      convolve1d(Y, kernel, axis=1, mode="constant"))
        np.testing.assert_array_equal(convolve_rows(Y[0], kernel),
                                      convolve1d(Y[0], kernel, mode="constant"))
    with pytest.raises(ValueError, match="odd"):
        convolve_rows(np.ones(5), [1.0, 1.0])
