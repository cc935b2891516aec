"""MEG tools: events on the trigger line, epochs, evoked averages, and the noise left after
averaging, on records with a known evoked response (the simulated test source) in white
noise of known ASD."""

import math

import numpy as np
import pytest
import xarray as xr

from nvsense.analysis.meg import (
    average,
    epochs,
    evoked_noise,
    field_channels,
    find_events,
    sample_rate,
    trials_needed,
)
from nvsense.instruments.simulated.environment import LocalTestSource

FS = 1000.0


def record(duration=60.0, noise_asd=20e-15, amplitude=100e-15, seed=0):
    """B(t) = evoked responses + white noise (one-sided ASD noise_asd), with a TTL trigger."""
    rng = np.random.default_rng(seed)
    source = LocalTestSource(rhythm_amplitude=0.0, evoked_amplitude=amplitude, latency=0.1,
                             interval=0.8, jitter=0.1, first_onset=0.5,
                             rng=np.random.default_rng(seed + 1))
    t = np.arange(0, duration, 1 / FS)
    clean = source.field(t)
    noise = noise_asd * math.sqrt(FS / 2) * rng.standard_normal((2, t.size))
    data = xr.Dataset(
        {"B_near": ("time", clean + noise[0], {"units": "T"}),
         "B_far": ("time", 0.1 * clean + noise[1], {"units": "T"}),
         "trigger": ("time", source.trigger(t), {"units": "V"})},
        coords={"time": t})
    return data, source


def test_events_are_the_rising_edges_of_the_trigger():
    data, source = record(duration=10.0)
    events = find_events(data)
    truth = source.onsets_between(0, 10.0)
    assert len(events) == truth.size
    # an edge is the first sample at or after the onset
    assert np.all((events.times >= truth - 1e-12) & (events.times - truth < 1 / FS))
    assert set(events.codes.tolist()) == {5}  # a clean 5 V TTL reads as code 5
    analog = data.assign(trigger=data["trigger"] + 1e-3 * np.sin(data["time"]))
    assert set(find_events(analog).codes.tolist()) == {1}


def test_epochs_cut_windows_with_baseline_and_drop_incomplete_ones():
    data, _ = record(duration=10.0)
    ep = epochs(data, tmin=-0.2, tmax=0.6)
    assert ep.dims == ("epoch", "channel", "lag")
    assert list(ep.channel.values) == ["B_near", "B_far"]
    assert ep.lag.values[0] == pytest.approx(-0.2) and ep.lag.values[-1] == pytest.approx(0.6)
    n_events = len(find_events(data))
    assert ep.sizes["epoch"] + ep.attrs["dropped"] == n_events
    baseline = ep.sel(lag=slice(-0.2, 0.0)).mean("lag")
    assert np.allclose(baseline, 0.0, atol=1e-20)


def test_average_recovers_the_evoked_response_within_the_predicted_noise():
    amplitude, asd = 100e-15, 20e-15
    data, source = record(amplitude=amplitude, noise_asd=asd)
    evoked = average(epochs(data, tmin=-0.1, tmax=0.5, baseline=None))
    n = evoked.attrs["n_epochs"]
    lag = evoked.lag.values
    truth = source.evoked_waveform(lag)
    residual = evoked["evoked"].sel(channel="B_near").values - truth
    # white noise over the full band (fs/2) averaged over n epochs
    predicted = evoked_noise(asd, FS / 2, n)
    assert np.std(residual) == pytest.approx(predicted, rel=0.15)
    assert np.mean(evoked["sem"].sel(channel="B_near").values) == pytest.approx(predicted,
                                                                               rel=0.1)
    peak = evoked["evoked"].sel(channel="B_near").sel(lag=0.1, method="nearest")
    assert float(peak) == pytest.approx(amplitude, abs=5 * predicted)
    far = evoked["evoked"].sel(channel="B_far").sel(lag=0.1, method="nearest")
    assert float(far) == pytest.approx(0.1 * amplitude, abs=5 * predicted)


def test_trials_needed_for_a_given_snr():
    # 100 fT response, 20 fT/√Hz in a 40 Hz band: σ_1 = 126 fT; SNR 5 needs 40 trials
    assert trials_needed(100e-15, 20e-15, 40.0, snr=5.0) == 40
    assert evoked_noise(20e-15, 40.0, 40) == pytest.approx(20e-15, rel=1e-12)


def test_bad_records_are_refused_by_name():
    data, _ = record(duration=2.0)
    with pytest.raises(KeyError, match="B_mid"):
        field_channels(data, ["B_mid"])
    with pytest.raises(KeyError, match="trigger"):
        find_events(data, "stim")
    gappy = data.isel(time=np.r_[0:500, 600:2000])
    with pytest.raises(ValueError, match="uniformly sampled"):
        sample_rate(gappy)
    volts = data.assign(B_near=data["B_near"].assign_attrs(units="V"))
    assert field_channels(volts) == ["B_far"]
    with pytest.raises(ValueError, match="no epochs"):
        average(epochs(data, tmin=-5.0, tmax=5.0))
