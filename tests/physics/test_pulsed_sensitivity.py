"""Phase accumulation and sensitivity formulas (Degen, Reinhard & Cappellaro, RMP 89, 2017)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nvsense.fitting.pulsed import ac_field_from_quadratures
from nvsense.physics import GAMMA_NV_HZ_PER_T
from nvsense.physics.pulsed_sensitivity import (
    ac_field_from_phase,
    ac_phase,
    ac_sensitivity,
    ramsey_sensitivity,
    readout_efficiency,
)
from nvsense.physics.spin_dynamics import SpinSystem
from nvsense.pulses import normalised_signal, xy8
from nvsense.pulses.simulate import expected_counts


def test_readout_efficiency_limits():
    # perfect projective readout: C → 1; photon-limited: C ≈ (a0 − a1)/√(2(a0 + a1))
    assert readout_efficiency(1e6, 0.0) == pytest.approx(1.0, abs=1e-5)
    a0, a1 = 0.03, 0.021  # a single NV, 300 ns readout
    assert readout_efficiency(a0, a1) == pytest.approx((a0 - a1) / math.sqrt(2 * (a0 + a1)),
                                                       rel=1e-3)
    with pytest.raises(ValueError):
        readout_efficiency(1.0, 1.0)


def test_ac_phase_and_field_are_inverse_and_follow_four_gamma_b_t():
    b, t = 2e-9, 100e-6
    phi = ac_phase(b, t)
    assert phi == pytest.approx(4 * GAMMA_NV_HZ_PER_T * b * t)
    assert ac_field_from_phase(phi, t) == pytest.approx(b)


def test_sensitivity_formulas_have_the_published_form():
    c, t, oh = 0.03, 50e-6, 5e-6
    eta = ac_sensitivity(t, c, coherence=math.exp(-0.5), overhead_time=oh)
    gamma_rad = 2 * math.pi * GAMMA_NV_HZ_PER_T
    assert eta == pytest.approx(math.pi / (2 * gamma_rad * c) * math.exp(0.5)
                                * math.sqrt(t + oh) / t)
    assert ramsey_sensitivity(1e-6, c) == pytest.approx(1 / (gamma_rad * c) / math.sqrt(1e-6))
    with pytest.raises(ValueError, match="readout_efficiency"):
        ac_sensitivity(t, 0.0)


@pytest.mark.parametrize("phase_ac", [0.0, 0.4])
def test_the_simulator_accumulates_the_phase_the_formula_predicts(phase_ac):
    """XY8-2 with nearly ideal pulses: the phase read from the two quadratures is 4γBT·cos φ0
    for a field B·cos(2πf t + φ0) at f = 1/(2τ)."""
    tau, b = 1e-6, 150e-9
    a = GAMMA_NV_HZ_PER_T * b
    system = SpinSystem(250e6, ac_amplitude=a, ac_frequency=1 / (2 * tau), ac_phase=phase_ac)
    signals = []
    for final in (180.0, 270.0):
        program = xy8([tau], 1e-9, 2e-9, 2, final_phase=final)
        counts = expected_counts(program, system, rate=1e9, contrast=0.3)
        signals.append(normalised_signal(counts, program.readouts)[0][0])
    total = 16 * tau
    result = ac_field_from_quadratures(signals[0], 0.0, signals[1], 0.0, total)
    # a phase φ0 off the filter reduces the response by cos φ0 (to first order in the pulses)
    assert result["phase"] == pytest.approx(ac_phase(b, total) * math.cos(phase_ac), rel=0.02)
    if phase_ac == 0.0:
        assert result["ac_field"] == pytest.approx(b, rel=0.02)
    assert np.isfinite(result["ac_field_error"])
