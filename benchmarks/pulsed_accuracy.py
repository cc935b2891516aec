"""Pulsed protocols on the simulated bench: speed, recovered values vs truth, XY8 sensitivity.

1. Speed: a Rabi sweep of 100 pulse lengths × 10⁴ repetitions on the simulated bench
   (simulated pulser + gated counter: upload, arm, start, read).
2. Accuracy: for ``--trials`` seeds, Rabi frequency, Ramsey T2* (14N beats) and detuning, Hahn
   echo T2, T1 — recovered by the fits vs the simulator's truth; the target is within 3 % (or
   2σ) of the truth.
3. T2 of XY8-N vs N (slow Lorentzian bath): T2(N)/T2(1 XY8 unit) vs (N/8)^(2/3).
4. XY8-N AC magnetometry: the field noise of repeated measurements of a small AC field
   (phase-cycled readout of the sin φ quadrature), as a sensitivity η = σ_B·√(time), vs the
   formula η = √(T + t_oh)/(4γ C e^{−χ} T) of Degen, Reinhard & Cappellaro, RMP 89, 035002
   (2017) with the simulated readout efficiency C, coherence e^{−χ} and overhead t_oh; the
   target is a ratio within 1.5.
5. Through the measurement (``nvsense.measure.pulsed.run_pulsed``: program, check, upload,
   averages, normalisation, live fit, run file): Rabi frequency, T2*, T2 and T1 recovered on a
   simulated single NV (no nucleus, 3·10⁶ photons/s) over ``--trials`` seeds vs the
   simulator's truth, and the software time per average beside the simulation.

Usage::

    python benchmarks/pulsed_accuracy.py [--trials 10] [--only-measurement]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from nvsense.fitting.pulsed import fit_decoupling, fit_hahn_echo, fit_rabi, fit_ramsey, fit_t1
from nvsense.instruments.simulated import SimulatedLaser, SimulatedMicrowave, SimulatedSample
from nvsense.instruments.simulated.gated_counter import SimulatedGatedCounter
from nvsense.instruments.simulated.pulser import SimulatedPulser
from nvsense.physics import GAMMA_NV_HZ_PER_T, hyperfine_offsets
from nvsense.physics.pulsed_sensitivity import ac_sensitivity, readout_efficiency
from nvsense.physics.spin_dynamics import SpinSystem, readout_photons
from nvsense.pulses import hahn_echo, normalised_signal, rabi, ramsey, t1, xy8
from nvsense.pulses.simulate import expected_counts

RATE, CONTRAST = 1e6, 0.3


def _speed() -> None:
    sample = SimulatedSample({"field": ["0.57735 mT"] * 3, "axes": [0], "nucleus": "14N",
                              "count_rate": "1e5 /s", "laser_reference_power": "1 mW",
                              "laser_saturation_power": "1 mW", "contrast": 0.15,
                              "mw_reference_power": "-20 dBm",
                              "mw_saturation_power": "-20 dBm", "seed": 1})
    mw, laser = SimulatedMicrowave("mw", sample), SimulatedLaser("laser", sample)
    pulser, counter = SimulatedPulser("pulser", sample), SimulatedGatedCounter("gc", sample)
    for inst in (mw, laser, pulser, counter):
        inst.connect()
    laser.power, laser.on = 1e-3, True
    mw.frequency = float(sample.line_frequencies()[0, 0].mean())
    mw.power, mw.output = -20.0, True
    program = rabi(np.linspace(0, 396e-9, 100), references=("ref0",))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        pulser.upload(program)
        counter.configure(program.windows_per_pass, 10_000)
        counter.arm()
        pulser.start(10_000)
        counts = counter.read(timeout=3600)
        times.append(time.perf_counter() - t0)
    sig, err = normalised_signal(program.by_point(counts), program.readouts)
    fit = fit_rabi(program.sweep.values, sig, sigma=err)
    print(f"1. Rabi, 100 pulse lengths × 10⁴ repetitions on the simulated bench (single NV, "
          f"14N): {min(times) * 1e3:.0f} ms best of 5 (median {np.median(times) * 1e3:.0f} ms); "
          f"{program.pass_duration_ns * 1e-9 * 1e4:.1f} s of simulated time; fit "
          f"{fit.status.name}, Ω = {fit['rabi_frequency'] / 1e6:.3f} MHz")


def _measure(program, system, passes, rng):
    mean = expected_counts(program, system, rate=RATE, contrast=CONTRAST) * passes
    return normalised_signal(rng.poisson(mean), program.readouts)


def _accuracy(trials: int) -> None:
    print(f"\n2. Recovered vs truth over {trials} seeds (ensemble readout, {RATE:g} photons/s, "
          f"contrast {CONTRAST}); 'ok' = within 3 % or 2σ")
    rows = []

    def record(name, truth, fits, key):
        values = np.array([f[key] for f in fits])
        errors = np.array([f.error(key) for f in fits])
        ok = np.abs(values - truth) <= np.maximum(0.03 * truth, 2 * errors)
        success = sum(f.success for f in fits)
        rel = values / truth - 1
        rows.append((name, truth, values.mean(), 100 * rel.mean(), 100 * np.abs(rel).max(),
                     100 * np.median(errors / truth), f"{ok.sum()}/{len(fits)}",
                     f"{success}/{len(fits)}"))

    rabi_truth = 12.5e6
    s_rabi = SpinSystem(rabi_truth, polarization=0.9, rabi_spread=0.04, t1=1e-3)
    p_rabi = rabi(np.arange(0, 300e-9, 3e-9))
    t2s, det = 1.2e-6, 3.3e6
    s_ram = SpinSystem.from_times(15e6, detuning=det, hyperfine=hyperfine_offsets("14N"),
                                  t2_star=t2s, t2=100e-6, t1=5e-3, polarization=0.85)
    p_ram = ramsey(np.arange(0, 3.6e-6, 12e-9), 16e-9)
    t2 = 60e-6
    s_echo = SpinSystem.from_times(15e6, t2_star=0.5e-6, t2=t2, bath_correlation_time=1000 * t2,
                                   t1=math.inf, polarization=0.85)
    p_echo = hahn_echo(np.linspace(1e-6, 90e-6, 45), 17e-9, 33e-9)
    t1_truth = 2e-3
    s_t1 = SpinSystem(10e6, t1=t1_truth, polarization=0.85)
    p_t1 = t1(np.linspace(1e-6, 8e-3, 40), pi_pulse=50e-9)
    fits: dict[str, list] = {"rabi": [], "ramsey": [], "echo": [], "t1": []}
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        sig, err = _measure(p_rabi, s_rabi, 30_000, rng)
        fits["rabi"].append(fit_rabi(p_rabi.sweep.values, sig, sigma=err))
        sig, err = _measure(p_ram, s_ram, 40_000, rng)
        fits["ramsey"].append(fit_ramsey(p_ram.sweep.values, sig, sigma=err))
        sig, err = _measure(p_echo, s_echo, 40_000, rng)
        fits["echo"].append(fit_hahn_echo(p_echo.sweep.values, sig, sigma=err))
        sig, err = _measure(p_t1, s_t1, 60_000, rng)
        fits["t1"].append(fit_t1(p_t1.sweep.values, sig, sigma=err, offset=0.0))
    record("Rabi frequency (Hz)", rabi_truth, fits["rabi"], "rabi_frequency")
    record("Ramsey T2* (s)", t2s, fits["ramsey"], "t2_star")
    record("Ramsey detuning (Hz)", det, fits["ramsey"], "detuning")
    record("Hahn echo T2 (s)", t2, fits["echo"], "t2")
    record("T1 (s)", t1_truth, fits["t1"], "t1")
    print(f"   {'quantity':24s} {'truth':>10s} {'mean fit':>10s} {'bias %':>7s} "
          f"{'worst %':>8s} {'σ %':>6s} {'ok':>6s} {'success':>8s}")
    for name, truth, mean, bias, worst, sig, ok, success in rows:
        print(f"   {name:24s} {truth:10.4g} {mean:10.4g} {bias:7.2f} {worst:8.2f} {sig:6.2f} "
              f"{ok:>6s} {success:>8s}")


def _scaling() -> None:
    t2 = 40e-6
    system = SpinSystem.from_times(25e6, t2_star=0.1e-6, t2=t2, bath_correlation_time=1e4 * t2,
                                   t1=math.inf, polarization=0.85)
    rng = np.random.default_rng(5)
    print("\n3. XY8-N coherence time vs the number of π pulses N (slow bath, τc = 10⁴ T2)")
    print(f"   {'N':>4s} {'T2(N) fit':>12s} {'T2·N^(2/3)':>12s} {'ratio':>7s} {'p':>6s}")
    base = None
    for units in (1, 2, 4, 8):
        n = 8 * units
        t2n = t2 * n ** (2 / 3)
        program = xy8(np.linspace(60e-9, 2.2 * t2n / n, 36), 10e-9, 20e-9, units)
        sig, err = _measure(program, system, 30_000, rng)
        fit = fit_decoupling(program.sweep.values, sig, n, sigma=err, offset=0.0)
        base = base or fit["t2"] / 8 ** (2 / 3)
        print(f"   {n:4d} {fit['t2'] * 1e6:10.1f} µs {t2n * 1e6:10.1f} µs "
              f"{fit['t2'] / t2n:7.3f} {fit['exponent']:6.2f}  ({fit.status.name})")


def _sensitivity(repeats: int) -> None:
    """Field noise of an XY8-4 AC measurement vs the formula."""
    units, tau = 4, 2e-6
    f_ac = 1 / (2 * tau)
    t2 = 100e-6
    base = SpinSystem.from_times(20e6, t2_star=1e-6, t2=t2, t1=5e-3, polarization=0.85)
    half, pi = 12e-9, 25e-9
    program = xy8([tau], half, pi, units, final_phase=270.0)  # reads K·sin φ
    in_phase = xy8([tau], half, pi, units)  # reads K·cos φ
    total = 8 * units * tau
    b_true = 2e-9  # 2 nT: φ = 4γBT ≈ 0.014 rad

    def system(b):
        return base.with_(ac_amplitude=GAMMA_NV_HZ_PER_T * b, ac_frequency=f_ac, ac_phase=0.0)

    def signal(b):
        c = expected_counts(program, system(b), rate=1e8, contrast=CONTRAST)
        return normalised_signal(c, program.readouts)[0][0]

    slope = (signal(b_true + 1e-9) - signal(b_true - 1e-9)) / 2e-9
    mean = expected_counts(program, system(b_true), rate=1e8, contrast=CONTRAST)[0]
    passes = 2000
    rng = np.random.default_rng(11)
    counts = rng.poisson(mean * passes, size=(repeats, 2))
    s = (counts[:, 0] - counts[:, 1]) / (counts[:, 0] + counts[:, 1])
    b_est = b_true + (s - signal(b_true)) / slope
    t_meas = passes * program.pass_duration_ns * 1e-9
    eta_measured = b_est.std(ddof=1) * math.sqrt(t_meas)
    # the formula's inputs from the simulated readout: photons of the two spin states (with
    # the finite polarisation), coherence left after T, overhead per shot
    bright, dark = readout_photons(1e8, 0.0, 300e-9, CONTRAST)
    p = base.polarization
    a0, a1 = p * bright + (1 - p) * dark, (1 - p) * bright + p * dark
    c = readout_efficiency(a0, a1)
    k_ideal = (a0 - a1) / (a0 + a1)
    c0 = expected_counts(in_phase, system(0.0), rate=1e8, contrast=CONTRAST)
    k = float(normalised_signal(c0, in_phase.readouts)[0][0])
    shot = program.pass_duration_ns * 1e-9 / 2  # signal and phase-cycled shots
    eta_formula = ac_sensitivity(total, c, coherence=k / k_ideal, overhead_time=shot - total)
    print(f"\n4. XY8-{units} AC magnetometry, τ = {tau * 1e6:g} µs (f = {f_ac / 1e3:g} kHz), "
          f"T = {total * 1e6:g} µs, {a0:.1f}/{a1:.1f} photons per shot (ms=0/±1), C = {c:.4f}, "
          f"e^-χ = {k / k_ideal:.3f}, t_oh = {(shot - total) * 1e6:.2f} µs")
    # the simulated ensemble has photon noise only; Degen's C also counts one spin's
    # projection noise (the "1 +" term), which an ensemble of many NVs averages away
    c_photon = (a0 - a1) / math.sqrt(2 * (a0 + a1))
    eta_photon = ac_sensitivity(total, c_photon, coherence=k / k_ideal,
                                overhead_time=shot - total)
    stderr = b_est.std(ddof=1) / math.sqrt(repeats)
    print(f"   {repeats} measurements of {b_true * 1e9:g} nT, {passes} passes each: mean "
          f"{b_est.mean() * 1e9:.3f} ± {stderr * 1e9:.3f} nT, σ {b_est.std(ddof=1) * 1e9:.3f} nT")
    print(f"   sensitivity measured {eta_measured * 1e12:.1f} pT/√Hz; formula (Degen et al. 2017) "
          f"{eta_formula * 1e12:.1f} pT/√Hz: ratio {eta_measured / eta_formula:.3f} (target "
          f"within 1.5)")
    print(f"   the same formula with the photon-noise-only C = {c_photon:.4f} (ensemble limit): "
          f"{eta_photon * 1e12:.1f} pT/√Hz, ratio {eta_measured / eta_photon:.3f}")


def _measurement_bench(seed: int) -> dict:
    return {
        "name": "bench_pulsed",
        "sample": {"field": ["0.57735 mT"] * 3, "nucleus": "none", "axes": [0],
                   "contrast": 0.15, "count_rate": "3e6 /s", "dark_count_rate": "300 /s",
                   "mw_reference_power": "-20 dBm", "mw_saturation_power": "-20 dBm",
                   "laser_reference_power": "1 mW", "laser_saturation_power": "1 mW",
                   "seed": seed},
        "instruments": {
            "mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
            "counter": {"driver": "simulated"}, "pulser": {"driver": "simulated"},
            "gated_counter": {"driver": "simulated",
                              "spin": {"rabi_frequency": "8 MHz", "t2_star": "2 us",
                                       "t2": "100 us", "t1": "5 ms"}}},
        "limits": {"frequency": ["2.7 GHz", "3.05 GHz"], "max_mw_power": "-5 dBm"},
    }


def _through_measurement(trials: int) -> None:
    import tempfile

    from nvsense.instruments import load_bench
    from nvsense.measure.pulsed import run_pulsed

    cases = [("rabi", "rabi_frequency_hz", 8e6, {"tau": "0:300ns:31"}),
             ("ramsey", "t2star_s", 2e-6, {"tau": "0:5us:101", "detuning": "2 MHz"}),
             ("echo", "t2_s", 100e-6, {"tau": "2us:150us:31"}),
             ("t1", "t1_s", 5e-3, {"tau": "10us:15ms:31", "repetitions": 1_000_000})]
    print(f"\n5. Through the measurement (run_pulsed: 4 averages × 2.5·10⁵ repetitions, "
          f"single NV, 3·10⁶ photons/s), {trials} seeds; 'ok' = within 3 % or 2σ")
    for protocol, key, truth, extra in cases:
        errors, sigmas, ok, wall = [], [], 0, []
        for seed in range(trials):
            with tempfile.TemporaryDirectory() as tmp, load_bench(_measurement_bench(seed)) \
                    as bench:
                resonance = float(bench.sample.line_frequencies()[0, 0].mean())
                settings = {"protocol": protocol, "mw_frequency": resonance,
                            "mw_power": "-20 dBm", "laser_power": "1 mW", "averages": 4,
                            "repetitions": 250_000, "pi_pulse": "62ns", **extra}
                t0 = time.perf_counter()
                result = run_pulsed(bench, settings, data_dir=tmp, store=False)
                wall.append(time.perf_counter() - t0)
            s = result.summary()
            v, e = s[key], s[f"{key}_error"]
            if v is None:
                continue
            errors.append(v / truth - 1)
            sigmas.append(e / truth)
            ok += abs(v - truth) <= max(0.03 * truth, 2 * e)
        print(f"   {protocol:6s} {key:18s} bias {np.mean(errors) * 100:+.2f} % "
              f"(scatter {np.std(errors) * 100:.2f} %, median σ {np.median(sigmas) * 100:.2f} "
              f"%), {ok}/{trials} ok; {np.median(wall):.2f} s per run of 4 averages "
              f"(simulation, fits, run file)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=4000)
    parser.add_argument("--only-measurement", action="store_true",
                        help="only part 5 (through the measurement)")
    args = parser.parse_args()
    if not args.only_measurement:
        _speed()
        _accuracy(args.trials)
        _scaling()
        _sensitivity(args.repeats)
    _through_measurement(args.trials)


if __name__ == "__main__":
    main()
