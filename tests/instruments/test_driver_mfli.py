"""Zurich Instruments MFLI driver against a double of the zhinst-toolkit session and node
tree: the nodes it sets, limits before anything is sent, external reference, streamed capture
in blocks with gap detection, and the error when zhinst-toolkit is missing."""

import sys

import numpy as np
import pytest

from nvsense.instruments.drivers.mfli import MFLI
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.lockin import LockIn

CLOCKBASE = 60e6
RANGES = [1e-3, 3e-3, 10e-3, 30e-3, 100e-3, 300e-3, 1.0, 3.0]


class FakeNode:
    """A node of the double: attribute and index access build the path; calling gets/sets."""

    def __init__(self, tree, path):
        self._tree, self._path = tree, path

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return FakeNode(self._tree, f"{self._path}/{name}")

    def __getitem__(self, index):
        return FakeNode(self._tree, f"{self._path}/{index}")

    def __call__(self, value=None, *, deep=False):
        if value is None:
            return self._tree.get(self._path)
        taken = self._tree.set(self._path, value)
        return taken if deep else None

    def subscribe(self):
        self._tree.subscribed.add(self._path)

    def unsubscribe(self):
        self._tree.subscribed.discard(self._path)

    def __repr__(self):
        return f"/{self._tree.serial}/{self._path.lstrip('/')}"


class FakeDevice(FakeNode):
    """The device root: a node tree with the MFLI's rounding rules."""

    def __init__(self, serial, device_type="MFLI", options="MD"):
        super().__init__(self, "")
        self.serial = serial
        self.device_type = device_type
        self.subscribed = set()
        self.sets = []
        self.values = {"/features/options": options, "/clockbase": CLOCKBASE,
                       "/demods/0/enable": 0, "/demods/0/timeconstant": 0.01,
                       "/demods/0/order": 3, "/demods/0/harmonic": 1,
                       "/demods/0/phaseshift": 0.0, "/demods/0/oscselect": 0,
                       "/demods/0/rate": 1674.0, "/demods/1/adcselect": 0,
                       "/demods/1/oscselect": 1, "/oscs/0/freq": 1e3, "/extrefs/0/enable": 0,
                       "/sigins/0/range": 1.0, "/sigouts/0/on": 1,
                       "/sigouts/0/amplitudes/0": 0.5, "/sigouts/0/enables/0": 1}

    def get(self, path):
        if path not in self.values:
            raise KeyError(path)  # toolkit raises KeyError for unknown nodes
        return self.values[path]

    def set(self, path, value):
        if path not in self.values:
            raise KeyError(path)
        self.sets.append((path, value))
        if path.endswith("timeconstant"):
            value = float(f"{value:.2g}")  # the instrument rounds to its own steps
        elif path.endswith("sigins/0/range"):
            value = next(r for r in RANGES if r >= value * (1 - 1e-9))
        elif path.endswith("rate"):
            value = CLOCKBASE / 2 ** round(np.log2(CLOCKBASE / value))
        self.values[path] = value
        return value


class FakeSession:
    """The toolkit session double: connect_device, sync, poll of the subscribed samples."""

    def __init__(self, device, *, amplitude=1e-3, phase=0.3, gap_after=None):
        self.device = device
        self.amplitude, self.phase, self.gap_after = amplitude, phase, gap_after
        self.tick = 123_456_789
        self.synced = 0
        self.polls = []

    def connect_device(self, serial, *, interface=None):
        if serial != self.device.serial:
            raise RuntimeError(f"device {serial} not found on the data server")
        return self.device

    def sync(self):
        self.synced += 1

    def poll(self, recording_time, *, timeout=0.5):
        self.polls.append(recording_time)
        node = "/demods/0/sample"
        if node not in self.device.subscribed:
            return {}
        rate = self.device.values["/demods/0/rate"]
        n = max(1, round(recording_time * rate))
        step = CLOCKBASE / rate
        ticks = self.tick + step * np.arange(n)
        self.tick = ticks[-1] + step
        if self.gap_after is not None and len(self.polls) > self.gap_after:
            ticks = ticks + 10 * step  # the data server dropped samples
        z = self.amplitude * np.exp(1j * self.phase) * np.ones(n)
        return {f"/{self.device.serial}{node}": {"timestamp": ticks.astype(np.uint64),
                                                 "x": z.real, "y": z.imag}}


def make(session_kwargs=None, device_kwargs=None, **options):
    device = FakeDevice("dev5678", **(device_kwargs or {}))
    session = FakeSession(device, **(session_kwargs or {}))
    lia = MFLI("lockin", "DEV5678", session_factory=lambda host, port: session,
               clock=lambda: 0.0, sleep=lambda s: None, **options)
    return lia, device, session


def test_connect_checks_the_device_type_and_enables_the_demodulator():
    lia, device, _ = make()
    lia.connect()
    assert lia.identity.startswith("Zurich Instruments,MFLI,dev5678")
    assert device.values["/demods/0/enable"] == 1
    assert lia.limits.frequency_max == 500e3 and lia.limits.max_filter_order == 8
    members = [n for n in dir(LockIn) if not n.startswith("_")]
    assert all(hasattr(MFLI, n) for n in members)
    lia.close()
    lia.close()
    assert not lia.connected


def test_another_device_type_is_refused():
    lia, _, _ = make(device_kwargs={"device_type": "HDAWG8"})
    with pytest.raises(InstrumentError, match="not an MFLI"):
        lia.connect()
    assert not lia.connected


def test_unknown_device_is_a_connection_error_naming_the_server():
    lia = MFLI("lockin", "dev9999",
               session_factory=lambda h, p: FakeSession(FakeDevice("dev5678")))
    with pytest.raises(InstrumentError, match="localhost:8004"):
        lia.connect()


def test_five_mhz_option_raises_the_frequency_limit():
    lia, _, _ = make(device_kwargs={"options": "F5M\nMD"})
    lia.connect()
    assert lia.limits.frequency_max == 5e6


def test_settings_go_to_their_nodes_and_report_what_the_instrument_took():
    lia, device, _ = make()
    lia.connect()
    lia.time_constant = 1.234e-3
    assert lia.time_constant == 1.2e-3  # rounded by the instrument, reported as taken
    lia.filter_order = 8
    lia.sensitivity = 0.05
    assert lia.sensitivity == 0.1  # the next input range up
    lia.reference_frequency = 12.5e3
    lia.harmonic = 2
    lia.reference_phase = 270.0
    lia.sine_amplitude = 0.2
    v = device.values
    assert (v["/demods/0/order"], v["/oscs/0/freq"], v["/demods/0/harmonic"]) == (8, 12.5e3, 2)
    assert v["/demods/0/phaseshift"] == 270.0
    assert (v["/sigouts/0/amplitudes/0"], v["/sigouts/0/enables/0"], v["/sigouts/0/on"]) == \
        (0.2, 1, 1)


def test_limits_are_checked_before_any_node_is_set():
    lia, device, _ = make()
    lia.connect()
    before = list(device.sets)
    with pytest.raises(LimitError, match="1 to 8"):
        lia.filter_order = 9
    with pytest.raises(LimitError, match="outside"):
        lia.time_constant = 100.0
    with pytest.raises(LimitError, match="outside"):
        lia.sensitivity = 5.0
    with pytest.raises(LimitError, match="outside"):
        lia.reference_frequency = 600e3
    device.values["/oscs/0/freq"] = 300e3
    with pytest.raises(LimitError, match="above"):
        lia.harmonic = 2
    assert device.sets == before


def test_external_reference_ties_demodulator_2_to_the_oscillator():
    lia, device, _ = make(external_reference_input=2)
    lia.connect()
    lia.reference_source = "external"
    assert device.values["/demods/1/adcselect"] == 2
    assert device.values["/demods/1/oscselect"] == 0
    assert device.values["/extrefs/0/enable"] == 1
    assert lia.reference_source == "external"
    with pytest.raises(InstrumentError, match="internal' first"):
        lia.reference_frequency = 1e3
    lia.reference_source = "internal"
    assert device.values["/extrefs/0/enable"] == 0


def test_streamed_capture_arrives_in_blocks_until_complete():
    lia, device, session = make(session_kwargs={"amplitude": 2e-3, "phase": -0.5})
    lia.connect()
    rate = lia.configure_capture(1000, 7000)
    assert rate == pytest.approx(CLOCKBASE / 2 ** 13)  # the nearest rate the double offers
    lia.start_capture()
    assert session.synced == 1 and "/demods/0/sample" in device.subscribed
    blocks = []
    while not blocks or not blocks[-1].complete:
        blocks.append(lia.read_capture())
    assert len(blocks) > 1
    time = np.concatenate([b.time for b in blocks])
    x = np.concatenate([b.x for b in blocks])
    assert time.size == 1000 and x.size == 1000
    assert np.allclose(np.diff(time), 1 / rate)
    assert blocks[1].first_index == blocks[0].time.size
    assert np.allclose(blocks[0].r, 2e-3) and np.allclose(blocks[0].theta_deg, np.degrees(-0.5))
    assert "/demods/0/sample" not in device.subscribed  # unsubscribed once complete


def test_lost_samples_are_an_error_not_bridged():
    lia, device, _ = make(session_kwargs={"gap_after": 1})
    lia.connect()
    lia.configure_capture(5000, 7000)
    lia.start_capture()
    lia.read_capture()
    with pytest.raises(InstrumentError, match="samples were lost"):
        lia.read_capture()
    assert "/demods/0/sample" not in device.subscribed


def test_read_capture_without_start_and_read_xy():
    lia, _, session = make()
    lia.connect()
    with pytest.raises(InstrumentError, match="start_capture"):
        lia.read_capture()
    session.device.values["/demods/0/sample"] = {"x": np.array([1e-6]),
                                                 "y": np.array([2e-6])}
    assert lia.read_xy() == (1e-6, 2e-6)


def test_safe_stops_streaming_and_turns_the_output_off():
    lia, device, _ = make()
    lia.connect()
    lia.configure_capture(100, 7000)
    lia.start_capture()
    lia.safe()
    assert device.values["/sigouts/0/on"] == 0
    assert not device.subscribed


def test_missing_zhinst_toolkit_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "zhinst.toolkit", None)  # import fails
    lia = MFLI("lockin", "dev5678")
    with pytest.raises(InstrumentError, match=r"pip install \"nvsense\[mfli\]\""):
        lia.connect()


def test_bad_construction_options_are_refused_by_name():
    with pytest.raises(ValueError, match="serial"):
        MFLI("lockin", "5678")
    with pytest.raises(ValueError, match="external-reference demodulator"):
        MFLI("lockin", "dev5678", demod=1)
