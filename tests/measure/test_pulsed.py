"""Pulsed measurements end to end on the simulated bench: recovered values against the
simulator's truth, the run file (raw counts, signal, fit, the program as given and as
compiled), stops and faults, the checks before anything is sent, results that flow on."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nvsense
from nvsense.instruments import InstrumentError, LimitError, load_bench
from nvsense.measure import RunControl, SettingsError
from nvsense.measure.documents import Record
from nvsense.measure.pulsed import (
    CALIBRATION_FILE,
    PulsedSettings,
    compiled_of_run,
    latest_calibration,
    program_of_run,
    run_pulsed,
)
from nvsense.pulses import PulseProgram

#: A single NV without a nucleus (one line: the Rabi frequency on resonance is exactly the
#: configured one), bright enough that a few averages give sub-percent errors.
TRUTH = {"rabi_frequency": 8e6, "t2_star": 2e-6, "t2": 100e-6, "t1": 5e-3}
BENCH = {
    "name": "pulsed_test",
    "sample": {"field": ["0.57735 mT"] * 3, "nucleus": "none", "axes": [0],
               "linewidth": "0.5 MHz", "contrast": 0.15, "count_rate": "3e6 /s",
               "dark_count_rate": "300 /s", "mw_reference_power": "-20 dBm",
               "mw_saturation_power": "-20 dBm", "laser_reference_power": "1 mW",
               "laser_saturation_power": "1 mW"},
    "instruments": {
        "mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
        "counter": {"driver": "simulated"}, "pulser": {"driver": "simulated"},
        "gated_counter": {"driver": "simulated",
                          "spin": {"rabi_frequency": "8 MHz", "t2_star": "2 us",
                                   "t2": "100 us", "t1": "5 ms"}}},
    "limits": {"frequency": ["2.7 GHz", "3.05 GHz"], "max_mw_power": "-5 dBm"},
    "safe_state": {"laser": "off"},
}
COMMON = {"mw_power": "-20 dBm", "laser_power": "1 mW", "averages": 4,
          "repetitions": 250_000}


def _resonance(bench) -> float:
    return float(bench.sample.line_frequencies()[0, 0].mean())  # ms=0 -> -1 of axis 0


def _run(tmp_path, protocol, control=None, subscribers=(), bench_config=None, **settings):
    with load_bench(bench_config or BENCH) as bench:
        values = {"protocol": protocol, "mw_frequency": _resonance(bench), **COMMON,
                  **settings}
        result = run_pulsed(bench, values, data_dir=tmp_path, control=control,
                            subscribers=subscribers)
        state = _bench_state(bench)
    return result, state


def _bench_state(bench) -> dict:
    pulsed = bench.sample.pulsed
    return {"pulser_running": bench.pulser.running, "outputs_low": pulsed.pulser.outputs_low,
            "rf": bench.mw.output, "laser": bench.laser.on,
            "report": list(bench.safe_report)}


def _assert_recovered(value: float, error: float, truth: float) -> None:
    """Within 3 % of the truth (or 2σ), and σ small enough that this says something."""
    assert np.isfinite(value) and np.isfinite(error)
    assert error < 0.01 * truth, (value, error)
    assert abs(value - truth) <= max(0.03 * truth, 2 * error), (value, error, truth)


def _assert_safe(state: dict) -> None:
    assert not state["pulser_running"] and state["outputs_low"]
    assert state["rf"] is False and state["laser"] is False
    assert any(line.startswith("pulser: stopped") for line in state["report"])


# --- recovered values --------------------------------------------------------------------------


def test_rabi_recovers_the_rabi_frequency_and_the_pi_pulse_flows_on(tmp_path):
    result, state = _run(tmp_path, "rabi", tau="0:300ns:31")
    assert result.status == "completed" and result.success, result.fit and result.fit.report
    s = result.summary()
    _assert_recovered(s["rabi_frequency_hz"], s["rabi_frequency_hz_error"],
                      TRUTH["rabi_frequency"])
    _assert_recovered(s["pi_pulse_s"], s["pi_pulse_s_error"], 1 / (2 * TRUTH["rabi_frequency"]))
    _assert_safe(state)
    # the π pulse is stored for the next protocol on this bench, and used by it
    stored = latest_calibration(tmp_path, "pulsed_test")
    assert stored["pi_pulse"]["value"] == pytest.approx(s["pi_pulse_s"])
    assert stored["pi_pulse"]["run_id"] == result.run_id
    echo, _ = _run(tmp_path, "echo", tau="2us:40us:5", averages=1, repetitions=1000)
    assert echo.settings.pi_pulse == pytest.approx(round(s["pi_pulse_s"] * 1e9) * 1e-9)
    ds = nvsense.open_run(echo.file)
    assert json.loads(ds.attrs["pulse_program"])["parameters"]["pi_pulse"] == \
        pytest.approx(echo.settings.pi_pulse)
    # 6 dB more power: twice the amplitude, half the π pulse
    stronger, _ = _run(tmp_path, "echo", tau="2us:40us:5", averages=1, repetitions=1000,
                       mw_power="-14 dBm")
    assert stronger.settings.pi_pulse == pytest.approx(
        round(s["pi_pulse_s"] * 10 ** (-6 / 20) * 1e9) * 1e-9)


def test_ramsey_recovers_t2star_and_the_detuning(tmp_path):
    result, _ = _run(tmp_path, "ramsey", tau="0:5us:101", detuning="2 MHz", pi_pulse="62ns")
    assert result.success, result.fit.report
    s = result.summary()
    _assert_recovered(s["t2star_s"], s["t2star_s_error"], TRUTH["t2_star"])
    _assert_recovered(s["detuning_hz"], s["detuning_hz_error"], 2e6)


def test_hahn_echo_recovers_t2(tmp_path):
    result, _ = _run(tmp_path, "echo", tau="2us:150us:31", pi_pulse="62ns")
    assert result.success, result.fit.report
    _assert_recovered(result.summary()["t2_s"], result.summary()["t2_s_error"], TRUTH["t2"])


def test_t1_recovers_t1(tmp_path):
    result, _ = _run(tmp_path, "t1", tau="10us:15ms:31", pi_pulse="62ns",
                     repetitions=1_000_000)
    assert result.success, result.fit.report
    _assert_recovered(result.summary()["t1_s"], result.summary()["t1_s_error"], TRUTH["t1"])


def test_xy8_coherence_outlasts_the_echo(tmp_path):
    """Under 8 π pulses of a slow bath T2 grows as N^(2/3) (de Lange et al. 2010): 4 × T2."""
    result, _ = _run(tmp_path, "xy8", tau="1us:100us:25", pi_pulse="62ns", n_pulses=8)
    assert result.success, result.fit.report
    s = result.summary()
    assert set(s) == {"run_id", "file", "status", "protocol", "t2_s", "t2_s_error"}
    assert s["t2_s"] == pytest.approx(TRUTH["t2"] * 8 ** (2 / 3), rel=0.1)


def test_pulsed_odmr_finds_the_resonance_and_it_flows_on(tmp_path):
    with load_bench(BENCH) as bench:
        truth = _resonance(bench)
    lo, hi = (truth - 3e6) / 1e9, (truth + 3e6) / 1e9
    # a weak, long π pulse (300 ns) for a line narrower than the span
    result, _ = _run(tmp_path, "podmr", frequencies=f"{lo}GHz:{hi}GHz:31", pi_pulse="300ns",
                     mw_power="-33.7 dBm", mw_frequency=None, averages=2)
    assert result.success, result.fit.report
    s = result.summary()
    assert abs(s["mw_frequency_hz"] - truth) < max(30e3, 3 * s["mw_frequency_hz_error"])
    assert latest_calibration(tmp_path, "pulsed_test")["mw_frequency"]["value"] == \
        pytest.approx(s["mw_frequency_hz"])
    follow, _ = _run(tmp_path, "t1", tau="10us:1ms:5", averages=1, repetitions=100,
                     mw_frequency=None)
    assert follow.settings.mw_frequency == pytest.approx(s["mw_frequency_hz"])


# --- the run file ------------------------------------------------------------------------------


def test_run_file_holds_counts_signal_fit_and_the_program_to_re_upload(tmp_path):
    result, _ = _run(tmp_path, "ramsey", tau="0:2us:21", detuning="2 MHz", pi_pulse="62ns",
                     averages=3, repetitions=20_000, randomise=True, seed=5)
    ds = nvsense.open_run(result.file)
    assert ds.attrs["status"] == "completed" and ds.attrs["kind"] == "pulsed"
    assert ds["counts"].dims == ("average", "tau", "window")
    assert ds.sizes["average"] == 3 and ds.sizes["tau"] == 21
    assert list(ds["window"].values) == ["signal", "signal_pc"]
    np.testing.assert_allclose(ds["tau"].values, np.linspace(0, 2e-6, 21), atol=1e-12)
    # the signal is the normalised running sum of the raw counts (recomputed here)
    total = ds["counts"].values.sum(axis=0)
    s, p = total[:, 0], total[:, 1]
    np.testing.assert_allclose(ds["signal"].values[-1], (s - p) / (s + p), rtol=1e-12)
    np.testing.assert_allclose(ds["signal"].values[-1], result.signal)
    # the fit with its errors, per average and at the end
    assert np.all(np.isfinite(ds["fit_curve"].values[-1]))
    assert float(ds["t2star_s"].values[-1]) == pytest.approx(result.summary()["t2star_s"])
    results = json.loads(ds.attrs["results"])
    assert results["t2star_s"] == pytest.approx(result.summary()["t2star_s"])
    assert results["t2star_s_error"] > 0 and results["fit_success"] is True
    # the program as given (with its random order) and as compiled: a fresh compile of the
    # program in the file equals the compiled program in the file, and uploads exactly
    program = program_of_run(result.file)
    assert program == result.program
    assert program.sweep.order is not None and list(program.sweep.order) != list(range(21))
    compiled = compiled_of_run(result.file)
    with load_bench(BENCH) as bench:
        fresh = bench.pulser.compile(program).to_dict()
        uploaded = bench.pulser.upload(PulseProgram.from_dict(compiled["program"])).to_dict()
    for key in ("data", "device", "kind", "steps", "windows_per_pass", "pass_duration_ns"):
        assert fresh[key] == compiled[key] == uploaded[key]


# --- stops, faults, checks ---------------------------------------------------------------------


def test_a_stop_keeps_every_completed_average_and_leaves_the_bench_safe(tmp_path):
    control = RunControl()
    seen = []

    def stop_after_two(event):
        if isinstance(event, Record):
            seen.append(event)
            if len(seen) == 2:
                control.stop()

    result, state = _run(tmp_path, "rabi", tau="0:300ns:31", averages=50,
                         repetitions=10_000, control=control, subscribers=[stop_after_two])
    assert result.status == "aborted" and result.reason.startswith("stopped by user")
    assert result.averages == 2
    ds = nvsense.open_run(result.file)
    assert ds.sizes["average"] == 2 and ds.attrs["status"] == "aborted"
    np.testing.assert_array_equal(ds["counts"].values[1], seen[1].values["counts"])
    _assert_safe(state)


def test_an_instrument_fault_aborts_keeping_the_data_and_the_bench_safe(tmp_path):
    with load_bench(BENCH) as bench:
        counter = bench.gated_counter
        real_read, calls = counter.read, []

        def failing_read(timeout=None):
            calls.append(1)
            if len(calls) == 3:
                raise InstrumentError("gated_counter", "read", "simulated: link lost")
            return real_read(timeout)

        counter.read = failing_read
        result = run_pulsed(bench, {"protocol": "rabi", "mw_frequency": _resonance(bench),
                                    **COMMON, "tau": "0:300ns:31", "averages": 5,
                                    "repetitions": 100_000}, data_dir=tmp_path)
        state = _bench_state(bench)
    assert result.status == "aborted" and "link lost" in result.reason
    assert isinstance(result.error, InstrumentError)
    assert result.averages == 2 and nvsense.open_run(result.file).sizes["average"] == 2
    _assert_safe(state)


def test_a_program_the_pulser_cannot_play_is_refused_naming_the_block(tmp_path):
    with load_bench(BENCH) as bench:
        before = bench.pulser.compiled
        with pytest.raises(LimitError, match="mw_pulse") as info:
            run_pulsed(bench, {"protocol": "rabi", "mw_frequency": _resonance(bench),
                               "tau": "0:30ns:31"}, data_dir=tmp_path)  # 1 ns < 2 ns minimum
        assert info.value.block == "mw_pulse"
        assert bench.pulser.compiled is before and not bench.pulser.running
    assert not list(tmp_path.rglob("*.nc"))


def test_settings_errors_name_the_fix(tmp_path):
    with load_bench(BENCH) as bench:
        f = _resonance(bench)
        with pytest.raises(SettingsError, match=r"π pulse.*--pi-pulse"):
            run_pulsed(bench, {"protocol": "echo", "mw_frequency": f}, data_dir=tmp_path)
        with pytest.raises(SettingsError, match="microwave frequency"):
            run_pulsed(bench, {"protocol": "rabi"}, data_dir=tmp_path)
        with pytest.raises(SettingsError, match="multiple of 8"):
            PulsedSettings.parse({"protocol": "xy8", "n_pulses": 12})
        with pytest.raises(SettingsError, match="stop"):
            PulsedSettings.parse({"protocol": "rabi", "tau": "300ns:0:31"})
        with pytest.raises(SettingsError, match="frequencies"):
            PulsedSettings.parse({"protocol": "podmr"})
        with pytest.raises(LimitError):  # the bench's frequency limits
            run_pulsed(bench, {"protocol": "rabi", "mw_frequency": "3.2 GHz"},
                       data_dir=tmp_path)
    no_pulser = {**BENCH, "instruments": {k: v for k, v in BENCH["instruments"].items()
                                          if k not in ("pulser", "gated_counter")}}
    with pytest.raises(SettingsError, match="pulser"):
        run_pulsed(load_bench(no_pulser), {"protocol": "rabi", "mw_frequency": f},
                   data_dir=tmp_path)
    assert not list(tmp_path.rglob("*.nc"))


def test_calibration_file_is_per_bench_and_a_broken_one_is_ignored(tmp_path):
    (tmp_path / CALIBRATION_FILE).write_text("{not json")
    assert latest_calibration(tmp_path, "pulsed_test") == {}
    result, _ = _run(tmp_path, "rabi", tau="0:300ns:31", averages=2)
    assert result.success
    assert set(latest_calibration(tmp_path, "pulsed_test")) == {"pi_pulse"}
    assert latest_calibration(tmp_path, "another_bench") == {}


def test_retracking_moves_the_microwave_to_the_resonance(tmp_path):
    with load_bench(BENCH) as bench:
        truth = _resonance(bench)
    result, state = _run(tmp_path, "rabi", tau="0:300ns:31", averages=3,
                         repetitions=20_000, mw_frequency=truth + 1.5e6, retrack_every=1,
                         retrack_span="8 MHz", retrack_points=41)
    assert result.status == "completed"
    assert [a for a, _, _ in result.retracks] == [1, 2]
    assert all(found for _, _, found in result.retracks)
    assert abs(result.retracks[-1][1] - truth) < 100e3
    ds = nvsense.open_run(result.file)
    used = ds["mw_frequency"].values
    assert used[0] == pytest.approx(truth + 1.5e6) and abs(used[-1] - truth) < 100e3
    _assert_safe(state)


def test_xy8_ac_magnetometry_recovers_the_field_amplitude(tmp_path):
    """Both quadratures of XY8-8 at τ = 1/(2f): φ = 4γBT (Degen, Reinhard & Cappellaro,
    RMP 89, 035002, 2017), B from atan2 of the quadratures."""
    spin = {**BENCH["instruments"]["gated_counter"]["spin"], "ac_field": "0.5 uT",
            "ac_frequency": "250 kHz"}
    config = {**BENCH, "instruments": {**BENCH["instruments"], "gated_counter": {
        "driver": "simulated", "spin": spin}}}
    result, state = _run(tmp_path, "xy8", bench_config=config, pi_pulse="62ns", n_pulses=8,
                         ac_frequency="250 kHz", tau=None)
    assert result.success, result.fit.report
    s = result.summary()
    assert list(s) == ["run_id", "file", "status", "protocol", "ac_field_t",
                       "ac_field_t_error"]
    _assert_recovered(s["ac_field_t"], s["ac_field_t_error"], 0.5e-6)
    ds = nvsense.open_run(result.file)
    assert list(ds["window"].values) == ["signal", "signal_pc", "signal_q", "signal_q_pc"]
    assert ds.sizes["tau"] == 1 and float(ds["tau"][0]) == pytest.approx(2e-6)
    assert np.isfinite(ds["quadrature"].values).all()
    _assert_safe(state)
    # without the AC field the phase is zero within its error
    quiet, _ = _run(tmp_path, "xy8", pi_pulse="62ns", ac_frequency="250 kHz", tau=None)
    q = quiet.summary()
    assert abs(q["ac_field_t"]) < 3 * q["ac_field_t_error"] < 0.02e-6


def test_an_average_larger_than_the_counter_buffer_is_read_in_chunks(tmp_path, monkeypatch):
    from nvsense.measure.pulsed import measurement

    monkeypatch.setattr(measurement, "MAX_VALUES_PER_READ", 62 * 3000)  # 3000 passes a read
    with load_bench(BENCH) as bench:
        reads = []
        real = bench.gated_counter.configure

        def configure(windows, passes):
            reads.append(passes)
            return real(windows, passes)

        bench.gated_counter.configure = configure
        result = run_pulsed(bench, {"protocol": "rabi", "mw_frequency": _resonance(bench),
                                    **COMMON, "tau": "0:300ns:31", "averages": 2,
                                    "repetitions": 7000}, data_dir=tmp_path)
    assert reads == [3000, 3000, 1000] * 2
    chunked = nvsense.open_run(result.file)["counts"].values
    assert chunked.shape[0] == 2 and result.success
    # every shot is counted: as many photons as in one read of all 7000 shots per average
    monkeypatch.setattr(measurement, "MAX_VALUES_PER_READ", 10_000_000)
    whole, _ = _run(tmp_path, "rabi", tau="0:300ns:31", averages=2, repetitions=7000)
    total = nvsense.open_run(whole.file)["counts"].values.sum()
    assert chunked.sum() == pytest.approx(total, rel=0.02)


def test_a_program_beyond_the_simulators_reach_is_refused_before_it_runs(tmp_path):
    """XY8 with 20000 π pulses: the bath's dephasing would need tens of GB; the simulated
    pulser refuses it as a device refuses a program too big for its memory."""
    with load_bench(BENCH) as bench:
        with pytest.raises(LimitError, match="simulated bench cannot simulate"):
            run_pulsed(bench, {"protocol": "xy8", "mw_frequency": _resonance(bench),
                               "pi_pulse": "62ns", "n_pulses": 20_000, "tau": "1us:2us:2"},
                       data_dir=tmp_path)
    assert not list(tmp_path.rglob("*.nc"))
