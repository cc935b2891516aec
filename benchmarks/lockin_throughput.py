"""Software lock-in throughput: CPU time per second of 4-channel data at 200 kS/s.

Target (issue 15): lock-in processing keeps up with 4 channels at 200 kS/s using < 25 % of one
core.  The data (photodiode-like: DC + a modulated tone + noise) are generated beforehand; only
the processing of blocks is timed, with ``time.process_time`` (CPU time of this process, so a
busy machine does not inflate it).  Printed: the fraction of real time each configuration
takes (CPU seconds per second of data).  Usage::

    python benchmarks/lockin_throughput.py [--seconds 5] [--block 0.1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nvsense.dsp import AdaptiveSubtraction, SoftwareLockIn, ZeroCrossingReference

FS = 200e3
F_MOD = 10e3
N_CHANNELS = 4
TARGET = 0.25


def make_data(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(4, n) photodiode channels and a sine sync on one clock."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    sync = np.sin(2 * np.pi * F_MOD * t)
    data = 1.0 + 1e-3 * sync[None, :] + 1e-4 * rng.standard_normal((N_CHANNELS, n))
    return data, sync


def run(name: str, data: np.ndarray, sync: np.ndarray, block: int, make, *,
        subtract: bool = False, use_sync: bool = False) -> float:
    lia = make()
    sub = AdaptiveSubtraction(FS, n_channels=N_CHANNELS - 1) if subtract else None
    n = data.shape[1]
    start = time.process_time()
    for a in range(0, n, block):
        chunk = data[:, a:a + block]
        if sub is not None:  # channels 0..2 signal photodiodes, channel 3 the reference beam
            chunk = sub.process(chunk[:-1], chunk[-1]).cleaned
        lia.process(chunk, sync=sync[a:a + block] if use_sync else None)
    cpu = time.process_time() - start
    fraction = cpu / (n / FS)
    print(f"  {name:<58s} {100 * fraction:6.1f} % of one core")
    return fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of data")
    parser.add_argument("--block", type=float, default=0.1, help="block length, s")
    args = parser.parse_args()
    data, sync = make_data(args.seconds)
    block = int(args.block * FS)
    print(f"{N_CHANNELS} channels at {FS / 1e3:g} kS/s, {args.seconds:g} s of data in "
          f"blocks of {block} samples; CPU time / data time:")

    def lockin(**kw):
        options = dict(time_constant=1e-3, order=4, output_rate=1e3, n_channels=N_CHANNELS)
        options.update(kw)
        return lambda: SoftwareLockIn(FS, options.pop("reference", F_MOD), **options)

    main_fraction = run("clock reference, 24 dB/oct, 1f, 1 kS/s out", data, sync, block,
                        lockin())
    run("clock reference, 48 dB/oct, 1f + 2f", data, sync, block,
        lockin(order=8, harmonics=(1, 2)))
    run("zero-crossing reference on a recorded sync, 24 dB/oct", data, sync, block,
        lockin(reference=ZeroCrossingReference(F_MOD, FS)), use_sync=True)
    run("3 signals - fitted reference beam, then lock-in, 24 dB/oct", data, sync, block,
        lockin(n_channels=N_CHANNELS - 1), subtract=True)
    verdict = "meets" if main_fraction < TARGET else "MISSES"
    print(f"target < {100 * TARGET:.0f} % of one core (clock reference, 24 dB/oct): "
          f"{100 * main_fraction:.1f} % -> {verdict} the target")


if __name__ == "__main__":
    main()
