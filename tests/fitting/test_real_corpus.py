"""Real, published ODMR spectra and Rabi oscillations (tests/data/real, see SOURCES.yaml)
through the public API.

Each spectrum is loaded with ``nvsense.load_spectrum`` and fitted the automatic way (the kind
of signal and the number of lines found from the data) by ``fit_spectrum`` and ``fit_batch``;
the result is compared with an independent careful fit written here (scipy.optimize
.least_squares on the textbook Lorentzian, from a start chosen by eye) and with the authors'
own values where they publish them.  A fit with the wrong model must not claim success.
The Rabi oscillations (Qudi pulsed .dat files) are read with nvsense's table reader and fitted
by ``fit_rabi``, against an independent scipy fit of the damped sine and the authors' values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.optimize import least_squares

import nvsense
from nvsense.fitting import FitStatus, fit_batch, fit_spectrum
from nvsense.fitting.pulsed import PulsedStatus, fit_rabi
from nvsense.io import SpectrumFileError
from nvsense.io.tables import read_text
from nvsense.physics import field_from_transitions

REAL = Path(__file__).parents[1] / "data" / "real"


def lorentzian_dips(f_mhz, p, n_lines, n_base):
    """Independent model: baseline polynomial (in MHz from the sweep's middle) times
    (1 − Σ a / (1 + 4 ((f − c)/w)²))."""
    mid = 0.5 * (f_mhz[0] + f_mhz[-1])
    x = f_mhz - mid
    base = sum(p[k] * x**k for k in range(n_base))
    depth = sum(p[n_base + 3 * j + 2] / (1 + 4 * ((f_mhz - p[n_base + 3 * j])
                                                   / p[n_base + 3 * j + 1]) ** 2)
                for j in range(n_lines))
    return base * (1 - depth)


def careful_fit(f_hz, y, start, n_lines, n_base, sigma=None):
    """least_squares from ``start`` (centers/widths in MHz); returns (params, errors)."""
    f = f_hz / 1e6
    w = 1.0 / sigma if sigma is not None else np.ones_like(y)
    sol = least_squares(lambda p: (y - lorentzian_dips(f, p, n_lines, n_base)) * w, start,
                        method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=100000)
    J = sol.jac
    dof = y.size - start.size
    s2 = np.sum(sol.fun**2) / dof if sigma is None else max(np.sum(sol.fun**2) / dof, 0.0)
    cov = np.linalg.inv(J.T @ J) * s2
    return sol.x, np.sqrt(np.diag(cov))


def test_every_file_has_its_source():
    sources = yaml.safe_load((REAL / "SOURCES.yaml").read_text(encoding="utf-8"))
    listed = {entry["file"] for entry in sources}
    files = {p.name for p in REAL.iterdir()
             if p.name not in ("SOURCES.yaml", "LICENSE-Apache-2.0.txt",
                               "LICENSE-GPL-3.0.txt")}
    assert files == listed
    for entry in sources:
        for key in ("repository", "path", "commit", "licence", "what", "authors_values"):
            assert entry.get(key), (entry["file"], key)
        assert len(str(entry["commit"]).split()[0]) == 40
    assert sum(p.stat().st_size for p in REAL.iterdir()) < 100_000


def test_qudi_pulsed_odmr_single_nv():
    da = nvsense.load_spectrum(REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat")
    f, y, s = da.frequency.values, da.values, da.coords["sigma"].values
    fit = fit_spectrum(f, y, sigma=s, signal_kind="auto")
    assert fit.success and fit.n_lines == 2 and fit.signal == "dips"
    start = np.array([1.1, 2867.0, 2.0, 0.1, 2871.0, 2.0, 0.1])
    ref, err = careful_fit(f, y, start, 2, 1, sigma=s)
    np.testing.assert_allclose(fit.centers / 1e6, ref[[1, 4]], atol=0.02 * err[[1, 4]].max())
    np.testing.assert_allclose(fit.widths / 1e6, ref[[2, 5]], rtol=1e-3)
    np.testing.assert_allclose(fit.center_errors / 1e6, err[[1, 4]], rtol=0.02)
    batch = fit_batch(f, y, n_lines=2, sigma=s)
    np.testing.assert_allclose(batch.centers[0], fit.centers, atol=0.05 * err.max() * 1e6)
    # the authors' unweighted Qudi fit ("lorentziandouble"): its curve at 2850 MHz
    plain = fit_spectrum(f, y)
    assert plain.n_lines == 2 and plain.success
    assert plain.best_fit[0] == pytest.approx(1.1015461033795304, abs=1e-6)


def test_arts_zero_field_pair_is_found_and_not_taken_for_a_field():
    path = REAL / "arts_zero_field_spectrum_32_with_reference_fit.csv"
    da = nvsense.load_spectrum(path)
    assert da.attrs["signal_column"] == "experimental_normalized"
    f, y = da.frequency.values, da.values
    fit = fit_spectrum(f, y, signal_kind="auto")
    # two dips 4 MHz apart, blended into one wide dip for a one-line fit
    assert fit.success and fit.n_lines == 2
    start = np.array([1.0, 2868.5, 6.0, 0.04, 2873.0, 6.0, 0.04])
    ref, err = careful_fit(f, y, start, 2, 1)
    np.testing.assert_allclose(fit.centers / 1e6, ref[[1, 4]], atol=0.02 * err[[1, 4]].max())
    np.testing.assert_allclose(fit.contrasts, ref[[3, 6]], rtol=2e-3)
    # the authors' fit: their reference curve, fitted, gives their parameters ...
    curve = nvsense.load_spectrum(path, signal="reference_fit")
    theirs = fit_spectrum(curve.frequency.values, curve.values, n_lines=2)
    np.testing.assert_allclose(theirs.centers / 1e6, [2868.636, 2872.985], atol=2e-3)
    np.testing.assert_allclose(theirs.widths / 1e6, [6.0, 6.0], atol=2e-3)
    # ... and ours agrees with theirs within the errors (they tied the two widths together)
    assert np.all(np.abs(fit.centers - theirs.centers) < 3 * fit.center_errors)
    # the pair is split symmetrically about D: strain at zero field explains it as well as a
    # field does, so no field is claimed without E
    est = field_from_transitions(fit.centers, sigma=fit.center_errors)
    assert not est.success and est.strain_E == pytest.approx(2.04e6, abs=0.1e6)


def test_arts_eight_dip_photodiode_spectrum_with_a_wandering_baseline():
    da = nvsense.load_spectrum(REAL / "arts_eight_dip_spectrum_01.txt")
    f, y = da.frequency.values, da.values
    assert da.attrs["frequency_unit"] == "MHz" and da.frequency.values[0] == 2720.5e6
    fit = fit_spectrum(f, y, baseline="quadratic", signal_kind="auto")
    assert fit.success and fit.n_lines == 8
    centers = [2765.8, 2810.7, 2845.7, 2866.7, 2888.5, 2908.3, 2939.8, 2975.8]
    start = np.concatenate([[0.2315, 0.0, 0.0],
                            np.ravel([[c, 7.0, 0.01] for c in centers])])
    ref, err = careful_fit(f, y, start, 8, 3)
    np.testing.assert_allclose(fit.centers / 1e6, ref[3::3], atol=0.05 * err[3::3].max())
    np.testing.assert_allclose(fit.contrasts, ref[5::3], rtol=0.01, atol=1e-5)
    batch = fit_batch(f, y, n_lines=8, baseline="quadratic")
    assert batch.success[0]
    np.testing.assert_allclose(batch.centers[0], fit.centers, atol=0.05 * err[3::3].max() * 1e6)
    # the field of the 8 lines: determined, D near room temperature
    est = field_from_transitions(fit.centers, sigma=fit.center_errors)
    assert est.success
    assert 3.5e-3 < est.magnitude < 4.5e-3 and abs(est.D - 2.870e9) < 3e6
    # the wrong baseline (constant) cannot follow the drift: the fit must not claim success
    wrong = fit_spectrum(f, y, n_lines=8)
    assert not wrong.success
    assert wrong.status in (FitStatus.AT_BOUND, FitStatus.LOCAL_MINIMUM,
                            FitStatus.NOT_SIGNIFICANT, FitStatus.IMPLAUSIBLE)


def test_real_spectra_as_peaks_are_not_a_success():
    """The dips of real data fitted as peaks (a wrong --signal) are flagged, not reported as
    lines."""
    da = nvsense.load_spectrum(REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat")
    res = fit_batch(da.frequency.values, da.values, n_lines=2, signal="peaks")
    assert not res.success[0]


# --- Rabi oscillations ---------------------------------------------------------------------


def read_qudi_pulsed(name):
    """(x in s, signal, error) of a Qudi pulsed .dat file, read by nvsense's table reader."""
    table = read_text(REAL / name)
    assert table.format == "qudi-pulsed"
    assert list(table.columns) == ["Controlled variable(s)", "Signal", "Error"]
    return tuple(np.asarray(c) for c in table.columns.values())


def careful_rabi_fit(x, y, sigma=None):
    """Independent fit: c + A·exp(−g t)·sin(2π f t + φ), A > 0, φ in [0, 2π), f below the
    Nyquist frequency, from a grid of starts; returns (params, errors) with errors scaled by
    the reduced χ²."""
    nyquist = 0.5 / np.diff(x).max()
    w = 1.0 if sigma is None else 1.0 / sigma

    def model(p, t):
        return p[0] + p[1] * np.exp(-p[3] * t) * np.sin(2 * np.pi * p[2] * t + p[4])

    best = None
    for f0 in np.linspace(0.05, 0.95, 30) * nyquist:
        for ph in (0.5, 2.0, 3.5, 5.0):
            sol = least_squares(lambda p: (model(p, x) - y) * w,
                                [y.mean(), np.ptp(y) / 2, f0, 1e5, ph],
                                bounds=([-np.inf, 0, 0, 0, 0], [np.inf, np.inf, nyquist, 1e9,
                                                                2 * np.pi]),
                                x_scale=[1, 0.01, 1e5, 1e5, 1])
            if best is None or sol.cost < best.cost:
                best = sol
    J = best.jac
    cov = np.linalg.inv(J.T @ J) * np.sum(best.fun**2) / (x.size - 5)
    return best.x, np.sqrt(np.diag(cov)), model(best.x, x)


def test_qudi_rabi_out_of_phase_is_not_a_success_with_the_phase_held():
    """A real Rabi oscillation whose maximum is before t = 0: with φ held at 0 (the default)
    the frequency comes out 10 % high; that fit says WRONG_MODEL, the fit with φ free is right
    and reproduces the authors' Qudi fit."""
    x, y, s = read_qudi_pulsed("qudi_hira_pulsed_rabi_20220316-1434-53.dat")
    ref, err, _ = careful_rabi_fit(x, y, s)
    held = fit_rabi(x, y, sigma=s)
    assert not held.success and held.status == PulsedStatus.WRONG_MODEL
    assert "free_phase=True" in held.message
    # held at φ = 0 the frequency is wrong by many standard errors: success would be a lie
    assert abs(held.rabi_frequency - ref[2]) > 5 * err[2]
    free = fit_rabi(x, y, sigma=s, free_phase=True)
    assert free.success
    assert free.rabi_frequency == pytest.approx(ref[2], abs=0.02 * err[2])
    assert free.error("rabi_frequency") == pytest.approx(err[2], rel=0.02)
    assert free.rabi_frequency == pytest.approx(1.369e6, abs=0.01e6)
    # the π pulse is where the signal is lowest (its minimum is sampled at 310 ns)
    assert 0.26e-6 < free.pi_pulse < 0.36e-6
    # the authors' unweighted Qudi fit (sineexponentialdecay): its curve at the first point
    plain = fit_rabi(x, y, free_phase=True)
    assert plain.success
    assert plain.best_fit[0] == pytest.approx(1.1042166220436456, abs=1e-6)
    # a time sweep is not a spectrum: the spectrum loader refuses it instead of inventing Hz
    with pytest.raises(SpectrumFileError, match="outside any NV sweep"):
        nvsense.load_spectrum(REAL / "qudi_hira_pulsed_rabi_20220316-1434-53.dat")


def test_quaccatoo_single_nv_rabi_frequency():
    """A clean single-NV Rabi oscillation starting in phase: the default fit succeeds and
    agrees with an independent fit and with the authors' 16.72 MHz; no damping is seen, so the
    decay time is infinite, not a large number."""
    x, y, s = read_qudi_pulsed("quaccatoo_pulsed_rabi_Ex02_NV_rabi.dat")
    ref, err, _ = careful_rabi_fit(x, y, s)
    fit = fit_rabi(x, y, sigma=s)
    assert fit.success, fit.message
    assert fit.redchi == pytest.approx(0.93, abs=0.05)
    # φ = 0 held against φ free (the reference fits φ): within the reference's error
    assert abs(fit.rabi_frequency - ref[2]) < err[2]
    assert fit.error("rabi_frequency") == pytest.approx(0.5 * err[2], rel=0.2)
    assert abs(fit.rabi_frequency - 16.72e6) < 2 * fit.error("rabi_frequency")
    assert fit.pi_pulse == pytest.approx(1 / (2 * fit.rabi_frequency))
    assert fit.decay_time == np.inf
    free = fit_rabi(x, y, sigma=s, free_phase=True)
    assert free.success
    assert free.rabi_frequency == pytest.approx(ref[2], abs=0.02 * err[2])
    assert abs(free.phase) < 2 * free.error("phase")


def test_the_pulsed_measurement_fits_a_real_out_of_phase_rabi_with_the_phase_free():
    """The Rabi fit of ``nvsense pulsed rabi`` (which has no phase option) frees the phase
    when the data reject φ = 0, so a real oscillation gives the right π pulse."""
    from nvsense.measure.pulsed.fits import fit_signal

    x, y, s = read_qudi_pulsed("qudi_hira_pulsed_rabi_20220316-1434-53.dat")
    ref, err, _ = careful_rabi_fit(x, y, s)
    fit = fit_signal("rabi", x, y, s, method="mean")
    assert fit.success, fit.message
    assert fit.values["rabi_frequency_hz"] == pytest.approx(ref[2], abs=0.02 * err[2])
    # the π pulse of the free-phase fit: where the sine's phase reaches 3π/2 (its minimum)
    assert fit.values["pi_pulse_s"] == pytest.approx(
        (1.5 * np.pi - ref[4]) / (2 * np.pi * ref[2]), rel=1e-3)


def test_one_line_given_for_the_qudi_pair_is_not_a_success():
    """The pair of the pulsed ODMR fitted as one line: it converges at the pair's midpoint,
    inside its bounds and significant, with χ²/dof = 13 — the data hold two lines, so it is
    not a success; two lines are."""
    da = nvsense.load_spectrum(REAL / "qudi_hira_pulsed_odmr_20220315-2050-39.dat")
    f, y, s = da.frequency.values, da.values, da.coords["sigma"].values
    one = fit_spectrum(f, y, n_lines=1, sigma=s)
    assert not one.success and one.status == FitStatus.TOO_FEW_LINES
    assert one.centers[0] == pytest.approx(2869.3e6, abs=0.1e6)  # neither dip
    two = fit_spectrum(f, y, n_lines=2, sigma=s)
    assert two.success and two.redchi < one.redchi / 5
