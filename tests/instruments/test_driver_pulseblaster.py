"""SpinCore PulseBlaster driver: instruction lists, loop limits, and what it asks of spinapi
(a double of the module)."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.instruments.drivers.pulseblaster import OPCODES, PulseBlaster
from nvsense.instruments.errors import InstrumentError
from nvsense.instruments.pulser import PulserLimitError
from nvsense.pulses import Block, Param, PulseProgram, Repeat, Sweep, rabi, xy8

ON = 0xE00000
LASER, MW, GATE, TRIGGER, PH0, PH90, PH180, PH270 = (1 << k for k in range(8))


class FakeSpinAPI:
    """The functions of the spinapi module the driver uses, recording every call."""

    PULSE_PROGRAM = 0
    CONTINUE, STOP, LOOP, END_LOOP, BRANCH = 0, 1, 2, 3, 6

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail_on = fail_on
        self.running = False

    def __getattr__(self, name):
        if not name.startswith("pb_"):
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name, *args))
            if name == self.fail_on:
                raise RuntimeError(f"{name}: board not responding")
            if name == "pb_count_boards":
                return 1
            if name == "pb_get_version":
                return b"20230101"
            if name == "pb_get_firmware_id":
                return 0xE01
            if name == "pb_read_status":
                return {"stopped": not self.running, "reset": False, "running": self.running,
                        "waiting": False}
            if name == "pb_start":
                self.running = True
            if name == "pb_stop":
                self.running = False
            return 0

        return call

    def programmed(self):
        """The instruction list of the last programming session."""
        start = max(i for i, c in enumerate(self.calls) if c[0] == "pb_start_programming")
        out = []
        for c in self.calls[start + 1:]:
            if c[0] == "pb_stop_programming":
                break
            if c[0] == "pb_inst_pbonly":
                out.append(c[1:])
        return out


def _board(**kwargs):
    api = FakeSpinAPI(kwargs.pop("fail_on", None))
    pb = PulseBlaster("pb", spinapi=api, **kwargs)
    pb.connect()
    return pb, api


def _run(instructions, max_passes=None, pass_ns=None):
    """Execute an instruction list as the board does; the (length, flags) it outputs.

    LOOP starts a loop (its counter set only when entered from outside); END_LOOP decrements
    and jumps back to the LOOP instruction itself (both belong to the body); BRANCH jumps;
    STOP ends.  Programs that branch forever are cut after ``max_passes`` × ``pass_ns``.
    """
    out, pc, stack, elapsed = [], 0, [], 0
    limit = None if max_passes is None else max_passes * pass_ns
    while True:
        flags, op, data, length, _ = instructions[pc]
        if op == "STOP":
            return out
        out.append((length, flags))
        elapsed += length
        if limit is not None and elapsed >= limit:
            return out
        if op == "LOOP":
            if not stack or stack[-1][0] != pc:
                stack.append([pc, data])
            pc += 1
        elif op == "END_LOOP":
            assert stack and stack[-1][0] == data
            stack[-1][1] -= 1
            if stack[-1][1] > 0:
                pc = data
            else:
                stack.pop()
                pc += 1
        elif op == "BRANCH":
            pc = data
        else:
            pc += 1


def _merge(timeline):
    merged = []
    for length, flags in timeline:
        if merged and merged[-1][1] == flags:
            merged[-1] = (merged[-1][0] + length, flags)
        else:
            merged.append((length, flags))
    return merged


def _expected_pass(program):
    """The pass as (length, flags) from the program's flat shots (repeats unrolled)."""
    bits = {"laser": LASER, "mw": MW, "gate": GATE, "trigger": TRIGGER}
    phase = {0.0: PH0, 90.0: PH90, 180.0: PH180, 270.0: PH270}
    out = []
    for _, shot in program.shots():
        for b in shot:
            flags = 0
            for ch in b.on:
                flags |= bits[ch]
            if b.mw:
                flags |= phase[b.phase % 360.0]
            out.append((b.duration_ns, flags | ON if flags else 0))
    return out


def test_a_small_program_compiles_to_the_expected_instructions():
    program = PulseProgram([
        Block("laser", 100, on=("laser",)),
        Repeat("r", 3, (Block("pulse", 20, on=("mw",), phase=90.0), Block("gap", 40))),
        Block("ro", 300, on=("laser", "gate"), readout="signal")])
    pb = PulseBlaster("pb", spinapi=FakeSpinAPI())
    data = pb.compile(program).data
    assert data == [
        [ON | LASER, "CONTINUE", 0, 100, "laser"],
        [ON | MW | PH90, "LOOP", 3, 20, "pulse"],
        [0, "END_LOOP", 1, 40, "gap"],
        [ON | LASER | GATE, "BRANCH", 0, 300, "ro"],
    ]
    finite = pb.compile(program, 5).data
    assert finite[0][1:3] == ["LOOP", 5] and finite[3][1:3] == ["END_LOOP", 0]
    assert finite[-2:] == [[0, "CONTINUE", 0, 10, "outputs_low"], [0, "STOP", 0, 10, "stop"]]


@pytest.mark.parametrize("repetitions", [1, 3])
def test_the_board_plays_exactly_the_program_passes(repetitions):
    program = xy8(np.arange(200e-9, 600e-9, 100e-9), 24e-9, 48e-9, 3)
    pb = PulseBlaster("pb", spinapi=FakeSpinAPI())
    compiled = pb.compile(program, repetitions)
    played = _merge(_run(compiled.data))
    expected = _merge(_expected_pass(program) * repetitions + [(10, 0)])
    assert played == expected
    # the looped form is much shorter than the unrolled pass
    assert compiled.steps < len(_expected_pass(program)) / 2
    forever = pb.compile(program, None)
    played = _merge(_run(forever.data, max_passes=2, pass_ns=program.pass_duration_ns))
    assert played == _merge(_expected_pass(program) * 2)


def test_limits_follow_the_clock_and_the_instruction_set():
    pb = PulseBlaster("pb", spinapi=FakeSpinAPI(), clock="500 MHz")
    assert (pb.limits.resolution_ns, pb.limits.min_duration_ns) == (2, 10)
    assert pb.limits.max_loop_count == 2**20 - 1 and pb.limits.max_steps == 4096
    slow = PulseBlaster("pb", spinapi=FakeSpinAPI(), clock="300 MHz")
    assert (slow.limits.resolution_ns, slow.limits.min_duration_ns) == (10, 20)
    with pytest.raises(PulserLimitError, match=r"block 'mw_pulse' at tau = 8 ns.*minimum of 10"):
        pb.check(rabi([0.0, 8e-9, 20e-9]))
    with pytest.raises(PulserLimitError, match=r"at tau = 21 ns.*2 ns timing resolution"):
        pb.check(rabi([20e-9, 21e-9]))
    with pytest.raises(PulserLimitError, match="loop counter") as info:
        pb.check(xy8([1e-6], 24e-9, 48e-9, 2**20))
    assert info.value.block == "xy8_unit"
    nested = Block("x", 20)
    for depth in range(8):  # 8 nested repeats + the loop over passes: 9 levels
        nested = Repeat(f"r{depth}", 2, (Block(f"a{depth}", 20), nested, Block(f"b{depth}", 20)))
    program = PulseProgram([Block("start", 20), nested,
                            Block("ro", 300, on=("laser", "gate"), readout="signal")])
    with pytest.raises(PulserLimitError, match="nest 9 deep"):
        pb.check(program)
    many = rabi(np.arange(10e-9, 2e-6, 2e-9), references=("ref0",))  # ~1000 points × 7
    with pytest.raises(PulserLimitError, match="memory of 4096"):
        pb.check(many)


def test_loop_bodies_need_two_instructions_and_a_block_at_each_end():
    pb = PulseBlaster("pb", spinapi=FakeSpinAPI())
    one = PulseProgram([Block("a", 20), Repeat("r", 4, (Block("wait", 100),)),
                        Block("ro", 300, on=("laser", "gate"), readout="signal")])
    data = pb.compile(one).data
    assert [d[1:4] for d in data[1:3]] == [["LOOP", 4, 50], ["END_LOOP", 1, 50]]
    short = PulseProgram([Block("a", 20), Repeat("r", 4, (Block("wait", 12),)),
                          Block("ro", 300, on=("laser", "gate"), readout="signal")])
    with pytest.raises(PulserLimitError, match=r"repeat 'r'.*too short to split"):
        pb.check(short)
    edge = PulseProgram([Block("a", 20), Repeat("outer", 2, (
        Repeat("inner", 2, (Block("b", 20), Block("c", 20))), Block("d", 20))),
        Block("ro", 300, on=("laser", "gate"), readout="signal")])
    with pytest.raises(PulserLimitError, match=r"repeat 'outer'.*starts with a nested repeat"):
        pb.check(edge)


def test_device_calls_follow_spinapi_and_a_bad_program_sends_nothing():
    pb, api = _board()
    assert api.calls[:3] == [("pb_count_boards",), ("pb_select_board", 0), ("pb_init",)]
    assert api.calls[3] == ("pb_core_clock", 500.0)
    low = api.programmed()
    assert [(f, op) for f, op, *_ in low] == [(0, OPCODES["CONTINUE"]), (0, OPCODES["STOP"])]
    assert "ESR-PRO" in pb.identity and "20230101" in pb.identity
    program = xy8([400e-9, 600e-9], 24e-9, 48e-9, 2)
    pb.upload(program)
    pb.start(1000)
    sent = api.programmed()
    assert [list(s[:2]) for s in sent] == [[d[0], OPCODES[d[1]]] for d in pb.compiled.data]
    assert all(isinstance(s[3], float) for s in sent)
    assert api.calls[-2:] == [("pb_reset",), ("pb_start",)]
    assert pb.running
    before = len(api.calls)
    with pytest.raises(PulserLimitError):
        pb.upload(rabi([0.0, 8e-9]))
    with pytest.raises(PulserLimitError, match="at most 1048575 passes"):
        pb.start(2**20)
    assert len(api.calls) == before and pb.running
    pb.safe()
    assert not pb.running
    assert [(f, op) for f, op, *_ in api.programmed()] == [(0, 0), (0, 1)]


def test_a_failure_while_programming_leaves_outputs_low_without_a_restart():
    pb, api = _board()
    pb.upload(rabi([0.0, 20e-9, 40e-9]))
    api.fail_on = "pb_inst_pbonly"
    with pytest.raises(InstrumentError, match="board not responding"):
        pb.start(10)
    assert not pb.running
    api.fail_on = None
    assert ("pb_stop",) in api.calls[-8:]
    pb.upload(rabi([0.0, 20e-9, 40e-9]))
    pb.start(10)
    assert pb.running
    with pytest.raises(InstrumentError, match="software only"):
        pb.start(10, trigger="external")


def test_param_only_sweeps_and_long_blocks():
    # a block longer than 2^32 cycles (8.6 s at 500 MHz) becomes several instructions
    pb = PulseBlaster("pb", spinapi=FakeSpinAPI())
    long = PulseProgram([Block("wait", Param("tau")), Block("ro", 300, on=("laser", "gate"),
                                                            readout="signal")],
                        sweep=Sweep("tau", [10.0]))
    data = pb.compile(long).data
    assert sum(d[3] for d in data) == 10_000_000_300
    assert all(d[3] * 0.5 <= 2**32 - 1 for d in data)
