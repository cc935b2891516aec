"""Write notebooks/06_lockin_evoked.ipynb (outputs cleared): run it after editing the cells."""

from __future__ import annotations

import json
from pathlib import Path

CELLS = [
    ("markdown", """# An evoked response from a simulated lock-in recording, exported to MNE

A lock-in tracking run on the simulated photodiode bench (10¹⁵ photons/s, laser noise and its
reference beam), with a test source near the sensor that repeats an evoked response (a
gamma-shaped deflection peaking 100 ms after each stimulus) and marks each stimulus on the
trigger line. We open the run, check the noise floor against the shot-noise limit, cut epochs
on the trigger, average them, compare the evoked response with the truth, and write the
recording as an MNE-Python FIF file that `mne.io.read_raw_fif` reads back in tesla.

The response is large (20 nT at the source) so that the notebook runs in seconds; the trial
count it needs follows from the noise floor, as it would for a 100 fT response at a pT/√Hz
floor."""),
    ("code", """%matplotlib inline
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import numpy as np
import yaml

from nvsense.analysis.meg import average, epochs, evoked_noise, trials_needed
from nvsense.dsp import rc_enbw
from nvsense.export.mne import export_fif
from nvsense.export.mne_run import tracking_record
from nvsense.instruments import load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.instruments.simulated.chain import photodiode_chain
from nvsense.instruments.simulated.photodiode import SimulatedPhotodiodeBench
from nvsense.measure.lockin import LockinTrackSettings, run_lockin_track
from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES, hyperfine_offsets, transition_frequencies
from nvsense.storage import open_run


def line_gain(sample, centre, direction):
    '''dν/dB (Hz/T) of the sample's line nearest ``centre`` for a field along ``direction``,
    by central differences of the Hamiltonian's transition frequencies at the static field.'''
    cfg = sample.config
    axes = NV_AXES[list(cfg.axes)]
    offsets = hyperfine_offsets(cfg.nucleus)

    def lines(b):
        return (transition_frequencies(b, sample.zfs, cfg.strain, axes)[..., None]
                + offsets).ravel()

    b0 = np.asarray(sample.field_at(), dtype=float)
    u = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    slope = (lines(b0 + 1e-8 * u) - lines(b0 - 1e-8 * u)) / 2e-8
    return float(slope[np.argmin(np.abs(lines(b0) - centre))])


nT, pT = 1e-9, 1e-12
work = Path(tempfile.mkdtemp(prefix="nvsense-nb06-"))
config = yaml.safe_load(builtin_bench_path("simulated").read_text())
config["sample"]["seed"] = 6
config["sample"]["photodiode"].update(photon_rate="1e15 /s")"""),
    ("markdown", """## The recording

The test source replaces the bench's default one: 20 nT responses every 0.3 s, no rhythm. The
run calibrates (coarse sweep, lock-in sweeps, modulation depth), then tracks for 2.5 s."""),
    ("code", """amplitude = 20 * nT
with load_bench(config) as bench:
    chain = photodiode_chain(bench.sample)
    chain.test_source = SimulatedPhotodiodeBench.make_test_source(
        6, rhythm_amplitude=0.0, evoked_amplitude=amplitude, interval=0.3, jitter=0.02,
        first_onset=0.1)
    result = run_lockin_track(bench, LockinTrackSettings(duration=2.5), data_dir=work)
    source = chain.test_source
    # B∥ read on the locked (lower) line: −Δν/γ, Δν = (dν/dB along the source)·b
    gain = -line_gain(bench.sample, result.summary["lock_centre_hz"],
                      source.direction) / GAMMA_NV_HZ_PER_T

s = result.summary
print(result.status, result.file.name)
print(f"noise floor {s['noise_floor_t_per_rthz'] / pT:.1f} pT/√Hz, shot-noise limit "
      f"{s['shot_noise_limit_t_per_rthz'] / pT:.1f} pT/√Hz, laser noise suppressed by "
      f"{s['rin_suppression_db']:.1f} dB")"""),
    ("markdown", """## Epochs and the evoked average

`tracking_record` turns the run into a B(t) record (`field_s0` in tesla and the `trigger`
line); `epochs` cuts it around the trigger's rising edges and `average` gives the evoked
response with its standard error. The noise left after n trials is the floor times the square
root of the lock-in's noise bandwidth over √n (`evoked_noise`)."""),
    ("code", """record = tracking_record(open_run(result.file))
cut = epochs(record, channels=["field_s0"], tmin=-0.05, tmax=0.25, baseline=(None, 0))
evoked = average(cut)
n = evoked.attrs["n_epochs"]
settings = LockinTrackSettings()
bandwidth = rc_enbw(settings.filter_order, settings.tau)
expected_noise = evoked_noise(s["noise_floor_t_per_rthz"], bandwidth, n)
truth = gain * source.evoked_waveform(evoked["lag"].values)
peak = float(evoked["evoked"].sel(channel="field_s0").sel(lag=slice(0.098, 0.102)).mean())
true_peak = float(gain * np.mean(source.evoked_waveform(np.linspace(0.098, 0.102, 9))))
print(f"{n} trials; peak {peak / nT:.2f} nT against {true_peak / nT:.2f} nT true "
      f"({100 * (peak / true_peak - 1):+.1f} %); noise per lag {expected_noise / nT:.2f} nT "
      f"expected, {float(evoked['sem'].mean()) / nT:.2f} nT measured")
print("trials for SNR 10 at the peak:",
      trials_needed(abs(true_peak), s["noise_floor_t_per_rthz"], bandwidth, snr=10))
assert abs(peak / true_peak - 1) < 0.1

lag_ms = evoked["lag"].values * 1e3
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(lag_ms, evoked["evoked"].sel(channel="field_s0") / nT, label=f"average of {n}")
ax.fill_between(lag_ms, (evoked["evoked"] - evoked["sem"]).sel(channel="field_s0") / nT,
                (evoked["evoked"] + evoked["sem"]).sel(channel="field_s0") / nT, alpha=0.3)
ax.plot(lag_ms, truth / nT, "k--", label="truth")
ax.set_xlabel("time after the stimulus (ms)")
ax.set_ylabel("B∥ (nT)")
ax.legend();"""),
    ("markdown", """## Export to MNE-Python

`export_fif` writes the record as a FIF file: the field as a magnetometer channel in tesla,
the trigger as the stim channel `STI 014`. (`nvsense export mne RUN --out FILE.fif` does the
same from the command line.) MNE reads it back and finds one event per stimulus."""),
    ("code", """fif = export_fif(record, work / "evoked_raw.fif", overwrite=True)
raw = mne.io.read_raw_fif(fif, verbose="error")
events = mne.find_events(raw, verbose="error")
print(raw.ch_names, raw.get_channel_types(), len(events), "events")
mne_epochs = mne.Epochs(raw, events, tmin=-0.05, tmax=0.25, baseline=(None, 0),
                        picks="mag", verbose="error")
mne_evoked = mne_epochs.average()
mne_peak = float(mne_evoked.copy().crop(0.098, 0.102).data.mean())
print(f"MNE's evoked peak: {mne_peak / nT:.2f} nT (nvsense: {peak / nT:.2f} nT)")
assert abs(mne_peak / peak - 1) < 0.05"""),
]


def main() -> None:
    cells = []
    for i, (kind, text) in enumerate(CELLS):
        cell = {"cell_type": kind, "id": f"nb06-{i}", "metadata": {},
                "source": text.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3",
                                                      "language": "python",
                                                      "name": "python3"},
                                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = Path(__file__).resolve().parents[1] / "notebooks" / "06_lockin_evoked.ipynb"
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    print(path)


if __name__ == "__main__":
    main()
