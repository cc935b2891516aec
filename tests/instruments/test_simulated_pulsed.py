"""The simulated pulser and gated counter: programs play on the simulated sample's spin."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.fitting.pulsed import fit_rabi
from nvsense.instruments.errors import InstrumentError
from nvsense.instruments.gated_counter import GatedCounter
from nvsense.instruments.pulser import Pulser, PulserLimitError
from nvsense.instruments.simulated import SimulatedLaser, SimulatedMicrowave, SimulatedSample
from nvsense.instruments.simulated.gated_counter import SimulatedGatedCounter
from nvsense.instruments.simulated.pulsed import SpinConfig
from nvsense.instruments.simulated.pulser import SimulatedPulser
from nvsense.pulses import normalised_signal, pulsed_odmr, rabi

SINGLE_NV = {"field": ["0.57735 mT"] * 3, "axes": [0], "count_rate": "1e5 /s",
             "laser_reference_power": "1 mW", "laser_saturation_power": "1 mW",
             "contrast": 0.15, "mw_reference_power": "-20 dBm",
             "mw_saturation_power": "-20 dBm", "seed": 11}


def _bench(config=SINGLE_NV, spin=None):
    sample = SimulatedSample(config)
    mw, laser = SimulatedMicrowave("mw", sample), SimulatedLaser("laser", sample)
    pulser = SimulatedPulser("pulser", sample)
    counter = SimulatedGatedCounter("gated_counter", sample, spin=spin)
    for inst in (mw, laser, pulser, counter):
        inst.connect()
    laser.power = float(sample.config.laser_reference_power)
    laser.on = True
    lines = sample.line_frequencies()
    mw.frequency = float(lines[0, 0].mean())  # the lower transition of axis 0
    mw.power = float(sample.config.mw_reference_power)
    mw.output = True
    return sample, mw, pulser, counter


def _measure(pulser, counter, program, passes):
    pulser.upload(program)
    counter.configure(program.windows_per_pass, passes)
    counter.arm()
    pulser.start(passes)
    return program.by_point(counter.read(timeout=3600))


def test_a_rabi_measurement_runs_end_to_end_and_recovers_the_rabi_frequency():
    sample, _, pulser, counter = _bench(spin={"rabi_frequency": "8 MHz", "t2_star": "2 us"})
    assert isinstance(pulser, Pulser) and isinstance(counter, GatedCounter)
    program = rabi(np.arange(0, 400e-9, 4e-9), references=("ref0",))
    t0 = sample.time
    counts = _measure(pulser, counter, program, 20_000)
    # the simulated clock advanced by the passes played
    assert sample.time - t0 == pytest.approx(20_000 * program.pass_duration_ns * 1e-9)
    signal, error = normalised_signal(counts, program.readouts)
    fit = fit_rabi(program.sweep.values, signal, sigma=error)
    assert fit.success, fit.message
    assert fit["rabi_frequency"] == pytest.approx(8e6, rel=0.03)
    assert abs(fit["rabi_frequency"] - 8e6) < max(0.03 * 8e6, 2 * fit.error("rabi_frequency"))
    # the reference sees the bright level: 1e5/s × 300 ns × 20000 passes ≈ 600 photons
    assert counts[:, 1].mean() == pytest.approx(600, rel=0.1)


def test_counts_follow_the_instruments_state():
    sample, mw, pulser, counter = _bench()
    program = rabi([0.0, 50e-9])  # 50 ns: a π pulse at the default 10 MHz
    mw.output = False  # no driving: signal = reference within shot noise
    counts = _measure(pulser, counter, program, 200_000)
    sig, err = normalised_signal(counts, program.readouts)
    assert abs(sig[1] - 1) < 5 * err[1]
    mw.output = True
    counts = _measure(pulser, counter, program, 200_000)
    sig, err = normalised_signal(counts, program.readouts)
    assert sig[1] < 1 - 10 * err[1]  # a π pulse darkens it
    sample_off = sample.laser
    sample_off.on = False  # laser off: dark counts only
    counts = _measure(pulser, counter, program, 50_000)
    assert counts.max() < 20


def test_pulsed_odmr_steps_the_microwave_list_per_point():
    sample, mw, pulser, counter = _bench(spin={"rabi_frequency": "5 MHz"})
    line = float(sample.line_frequencies()[0, 0].mean())
    freqs = line + np.linspace(-20e6, 20e6, 21)
    program = pulsed_odmr(freqs, 100e-9)
    # each point's trigger steps the list before its π pulse: load it rotated by one
    mw.load_list(np.roll(freqs, 1), float(sample.config.mw_reference_power))
    mw.start_list()
    counts = _measure(pulser, counter, program, 100_000)
    sig, err = normalised_signal(counts, program.readouts)
    assert freqs[int(np.argmin(sig))] == pytest.approx(line, abs=2.1e6)
    assert sig[0] > 0.95 and sig.min() < 0.85
    # the dip is symmetric about the line (a shifted list would break that)
    assert np.all(np.abs(sig - sig[::-1]) < 5 * np.hypot(err, err[::-1]))
    assert sample.mw.list_index == 0  # 100000 passes × 21 triggers: back at the start


def test_single_nv_counts_carry_projection_noise():
    """Binomial projection noise: at P0 = 1/2 the variance of the summed counts exceeds the
    Poisson variance by about passes·(a0 − a1)²/4."""
    spin = SpinConfig(rabi_frequency=10e6, polarization=1.0, readout_contrast=0.9)
    _, _, pulser, counter = _bench(spin=spin)
    program = rabi([25e-9])  # a π/2 pulse: P0 = 1/2
    totals = np.array([_measure(pulser, counter, program, 200)[0, 0] for _ in range(300)])
    bright = 1e5 * 300e-9
    poisson = totals.mean()
    projection = 200 * (0.9 * bright) ** 2 / 4  # (a0 − a1)² P(1 − P) per pass, a1 ≈ 0.1·a0
    assert totals.var() > poisson + 0.4 * projection


def test_misuse_raises_clear_errors_and_nothing_hangs():
    sample, _, pulser, counter = _bench()
    program = rabi([0.0, 20e-9])
    pulser.upload(program)
    with pytest.raises(InstrumentError, match="not armed"):
        counter.read()
    counter.configure(program.windows_per_pass, 100)
    counter.arm()
    with pytest.raises(InstrumentError, match="not started after arm"):
        counter.read(timeout=1)
    counter.arm()
    pulser.start(10)
    with pytest.raises(InstrumentError, match="played 10 passes"):
        counter.read()
    counter.configure(program.windows_per_pass + 1, 10)
    counter.arm()
    pulser.start(10)
    with pytest.raises(InstrumentError, match="configured for 5"):
        counter.read()
    with pytest.raises(PulserLimitError, match="shorter than its minimum"):
        pulser.upload(rabi([0.0, 1e-9]))
    with pytest.raises(ValueError, match="not a spin parameter"):
        SimulatedGatedCounter("gc", sample, spin={"t3": "1 us"})
    pulser.safe()
    assert not pulser.running and sample.pulsed.pulser.outputs_low
