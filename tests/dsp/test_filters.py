"""The lock-in's cascaded RC filter against closed forms: ENBW, step response, transfer."""

import itertools
import math

import numpy as np
import pytest

from nvsense.dsp.filters import (
    CascadedRC,
    rc_bandwidth_3db,
    rc_enbw,
    rc_step_response,
    rc_transfer,
)

FS = 100e3
TAU = 20e-3  # 2000 samples per time constant: the discrete filter is close to the RC


def impulse_response(order, tau=TAU, n=None):
    n = n or int(60 * order * tau * FS)
    x = np.zeros(n)
    x[0] = 1.0
    return CascadedRC(order, tau, FS)(x)


@pytest.mark.parametrize("order, enbw_times_tau", [(1, 1 / 4), (2, 1 / 8), (3, 3 / 32),
                                                   (4, 5 / 64)])
def test_enbw_closed_form_matches_the_lock_in_manuals(order, enbw_times_tau):
    # SR830/SR860 manuals: 6, 12, 18, 24 dB/oct have ENBW 1/(4τ), 1/(8τ), 3/(32τ), 5/(64τ)
    assert rc_enbw(order, 0.1) == pytest.approx(enbw_times_tau / 0.1, rel=1e-12)


@pytest.mark.parametrize("order", range(1, 9))
def test_enbw_of_the_discrete_filter_matches_the_closed_form(order):
    h = impulse_response(order)
    # one-sided noise bandwidth of a unit-DC-gain discrete filter: fs·Σh²/(2·(Σh)²)
    enbw = FS * np.sum(h ** 2) / (2 * np.sum(h) ** 2)
    assert np.sum(h) == pytest.approx(1.0, abs=1e-9)
    assert enbw == pytest.approx(rc_enbw(order, TAU), rel=2e-3)


@pytest.mark.parametrize("order", range(1, 9))
def test_step_response_matches_the_erlang_sum(order):
    n = int(12 * order * TAU * FS)
    y = CascadedRC(order, TAU, FS)(np.ones(n))
    t = (np.arange(n) + 1) / FS  # sample k holds the response after k + 1 steps
    u = t / TAU
    # independent closed form: 1 - e^{-u} Σ_{k<N} u^k/k!
    explicit = 1 - np.exp(-u) * sum(u ** k / math.factorial(k) for k in range(order))
    assert np.max(np.abs(y - explicit)) < 2e-3
    assert np.allclose(rc_step_response(t, order, TAU), explicit, atol=1e-12)


@pytest.mark.parametrize("order", [1, 3, 8])
def test_steady_state_gain_of_a_sine_is_the_transfer_function(order):
    f = 30.0  # near the corner: |H|^N well away from 0 and 1
    n = int(FS * 2.0)
    t = np.arange(n) / FS
    y = CascadedRC(order, TAU, FS)(np.sin(2 * np.pi * f * t))
    tail = y[n // 2:]
    amplitude = (tail.max() - tail.min()) / 2
    assert amplitude == pytest.approx(abs(rc_transfer(f, order, TAU)), rel=1e-3)


def test_minus_3_db_bandwidth():
    for order in range(1, 9):
        f3 = rc_bandwidth_3db(order, TAU)
        assert abs(rc_transfer(f3, order, TAU)) == pytest.approx(1 / math.sqrt(2), rel=1e-12)


def test_blocks_give_exactly_the_whole_record():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5000)) + 1j * rng.standard_normal((3, 5000))
    whole = CascadedRC(5, 1e-3, FS)(x)
    f = CascadedRC(5, 1e-3, FS)
    cuts = [0, 1, 17, 400, 401, 2999, 5000]
    parts = [f(x[:, a:b]) for a, b in itertools.pairwise(cuts)]
    assert np.array_equal(np.concatenate(parts, axis=-1), whole)


@pytest.mark.parametrize("order", [0, 9, 2.5, True, "4"])
def test_bad_order_is_refused_naming_the_range(order):
    with pytest.raises(ValueError, match="1 to 8"):
        CascadedRC(order, 1e-3, FS)


@pytest.mark.parametrize("tau", [0, -1e-3, float("nan"), "fast"])
def test_bad_time_constant_is_refused(tau):
    with pytest.raises(ValueError, match="time_constant"):
        CascadedRC(2, tau, FS)


def test_shape_change_between_blocks_is_refused():
    f = CascadedRC(2, 1e-3, FS)
    f(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros((3, 10)))
