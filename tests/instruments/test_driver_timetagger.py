"""Time Tagger gated counter, against a double of the TimeTagger module (its virtual device
needs a licence)."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.instruments.drivers.timetagger import TimeTaggerGated
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.gated_counter import GatedCounter


class FakeCBM:
    """CountBetweenMarkers: fills its values as gates arrive (the test feeds them)."""

    def __init__(self, tagger, click, begin, end, n_values):
        self.args = (click, begin, end, n_values)
        self.values = np.zeros(n_values, dtype=np.int32)
        self.widths = np.zeros(n_values, dtype=np.int64)
        self.filled = 0
        self.running = False
        tagger.measurements.append(self)

    def feed(self, counts):
        if not self.running:
            return
        for c in counts:
            if self.filled < self.values.size:
                self.values[self.filled] = c
                self.widths[self.filled] = 300_000
                self.filled += 1

    def ready(self):
        return self.filled == self.values.size

    def getData(self):
        return self.values.copy()

    def getBinWidths(self):
        return self.widths.copy()

    def clear(self):
        self.values[:] = 0
        self.widths[:] = 0
        self.filled = 0

    def start(self):
        self.running = True

    def stop(self):
        self.running = False


class FakeTagger:
    def __init__(self, serial):
        self.serial = serial
        self.levels = {}
        self.measurements = []

    def setTriggerLevel(self, channel, level):
        self.levels[channel] = level

    def getSerial(self):
        return "1740000ABC"

    def getModel(self):
        return "Time Tagger Ultra"


class FakeTimeTaggerModule:
    def __init__(self):
        self.created = []
        self.freed = []
        self.combiners = []

    def createTimeTagger(self, serial=""):
        self.created.append(FakeTagger(serial))
        return self.created[-1]

    def freeTimeTagger(self, tagger):
        self.freed.append(tagger)

    def Combiner(self, tagger, channels):

        class _Combiner:
            def getChannel(self):
                return 100

        self.combiners.append(list(channels))
        return _Combiner()

    CountBetweenMarkers = FakeCBM


def test_configure_arm_read_sums_each_window_over_the_passes():
    tt = FakeTimeTaggerModule()
    counter = TimeTaggerGated("gc", serial="1740000ABC", click_channels=[1, 2], gate_channel=3,
                              trigger_level="0.5 V", module=tt, sleep=lambda s: None)
    counter.connect()
    assert isinstance(counter, GatedCounter)
    tagger = tt.created[0]
    assert tagger.serial == "1740000ABC"
    assert tagger.levels == {1: 0.5, 2: 0.5, 3: 0.5}
    assert tt.combiners == [[1, 2]]
    assert counter.identity == "Swabian Instruments,Time Tagger Ultra,1740000ABC"
    counter.configure(windows_per_pass=4, passes=3)
    cbm = tagger.measurements[-1]
    assert cbm.args == (100, 3, -3, 12)  # combined clicks, gate rising to falling edge
    assert not cbm.running
    counter.arm()
    cbm.feed([1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 300, 400])
    np.testing.assert_array_equal(counter.read(timeout=1.0), [111, 222, 333, 444])
    assert not cbm.running
    counter.close()
    assert tt.freed == [tagger] and not counter.connected


def test_a_read_that_never_completes_times_out_saying_how_far_it_got():
    tt = FakeTimeTaggerModule()
    now = [0.0]

    def sleep(s):
        now[0] += s

    counter = TimeTaggerGated("gc", module=tt, sleep=sleep, clock=lambda: now[0])
    counter.connect()
    counter.configure(2, 5)
    counter.arm()
    tt.created[0].measurements[-1].feed([5, 6, 7])
    with pytest.raises(InstrumentError, match=r"3 of 10 gate windows.*input 2"):
        counter.read(timeout=0.5)


def test_bad_configurations_are_refused_before_anything_is_created():
    tt = FakeTimeTaggerModule()
    counter = TimeTaggerGated("gc", module=tt)
    counter.connect()
    with pytest.raises(LimitError, match="passes must be"):
        counter.configure(4, 0)
    with pytest.raises(LimitError, match="read at most"):
        counter.configure(1000, 10**6)
    assert tt.created[0].measurements == []
    with pytest.raises(InstrumentError, match="not configured"):
        counter.read()
    with pytest.raises(ValueError, match="also a click channel"):
        TimeTaggerGated("gc", click_channels=[2], gate_channel=2, module=tt)
