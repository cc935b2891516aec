"""The lock-in run's loop: the filtered control and the closed-loop bandwidth, each against an
independent time-domain computation (the lock-in's discrete filter run sample by sample)."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.dsp import CascadedRC
from nvsense.measure.lockin.loop import (
    ControlFilter,
    closed_loop_bandwidth,
    closed_loop_response,
    gain_for_bandwidth,
)
from nvsense.measure.lockin.settings import filter_time_constant

FS, RATE, BLOCK, ORDER = 200e3, 2000.0, 1e-3, 4
TAU = filter_time_constant(RATE, ORDER)
N = round(FS * BLOCK)
D = round(FS / RATE)


def test_control_filter_is_the_lockin_filter_on_the_control_steps():
    rng = np.random.default_rng(4)
    values = np.cumsum(rng.standard_normal(60))
    values[20:30] = values[19]  # blocks without a step
    fast = ControlFilter(ORDER, TAU, FS, D)
    slow = CascadedRC(ORDER, TAU, FS)
    slow(np.full(10_000, values[0]))  # settled at the first value, as the control starts
    for v in values:
        y = slow(np.full(N, v))[D - 1::D]
        assert np.allclose(fast(v, N), y, atol=1e-10, rtol=0)


def simulate_loop(ki: float, f: float, blocks: int = 200) -> float:
    """Amplitude of the control following a unit line motion at f, in the time domain."""
    lpf = CascadedRC(ORDER, TAU, FS)
    p, controls = 0.0, []
    for n in range(blocks):
        t = (n * N + np.arange(N)) / FS
        seen = lpf(np.sin(2 * np.pi * f * t))[D - 1::D]  # LPF(ν) at the output samples
        p += ki * (float(np.mean(seen)) - p)
        controls.append(p)
    c = np.array(controls[blocks // 2:])  # steady state
    t = (np.arange(blocks // 2, blocks) + 1) * BLOCK
    fit = np.linalg.lstsq(np.column_stack([np.sin(2 * np.pi * f * t),
                                           np.cos(2 * np.pi * f * t)]), c, rcond=None)[0]
    return float(np.hypot(*fit))


@pytest.mark.parametrize("bandwidth", [100.0, 200.0])
def test_loop_bandwidth_is_what_the_time_domain_loop_shows(bandwidth):
    outputs = N // D
    ki = gain_for_bandwidth(bandwidth, BLOCK, TAU, ORDER, outputs)
    assert closed_loop_bandwidth(ki, BLOCK, TAU, ORDER, outputs) == pytest.approx(bandwidth,
                                                                                  rel=1e-3)
    assert simulate_loop(ki, bandwidth) == pytest.approx(1 / np.sqrt(2), rel=0.02)
    for f in (bandwidth / 7, 2.3 * bandwidth):
        model = abs(closed_loop_response(np.array([f]), ki, BLOCK, TAU, ORDER, outputs)[0])
        assert simulate_loop(ki, f) == pytest.approx(model, rel=0.02)


def test_unreachable_bandwidth_says_what_to_change():
    with pytest.raises(ValueError, match="block_time"):
        gain_for_bandwidth(499.0, BLOCK, TAU, ORDER, N // D)
