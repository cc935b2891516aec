"""Locked frequencies -> field, against the exact Hamiltonian and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.measure.tracking.field import LockedLine, LockedLineModel
from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, transition_frequencies

B0 = np.array([0.4e-3, 1.1e-3, 1.9e-3])  # the simulated bench's field, crystal frame
D0 = 2.870e9
N0 = NV_AXES[0]
BOTH = [LockedLine(0, 0), LockedLine(0, 1)]


def test_both_lines_give_b_parallel_and_d_exactly():
    model = LockedLineModel(NV_AXES[[0]], BOTH, B0, D0)
    # the field changes along the axis (the transverse part the model holds is unchanged)
    # and D drifts by 100 kHz (a temperature change of ~1.3 K)
    for db in (-30e-6, 0.0, 2e-6, 50e-6):
        B = B0 + db * N0
        f = transition_frequencies(B, D0 + 1e5, 0.0, N0).reshape(1, 2)
        p = model.solve(f)
        assert model.field(p)[0] == pytest.approx(B @ N0, abs=1e-12)
        assert model.D(p)[0] == pytest.approx(D0 + 1e5, abs=1e-3)


def test_one_line_gives_b_parallel_with_d_held():
    model = LockedLineModel(NV_AXES[[0]], [LockedLine(0, 1)], B0, D0)
    B = B0 + 7e-6 * N0
    f = transition_frequencies(B, D0, 0.0, N0)[:, 1].reshape(1, 1)
    p = model.solve(f)
    assert model.field(p)[0] == pytest.approx(B @ N0, abs=1e-12)
    assert np.isnan(model.D(p)[0])
    # a drift of D reads as field: ΔB = ΔD/γ for the upper line (documented)
    f = transition_frequencies(B0, D0 + 74.2e3, 0.0, N0)[:, 1].reshape(1, 1)
    shift = model.field(model.solve(f))[0] - B0 @ N0
    assert shift == pytest.approx(74.2e3 / GAMMA_NV_HZ_PER_T, rel=0.02)


def test_four_axes_give_the_vector():
    lines = [LockedLine(a, b) for a in range(4) for b in range(2)]
    model = LockedLineModel(NV_AXES, lines, B0, D0, vector=True)
    B = B0 + np.array([3e-6, -5e-6, 20e-6])
    f = transition_frequencies(B, D0 - 2e4, 0.0, NV_AXES).reshape(1, 8)
    p = model.solve(f)
    assert model.field(p)[0] == pytest.approx(B, abs=1e-12)
    assert model.D(p)[0] == pytest.approx(D0 - 2e4, abs=1e-3)


def test_a_block_is_solved_at_once_and_nan_stays_nan():
    model = LockedLineModel(NV_AXES[[0]], BOTH, B0, D0)
    Bs = B0 + np.linspace(-1e-5, 1e-5, 5)[:, None] * N0
    f = transition_frequencies(Bs, D0, 0.0, N0).reshape(5, 2)
    f[2] = np.nan
    b = model.field(model.solve(f))
    assert np.isnan(b[2])
    assert b[[0, 1, 3, 4]] == pytest.approx(Bs[[0, 1, 3, 4]] @ N0, abs=1e-12)


def test_field_noise_of_one_axis_is_line_noise_over_gamma():
    # one line with noise s Hz/√Hz -> s/γ; both lines, each with √2·s (half the time) ->
    # B∥ = (f+ - f-)/2γ has sqrt(2·2s²)/2γ = s/γ: the same (REFERENCES.md, Sensitivity)
    s = 1000.0
    one = LockedLineModel(NV_AXES[[0]], [LockedLine(0, 0)], B0, D0)
    both = LockedLineModel(NV_AXES[[0]], BOTH, B0, D0)
    # the transverse field makes df/dB∥ differ from γ by a fraction of a percent
    assert one.field_noise([s]) == pytest.approx(s / GAMMA_NV_HZ_PER_T, rel=0.01)
    assert both.field_noise([s * np.sqrt(2)] * 2) == pytest.approx(s / GAMMA_NV_HZ_PER_T,
                                                                   rel=0.01)
    aligned = LockedLineModel([[0, 0, 1.0]], BOTH, [0, 0, 1e-3], D0)
    assert aligned.field_noise([s * np.sqrt(2)] * 2) == pytest.approx(s / GAMMA_NV_HZ_PER_T,
                                                                      rel=1e-6)


def test_impossible_combinations_are_refused():
    with pytest.raises(ValueError, match="three or four axes"):
        LockedLineModel(NV_AXES[:2], [LockedLine(0, 0), LockedLine(1, 0)], B0, D0, vector=True)
    with pytest.raises(ValueError, match="one axis gives"):
        LockedLineModel(NV_AXES[:3], [LockedLine(0, 0)], B0, D0)
