"""Accuracy and speed of the noise analysis on synthetic B(t) with known truth.

For ``--trials`` random series (white noise of known one-sided density plus one test tone at a
random frequency, amplitude and phase) it reports:

1. the noise floor (``noise_floor``, default band 10 Hz – rate/3) over the true density: bias
   and scatter, for the median and mean statistics;
2. the tone found by ``find_tones``: amplitude and frequency errors (the amplitude is the
   sinusoid's peak, window-corrected), and the detection rate;
3. the overlapping Allan deviation at τ = 0.1 s and 1 s over ρ/√(2τ);
4. the time of one ``analyse_noise`` call on a 10-minute series at 1 kHz.

Usage::

    python benchmarks/noise_accuracy.py [--rate 1000] [--seconds 60] [--trials 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nvsense.analysis import allan_deviation, analyse_noise, find_tones, noise_floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="sample rate, Hz")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    rate, n = args.rate, int(args.rate * args.seconds)
    t = np.arange(n) / rate
    density = 5e-9  # T/√Hz

    floors = {"median": [], "mean": []}
    amp_err, freq_err, found = [], [], 0
    adev = []
    for _ in range(args.trials):
        amplitude = density * rng.uniform(5, 50)  # 25–250 nT: well above the noise
        frequency = rng.uniform(12.0, rate / 3)
        b = (1e-3 + density * np.sqrt(rate / 2) * rng.standard_normal(n)
             + amplitude * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi)))
        for statistic in floors:
            floors[statistic].append(noise_floor(b, rate, statistic=statistic) / density - 1)
        tones = find_tones(b, rate)
        match = [x for x in tones if abs(x.frequency - frequency) < 1.0]
        if match:
            found += 1
            amp_err.append(match[0].amplitude / amplitude - 1)
            freq_err.append(match[0].frequency - frequency)
        white = density * np.sqrt(rate / 2) * rng.standard_normal(n)
        a = allan_deviation(white, rate, taus=[0.1, 1.0])
        adev.append(a.deviation / (density / np.sqrt(2 * a.tau)) - 1)

    print(f"{args.trials} series of {args.seconds:g} s at {rate:g} Hz, white noise "
          f"{density * 1e9:g} nT/√Hz + one tone (25–250 nT, 12 Hz – rate/3)")
    for statistic, values in floors.items():
        v = np.array(values) * 100
        print(f"noise floor ({statistic:6s}): bias {v.mean():+.2f} %, scatter {v.std():.2f} %, "
              f"worst {np.abs(v).max():.2f} %")
    a, f = np.array(amp_err) * 100, np.array(freq_err)
    print(f"tones found: {found}/{args.trials}; amplitude error mean {a.mean():+.2f} %, "
          f"RMS {np.sqrt(np.mean(a**2)):.2f} %, worst {np.abs(a).max():.2f} %; "
          f"frequency error RMS {np.sqrt(np.mean(f**2)) * 1e3:.1f} mHz")
    d = np.array(adev) * 100
    print(f"Allan deviation / (ρ/√(2τ)) − 1 at τ = 0.1 s, 1 s: mean {d.mean(axis=0).round(2)} %, "
          f"scatter {d.std(axis=0).round(2)} %")

    long = 1e-3 + density * np.sqrt(rate / 2) * rng.standard_normal(int(600 * rate))
    start = time.perf_counter()
    analyse_noise(long, rate, linewidth=1e6, contrast=0.01, count_rate=1e10)
    print(f"analyse_noise on 10 min at {rate:g} Hz ({long.size} samples): "
          f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
