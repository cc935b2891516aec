"""The tracking magnetometer on the simulated bench: noise floor vs the shot-noise limit,
test-tone recovery, step response and CPU cost.

It prints:

1. the noise floor (one-sided ASD of B(t), 10 Hz – rate/3) for one line, both lines and the
   vector from four axes, over ``--seeds`` runs of ``--duration`` s, against the CW-ODMR
   shot-noise limit √2·η three ways: from the fits of the run (what the run reports), from
   the bench file's linewidth, contrast and count rate, and from the simulated sample's physics
   at the MW power used; and the standard deviation of 1-s averages of B against η itself
   (the definition η = δB·√t, no spectral convention involved);
2. the same at several MW powers: power broadening changes width and contrast, so the bench
   file's numbers (which hold at −10 dBm only) stop describing the lines;
3. a 2 µT test tone at 7.3 Hz in the sample's ``field_ac``, found by ``find_tones``;
4. the step response: samples until a step of the field along the axis is followed within 5σ;
5. CPU seconds per second of tracking (fast pace: simulated time costs only CPU).

Usage::

    python benchmarks/tracking_noise.py [--seeds 5] [--duration 20]
"""

from __future__ import annotations

import argparse
import copy
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

import nvsense.instruments
from nvsense.analysis import find_tones
from nvsense.instruments import load_bench
from nvsense.measure import TrackingBlock, TrackSettings, run_track
from nvsense.physics import GAMMA_NV_HZ_PER_T, NV_AXES

BENCH = yaml.safe_load((Path(nvsense.instruments.__file__).parent / "benches" /
                        "simulated.yaml").read_text())
N0 = NV_AXES[0]


def bench(seed: int, **sample):
    config = copy.deepcopy(BENCH)
    config["sample"].update(seed=seed, **sample)
    return load_bench(config)


def eta_physics(sample, mw_power: float) -> float:
    """η = 4/(3√3)·Δν/(γ·C·√R) from the simulated sample at ``mw_power`` (T·√s)."""
    contrasts, width = sample.dip_parameters(mw_power)
    return (4 / (3 * math.sqrt(3)) * width
            / (GAMMA_NV_HZ_PER_T * contrasts[0] * math.sqrt(sample.config.count_rate)))


def one_second_spread(result) -> float:
    """Standard deviation of the 1-s means of B (for a vector: RMS over x, y, z), × √1 s."""
    rate = result.settings.rate
    n = int(result.field.shape[0] // rate) * int(rate)
    means = result.field[:n].reshape(-1, int(rate), *result.field.shape[1:]).mean(axis=1)
    return float(np.sqrt(np.mean(np.var(means, axis=0, ddof=1))))


def noise_table(seeds: int, duration: float) -> None:
    print(f"1. Noise floor vs shot-noise limit (-10 dBm, {seeds} x {duration:g} s, 100 Hz)")
    print("   limits as one-sided ASD (√2·η), nT/√Hz; ratio = floor / limit from the run's fits;")
    print("   σ(1 s)/η: standard deviation of 1-s means of B over η = limit/√2")
    print(f"   {'lock':<22}{'floor':>8}{'fit':>8}{'bench':>8}{'physics':>9}{'expect':>8}"
          f"{'ratio':>16}{'σ(1 s)/η':>15}")
    configs = [("axis 0, lower line", {}), ("axis 0, both lines", {"both_lines": True}),
               ("4 axes, both lines", {"axis": [0, 1, 2, 3], "both_lines": True})]
    for name, extra in configs:
        rows = []
        for seed in range(seeds):
            with bench(100 + seed) as b, tempfile.TemporaryDirectory() as d:
                if "axis" in extra:  # pick the true vector among the symmetric ones
                    extra["field_guess"] = tuple(b.sample.static_field)
                r = run_track(b, TrackSettings(duration=duration, **extra), data_dir=d)
                s = r.summary()
                physics = math.sqrt(2) * eta_physics(b.sample, -10.0)
            limit = s["shot_noise_limit_t_per_rthz"]
            rows.append([s["noise_floor_t_per_rthz"], limit,
                         s["shot_noise_limit_bench_t_per_rthz"],
                         np.nan if "axis" in extra else physics,
                         s["expected_noise_t_per_rthz"], s["noise_floor_t_per_rthz"] / limit,
                         one_second_spread(r) / (limit / math.sqrt(2))])
        a = np.array(rows, dtype=float)
        m = a.mean(axis=0)
        sd = a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])
        phys = "—" if np.isnan(m[3]) else f"{m[3] * 1e9:.1f}"
        print(f"   {name:<22}{m[0] * 1e9:8.1f}{m[1] * 1e9:8.1f}{m[2] * 1e9:8.1f}{phys:>9}"
              f"{m[4] * 1e9:8.1f}{m[5]:10.3f} ± {sd[5]:.3f}{m[6]:9.3f} ± {sd[6]:.2f}")
    print("   (4 axes: RMS over x, y, z; the limit propagates each line's, with 1/8 of the time)")


def power_table(duration: float) -> None:
    print("\n2. Power broadening: the bench file's numbers hold at -10 dBm only (both lines)")
    print(f"   {'MW dBm':>7}{'FWHM MHz':>10}{'C %':>7}{'floor':>8}{'fit':>8}{'bench':>8}"
          f"{'physics':>9}{'floor/fit':>10}{'floor/bench':>12}   (nT/√Hz)")
    for power in (-16.0, -10.0, -4.0, 0.0):
        with bench(7) as b, tempfile.TemporaryDirectory() as d:
            r = run_track(b, TrackSettings(duration=duration, both_lines=True, mw_power=power),
                          data_dir=d)
            s = r.summary()
            phys = math.sqrt(2) * eta_physics(b.sample, power)
        width = np.mean(s["linewidth_hz"]) / 1e6
        contrast = np.mean(s["contrast"]) * 100
        floor, fit, nominal = (s["noise_floor_t_per_rthz"], s["shot_noise_limit_t_per_rthz"],
                               s["shot_noise_limit_bench_t_per_rthz"])
        print(f"   {power:7.0f}{width:10.3f}{contrast:7.2f}{floor * 1e9:8.1f}{fit * 1e9:8.1f}"
              f"{nominal * 1e9:8.1f}{phys * 1e9:9.1f}{floor / fit:10.3f}{floor / nominal:12.3f}")


def tone_table(duration: float) -> None:
    print("\n3. Test tone: 2 µT at 7.3 Hz along [111] (B·n0 amplitude 2 µT), both lines")
    tone = [{"amplitude": "2 uT", "frequency": "7.3 Hz", "direction": [1, 1, 1]}]
    for seed in (1, 2, 3):
        with bench(seed, field_ac=tone) as b, tempfile.TemporaryDirectory() as d:
            r = run_track(b, TrackSettings(duration=duration, both_lines=True), data_dir=d)
        found = find_tones(r.field, r.settings.rate)[0]
        # the sample's boxcar average over 1/rate scales a tone by sinc(f/rate)
        print(f"   seed {seed}: {found.frequency:.3f} Hz, {found.amplitude * 1e6:.4f} µT "
              f"({(found.amplitude / 2e-6 - 1) * 100:+.2f} %; sinc(f/rate) alone: "
              f"{(np.sinc(7.3 / r.settings.rate) - 1) * 100:+.2f} %)")


def step_table() -> None:
    print("\n4. Step response (one line, count rate 1e11/s so that one sample resolves it)")
    print("   samples after the step until every later sample is within 5σ of the new field")
    steps = (2e-6, 10e-6, 20e-6, 30e-6)
    print(f"   {'ki':>5}" + "".join(f"{s * 1e6:>8.0f} µT" for s in steps))
    for ki in (0.5, 0.8, 1.0):
        row = []
        for step in steps:
            with bench(5, count_rate="1e11 /s") as b, tempfile.TemporaryDirectory() as d:
                b0 = b.sample.static_field
                at: dict = {}

                def sub(event, b=b, b0=b0, at=at, step=step):
                    if isinstance(event, TrackingBlock) and not at and event.time[-1] >= 1.0:
                        at["t"] = event.time[-1]
                        b.sample.static_field = b0 + step * N0

                r = run_track(b, TrackSettings(duration=1.5, ki=ki, calibration_time=1.0),
                              data_dir=d, subscribers=[sub])
            k = int(np.searchsorted(r.time, at["t"], side="right"))
            before = r.field[k - 50:k]
            target = before.mean() + step
            bad = np.flatnonzero(np.abs(r.field[k:] - target) > 5 * before.std())
            row.append(0 if bad.size == 0 else int(bad[-1]) + 1)
        print(f"   {ki:5.1f}" + "".join(f"{n:>11d}" for n in row))


def speed_table() -> None:
    print("\n5. CPU per second of tracking (fast pace; 60 s runs, calibration excluded)")
    for name, extra in (("one line", {}), ("both lines", {"both_lines": True}),
                        ("4 axes, both lines", {"axis": [0, 1, 2, 3], "both_lines": True})):
        with bench(3) as b, tempfile.TemporaryDirectory() as d:
            starts: list = []

            def first(event, starts=starts):
                if isinstance(event, TrackingBlock) and not starts:
                    starts.append(time.process_time())

            if "axis" in extra:
                extra["field_guess"] = tuple(b.sample.static_field)
            run_track(b, TrackSettings(duration=60, **extra), data_dir=d, subscribers=[first])
            cpu = time.process_time() - starts[0]
        print(f"   {name:<20} {cpu / 60 * 1e3:6.1f} ms CPU per s ({cpu / 6000 * 1e6:.0f} µs "
              "per sample)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=20.0, help="s per run")
    args = parser.parse_args()
    noise_table(args.seeds, args.duration)
    power_table(args.duration)
    tone_table(args.duration)
    step_table()
    speed_table()


if __name__ == "__main__":
    main()
