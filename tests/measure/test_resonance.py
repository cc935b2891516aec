"""The no-resonance check: a run without a resonance (dark counts, lines outside the sweep,
shot noise only) is never reported as a measurement; a real one always passes."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import pyvisa
import yaml

from nvsense.instruments import load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path
from nvsense.measure import ResonanceCheck, check_resonance, run_odmr, run_track
from nvsense.measure.analysis import analyse_spectrum
from nvsense.measure.resonance import MAX_CONTRAST, RESONANCE_KEY, line_threshold
from nvsense.storage import Catalog

FREQS = np.linspace(2.80e9, 2.94e9, 801)


def seeded_bench(**sample):
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"].update({"seed": 3, **sample})
    return config


def lorentzian_dip(f, center, width, contrast):
    return contrast / (1 + ((f - center) / (width / 2)) ** 2)


def fit(signal, sweeps=1, n_lines=1, counts=True):
    sigma = np.sqrt(np.maximum(signal, 1.0) / sweeps) if counts else None
    return analyse_spectrum(FREQS, signal, model="lorentzian", n_lines=n_lines, sigma=sigma)


def test_flat_shot_noise_is_never_a_resonance():
    """200 flat Poisson spectra, each with a line forced into the fit: no false resonance
    (the check's false-alarm bound is 1e-6 per spectrum)."""
    rng = np.random.default_rng(1)
    for rate in (0.2, 30.0, 1e6):  # dark counts, a weak signal, an ensemble
        for _ in range(200 if rate == 30.0 else 40):
            signal = rng.poisson(rate, FREQS.size).astype(float)
            check = check_resonance(FREQS, signal, fit(signal), counts=True, dwell=1e-3)
            assert not check.found, (rate, check)
            assert "do not depend on frequency" in check.reason or "dip" in check.reason


def test_a_real_line_is_always_found():
    """One 1 MHz line, 10 % deep, on 1e4 counts per point: its fitted contrast is about 15
    standard errors, far above the threshold (about 5.7), in every one of 20 spectra."""
    rng = np.random.default_rng(2)
    mean = 1e4 * (1 - lorentzian_dip(FREQS, 2.87e9, 1e6, 0.10))
    for _ in range(20):
        signal = rng.poisson(mean).astype(float)
        check = check_resonance(FREQS, signal, fit(signal), counts=True)
        assert check.found, check
        # the fitted FWHM (±10 % here) over the 0.175 MHz step
        assert check.points_per_linewidth == pytest.approx(1e6 / 0.175e6, rel=0.5)
        assert check.notes() == []


def test_voltage_spectra_use_their_own_noise():
    rng = np.random.default_rng(4)
    flat = 1.0 + 0.01 * rng.standard_normal(FREQS.size)
    check = check_resonance(FREQS, flat, fit(flat, counts=False), counts=False)
    assert not check.found and "point-to-point noise" in check.reason
    dip = flat - lorentzian_dip(FREQS, 2.85e9, 1e6, 0.05)
    assert check_resonance(FREQS, dip, fit(dip, counts=False), counts=False).found


def test_a_fit_deeper_than_any_nv_line_is_implausible():
    fake = SimpleNamespace(centers=np.array([2.87e9]), contrasts=np.array([1.0]),
                           contrast_errors=np.array([0.01]), widths=np.array([1e6]),
                           success=True)
    signal = 1e4 * (1 - lorentzian_dip(FREQS, 2.87e9, 1e6, 0.02))
    check = check_resonance(FREQS, signal, fake, counts=True)
    assert not check.found and "implausible fit" in check.reason and "100 %" in check.reason
    assert MAX_CONTRAST == 0.5


def test_line_threshold_grows_with_the_places_a_line_could_be():
    narrow = line_threshold(FREQS, np.array([0.5e6]))
    wide = line_threshold(FREQS, np.array([10e6]))
    assert 5.0 <= wide < narrow < 6.5


def test_the_default_run_finds_its_lines_and_samples_them_well(tmp_path):
    with load_bench(seeded_bench()) as bench:
        result = run_odmr(bench, {"sweeps": 2, "n_lines": 8}, data_dir=tmp_path)
    assert result.resonance_found is True and result.warnings == []
    assert result.resonance.points_per_linewidth >= 5
    assert Catalog(tmp_path).get(result.run_id)["results"][RESONANCE_KEY] is True


def test_a_sweep_without_lines_is_no_measurement(tmp_path):
    with load_bench(seeded_bench()) as bench:
        result = run_odmr(bench, {"sweeps": 2, "ranges": ["2.75GHz:2.80GHz:201"]},
                          data_dir=tmp_path)
    assert result.status == "completed" and result.resonance_found is False
    assert result.final.success is False  # never a successful fit
    assert "no resonance measured" in result.warnings[0]
    summary = result.summary()
    assert summary[RESONANCE_KEY] is False and summary["fit_success"] is False
    row = Catalog(tmp_path).get(result.run_id)
    assert row["results"][RESONANCE_KEY] is False and row["results"]["fit_success"] is False


def test_coarse_sampling_is_warned_about(tmp_path):
    with load_bench(seeded_bench()) as bench:
        result = run_odmr(bench, {"sweeps": 2, "n_lines": 8, "ranges": ["2.80GHz:2.94GHz:281"]},
                          data_dir=tmp_path)
    assert result.resonance_found is True
    assert any("points per FWHM" in w for w in result.warnings)


@pytest.fixture
def mixed_bench(tmp_path):
    """The issue's bench: real drivers on their pyvisa-sim models for the source and the laser,
    the simulated counter: the simulated sample sees neither, so only dark counts arrive."""
    libraries, keep = {}, []
    for driver, (read, write) in {"sg384": ("\r\n", "\n"), "cobolt": ("\r\n", "\r")}.items():
        libraries[driver] = sim_library(driver, shutil.copy(sim_path(driver), tmp_path))
        keep.append(pyvisa.ResourceManager(libraries[driver]).open_resource(
            SIM_ADDRESSES[driver], read_termination=read, write_termination=write))

    def entry(driver, **options):
        return {"driver": driver, "address": SIM_ADDRESSES[driver],
                "visa_library": libraries[driver], "timeout": 0.5, **options}

    yield {"instruments": {"mw": entry("sg384"), "laser": entry("cobolt", max_power="100 mW"),
                           "counter": {"driver": "simulated"}},
           "sample": {"seed": 5}}
    for resource in keep:
        resource.close()


def test_dark_counts_of_a_mixed_bench_are_no_resonance(tmp_path, mixed_bench):
    with load_bench(mixed_bench) as bench:
        result = run_odmr(bench, {"sweeps": 3, "mode": "stepped", "laser_power": "50 mW"},
                          data_dir=tmp_path / "data")
    assert result.status == "completed" and result.resonance_found is False
    assert "counts do not depend on frequency" in result.warnings[0]
    assert "counts/s" in result.warnings[0]  # the dark count rate, so the cause is clear
    assert result.final is None or result.final.success is False


def test_tracking_never_locks_onto_dark_counts(tmp_path):
    with load_bench(seeded_bench(dark_count_rate="200 /s")) as bench:
        result = run_track(bench, {"duration": "0.2 s", "laser_power": "0 W"},
                           data_dir=tmp_path)
    assert result.status == "aborted" and "initial sweep" in result.reason
    assert result.samples == 0


def test_tracking_aborts_when_its_initial_sweep_shows_no_resonance(tmp_path, monkeypatch):
    """A fit that succeeded on a spectrum the check rejects (contrast 100 %, say) is not
    locked onto: the run aborts with the check's reason."""
    import nvsense.measure.tracking.lock_setup as tracking

    verdict = ResonanceCheck(False, "implausible fit: the line at 2815.000 MHz has a "
                                    "contrast of 100 %")
    seen = []

    def reject(*args, **kwargs):
        seen.append(kwargs)
        return verdict

    monkeypatch.setattr(tracking, "check_resonance", reject)
    with load_bench(seeded_bench()) as bench:
        result = run_track(bench, {"duration": "0.2 s"}, data_dir=tmp_path)
    assert seen and seen[0]["counts"] is True
    assert result.status == "aborted" and result.samples == 0
    assert "no resonance measured: implausible fit" in result.reason
