"""The simulated bench puts its resonances where the NV physics puts them.

Every expected line position here comes from an independent computation: a spin-1 Hamiltonian
built in this file and diagonalised with numpy, with γ from scipy's CODATA constants, or the
reference values of REFERENCES.md.  The simulated counts are fitted with a Lorentzian
(scipy ``curve_fit``) to find where the dips are.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants
from scipy.optimize import curve_fit

from nvsense.instruments.simulated import (
    SimulatedCoil,
    SimulatedCounter,
    SimulatedLaser,
    SimulatedMicrowave,
    SimulatedSample,
)

GAMMA = 2.0028 * constants.physical_constants["Bohr magneton"][0] / constants.h  # Hz/T
AXES = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def independent_lines(B: np.ndarray, D: float = 2.870e9, axes: np.ndarray = AXES) -> np.ndarray:
    """Sorted transition frequencies from the ms≈0 level, by numerical diagonalisation (E = 0,
    so the choice of the transverse NV axes does not matter)."""
    r2 = 1 / np.sqrt(2)
    sx = np.array([[0, r2, 0], [r2, 0, r2], [0, r2, 0]], dtype=complex)
    sy = np.array([[0, -1j * r2, 0], [1j * r2, 0, -1j * r2], [0, 1j * r2, 0]])
    sz = np.diag([1.0, 0, -1.0]).astype(complex)
    lines = []
    for n in axes:
        z = n / np.linalg.norm(n)
        x = np.cross(z, [0.0, 1.0, 0.0] if abs(z[1]) < 0.9 else [1.0, 0.0, 0.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        b = GAMMA * np.array([B @ x, B @ y, B @ z])
        H = D * sz @ sz + b[0] * sx + b[1] * sy + b[2] * sz
        levels = np.linalg.eigvalsh(H)
        lines += [levels[1] - levels[0], levels[2] - levels[0]]
    return np.sort(lines)


def lorentzian_dip(f, base, depth, f0, fwhm):
    return base * (1 - depth * (fwhm / 2) ** 2 / ((f - f0) ** 2 + (fwhm / 2) ** 2))


def make_bench(**sample):
    sample.setdefault("seed", 7)
    s = SimulatedSample(sample)
    mw, laser, counter = (SimulatedMicrowave("mw", s), SimulatedLaser("laser", s),
                          SimulatedCounter("counter", s, mw_trigger_lead=0))
    for inst in (mw, laser, counter):
        inst.connect()
    laser.on = True
    mw.power = s.config.mw_reference_power
    mw.output = True
    return s, mw, laser, counter


def sweep(mw, counter, freqs, bin_time=1e-3):
    """A hardware-timed sweep: the counter's clock steps the list, one bin per frequency."""
    mw.load_list(freqs, mw.power)
    mw.start_list()
    counter.configure(len(freqs), bin_time, trigger_mw=True)
    counts = counter.acquire()
    mw.stop_list()
    return counts


def fit_dip(mw, counter, guess, half_width=2.5e6, step=25e3, fwhm=1e6):
    freqs = np.arange(guess - half_width, guess + half_width, step)
    counts = sweep(mw, counter, freqs)
    p0 = [counts.max(), 0.02, freqs[np.argmin(counts)], fwhm]
    popt, pcov = curve_fit(lorentzian_dip, freqs, counts, p0=p0, sigma=np.sqrt(counts))
    return popt, np.sqrt(np.diag(pcov))


def test_dips_of_an_ensemble_sit_where_an_independent_diagonalisation_puts_them():
    B = np.array([0.4e-3, 1.1e-3, 1.9e-3])
    _s, mw, _, counter = make_bench(field=list(B), count_rate=1e10)
    expected = independent_lines(B)
    assert np.min(np.diff(expected)) > 5e6  # eight resolved lines
    for line in expected:
        popt, perr = fit_dip(mw, counter, line + 0.3e6)  # start the search off the line
        assert perr[2] < 3e3
        assert abs(popt[2] - line) < 10e3


def test_reference_lines_of_references_md():
    # REFERENCES.md: D = 2870 MHz, E = 0, B = (1, 2, 3) mT in the crystal frame
    reference = np.array([2773.726, 2808.838, 2842.801, 2873.828, 2877.656, 2907.591,
                          2938.279, 2967.918]) * 1e6
    _, mw, _, counter = make_bench(field=["1 mT", "2 mT", "3 mT"], count_rate=1e10)
    for line in reference:
        popt, _ = fit_dip(mw, counter, line, half_width=1.6e6)  # 2873.8 and 2877.7 are close
        assert abs(popt[2] - line) < 10e3


def test_single_axis_on_axis_field_gives_the_reference_pair():
    # REFERENCES.md: 1 mT on axis -> 2841.968 / 2898.032 MHz
    B = 1e-3 * AXES[0]
    _, mw, _, counter = make_bench(field=list(B), axes=[0], count_rate=1e10)
    for line in (2841.968e6, 2898.032e6):
        popt, _ = fit_dip(mw, counter, line)
        assert abs(popt[2] - line) < 10e3


def test_strain_splits_the_zero_field_line():
    # REFERENCES.md: B = 0, E = 5 MHz gives lines at 2865 and 2875 MHz
    _, mw, _, counter = make_bench(field=[0, 0, 0], strain="5 MHz", count_rate=1e10)
    for line in (2865e6, 2875e6):
        popt, _ = fit_dip(mw, counter, line)
        assert abs(popt[2] - line) < 10e3


def test_temperature_moves_the_zero_field_line_by_minus_74_kHz_per_K():
    shifts = []
    for temperature in (290.0, 320.0):
        _, mw, _, counter = make_bench(field=[0, 0, 0], temperature=temperature, axes=[0],
                                       count_rate=1e10)
        popt, _ = fit_dip(mw, counter, 2.870e9)
        shifts.append(popt[2])
    slope = (shifts[1] - shifts[0]) / 30.0
    assert slope == pytest.approx(-74.2e3, rel=0.02)
    assert shifts[1] == pytest.approx(2.870e9 - 20 * 74.2e3, abs=10e3)


@pytest.mark.parametrize(("nucleus", "spacing", "n_lines"), [("14N", 2.16e6, 3),
                                                             ("15N", 3.03e6, 2)])
def test_hyperfine_multiplet_with_shared_contrast(nucleus, spacing, n_lines):
    B = 2e-3 * AXES[0]
    _s, mw, _, counter = make_bench(field=list(B), axes=[0], nucleus=nucleus,
                                   linewidth="0.2 MHz", contrast=0.06, count_rate=1e10)
    centre = independent_lines(B, axes=AXES[:1])[0]
    positions = centre + spacing * (np.arange(n_lines) - (n_lines - 1) / 2)
    freqs = np.arange(centre - 5e6, centre + 5e6, 10e3)
    counts = sweep(mw, counter, freqs)
    base = np.median(counts[np.abs(freqs - centre) > 4.5e6])
    for position in positions:
        window = np.abs(freqs - position) < 0.5e6
        f_min = freqs[window][np.argmin(counts[window])]
        assert abs(f_min - position) <= 20e3
        depth = 1 - counts[window].min() / base
        # the multiplet shares the contrast: each line is contrast / n_lines deep
        assert depth == pytest.approx(0.06 / n_lines, rel=0.1)
    # nothing between the hyperfine lines but Lorentzian tails
    between = np.abs(freqs - (positions[0] + positions[1]) / 2) < 50e3
    assert 1 - counts[between].mean() / base < 0.2 * 0.06 / n_lines


def test_coil_current_adds_its_field_along_the_coil_axis():
    s = SimulatedSample({"field": [0, 0, 0], "axes": [0], "coil_constant": "2 mT/A",
                         "coil_direction": [1, 1, 1], "count_rate": 1e10, "seed": 3})
    mw, laser, counter = (SimulatedMicrowave("mw", s), SimulatedLaser("laser", s),
                          SimulatedCounter("counter", s, mw_trigger_lead=0))
    coil = SimulatedCoil("coil", s)
    for inst in (mw, laser, counter, coil):
        inst.connect()
    laser.on, mw.output = True, True
    coil.current = 0.5  # 1 mT along [111], the NV axis: lines at 2870 ∓ 28.03 MHz
    coil.output = True
    expected = independent_lines(1e-3 * AXES[0], axes=AXES[:1])
    for line in expected:
        popt, _ = fit_dip(mw, counter, line)
        assert abs(popt[2] - line) < 10e3
    coil.output = False  # back to zero field: one line at D
    popt, _ = fit_dip(mw, counter, 2.870e9)
    assert abs(popt[2] - 2.870e9) < 10e3


def test_ac_field_tone_appears_in_the_counts_at_its_frequency():
    # Park the RF on the steepest slope of an axis-0 line and record a time trace: a 10 Hz,
    # 200 nT tone along the axis moves the line by γ·200 nT ≈ 5.6 kHz peak, which the slope
    # turns into a count modulation at 10 Hz.
    amplitude, tone = 200e-9, 10.0
    B0 = 1e-3 * AXES[0]
    _s, mw, _, counter = make_bench(field=list(B0), axes=[0], linewidth="1 MHz", contrast=0.05,
                                   count_rate=1e10,
                                   field_ac={"amplitude": amplitude, "frequency": tone,
                                             "direction": list(AXES[0])})
    low = independent_lines(B0, axes=AXES[:1])[0]
    fwhm = 1e6
    detuning = fwhm / (2 * np.sqrt(3))  # steepest point of the Lorentzian
    mw.frequency = low + detuning
    dt, n = 1e-3, 4000  # 4 s at 1 kHz: tone on bin 40 of the spectrum
    counter.configure(n, dt)
    counts = counter.acquire()
    spectrum = np.abs(np.fft.rfft(counts - counts.mean())) * 2 / n
    freqs = np.fft.rfftfreq(n, dt)
    peak = np.argmax(spectrum[1:]) + 1
    assert freqs[peak] == pytest.approx(tone)
    # amplitude from the Lorentzian's slope: |dC/df| = 3√3·C/(4Δν) times the rate per bin
    rate_per_bin = counts.mean()
    expected = rate_per_bin * 3 * np.sqrt(3) * 0.05 / (4 * fwhm) * GAMMA * amplitude
    assert spectrum[peak] == pytest.approx(expected, rel=0.1)
    noise = np.median(spectrum[1:])
    assert spectrum[peak] > 20 * noise


def test_ac_field_is_averaged_over_each_bin():
    # A tone at exactly 1/bin_time averages to zero within every bin: no modulation.
    B0 = 1e-3 * AXES[0]
    s, mw, _, _counter = make_bench(field=list(B0), axes=[0], contrast=0.05, count_rate=1e10,
                                   field_ac={"amplitude": "1 uT", "frequency": "100 Hz",
                                             "direction": list(AXES[0])})
    mw.frequency = independent_lines(B0, axes=AXES[:1])[0] + 0.29e6
    lines_now = s.line_frequencies()
    B_true = s.field_at(0.0025)
    assert np.allclose(B_true, B0 + 1e-6 * AXES[0] * np.sin(2 * np.pi * 100 * 0.0025))
    assert lines_now.shape == (1, 2, 1)
    rate_bin = s.expected_rate([mw.frequency] * 4, [0.0025, 0.0075, 0.0125, 0.0175], 0.01)
    assert np.ptp(rate_bin) < 1e-9 * rate_bin.mean()
    rate_instant = s.expected_rate([mw.frequency] * 2, [0.0025, 0.0075])
    assert np.ptp(rate_instant) > 1e-3 * rate_instant.mean()
