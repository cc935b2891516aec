"""Pulse Streamer 8/2 driver: compiled sequences equal a pulsestreamer.Sequence built here from
each protocol's own definition; the network client is a double."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pulser_doubles import FakeClient  # tests/instruments (conftest.py)

from nvsense.instruments.drivers.pulse_streamer import PulseStreamer82
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.pulser import Pulser, PulserLimitError
from nvsense.pulses import (
    ProgramLimitError,
    PulseProgram,
    cpmg,
    hahn_echo,
    pulsed_odmr,
    rabi,
    ramsey,
    t1,
    xy8,
)

ps = pytest.importorskip("pulsestreamer")

LASER, MW, GATE, TRIGGER = 0, 1, 2, 3
IQ = 0.5


# --- each protocol's shot, written from its definition (not from the builders) -------------


def _ro():
    return [(300, {LASER, GATE}, None), (2700, {LASER}, None), (1000, set(), None)]


def _shot(protocol: str, v: float) -> list[tuple[int, set[int], float | None]]:
    ns = round(v * 1e9)
    h, pi = 24, 48
    if protocol == "rabi":
        return [(ns, {MW}, 0.0), *_ro(), *_ro()]
    if protocol == "pulsed_odmr":
        return [(100, {TRIGGER}, None), (1000, set(), None), (pi, {MW}, 0.0), *_ro(), *_ro()]
    if protocol == "ramsey":
        out = []
        for final in (180.0, 0.0):
            out += [(h, {MW}, 0.0), (ns, set(), None), (h, {MW}, final), *_ro()]
        return out
    if protocol == "hahn_echo":
        out = []
        for final in (0.0, 180.0):
            out += [(h, {MW}, 0.0), (ns, set(), None), (pi, {MW}, 0.0), (ns, set(), None),
                    (h, {MW}, final), *_ro()]
        return out
    if protocol in ("cpmg", "xy8"):
        phases = [90.0] * 4 if protocol == "cpmg" else [0, 90, 0, 90, 90, 0, 90, 0] * 2
        out = []
        for final in (180.0, 0.0):
            out.append((h, {MW}, 0.0))
            out.append(((ns - pi) // 2, set(), None))
            for k, ph in enumerate(phases):
                out.append((pi, {MW}, float(ph)))
                out.append(((ns - pi) if k < len(phases) - 1 else (ns - pi) // 2, set(), None))
            out += [(h, {MW}, final), *_ro()]
        return out
    if protocol == "t1":
        return [(ns, set(), None), *_ro(), (pi, {MW}, 0.0), (ns, set(), None), *_ro()]
    raise AssertionError(protocol)


def _expected_sequence(protocol: str, values) -> object:
    """A pulsestreamer.Sequence from the shots above: one pattern per output."""
    steps = [s for v in values for s in _shot(protocol, v) if s[0] > 0]
    seq = ps.Sequence()
    for out in (LASER, MW, GATE, TRIGGER):
        seq.setDigital(out, [(d, int(out in on)) for d, on, _ in steps])
    i_pattern = [(d, IQ * math.cos(math.radians(ph)) if ph is not None else 0.0)
                 for d, _, ph in steps]
    q_pattern = [(d, IQ * math.sin(math.radians(ph)) if ph is not None else 0.0)
                 for d, _, ph in steps]
    seq.setAnalog(0, i_pattern)
    seq.setAnalog(1, q_pattern)
    return seq


TAUS = [100e-9, 240e-9, 1e-6]
PROGRAMS = {
    "rabi": (rabi([0.0, 20e-9, 48e-9, 200e-9]), [0.0, 20e-9, 48e-9, 200e-9]),
    "pulsed_odmr": (pulsed_odmr([2.86e9, 2.87e9], 48e-9), [2.86e9, 2.87e9]),
    "ramsey": (ramsey(TAUS, 24e-9), TAUS),
    "hahn_echo": (hahn_echo(TAUS, 24e-9, 48e-9), TAUS),
    "cpmg": (cpmg(TAUS, 24e-9, 48e-9, 4), TAUS),
    "xy8": (xy8(TAUS, 24e-9, 48e-9, 2), TAUS),
    "t1": (t1([1e-6, 50e-6], pi_pulse=48e-9), [1e-6, 50e-6]),
}


def _connected(fail_on=None):
    clients = []

    def factory(address):
        clients.append(FakeClient(address, fail_on))
        return clients[-1]

    pulser = PulseStreamer82("pulser", "192.168.1.50", client_factory=factory)
    pulser.connect()
    return pulser, clients[0]


@pytest.mark.parametrize("protocol", list(PROGRAMS))
def test_compiled_sequence_equals_an_independent_pulsestreamer_sequence(protocol):
    program, values = PROGRAMS[protocol]
    if protocol == "pulsed_odmr":
        values = [None] * len(values)
    pulser = PulseStreamer82("pulser", client_factory=lambda a: FakeClient(a))
    compiled = pulser.compile(program)
    expected = _expected_sequence(protocol, values if values[0] is not None else [0, 0])
    assert compiled.data == [list(step) for step in expected.getData()]
    assert compiled.steps == len(compiled.data)
    assert sum(step[0] for step in compiled.data) == program.pass_duration_ns


def test_upload_start_stop_and_safe_talk_to_the_device_as_documented():
    pulser, client = _connected()
    assert isinstance(pulser, Pulser)
    assert client.address == "192.168.1.50"
    assert client.calls == [("constant", (0, 0, 0))]  # outputs low on connect
    assert "Pulse Streamer 8/2" in pulser.identity and "2.1.0" in pulser.identity
    program = PROGRAMS["rabi"][0]
    compiled = pulser.upload(program)
    assert compiled.to_dict()["program"] == program.to_dict()
    assert PulseProgram.from_dict(compiled.to_dict()["program"]) == program
    pulser.start(1000)
    names = [c[0] for c in client.calls]
    assert names[-3:] == ["setTrigger", "stream", "startNow"]
    stream = client.calls[-2]
    assert [list(x) for x in stream[1]] == compiled.data
    assert stream[2] == 1000 and stream[3] == (0, 0, 0)
    assert client.calls[-3][1] == ps.TriggerStart.SOFTWARE
    assert pulser.running and pulser.compiled.repetitions == 1000
    pulser.stop()
    assert client.calls[-1] == ("forceFinal",) and not pulser.running
    pulser.start(None, trigger="external")
    assert client.calls[-1][0] == "stream" and client.calls[-1][2] == -1  # until stopped
    assert client.calls[-2][1] == ps.TriggerStart.HARDWARE_RISING
    pulser.safe()
    assert client.calls[-2:] == [("forceFinal",), ("constant", (0, 0, 0))]


def test_a_program_the_device_cannot_play_sends_nothing_and_keeps_what_plays():
    pulser, client = _connected()
    pulser.upload(PROGRAMS["ramsey"][0])
    pulser.start(None)
    before = list(client.calls)
    too_short = rabi([0.0, 1e-9, 2e-9])  # 1 ns is below the 2 ns minimum pulse width
    with pytest.raises(PulserLimitError) as info:
        pulser.upload(too_short)
    err = info.value
    assert isinstance(err, LimitError) and isinstance(err, ProgramLimitError)
    assert err.block == "mw_pulse" and "at tau = 1 ns" in str(err) and "2 ns" in str(err)
    assert client.calls == before and pulser.running  # untouched, still playing
    unmapped = PulseProgram.from_dict({**too_short.to_dict(), "sequence": [
        {"block": "x", "duration_ns": 10, "on": ["spare3"]},
        {"block": "ro", "duration_ns": 300, "on": ["laser", "gate"], "readout": "signal"}]})
    with pytest.raises(PulserLimitError, match="no output for channel 'spare3'"):
        pulser.upload(unmapped)
    with pytest.raises(PulserLimitError, match="repetitions"):
        pulser.start(0)
    assert client.calls == before


def test_a_failure_while_sending_leaves_outputs_low_and_the_next_upload_works():
    pulser, client = _connected(fail_on="stream")
    pulser.upload(PROGRAMS["rabi"][0])
    with pytest.raises(InstrumentError, match="link dropped"):
        pulser.start(10)
    assert not pulser.running
    assert client.calls[-2:] == [("forceFinal",), ("constant", (0, 0, 0))]
    client.fail_on = None
    pulser.upload(PROGRAMS["t1"][0])
    pulser.start(10)
    assert pulser.running


def test_phase_without_iq_needs_phase_lines():
    pulser = PulseStreamer82("p", client_factory=FakeClient,
                             channels={"laser": 0, "mw": 1, "gate": 2})
    with pytest.raises(PulserLimitError, match="needs I/Q outputs"):
        pulser.check(PROGRAMS["xy8"][0])
    pulser.check(PROGRAMS["rabi"][0])  # phase 0 only: fine
    lines = PulseStreamer82("p", client_factory=FakeClient, channels={
        "laser": 0, "mw": 1, "gate": 2, "spare4": 4, "spare5": 5, "spare6": 6,
        "phase_lines": {0: "spare4", 90: "spare5", 180: "spare6"}})
    compiled = lines.compile(PROGRAMS["xy8"][0])
    masks = {step[1] for step in compiled.data}
    assert (1 << 1 | 1 << 5) in masks  # a y pulse: MW and the 90° line together
    with pytest.raises(PulserLimitError, match="has no phase line"):
        lines.check(ramsey(TAUS, 24e-9, final_phase=270.0))


def test_memory_limit_counts_the_real_steps():
    many = rabi(np.arange(0, 2e-6, 2e-9))
    pulser = PulseStreamer82("p", client_factory=FakeClient)
    assert pulser.compile(many).steps < 2_000_000
    huge = xy8(np.arange(100e-9, 600e-9, 2e-9), 24e-9, 48e-9, 1000)
    with pytest.raises(PulserLimitError, match="memory"):
        pulser.check(huge)
