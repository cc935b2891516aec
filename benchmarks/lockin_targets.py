"""Targets of photodiode lock-in magnetometry on the simulated bench (issue 15), printed as ratios.

1. Laser intensity noise on vs off at 10¹⁵ photons/s: the in-band floor (10–100 Hz) with it
   on over the floor with it off (target ≤ 1.3), and over the shot-noise limit of the scheme
   (target ≤ 1.5).  The reference photodiode gets 4× the signal's light (a pick-off of the
   laser; its shot noise then adds √(1 + 1/4) to the subtracted record instead of √2).
2. Dual resonance: the field drift a temperature drift of D causes, one line vs both lines
   (target ≥ 30 dB).
3. Gradiometer: the 50 Hz mains field in one sensor over what is left in the gradient
   (target ≥ 40 dB).
4. Evoked response: the trial count the measured floor predicts for SNR 10
   (:func:`nvsense.analysis.meg.trials_needed` over the lock-in's noise bandwidth), then that
   many trials recorded, averaged and compared with the source's true amplitude (target within
   10 %).

Run: ``.venv/bin/python benchmarks/lockin_targets.py [--seed N] [--quick]``.  Never pass/fail:
it prints the figures.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

import nvsense.instruments
from nvsense.analysis.meg import average, epochs, trials_needed
from nvsense.dsp import rc_enbw
from nvsense.export.mne_run import tracking_record
from nvsense.instruments import load_bench
from nvsense.instruments.simulated.chain import photodiode_chain
from nvsense.instruments.simulated.photodiode import SimulatedPhotodiodeBench
from nvsense.measure.lockin import LockinTrackSettings, run_lockin_track
from nvsense.physics import (
    DZFS_DT_HZ_PER_K,
    GAMMA_NV_HZ_PER_T,
    NV_AXES,
    hyperfine_offsets,
    transition_frequencies,
)
from nvsense.storage import open_run

ROOT = Path(__file__).resolve().parents[1]
BENCH = yaml.safe_load((Path(nvsense.instruments.__file__).parent / "benches" /
                        "simulated.yaml").read_text())
FORMULA = ("A_SNL = √(4q·R_T·(V̄_s + g²·V̄_r))·|dB/dp|/|k|: photocurrent shot noise 2qI, "
           "demodulated with 2·sin(2πf_m t) → 4qI (El-Ella et al., Opt. Express 25, 14809 "
           "(2017); Dréau et al., PRB 84, 195204 (2011)); = nvsense.physics."
           "lockin_shot_noise_floor × √(1 + g²V̄_r/V̄_s) for the reference's shot noise")


def line_gain(sample, centre, direction):
    """dν/dB (Hz/T) of the sample's line nearest ``centre`` for a field along ``direction``,
    by central differences of the Hamiltonian's transition frequencies at the static field."""
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


def bench(seed: int, **photodiode: object):
    config = copy.deepcopy(BENCH)
    config["sample"]["seed"] = seed
    config["sample"]["photodiode"].update(photodiode)
    return load_bench(config)


def run(b, data: Path, **settings: object):
    with b:
        return run_lockin_track(b, LockinTrackSettings(**settings), data_dir=data)


def laser_noise(seed: int, data: Path, duration: float) -> None:
    light = {"photon_rate": 1e15, "reference_photon_rate": 4e15}
    on = run(bench(seed, rin=1e-6, **light), data, duration=duration).summary
    off = run(bench(seed, rin=0.0, **light), data, duration=duration).summary
    f_on, f_off = on["noise_floor_t_per_rthz"], off["noise_floor_t_per_rthz"]
    limit = on["shot_noise_limit_t_per_rthz"]
    print("1. laser intensity noise at 1e15 photons/s (reference beam 4e15 photons/s)")
    print(f"   floor, RIN on (1e-6/√Hz above 10 kHz, 1/f below): {f_on * 1e12:.1f} pT/√Hz; "
          f"RIN off: {f_off * 1e12:.1f} pT/√Hz")
    print(f"   floor on / floor off          = {f_on / f_off:.3f}   (target ≤ 1.3)")
    print(f"   floor on / shot-noise limit   = {f_on / limit:.3f}   (target ≤ 1.5; limit "
          f"{limit * 1e12:.1f} pT/√Hz)")
    print(f"   RIN suppression by the fitted reference (10–100 Hz around f_m): "
          f"{on['rin_suppression_db']:.1f} dB, gain {on['subtraction_gain']:.4f}")
    print(f"   limit: {FORMULA}")


def dual_resonance(seed: int, data: Path, duration: float) -> None:
    drift = 0.05  # K/s

    def drifting(**settings: object) -> float:
        b = bench(seed)
        with b:
            sensor = photodiode_chain(b.sample).sensors[0]
            sensor.config = dataclasses.replace(sensor.config, temperature_drift=drift)
            r = run_lockin_track(b, LockinTrackSettings(duration=duration, **settings),
                                 data_dir=data)
        return float(np.polyfit(r.data["time"], r.data["field"][:, 0], 1)[0])

    one = drifting()
    both = drifting(dual_resonance=True)
    expected = drift * DZFS_DT_HZ_PER_K / GAMMA_NV_HZ_PER_T
    print(f"2. dual resonance, D drifting by {drift * DZFS_DT_HZ_PER_K / 1e3:.2f} kHz/s "
          f"({drift} K/s)")
    print(f"   field drift, one line: {one * 1e9:.2f} nT/s (|dD/dt|/γ = "
          f"{abs(expected) * 1e9:.2f} nT/s); both lines: {both * 1e9:.4f} nT/s")
    print(f"   rejection = {20 * math.log10(abs(one) / abs(both)):.1f} dB   (target ≥ 30 dB)")


def gradiometer(data: Path, duration: float) -> None:
    b = load_bench(ROOT / "examples" / "benches" / "gradiometer.yaml")
    s = run(b, data, duration=duration, gradiometer=True).summary
    print("3. gradiometer (two sensors, mains 100 nT at 50 Hz with harmonics, urban 1/f "
          "noise)")
    print(f"   mains in B1: {s['mains_amplitude_t'] * 1e9:.1f} nT; common-mode rejection at "
          f"50 Hz = {s['common_mode_rejection_db']:.1f} dB   (target ≥ 40 dB)")
    print(f"   floors: B1 {s['noise_floor_t_per_rthz'] * 1e12:.1f} pT/√Hz (the room's field "
          f"noise), gradient {s['gradient_noise_floor_t_per_rthz'] * 1e12:.1f} pT/√Hz "
          f"(√2 × limit = {math.sqrt(2) * s['shot_noise_limit_t_per_rthz'] * 1e12:.1f})")


def evoked(seed: int, data: Path) -> None:
    amplitude = 5e-9  # T at the source, evoked response peaking 100 ms after the trigger
    interval = 0.3
    settings = LockinTrackSettings()
    # 1. the floor, in a quiet run
    quiet = run(bench(seed, photon_rate=1e15), data, duration=2.0).summary
    floor = quiet["noise_floor_t_per_rthz"]
    bandwidth = rc_enbw(settings.filter_order, settings.tau)
    b = bench(seed, photon_rate=1e15)
    chain = photodiode_chain(b.sample)
    gain = None
    with b:
        chain.test_source = SimulatedPhotodiodeBench.make_test_source(
            seed, rhythm_amplitude=0.0, evoked_amplitude=amplitude, interval=interval,
            jitter=0.02, first_onset=0.1)
        source = chain.test_source
        # what the locked (lower) line reads: B∥ = −Δν/γ, Δν = (dν/dB along the source)·b
        # the source's field at the peak (its waveform carries the amplitude)
        expected_probe = float(np.mean(source.evoked_waveform(np.linspace(0.098, 0.102, 9))))
        target_snr = 10.0
        n = 0
        for _ in range(2):  # the gain needs the lock's line; the count needs the gain
            scale = abs(gain) if gain is not None else 1.0
            n = int(trials_needed(expected_probe * scale, floor, bandwidth, snr=target_snr))
            if gain is not None:
                break
            r0 = run_lockin_track(b, LockinTrackSettings(duration=0.1), data_dir=data)
            gain = -line_gain(b.sample, r0.summary["lock_centre_hz"],
                              source.direction) / GAMMA_NV_HZ_PER_T
        duration = 0.1 + n * interval + 0.3
        r = run_lockin_track(b, LockinTrackSettings(duration=duration), data_dir=data)
    record = tracking_record(open_run(r.file))
    ev = average(epochs(record, channels=["field_s0"], tmin=-0.05, tmax=0.25,
                        baseline=(None, 0)))
    measured = float(ev["evoked"].sel(channel="field_s0").sel(lag=slice(0.098, 0.102)).mean())
    truth = expected_probe * gain
    print(f"4. evoked response ({amplitude * 1e9:g} nT at the source, every {interval} s)")
    print(f"   floor {floor * 1e12:.1f} pT/√Hz over the lock-in's noise bandwidth "
          f"{bandwidth:.0f} Hz → {n} trials for SNR {target_snr:g} at the peak")
    print(f"   recorded {ev.attrs['n_epochs']} trials: peak {measured * 1e9:.3f} nT vs true "
          f"{truth * 1e9:.3f} nT: error {100 * (measured / truth - 1):+.1f} %   "
          "(target within 10 %)")


def loop_cost(sensors: int = 2, blocks: int = 2000) -> None:
    """CPU per acquisition block of what the loop does besides reading: subtraction,
    demodulation, the filtered control (the simulator excluded)."""
    from nvsense.measure.lockin.loop import ControlFilter
    from nvsense.measure.lockin.pipeline import DemodPipeline

    s = LockinTrackSettings()
    fs, n = 200e3, round(s.block_time * 200e3)
    names = [f"s{k}" for k in range(sensors)]
    channels = [c for name in names for c in (f"{name}.signal", f"{name}.reference")]
    pipe = DemodPipeline(fs, s.modulation_frequency, 0.0, names, time_constant=s.tau,
                         order=s.filter_order, output_rate=s.rate)
    control = ControlFilter(s.filter_order, s.tau, fs, round(fs / s.rate))
    data = 0.7 + 1e-4 * np.random.default_rng(0).standard_normal((len(channels), n * 50))
    t0 = time.process_time()
    for k in range(blocks):
        j = k % 50
        pipe.process(data[:, j * n:(j + 1) * n], channels)
        control(float(k % 7), n)
    per_block = (time.process_time() - t0) / blocks
    print(f"5. loop processing ({sensors} sensors = {len(channels)} channels at 200 kS/s, "
          f"blocks of {s.block_time * 1e3:g} ms)")
    print(f"   {per_block * 1e3:.3f} ms CPU per block = {100 * per_block / s.block_time:.0f} % "
          "of one core (must stay below 100 % to keep up)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", type=int, choices=(1, 2, 3, 4, 5), help="one target")
    args = parser.parse_args()
    duration = 1.5 if args.quick else 3.0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        jobs = (("laser noise", lambda: laser_noise(args.seed, data, duration)),
                ("dual resonance", lambda: dual_resonance(args.seed, data, duration)),
                ("gradiometer", lambda: gradiometer(data, duration)),
                ("evoked", lambda: evoked(args.seed, data)),
                ("loop cost", loop_cost))
        for k, (name, job) in enumerate(jobs, 1):
            if args.only is not None and k != args.only:
                continue
            t0 = time.perf_counter()
            job()
            print(f"   ({name}: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
