"""Counts of the simulated bench: rates, shot noise, RF and laser state, lists, FM, protocols."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from nvsense import __version__
from nvsense.instruments import (
    Counter,
    InstrumentError,
    Laser,
    LimitError,
    MicrowaveSource,
)
from nvsense.instruments.protocols import CoilSupply
from nvsense.instruments.simulated import (
    SimulatedCoil,
    SimulatedCounter,
    SimulatedLaser,
    SimulatedMicrowave,
    SimulatedSample,
)

AXIS0 = np.array([1, 1, 1]) / np.sqrt(3)
OFF_RESONANCE = 3.2e9


def bench(**sample):
    sample.setdefault("seed", 11)
    s = SimulatedSample(sample)
    mw = SimulatedMicrowave("mw", s)
    laser = SimulatedLaser("laser", s)
    counter = SimulatedCounter("counter", s, mw_trigger_lead=0)  # bin k sees list[k]
    for inst in (mw, laser, counter):
        inst.connect()
    return s, mw, laser, counter


def read(counter, n, dt, **kw):
    counter.configure(n, dt, **kw)
    return counter.acquire()


def line_of_axis0(s):
    return float(s.line_frequencies()[0, 0, 0])


def test_counts_scale_with_dwell_and_follow_count_rate():
    _s, _mw, laser, counter = bench(count_rate="2e6 /s", dark_count_rate="0 /s")
    laser.on = True
    for dt in (1e-4, 1e-3, 4e-3):
        counts = read(counter, 2000, dt)
        assert counts.mean() == pytest.approx(2e6 * dt, rel=0.02)


def test_count_rate_holds_at_the_reference_laser_power_and_is_linear_well_below_saturation():
    _s, _mw, laser, counter = bench(count_rate="1e6 /s", dark_count_rate="0 /s",
                                  laser_reference_power="100 mW", laser_saturation_power="10 W")
    laser.on = True
    rates = {}
    for power in (0.01, 0.02, 0.1):
        laser.power = power
        rates[power] = read(counter, 4000, 1e-3).mean() / 1e-3
    assert rates[0.1] == pytest.approx(1e6, rel=0.01)
    assert rates[0.02] / rates[0.01] == pytest.approx(2.0, rel=0.02)


def test_count_rate_saturates_with_laser_power():
    _s, _mw, laser, counter = bench(count_rate="1e6 /s", dark_count_rate="0 /s",
                                  laser_reference_power="100 mW", laser_saturation_power="100 mW")
    laser.on = True
    laser.power = 0.9  # p = 9: R = R_sat·0.9 with R_sat = 2e6
    assert read(counter, 2000, 1e-3).mean() / 1e-3 == pytest.approx(1.8e6, rel=0.01)


def test_shot_noise_is_poisson():
    _s, _mw, laser, counter = bench(count_rate="1e5 /s")
    laser.on = True
    counts = read(counter, 40000, 1e-3)  # mean ≈ 100
    assert np.array_equal(counts, np.round(counts))
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.04)
    # Poisson, not Gaussian: P(0) for a mean of 2 is e^-2
    low = read(counter, 40000, 2e-5)
    assert np.mean(low == 0) == pytest.approx(np.exp(-low.mean()), abs=0.01)


def test_laser_intensity_noise_adds_to_shot_noise():
    rin = 1e-3  # 1/√Hz
    _s, _mw, laser, counter = bench(count_rate="1e8 /s", laser_noise=rin, dark_count_rate="0 /s")
    laser.on = True
    dt = 1e-4
    counts = read(counter, 40000, dt)
    mean = counts.mean()
    sigma_rel = rin / np.sqrt(2 * dt)
    assert counts.var() == pytest.approx(mean + (sigma_rel * mean) ** 2, rel=0.05)


def test_laser_off_leaves_only_dark_counts():
    _s, mw, laser, counter = bench(dark_count_rate="500 /s")
    mw.output = True
    counts = read(counter, 1000, 0.01)
    assert counts.mean() == pytest.approx(5.0, rel=0.05)
    laser.on = True
    laser.standby()
    assert read(counter, 1000, 0.01).mean() == pytest.approx(5.0, rel=0.05)


def test_rf_off_removes_the_dips():
    s, mw, laser, counter = bench(field=list(1e-3 * AXIS0), axes=[0], count_rate="1e9 /s",
                                  contrast=0.05)
    laser.on = True
    line = line_of_axis0(s)
    freqs = np.linspace(line - 3e6, line + 3e6, 121)
    mw.load_list(freqs, -10.0)
    mw.start_list()
    counter.configure(freqs.size, 1e-3, trigger_mw=True)
    dark = counter.acquire()  # RF still off after connect
    mw.output = True
    lit = counter.acquire()
    noise = np.sqrt(dark.mean())
    assert np.ptp(dark) < 10 * noise  # flat within shot noise
    assert 1 - lit.min() / dark.mean() == pytest.approx(0.05, rel=0.05)
    assert freqs[np.argmin(lit)] == pytest.approx(line, abs=50e3)


def lorentzian_dip(f, base, depth, f0, fwhm):
    return base * (1 - depth * (fwhm / 2) ** 2 / ((f - f0) ** 2 + (fwhm / 2) ** 2))


def fitted_line(mw, counter, line, power, span=8e6):
    freqs = np.linspace(line - span, line + span, 401)
    mw.load_list(freqs, power)
    mw.start_list()
    counter.configure(freqs.size, 1e-3, trigger_mw=True)
    counts = counter.acquire()
    mw.stop_list()
    popt, _ = curve_fit(lorentzian_dip, freqs, counts, p0=[counts.max(), 0.03, line, 1e6])
    return popt


def test_linewidth_and_contrast_hold_at_the_reference_power_and_saturate_above():
    s, mw, laser, counter = bench(field=list(3e-3 * AXIS0), axes=[0], count_rate="1e11 /s",
                                  contrast=0.03, linewidth="1.5 MHz",
                                  mw_reference_power="-10 dBm", mw_saturation_power="-10 dBm")
    laser.on = True
    mw.output = True
    line = line_of_axis0(s)
    _, c_ref, f_ref, w_ref = fitted_line(mw, counter, line, -10.0)
    assert c_ref == pytest.approx(0.03, rel=0.02)
    assert w_ref == pytest.approx(1.5e6, rel=0.02)
    assert f_ref == pytest.approx(line, abs=5e3)
    # s = P/P_sat: at 0 dBm s = 10, at -20 dBm s = 0.1 (documented saturation model)
    _, c_hi, _, w_hi = fitted_line(mw, counter, line, 0.0, span=15e6)
    _, c_lo, _, w_lo = fitted_line(mw, counter, line, -20.0)
    assert c_lo < c_ref < c_hi < 2 * 0.03
    assert c_hi == pytest.approx(2 * 0.03 * 10 / 11, rel=0.02)
    assert c_lo == pytest.approx(2 * 0.03 * 0.1 / 1.1, rel=0.03)
    assert w_hi / w_ref == pytest.approx(np.sqrt(11 / 2), rel=0.02)
    assert w_lo / w_ref == pytest.approx(np.sqrt(1.1 / 2), rel=0.03)


def test_volts_mode_reads_a_photodiode_voltage():
    s = SimulatedSample({"count_rate": "1e9 /s", "seed": 2})
    laser = SimulatedLaser("laser", s)
    counter = SimulatedCounter("counter", s, kind="volts", volts_at_count_rate="2 V")
    laser.connect()
    counter.connect()
    laser.on = True
    assert counter.kind == "volts"
    volts = read(counter, 1000, 1e-3)
    assert volts.mean() == pytest.approx(2.0, rel=1e-3)
    assert volts.std() == pytest.approx(2.0 / np.sqrt(1e6), rel=0.1)  # shot noise of 1e6 /bin


def test_each_triggered_bin_steps_the_list_and_the_list_wraps():
    s, mw, laser, counter = bench(field=list(1e-3 * AXIS0), axes=[0], count_rate="1e9 /s",
                                  contrast=0.2, linewidth="1 MHz")
    laser.on = True
    line = line_of_axis0(s)
    freqs = [OFF_RESONANCE - 4e6, line, OFF_RESONANCE - 2e6, OFF_RESONANCE, OFF_RESONANCE + 2e6]
    mw.load_list(freqs, -10.0)
    mw.start_list()
    mw.output = True
    counter.configure(3, 1e-3, trigger_mw=True)
    dips = []
    for _ in range(5):  # 15 bins: list entries 0..4, 0..4, 0..4
        counts = counter.acquire()
        dips.append(counts < 0.9 * counts.max())
    # bin k of the whole record sees list[k % 5]: the resonant entry 1 at bins 1, 6, 11
    record = np.concatenate(dips)
    assert np.flatnonzero(record).tolist() == [1, 6, 11]


def test_default_clock_sends_one_edge_before_the_first_bin_like_an_ni_card():
    s = SimulatedSample({"field": list(1e-3 * AXIS0), "axes": [0], "count_rate": "1e9 /s",
                         "contrast": 0.2, "seed": 3})
    mw, laser, counter = (SimulatedMicrowave("mw", s), SimulatedLaser("laser", s),
                          SimulatedCounter("counter", s))
    for inst in (mw, laser, counter):
        inst.connect()
    assert counter.mw_trigger_lead == 1
    laser.on = True
    line = line_of_axis0(s)
    freqs = [OFF_RESONANCE - 4e6, line, OFF_RESONANCE - 2e6, OFF_RESONANCE, OFF_RESONANCE + 2e6]
    mw.load_list(freqs, -10.0)
    mw.output = True
    counter.configure(5, 1e-3, trigger_mw=True)
    mw.start_list()
    first = counter.acquire()
    # edge 0 moves the list to entry 1 as bin 0 starts: the resonant entry is seen in bin 0
    assert np.flatnonzero(first < 0.9 * first.max()).tolist() == [0]
    # 6 edges were sent: without re-arming, the next acquisition starts one entry further on
    second = counter.acquire()
    assert np.flatnonzero(second < 0.9 * second.max()).tolist() == [4]
    mw.start_list()  # re-arming restores the alignment
    third = counter.acquire()
    assert np.flatnonzero(third < 0.9 * third.max()).tolist() == [0]


def test_without_trigger_the_list_stays_put_and_cw_uses_the_cw_frequency():
    s, mw, laser, counter = bench(field=list(1e-3 * AXIS0), axes=[0], count_rate="1e9 /s",
                                  contrast=0.2)
    laser.on = True
    mw.output = True
    line = line_of_axis0(s)
    mw.load_list([line, OFF_RESONANCE], -10.0)
    mw.start_list()
    stuck = read(counter, 4, 1e-3)  # no trigger: every bin at list[0], on resonance
    assert np.all(stuck < 0.9 * 1e6)
    mw.stop_list()
    mw.frequency = OFF_RESONANCE
    cw = read(counter, 4, 1e-3, trigger_mw=True)  # trigger with no list: CW
    assert np.all(cw > 0.99 * 1e6)


def test_internal_fm_averages_the_line_over_the_modulation():
    s, mw, laser, counter = bench(field=list(1e-3 * AXIS0), axes=[0], count_rate="1e10 /s",
                                  contrast=0.04, linewidth="1 MHz")
    laser.on = True
    mw.output = True
    line = line_of_axis0(s)
    mw.frequency = line
    plain = read(counter, 200, 1e-2).mean()
    mw.set_fm(3e6, rate=1e3)
    modulated = read(counter, 200, 1e-2).mean()
    base = 1e10 * 1e-2
    phase = np.linspace(0, 2 * np.pi, 100001)[:-1]
    expected_depth = np.mean(0.04 * 0.25e12 / ((3e6 * np.sin(phase)) ** 2 + 0.25e12))
    assert 1 - plain / base == pytest.approx(0.04, rel=0.01)
    assert 1 - modulated / base == pytest.approx(expected_depth, rel=0.02)
    mw.set_fm(0.0, enabled=False)
    assert 1 - read(counter, 200, 1e-2).mean() / base == pytest.approx(0.04, rel=0.01)


def test_short_bins_and_long_traces_work():
    s, _mw, laser, counter = bench(count_rate="1e7 /s", dark_count_rate="0 /s")
    laser.on = True
    counts = read(counter, 200_000, 1e-5)  # 2 s of 10 µs bins, evaluated in blocks
    assert counts.shape == (200_000,)
    assert counts.mean() == pytest.approx(100.0, rel=0.01)
    assert s.time == pytest.approx(2.0)


def test_same_seed_same_counts():
    runs = []
    for _ in range(2):
        _s, _mw, laser, counter = bench(seed=5)
        laser.on = True
        runs.append(read(counter, 50, 1e-3))
    assert np.array_equal(runs[0], runs[1])


def test_simulated_instruments_honour_the_protocols():
    s = SimulatedSample()
    instruments = [(SimulatedMicrowave("mw", s), MicrowaveSource),
                   (SimulatedLaser("laser", s), Laser),
                   (SimulatedCounter("counter", s), Counter),
                   (SimulatedCoil("coil", s), CoilSupply)]
    for instrument, protocol in instruments:
        instrument.connect()  # before Python 3.12 isinstance() reads the properties
        assert isinstance(instrument, protocol)


def test_identities_and_read_back_state():
    _s, mw, laser, counter = bench()
    assert mw.identity == f"nvsense,SimulatedMW,0,{__version__}"
    assert laser.identity.startswith("nvsense,SimulatedLaser,")
    assert counter.identity.startswith("nvsense,SimulatedCounter,")
    mw.frequency, mw.power, mw.output = 2.9e9, -12.5, True
    assert (mw.frequency, mw.power, mw.output) == (2.9e9, -12.5, True)
    laser.power, laser.on = 0.25, True
    assert (laser.power, laser.on) == (0.25, True)
    laser.standby()
    assert laser.on is False and laser.in_standby


def test_simulated_source_refuses_settings_outside_its_range_and_keeps_its_state():
    _s, mw, laser, counter = bench()
    mw.frequency, mw.power = 2.87e9, -10.0
    with pytest.raises(LimitError, match=r"4\.05 GHz"):
        mw.frequency = 5e9
    with pytest.raises(LimitError, match=r"16\.5 dBm"):
        mw.power = 20.0
    with pytest.raises(LimitError, match=r"mw frequency"):
        mw.load_list([2.8e9, 4.2e9], -10.0)
    with pytest.raises(LimitError):
        laser.power = 1.5
    assert (mw.frequency, mw.power, laser.power) == (2.87e9, -10.0, 0.1)
    with pytest.raises(LimitError, match="bin_time"):
        counter.configure(10, 1e-8)


def test_commands_need_a_connection_and_cw_settings_need_the_list_stopped():
    s = SimulatedSample()
    mw = SimulatedMicrowave("mw", s)
    with pytest.raises(InstrumentError, match="not connected"):
        mw.frequency = 2.87e9
    mw.connect()
    with pytest.raises(InstrumentError, match="no list loaded"):
        mw.start_list()
    mw.load_list([2.86e9, 2.88e9], -10.0)
    mw.start_list()
    with pytest.raises(InstrumentError, match="stop_list"):
        mw.frequency = 2.9e9
    mw.stop_list()
    mw.frequency = 2.9e9
    counter = SimulatedCounter("counter", s)
    counter.connect()
    with pytest.raises(InstrumentError, match="configure"):
        counter.acquire()


def test_connect_puts_the_source_in_a_known_state():
    s = SimulatedSample()
    mw = SimulatedMicrowave("mw", s)
    mw.connect()
    mw.output = True
    mw.close()
    mw.connect()
    assert mw.output is False
