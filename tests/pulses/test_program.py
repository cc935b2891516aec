"""Pulse programs: structure, validation errors that name the block, JSON, builders' timing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nvsense.pulses import (
    PROTOCOLS,
    Block,
    Param,
    ProgramLimitError,
    PulseProgram,
    PulseProgramError,
    PulserLimits,
    Repeat,
    Sweep,
    check_program,
    cpmg,
    hahn_echo,
    normalised_signal,
    pulsed_odmr,
    rabi,
    ramsey,
    t1,
    xy8,
)


def _readout(label="signal"):
    return [Block(f"{label}_ro", 300, on=("laser", "gate"), readout=label),
            Block(f"{label}_init", 2700, on=("laser",)), Block(f"{label}_wait", 1000)]


def _all_programs():
    taus = np.arange(100e-9, 1e-6, 100e-9)
    return [
        rabi(np.arange(0, 400e-9, 20e-9), pi_pulse=50e-9, references=("ref0", "ref1")),
        pulsed_odmr(np.linspace(2.86e9, 2.88e9, 11), 100e-9),
        ramsey(taus, 25e-9),
        hahn_echo(taus, 25e-9, 50e-9),
        cpmg(taus, 25e-9, 50e-9, 4),
        xy8(taus, 25e-9, 50e-9, 2),
        t1(np.linspace(1e-6, 1e-3, 5), pi_pulse=50e-9),
    ]


def test_a_shot_resolves_per_sweep_point_with_repeats_and_readouts():
    seq = [Block("pi_half", 25, on=("mw",)),
           Repeat("unit", 3, (Block("gap", Param("tau", 1.0, -50)),
                              Block("pi", 50, on=("mw",), phase=90.0))),
           Block("tau_end", Param("tau")), *_readout()]
    p = PulseProgram(seq, sweep=Sweep("tau", [100e-9, 200e-9]))
    assert p.readouts == ("signal",)
    assert p.loop_depth == 1
    assert p.windows_per_pass == 2
    flat = p.flat_shot(1)
    assert [b.name for b in flat][:4] == ["pi_half", "gap", "pi", "gap"]
    assert sum(b.duration_ns for b in flat) == p.shot_duration_ns(1) == 25 + 3 * 200 + 200 + 4000
    assert flat[2].phase == 90.0 and flat[0].phase == 0.0
    assert flat[1].swept and flat[1].formula == "τ − 50 ns"
    assert p.pass_duration_ns == p.shot_duration_ns(0) + p.shot_duration_ns(1)


@pytest.mark.parametrize("bad, fragment", [
    (Block("b", 10, on=("lazer",)), "unknown channel 'lazer'"),
    (Block("b", -5, on=("mw",)), "negative"),
    (Block("b", 10, on=("gate",)), "without a readout label"),
    (Block("b", 10, readout="signal"), "gate is"),
    (Block("b", 10, on=("mw_i",)), "set from the block's phase"),
    (Block("b", 10, phase=90.0), "mw is off"),
    (Block("b", Param("tau", 0.5, 0.0), on=("mw",)), "not a whole number of ns"),
    (Block("b", Param("taux"), on=("mw",)), "not on the swept parameter"),
])
def test_invalid_blocks_raise_one_error_naming_the_block(bad, fragment):
    with pytest.raises(PulseProgramError, match=fragment) as info:
        PulseProgram([bad, *_readout()], sweep=Sweep("tau", [0.0, 101e-9]))
    assert info.value.block == "b"
    assert "'b'" in str(info.value)


def test_readouts_inside_repeats_and_empty_repeats_are_refused():
    with pytest.raises(PulseProgramError, match="inside repeat 'r'"):
        PulseProgram([Repeat("r", 2, tuple(_readout()))])
    with pytest.raises(PulseProgramError, match="count must be"):
        PulseProgram([Repeat("r", 0, (Block("x", 10),)), *_readout()])


def test_json_round_trip_keeps_every_program_exactly():
    for p in _all_programs():
        text = p.to_json()
        back = PulseProgram.from_json(text)
        assert back == p
        assert back.parameters == json.loads(text)["parameters"]
        for i in range(p.n_points):
            assert back.flat_shot(i) == p.flat_shot(i)


def test_a_hand_written_json_program_reads_back_and_bad_ones_say_where():
    data = {"format": "nvsense-pulse-program", "version": 1, "name": "mine",
            "sweep": {"name": "tau", "values": [0, 1e-7]},
            "sequence": [{"block": "pulse", "duration_ns": {"param": "tau"}, "on": ["mw"],
                          "phase_deg": 90},
                         {"block": "ro", "duration_ns": 300, "on": ["laser", "gate"],
                          "readout": "signal"}]}
    p = PulseProgram.from_dict(data)
    assert p.flat_shot(1)[0].duration_ns == 100 and p.flat_shot(1)[0].phase == 90.0
    data["sequence"][1]["duration_ns"] = "300"
    with pytest.raises(PulseProgramError, match=r"sequence\[1\].duration_ns"):
        PulseProgram.from_dict(data)
    with pytest.raises(PulseProgramError, match="format"):
        PulseProgram.from_dict({"sequence": []})
    with pytest.raises(PulseProgramError, match="invalid"):
        PulseProgram.from_json("{not json")


def _pulse_centres(shot):
    t, centres = 0, []
    for b in shot:
        if b.mw:
            centres.append(t + b.duration_ns / 2)
        t += b.duration_ns
    return np.array(centres)


@pytest.mark.parametrize("builder, n", [(cpmg, 6), (xy8, 2)])
def test_decoupling_spaces_pi_pulses_tau_apart_centre_to_centre(builder, n):
    tau, half, pi = 420e-9, 24e-9, 48e-9
    p = builder([tau], half, pi, n)
    shot = p.flat_shot(0)
    centres = _pulse_centres(shot)
    first_part = centres[: (n if builder is cpmg else 8 * n) + 2]  # π/2, π..., π/2
    pis = first_part[1:-1]
    np.testing.assert_allclose(np.diff(pis), 420.0)
    # the first π centre is τ/2 after the end of the first π/2 pulse (and symmetric at the end)
    assert pis[0] - (first_part[0] + half * 1e9 / 2) == pytest.approx(210.0)
    assert (first_part[-1] - half * 1e9 / 2) - pis[-1] == pytest.approx(210.0)
    n_pi = n if builder is cpmg else 8 * n
    phases = [b.phase for b in shot if b.mw][: n_pi + 2]
    unit = [90.0] if builder is cpmg else [0, 90, 0, 90, 90, 0, 90, 0]
    assert phases == [0.0, *unit * (n_pi // len(unit)), 180.0]
    assert p.readouts == ("signal", "signal_pc")


def test_builders_round_sweeps_to_the_ns_grid_and_keep_their_parameters():
    p = hahn_echo(np.linspace(1e-6, 80e-6, 7), 25e-9, 50e-9)
    assert all(abs(v * 1e9 - round(v * 1e9)) < 1e-6 for v in p.sweep.values)
    q = xy8(np.linspace(100e-9, 1e-6, 13), 25e-9, 51e-9, 1)  # odd tπ: τ − tπ must be even
    assert all((round(v * 1e9) - 51) % 2 == 0 for v in q.sweep.values)
    assert q.parameters["n_pulses"] == 8 and q.protocol == "xy8"
    echo = hahn_echo([1e-6], 25e-9, 50e-9).flat_shot(0)
    assert [b.duration_ns for b in echo[:5]] == [25, 1000, 50, 1000, 25]
    assert set(PROTOCOLS) == {"pulsed_odmr", "rabi", "ramsey", "hahn_echo", "cpmg", "xy8",
                              "t1"}


def test_builders_refuse_impossible_parameters_with_the_fix():
    with pytest.raises(PulseProgramError, match="shorter than the π pulse"):
        xy8([40e-9], 25e-9, 50e-9)
    with pytest.raises(PulseProgramError, match="needs pi_pulse"):
        rabi([0, 1e-8], references=("ref1",))
    with pytest.raises(PulseProgramError, match="must fit in laser_time"):
        rabi([0, 1e-8], laser_time=200e-9)


def test_random_order_maps_windows_back_to_points():
    p = rabi(np.arange(0, 100e-9, 10e-9)).shuffled(seed=3)
    assert sorted(p.play_order) == list(range(p.n_points)) and p.play_order != tuple(range(10))
    windows = np.arange(p.windows_per_pass, dtype=float)  # window k counted k photons
    by = p.by_point(windows)
    order = list(p.play_order)
    for point in range(p.n_points):
        assert by[point, 0] == 2 * order.index(point)  # signal is the first of two windows


def test_check_program_names_the_block_and_the_limit():
    limits = PulserLimits("Test pulser", resolution_ns=2, min_duration_ns=10, max_steps=10_000,
                          hardware_loops=True, max_loop_count=1000, max_loop_depth=2)
    ok = xy8([1e-6], 24e-9, 48e-9, 2)
    check_program(ok, limits)
    with pytest.raises(ProgramLimitError, match=r"block 'pi_half'.*shorter than its minimum") as e:
        check_program(xy8([1e-6], 4e-9, 48e-9, 2), limits)
    assert e.value.block == "pi_half" and e.value.limit == "min_duration"
    with pytest.raises(ProgramLimitError, match="multiple of its 2 ns") as e:
        check_program(rabi([0, 21e-9]), limits)
    assert e.value.block == "mw_pulse" and "at tau = 21 ns" in str(e.value)
    with pytest.raises(ProgramLimitError, match="loop counter") as e:
        check_program(xy8([1e-6], 24e-9, 48e-9, 1001), limits)
    assert e.value.block == "xy8_unit"
    deep = PulseProgram([Block("a", 20), Repeat("outer", 2, (
        Block("b", 20), Repeat("inner", 2, (Block("c", 20), Block("d", 20))), Block("e", 20))),
        *_readout()])
    with pytest.raises(ProgramLimitError, match="nest 3 deep") as e:
        check_program(deep, limits)
    assert e.value.limit == "loop_depth"
    small = PulserLimits("Tiny", max_steps=50)
    with pytest.raises(ProgramLimitError, match="memory of 50") as e:
        check_program(rabi(np.arange(0, 1e-6, 10e-9)), small)
    assert e.value.block is None and e.value.limit == "memory"


def test_normalised_signals_and_their_errors():
    counts = np.array([[900.0, 1000.0, 700.0], [700.0, 1000.0, 700.0]])
    val, err = normalised_signal(counts, ("signal", "ref0", "ref1"))
    np.testing.assert_allclose(val, [2 / 3, 0.0])
    assert np.all(err > 0)
    val, err = normalised_signal(np.array([[1100.0, 900.0]]), ("signal", "signal_pc"))
    assert val[0] == pytest.approx(0.1)
    # the error of (s − p)/(s + p) by propagation: 2√(sp/(s+p)³)
    assert err[0] == pytest.approx(2 * math.sqrt(1100 * 900 / 2000**3))
    val, _ = normalised_signal(np.array([[90.0, 100.0]]), ("signal", "ref0"))
    assert val[0] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="no 'signal'"):
        normalised_signal(np.ones((2, 1)), ("ref0",))
