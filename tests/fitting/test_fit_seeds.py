"""Seeding the next fit from a result (``as_guess``), and the Hamiltonian-only arrays.

A tracking loop feeds ``result.as_guess()`` (or the result itself) to the next fit of a
drifting spectrum; the seeds must be the fitted values under the names ``guess=`` takes.
Spectra are built here from the textbook Lorentzian and the exact (diagonalised) lines.
"""

import numpy as np
import pytest

from nvsense.fitting import fit_batch, fit_spectrum
from nvsense.physics import transition_frequencies

F = np.linspace(2.82e9, 2.92e9, 101)
F8 = np.linspace(2.70e9, 3.05e9, 201)
B_TRUE = np.array([1e-3, 3e-3, 6e-3])
LINE_KEYS = {"centers", "widths", "contrasts", "offset", "slope"}
FIELD_KEYS = {"field", "D", "E", "width", "contrasts", "offset", "slope"}


def one_dip(rng, n, center=2.87e9, width=8e6, contrast=0.03, counts=1e5):
    clean = counts * (1.0 - contrast / (1.0 + 4.0 * ((F - center) / width) ** 2))
    return rng.poisson(np.broadcast_to(clean, (n, F.size))).astype(float)


def eight_dips(rng, width=8e6, contrast=0.015, counts=1e5):
    clean = np.ones_like(F8)
    for line in transition_frequencies(B_TRUE).ravel():
        clean -= contrast / (1 + 4 * ((F8 - line) / width) ** 2)
    return rng.poisson(counts * clean).astype(float)


def test_line_seeds_are_the_fitted_lines_and_refit_to_the_same_result():
    Y = one_dip(np.random.default_rng(5), 3)
    batch = fit_batch(F, Y, sigma="poisson")
    assert batch.success.all()
    seeds = batch.as_guess()
    assert set(seeds) == LINE_KEYS
    assert seeds["centers"] is batch.centers and seeds["offset"] is batch.baseline
    one = batch[1].as_guess()
    assert set(one) == LINE_KEYS
    assert one["centers"] == pytest.approx(batch.centers[1])
    assert one["slope"] == batch.baseline_slope[1]
    again = fit_batch(F, Y[1:2], sigma="poisson", guess=one)
    assert again.centers[0] == pytest.approx(batch.centers[1], abs=1e3)
    single = fit_spectrum(F, Y[1], sigma="poisson")
    assert set(single.as_guess()) == LINE_KEYS
    assert single.as_guess()["widths"] == pytest.approx(single.widths)
    assert single.success and single.message == "converged"


def test_quadratic_baseline_seeds_its_curvature():
    Y = one_dip(np.random.default_rng(6), 2)
    batch = fit_batch(F, Y, sigma="poisson", baseline="quadratic")
    assert set(batch.as_guess()) == LINE_KEYS | {"curvature"}
    assert batch[0].as_guess()["curvature"] == batch.baseline_curvature[0]


def test_field_seeds_carry_the_field_and_one_width():
    rng = np.random.default_rng(7)
    Y = np.stack([eight_dips(rng) for _ in range(2)])
    batch = fit_batch(F8, Y, "hamiltonian", sigma="poisson", guess={"field": B_TRUE * 1.05})
    assert batch.success.all()
    seeds = batch.as_guess()
    assert set(seeds) == FIELD_KEYS
    assert seeds["width"] == pytest.approx(batch.widths[:, 0])
    one = batch[0].as_guess()
    assert set(one) == FIELD_KEYS
    assert one["field"] == pytest.approx(batch.field[0])
    assert one["width"] == pytest.approx(np.median(batch.widths[0]))
    single = fit_spectrum(F8, Y[0], "hamiltonian", sigma="poisson", guess=one)
    assert single.success
    assert single.field == pytest.approx(batch.field[0], abs=1e-6)
    assert set(single.as_guess()) == FIELD_KEYS


def test_field_arrays_name_the_model_when_it_has_none():
    batch = fit_batch(F, one_dip(np.random.default_rng(8), 1), sigma="poisson")
    for name in ("field", "field_errors", "D", "D_error", "E", "axis_contrasts",
                 "transitions"):
        with pytest.raises(AttributeError, match=r"'hamiltonian' model only.*'lorentzian'"):
            getattr(batch, name)
