"""Limits are checked before anything is sent, and the bench is always left safe.

A recording microwave source (a bench file may name any class as ``module:Class``) shows
exactly which commands reached the instrument.
"""

from __future__ import annotations

import json
import signal
import sys
import types

import pytest

from nvsense.instruments import (
    InstrumentError,
    Laser,
    LimitError,
    MicrowaveLimits,
    MicrowaveSource,
    load_bench,
)


class RecordingMW:
    """A microwave source that records every command it receives."""

    def __init__(self, name, *, power=-10.0, fail_safe=False, ignore_safe=False):
        self.name = name
        self.sent: list[tuple] = []
        self._f, self._p, self._out = 2.87e9, float(power), False
        self.fail_safe, self.ignore_safe = fail_safe, ignore_safe
        self.on_safe = None  # test hook

    def connect(self):
        self.sent.append(("connect",))

    def close(self):
        self.sent.append(("close",))

    @property
    def identity(self):
        return "Test,RecordingMW,1,1.0"

    @property
    def limits(self):
        return MicrowaveLimits(1e6, 6e9, -100.0, 20.0)

    @property
    def frequency(self):
        return self._f

    @frequency.setter
    def frequency(self, value):
        self.sent.append(("FREQ", value))
        self._f = value

    @property
    def power(self):
        return self._p

    @power.setter
    def power(self, value):
        self.sent.append(("POW", value))
        self._p = value

    @property
    def output(self):
        return self._out

    @output.setter
    def output(self, value):
        self.sent.append(("OUTP", value))
        self._out = value

    @property
    def supports_list(self):
        return True

    def load_list(self, frequencies, power):
        self.sent.append(("LIST", tuple(frequencies), power))

    def start_list(self):
        self.sent.append(("LIST START",))

    def stop_list(self):
        self.sent.append(("LIST STOP",))

    def set_fm(self, deviation, *, rate=None, source="internal", enabled=True):
        self.sent.append(("FM", deviation, enabled))

    def safe(self):
        if self.on_safe:
            self.on_safe()
        if self.fail_safe:
            raise InstrumentError(self.name, "OUTP 0", "VISA timeout after 2000 ms")
        self.sent.append(("SAFE",))
        if not self.ignore_safe:
            self._out = False


@pytest.fixture
def fake_module(monkeypatch):
    module = types.ModuleType("nvsense_test_fakes")
    module.RecordingMW = RecordingMW
    monkeypatch.setitem(sys.modules, "nvsense_test_fakes", module)
    return module


BENCH_TEXT = """
instruments:
  mw: {driver: "nvsense_test_fakes:RecordingMW"%s}
  laser: {driver: simulated}
  counter: {driver: simulated}
  coil: {driver: simulated}
limits: {frequency: ["2.5 GHz", "3.3 GHz"], max_mw_power: "0 dBm", max_laser_power: "0.5 W",
         max_coil_current: "1 A"}
safe_state: {laser: %s}
"""


@pytest.fixture
def make_bench(fake_module, tmp_path):
    def make(mw_options="", laser_state="off", faults=None):
        text = BENCH_TEXT % (mw_options, laser_state)
        if faults:
            text += f"sample: {{faults: {json.dumps(faults)}}}\n"
        path = tmp_path / "bench.yaml"
        path.write_text(text, encoding="utf-8")
        return load_bench(path)
    return make


def commands(bench, kind):
    return [c for c in bench.mw.inner.sent if c[0] == kind]


def test_settings_outside_the_bench_limits_raise_and_send_nothing(make_bench):
    bench = make_bench()
    with bench:
        with pytest.raises(LimitError) as info:
            bench.mw.frequency = 3.5e9
        message = str(info.value)
        assert "3.5 GHz" in message and "3.3 GHz" in message
        assert str(bench.source) in message and "nothing was sent" in message
        with pytest.raises(LimitError, match="max_mw_power"):
            bench.mw.power = 5.0
        with pytest.raises(LimitError, match="1 of 3 mw frequency values"):
            bench.mw.load_list([2.8e9, 2.9e9, 3.4e9], -10.0)
        with pytest.raises(LimitError, match="max_mw_power"):
            bench.mw.load_list([2.8e9, 2.9e9], 3.0)
        with pytest.raises(LimitError, match="max_laser_power"):
            bench.laser.power = 0.6
        with pytest.raises(LimitError, match="max_coil_current"):
            bench.coil.current = -1.5
        assert commands(bench, "FREQ") == [] and commands(bench, "POW") == []
        assert commands(bench, "LIST") == []
        assert bench.laser.power == pytest.approx(0.1)
        bench.mw.frequency = 3.2e9  # inside: sent
        bench.mw.load_list([2.8e9, 2.9e9], -5.0)
        assert commands(bench, "FREQ") == [("FREQ", 3.2e9)]
        assert commands(bench, "LIST") == [("LIST", (2.8e9, 2.9e9), -5.0)]


def test_instrument_limits_are_checked_too(make_bench):
    with make_bench() as bench:
        with pytest.raises(LimitError, match="the mw instrument"):
            bench.mw.frequency = 7e9
        with pytest.raises(LimitError, match="not a finite number"):
            bench.mw.frequency = float("nan")
        assert commands(bench, "FREQ") == []


def test_turning_rf_on_checks_the_power_left_by_an_earlier_session(make_bench):
    with make_bench(mw_options=", power: 10") as bench:
        with pytest.raises(LimitError, match="10 dBm is above 0 dBm"):
            bench.mw.output = True
        assert commands(bench, "OUTP") == []
        bench.mw.power = -10.0
        bench.mw.output = True
        assert commands(bench, "OUTP") == [("OUTP", True)]


def test_laser_and_coil_on_check_their_set_points(make_bench):
    with make_bench() as bench:
        bench.laser.inner.sample.laser.power = 0.8  # left high by someone else
        with pytest.raises(LimitError, match="max_laser_power"):
            bench.laser.on = True
        assert bench.laser.inner.sample.laser.on is False
        bench.coil.inner.sample.coil.current = 2.0
        with pytest.raises(LimitError, match="max_coil_current"):
            bench.coil.output = True
        assert bench.coil.inner.sample.coil.output is False


def test_fm_deviation_counts_towards_the_frequency_limits(make_bench):
    with make_bench() as bench:
        bench.mw.frequency = 3.29e9
        with pytest.raises(LimitError, match=r"3\.3 GHz"):
            bench.mw.set_fm(20e6, rate=1e3)
        assert commands(bench, "FM") == []
        bench.mw.set_fm(5e6, rate=1e3)
        with pytest.raises(LimitError):
            bench.mw.frequency = 3.298e9  # + 5 MHz deviation is out
        bench.mw.set_fm(0.0, enabled=False)
        bench.mw.frequency = 3.298e9


def test_effective_limits_are_the_instruments_within_the_bench(make_bench):
    bench = make_bench()
    assert bench.mw.limits == MicrowaveLimits(2.5e9, 3.3e9, -100.0, 0.0)
    assert bench.mw.instrument_limits == MicrowaveLimits(1e6, 6e9, -100.0, 20.0)
    assert (bench.laser.limits.power_min, bench.laser.limits.power_max) == (0.0, 0.5)
    assert (bench.coil.limits.current_min, bench.coil.limits.current_max) == (-1.0, 1.0)


def test_check_settings_validates_a_plan_without_sending(make_bench):
    bench = make_bench()  # not even connected
    bench.check_settings(frequencies=[2.6e9, 3.1e9], mw_power=-3.0, laser_power=0.2,
                         coil_current=0.5)
    with pytest.raises(LimitError, match=r"2 of 3 mw frequency values.*2.4 GHz.*2.5 GHz"):
        bench.check_settings(frequencies=[2.4e9, 2.45e9, 2.9e9])
    with pytest.raises(LimitError, match="laser power 700 mW is above 500 mW"):
        bench.check_settings(laser_power=0.7)
    with pytest.raises(LimitError, match="coil current"):
        bench.check_settings(coil_current=1.2)
    assert bench.mw.inner.sent == []
    plain = load_bench({"instruments": {"mw": {"driver": "simulated"},
                                        "laser": {"driver": "simulated"},
                                        "counter": {"driver": "simulated"}}})
    with pytest.raises(LimitError, match="no coil"):
        plain.check_settings(coil_current=0.1)
    with pytest.raises(LimitError, match="the mw instrument"):  # no bench limits: instrument's
        plain.check_settings(frequencies=5e9)


def test_exit_on_an_exception_leaves_everything_safe_and_reports_it(make_bench):
    bench = make_bench()
    with pytest.raises(RuntimeError, match="analysis bug"):
        with bench:
            bench.laser.on = True
            bench.mw.output = True
            bench.coil.current = 0.5
            bench.coil.output = True
            raise RuntimeError("analysis bug")
    sample = bench.laser.inner.sample
    assert bench.mw.inner._out is False
    assert sample.laser.on is False and sample.coil.output is False
    assert bench.safe_report == ["mw: RF off, list stopped", "laser: off", "counter: stopped",
                                 "coil: output off"]
    assert bench.mw.inner.sent[-1] == ("close",)
    assert not bench.connected


def test_ctrl_c_inside_the_block_leaves_the_bench_safe(make_bench):
    bench = make_bench(laser_state="standby")
    with pytest.raises(KeyboardInterrupt):
        with bench:
            bench.laser.on = True
            bench.mw.output = True
            raise KeyboardInterrupt
    assert bench.mw.inner._out is False
    assert bench.laser.inner.in_standby
    assert "laser: standby" in bench.safe_report


def test_ctrl_c_during_safe_waits_until_every_instrument_is_safe(make_bench):
    bench = make_bench()
    bench.connect()
    bench.laser.on = True
    bench.mw.inner.on_safe = lambda: signal.raise_signal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        bench.safe()
    assert bench.laser.inner.sample.laser.on is False
    assert bench.safe_report[-1] == "coil: output off"
    bench.mw.inner.on_safe = None
    bench.close()


def test_one_dead_instrument_does_not_keep_the_others_unsafe(make_bench):
    bench = make_bench(mw_options=", fail_safe: true")
    bench.connect()
    bench.laser.on = True
    report = bench.safe()  # does not raise
    assert report[0] == "mw: NOT made safe: mw: OUTP 0 failed: VISA timeout after 2000 ms"
    assert report[1:] == ["laser: off", "counter: stopped", "coil: output off"]
    assert isinstance(bench.safe_errors["mw"], InstrumentError)
    assert bench.laser.inner.sample.laser.on is False
    bench.close()


def test_rf_still_on_after_safe_is_reported(make_bench):
    bench = make_bench(mw_options=", ignore_safe: true")
    with bench:
        bench.mw.output = True
    assert bench.safe_report[0].startswith("mw: NOT made safe")
    assert "still reads on" in bench.safe_report[0]


def test_an_unreachable_instrument_fails_connect_and_the_others_are_made_safe(make_bench):
    bench = make_bench(faults={"counter_unreachable": True})
    with pytest.raises(InstrumentError) as info:
        bench.connect()
    assert info.value.instrument.startswith("counter")
    assert "no response" in str(info.value)
    assert bench.safe_report == ["mw: RF off, list stopped", "laser: off"]
    assert ("close",) in bench.mw.inner.sent and not bench.connected


def test_guards_pass_everything_else_through(make_bench):
    with make_bench() as bench:
        assert isinstance(bench.mw, MicrowaveSource) and isinstance(bench.laser, Laser)
        assert bench.mw.identity == "Test,RecordingMW,1,1.0"
        assert bench.mw.name == "mw" and bench.mw.supports_list
        bench.mw.fail_safe = False  # attribute writes reach the driver
        assert bench.mw.inner.fail_safe is False
        assert bench.identities() == {"mw": "Test,RecordingMW,1,1.0",
                                      "laser": bench.laser.identity,
                                      "counter": bench.counter.identity,
                                      "coil": bench.coil.identity}
        metadata = json.loads(json.dumps(bench.metadata()))
        assert metadata["drivers"]["mw"] == "nvsense_test_fakes:RecordingMW"
        assert metadata["bench_config"]["limits"]["max_mw_power"] == 0.0
        assert metadata["identities"]["mw"] == "Test,RecordingMW,1,1.0"


def test_a_bench_works_in_python_as_documented():
    with load_bench({"sample": {"seed": 1}}) as bench:
        bench.mw.frequency = 2.87e9
        bench.mw.power = -10.0
        bench.laser.on = True
        bench.mw.output = True
        bench.counter.configure(10, 1e-3)
        counts = bench.counter.acquire()
    assert counts.shape == (10,) and counts.mean() > 5000
    assert bench.safe_report == ["mw: RF off, list stopped", "laser: off", "counter: stopped"]
