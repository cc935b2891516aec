"""The simulated source's multi-tone drive (dual resonance, hyperfine drive) as the
photodiode chain sees it."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.instruments import LimitError
from nvsense.instruments.simulated import SimulatedLaser, SimulatedMicrowave, SimulatedSample
from nvsense.instruments.simulated.photodiode import (
    LaserNoise,
    PhotodiodeSensor,
    SimulatedPhotodiodeBench,
)


def chain():
    sample = SimulatedSample({"field": ["0", "0", "2 mT"], "axes": [0], "linewidth": "1 MHz",
                              "contrast": 0.02, "seed": 4})
    mw, laser = SimulatedMicrowave("mw", sample), SimulatedLaser("laser", sample)
    mw.connect()
    laser.connect()
    laser.on = True
    bench = SimulatedPhotodiodeBench(PhotodiodeSensor(sample, {"photon_rate": 1e15}),
                                     laser_noise=LaserNoise(enabled=False), seed=4)
    return sample, mw, bench


def depth(bench) -> float:
    block = bench.read(20_000)
    return 1 - float(np.mean(block.data["s0.signal"]) / np.mean(block.data["s0.reference"]))


def test_two_tones_drive_both_lines_with_the_power_shared():
    sample, mw, bench = chain()
    low, high = sample.line_frequencies().ravel()
    mw.frequency = low
    mw.output = True
    one = depth(bench)
    contrast, _ = sample.dip_parameters(mw.power)
    assert one == pytest.approx(contrast[0], rel=0.05)
    mw.frequency = 0.5 * (low + high)
    mw.set_tones([-(high - low) / 2, (high - low) / 2], [-1, 1])
    assert mw.tones == ((-(high - low) / 2, -1.0), ((high - low) / 2, 1.0))
    both = depth(bench)
    half, _ = sample.dip_parameters(mw.power - 10 * np.log10(2))
    assert both == pytest.approx(2 * half[0], rel=0.05)  # two lines, each at half the power
    mw.safe()
    assert mw.tones == ((0.0, 1.0),) and not mw.output


def test_tones_outside_the_range_are_refused_and_nothing_changes():
    _, mw, _ = chain()
    mw.frequency = 4.0e9
    with pytest.raises(LimitError):
        mw.set_tones([0.0, 0.2e9])
    assert mw.tones == ((0.0, 1.0),)
    with pytest.raises(ValueError, match="FM sign"):
        mw.set_tones([0.0, 1e6], [1, 0])
