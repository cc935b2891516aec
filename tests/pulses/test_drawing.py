"""draw_program: a readable picture of a 2 µs Rabi and of a 100 µs XY8-8."""

from __future__ import annotations

import matplotlib.pyplot as plt  # the conftest selects the Agg backend
import numpy as np
import pytest

from nvsense.pulses import draw_program, rabi, xy8
from nvsense.pulses.drawing import layout_program


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_rabi_drawing_shows_channels_the_sweep_and_the_readouts(tmp_path):
    p = rabi(np.arange(0, 2e-6, 20e-9), pi_pulse=50e-9, references=("ref0", "ref1"))
    ax = draw_program(p)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["laser", "mw", "gate"]
    texts = _texts(ax)
    assert {"signal", "ref0", "ref1"} <= set(texts)
    assert any("τ" in t and "1.98 µs" in t for t in texts)  # the swept pulse, labelled
    assert "pulse length τ = 1.98 µs" in ax.get_title() and "0 ns to 1.98 µs" in ax.get_title()
    out = tmp_path / "rabi.png"
    ax.figure.savefig(out)
    assert out.stat().st_size > 10_000
    plt.close(ax.figure)


def test_a_100_us_xy8_8_stays_readable():
    p = xy8(np.linspace(200e-9, 780e-9, 30), 25e-9, 50e-9, 8)
    last = p.n_points - 1
    assert p.shot_duration_ns(last) > 100_000  # two coherent parts of 64 π pulses each
    segments, brackets, total = layout_program(p, last)
    # every 50 ns pulse is at least 1/300 of the width; the repeat is drawn once
    pulses = [s for s in segments if s.block.mw]
    assert min(s.width for s in pulses) > total / 300
    assert len(pulses) == 2 * (8 + 2)
    assert [b.count for b in brackets] == [8, 8]
    ax = draw_program(p)
    texts = _texts(ax)
    assert sum("× 8" in t for t in texts) == 2
    assert {"x", "y", "−x"} <= set(texts)
    assert any("τ − 50 ns" in t for t in texts)
    plt.close(ax.figure)
    ax = draw_program(p, time_axis="linear", point=0)
    assert "µs" in ax.get_xlabel()
    plt.close(ax.figure)


def test_drawing_checks_its_arguments():
    p = rabi([0, 1e-8])
    with pytest.raises(IndexError):
        draw_program(p, point=5)
    with pytest.raises(ValueError, match="time_axis"):
        draw_program(p, time_axis="log")
