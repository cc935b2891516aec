"""Noise analysis of B(t): checked on synthetic series with known noise density and tones."""

import json

import numpy as np
import pytest
import xarray as xr

from nvsense.analysis import (
    allan_deviation,
    amplitude_spectral_density,
    analyse_noise,
    find_tones,
    noise_floor,
    shot_noise_floor,
    shot_noise_ratio,
)

RATE = 1000.0  # Hz, a typical tracking output rate
DENSITY = 2e-9  # T/√Hz, one-sided


def white(density=DENSITY, rate=RATE, seconds=100.0, seed=0, offset=1e-3):
    """White field noise of one-sided density ``density`` on a 1 mT offset: σ = ρ·√(fs/2)."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    return offset + density * np.sqrt(rate / 2) * rng.standard_normal(n)


def tone(amplitude, frequency, rate=RATE, seconds=100.0, phase=0.3):
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t + phase)


# --- spectral density ---------------------------------------------------------------------


@pytest.mark.parametrize("rate", [200.0, 1000.0, 5000.0])
def test_white_noise_asd_is_its_one_sided_density_at_any_rate(rate):
    sd = amplitude_spectral_density(white(rate=rate, seconds=40.0), rate)
    band = (sd.frequency > 1) & (sd.frequency < rate / 2 * 0.95)
    assert np.sqrt(np.mean(sd.psd[band])) == pytest.approx(DENSITY, rel=0.03)
    assert sd.unit == "T"
    assert sd.frequency[-1] == pytest.approx(rate / 2)


def test_resolution_sets_the_bin_spacing():
    sd = amplitude_spectral_density(white(seconds=20.0), RATE, resolution=0.5)
    assert sd.resolution <= 0.5
    assert np.diff(sd.frequency)[0] == pytest.approx(sd.resolution)


def test_resolution_finer_than_the_series_allows_is_refused():
    with pytest.raises(ValueError, match="record longer"):
        amplitude_spectral_density(white(seconds=1.0), RATE, resolution=0.1)


# --- noise floor --------------------------------------------------------------------------


@pytest.mark.parametrize("statistic", ["median", "mean"])
def test_noise_floor_of_white_noise_is_its_density(statistic):
    floor = noise_floor(white(), RATE, statistic=statistic)
    assert floor == pytest.approx(DENSITY, rel=0.03)


def test_noise_floor_default_band_is_10_hz_to_a_third_of_the_rate():
    # Strong low-frequency noise below 10 Hz and above rate/3 must not enter the floor.
    rng = np.random.default_rng(4)
    b = white(seed=5)
    t = np.arange(b.size) / RATE
    b += 1e-7 * np.cumsum(rng.standard_normal(b.size)) / np.sqrt(RATE)  # random walk: < 10 Hz
    b += tone(2e-7, 2.0) + tone(2e-7, 420.0)  # outside the band on both sides
    assert noise_floor(b, RATE) == pytest.approx(DENSITY, rel=0.05)
    assert t[-1] > 10  # a long enough series for the band


def test_noise_floor_excludes_a_test_tone():
    b = white(seed=1) + tone(50e-9, 37.3)
    with_exclusion = noise_floor(b, RATE, statistic="mean")
    without = noise_floor(b, RATE, statistic="mean", exclude_tones=False)
    assert with_exclusion == pytest.approx(DENSITY, rel=0.03)
    assert without > 1.3 * DENSITY  # the tone's power would otherwise raise the floor


def test_noise_floor_band_can_be_chosen_and_an_empty_band_is_refused():
    assert noise_floor(white(), RATE, 50.0, 150.0) == pytest.approx(DENSITY, rel=0.05)
    with pytest.raises(ValueError, match="empty"):
        noise_floor(white(rate=20.0), 20.0)  # 10 Hz to 6.7 Hz: nothing between
    with pytest.raises(ValueError, match="Nyquist"):
        noise_floor(white(), RATE, 10.0, 600.0)


# --- tones --------------------------------------------------------------------------------


@pytest.mark.parametrize("frequency", [37.0, 37.3, 37.5, 123.456])
def test_tone_amplitude_and_frequency_wherever_it_falls_between_bins(frequency):
    amplitude = 30e-9  # T, peak
    sd = amplitude_spectral_density(white(seed=2) + tone(amplitude, frequency), RATE)
    frequency_bins = (frequency / sd.resolution) % 1
    tones = find_tones(sd)
    assert len(tones) == 1, f"tone at {frequency_bins:.2f} of a bin"
    assert tones[0].frequency == pytest.approx(frequency, abs=0.25 * sd.resolution)
    assert tones[0].amplitude == pytest.approx(amplitude, rel=0.03)


def test_two_tones_are_found_strongest_first():
    b = white(seed=3) + tone(20e-9, 60.0) + tone(80e-9, 211.0)
    tones = find_tones(b, RATE)
    assert [round(t.frequency) for t in tones] == [211, 60]
    assert tones[0].amplitude == pytest.approx(80e-9, rel=0.03)
    assert tones[1].amplitude == pytest.approx(20e-9, rel=0.03)


@pytest.mark.parametrize("seed", range(6))
def test_pure_white_noise_has_no_tones(seed):
    assert find_tones(white(seed=10 + seed, seconds=30.0), RATE) == []


def test_a_tone_too_weak_to_see_is_not_reported_and_a_clear_one_is():
    sd_weak = amplitude_spectral_density(white(seed=6) + tone(0.5e-9, 77.7), RATE)
    sd_clear = amplitude_spectral_density(white(seed=6) + tone(10e-9, 77.7), RATE)
    assert find_tones(sd_weak) == []
    assert len(find_tones(sd_clear)) == 1


# --- Allan deviation ----------------------------------------------------------------------


def test_allan_deviation_of_white_noise_falls_as_one_over_root_tau():
    adev = allan_deviation(white(seconds=200.0), RATE, taus=[0.001, 0.01, 0.1, 1.0])
    expected = DENSITY / np.sqrt(2 * adev.tau)
    np.testing.assert_allclose(adev.deviation, expected, rtol=0.06)
    assert np.all(adev.error > 0) and np.all(adev.error < 0.1 * adev.deviation)


def test_allan_deviation_of_a_linear_drift_is_rate_tau_over_root_two():
    t = np.arange(20000) / RATE
    drift = 5e-9  # T/s
    adev = allan_deviation(1e-3 + drift * t, RATE, taus=[0.01, 0.1, 1.0])
    np.testing.assert_allclose(adev.deviation, drift * adev.tau / np.sqrt(2), rtol=1e-6)


def test_allan_default_taus_span_one_sample_to_a_quarter_of_the_series():
    adev = allan_deviation(white(seconds=10.0), RATE)
    assert adev.tau[0] == pytest.approx(1 / RATE)
    assert adev.tau[-1] == pytest.approx(10.0 / 4, rel=0.01)
    assert np.all(np.diff(adev.tau) > 0)


def test_allan_taus_beyond_half_the_series_are_refused():
    with pytest.raises(ValueError, match="taus must lie"):
        allan_deviation(white(seconds=1.0), RATE, taus=[0.8])


# --- shot-noise comparison ----------------------------------------------------------------


def test_shot_noise_ratio_against_the_reference_limit():
    # REFERENCES.md: 1 MHz FWHM, 1 % contrast, 1e12 photons/s → η = 2.75 nT/√Hz, which a
    # one-sided ASD shows as √2·η (δB(t) = η/√t and δB(t) = ρ/√(2t) for white density ρ)
    ratio = shot_noise_ratio(3 * 2.75e-9, linewidth=1e6, contrast=0.01, count_rate=1e12)
    assert ratio == pytest.approx(3.0 / np.sqrt(2), rel=0.01)


def test_shot_noise_floor_is_what_an_averaged_white_series_at_eta_shows():
    # a series whose t-second averages scatter by η/√t has an ASD floor of √2·η
    eta, rate, t_avg = 2.75e-9, 1000.0, 1.0
    rng = np.random.default_rng(3)
    n = int(rate * 400)
    b = rng.standard_normal(n) * eta * np.sqrt(rate)  # σ of a t-average = η/√t
    averages = b.reshape(-1, int(rate * t_avg)).mean(axis=1)
    assert averages.std() * np.sqrt(t_avg) == pytest.approx(eta, rel=0.1)
    floor = noise_floor(b, rate)
    assert floor == pytest.approx(shot_noise_floor(1e6, 0.01, 1e12), rel=0.05)


def test_shot_noise_ratio_refuses_a_meaningless_floor():
    with pytest.raises(ValueError, match="noise floor"):
        shot_noise_ratio(float("nan"), linewidth=1e6, contrast=0.01, count_rate=1e12)


def test_analyse_noise_report_gathers_everything_and_serialises():
    b = white(seed=7) + tone(40e-9, 47.0)
    report = analyse_noise(b, RATE, linewidth=1e6, contrast=0.01, count_rate=1e12)
    assert report.floor == pytest.approx(DENSITY, rel=0.04)
    assert report.band == (10.0, pytest.approx(RATE / 3))
    assert len(report.tones) == 1 and report.tones[0].frequency == pytest.approx(47.0, abs=0.1)
    assert report.shot_noise_ratio == pytest.approx(DENSITY / (np.sqrt(2) * 2.75e-9), rel=0.05)
    summary = json.loads(json.dumps(report.summary()))
    assert summary["noise_floor_per_rthz"] == pytest.approx(report.floor)
    assert report.allan is not None and report.allan.tau.size > 5


def test_noise_figure_shows_spectrum_floor_tones_and_allan(tmp_path):
    from nvsense.analysis import plot_noise

    report = analyse_noise(white(seed=13, seconds=20.0) + tone(40e-9, 47.0, seconds=20.0), RATE,
                           linewidth=1e6, contrast=0.01, count_rate=1e12)
    fig = plot_noise(report, tmp_path / "noise.png", title="test")
    asd_ax, allan_ax = fig.axes[:2]
    assert asd_ax.get_xscale() == "log" and allan_ax.get_yscale() == "log"
    assert any("47" in t.get_text() for t in asd_ax.texts)  # the tone is labelled
    labels = asd_ax.get_legend_handles_labels()[1]
    assert any(label.startswith("floor 2") for label in labels)  # 2 nT/√Hz
    assert any("shot-noise" in label for label in labels)
    assert (tmp_path / "noise.png").stat().st_size > 10_000


def test_analyse_noise_needs_all_three_line_parameters():
    with pytest.raises(ValueError, match="together"):
        analyse_noise(white(seconds=10.0), RATE, linewidth=1e6)


# --- input forms --------------------------------------------------------------------------


def tracking_dataset(b, rate=RATE, **extra):
    time = np.arange(b.size) / rate
    return xr.Dataset({"field": ("time", b, {"units": "T"}), **extra},
                      coords={"time": ("time", time, {"units": "s"})})


def test_xarray_dataset_and_dataarray_give_the_numpy_result():
    b = white(seconds=20.0, seed=8)
    ds = tracking_dataset(b)
    expected = noise_floor(b, RATE)
    assert noise_floor(ds) == pytest.approx(expected, rel=1e-9)
    assert noise_floor(ds["field"]) == pytest.approx(expected, rel=1e-9)


def test_vector_tracking_dataset_needs_a_component_named():
    b = white(seconds=20.0, seed=9)
    ds = tracking_dataset(b).rename({"field": "field_x"})
    with pytest.raises(ValueError, match="variable='field_x'"):
        noise_floor(ds)
    assert noise_floor(ds, variable="field_x") == pytest.approx(noise_floor(b, RATE))


def test_field_in_nanotesla_is_reported_in_tesla():
    b = white(seconds=20.0, seed=11)
    da = tracking_dataset(b * 1e9)["field"].assign_attrs(units="nT")
    assert noise_floor(da) == pytest.approx(noise_floor(b, RATE), rel=1e-9)


def test_datetime_time_coordinate_is_read_in_seconds():
    b = white(seconds=20.0, seed=12)
    start = np.datetime64("2025-01-01T00:00:00", "ns")
    time = start + (np.arange(b.size) * 1e9 / RATE).astype("timedelta64[ns]")
    da = xr.DataArray(b, coords={"time": time}, dims="time")
    assert amplitude_spectral_density(da).sample_rate == pytest.approx(RATE)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (np.r_[np.zeros(100), np.nan, np.zeros(100)], {"sample_rate": RATE}, "NaN"),
        (np.zeros(1000), {}, "sample_rate"),
        (np.zeros((100, 3)), {"sample_rate": RATE}, "one-dimensional"),
        (np.zeros(5), {"sample_rate": RATE}, "at least"),
        (np.zeros(100), {"sample_rate": -1.0}, "positive"),
    ],
)
def test_bad_series_get_one_clear_error(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        noise_floor(data, **kwargs)


def test_unevenly_sampled_time_is_refused():
    time = np.cumsum(np.random.default_rng(0).uniform(0.5, 1.5, 500)) / RATE
    da = xr.DataArray(np.zeros(500), coords={"time": time}, dims="time")
    with pytest.raises(ValueError, match="uniformly sampled"):
        noise_floor(da)


def test_sample_rate_disagreeing_with_the_time_coordinate_is_refused():
    ds = tracking_dataset(white(seconds=2.0))
    with pytest.raises(ValueError, match="disagrees"):
        noise_floor(ds, sample_rate=2 * RATE)
