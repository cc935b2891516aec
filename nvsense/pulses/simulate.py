"""A pulse program as operations of the spin-dynamics simulator, and its expected counts.

Each block becomes one operation of :func:`nvsense.physics.spin_dynamics.evolve`: ``LASER``
if the laser is on, else ``PULSE`` if the microwave is on, else ``FREE``.  Zero-length blocks
are kept (they do nothing) so that every sweep point has the same operations and the simulator
handles all points at once.  A readout window (a block with the gate open) reads the spin
state at the start of the laser pulse it belongs to, weighted by how long after the laser
onset it opens (:func:`nvsense.physics.readout_photons`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..physics.spin_dynamics import FREE, LASER, PULSE, SpinSystem, evolve, readout_photons
from .program import PulseProgram, ResolvedBlock, ResolvedRepeat

__all__ = ["ShotOperations", "expected_counts", "expected_populations", "shot_operations"]


@dataclass(frozen=True)
class ShotOperations:
    """A program's shot as simulator operations, for all sweep points.

    Attributes
    ----------
    kinds
        (n_ops,) FREE / PULSE / LASER.
    durations, phases
        (n_points, n_ops): s and rad.
    window_laser
        (n_readouts,) which laser pulse (in shot order) each readout window belongs to, or −1
        for a window opened with the laser off.
    window_start, window_length
        (n_points, n_readouts): start after that laser pulse's onset, and length, in s.
    """

    kinds: NDArray[np.int64]
    durations: NDArray[np.float64]
    phases: NDArray[np.float64]
    window_laser: NDArray[np.int64]
    window_start: NDArray[np.float64]
    window_length: NDArray[np.float64]


def _expand(elements: tuple[ResolvedBlock | ResolvedRepeat, ...]) -> list[ResolvedBlock]:
    out: list[ResolvedBlock] = []
    for el in elements:
        if isinstance(el, ResolvedRepeat):
            for _ in range(el.count):
                out.extend(_expand(el.body))
        else:
            out.append(el)
    return out


def shot_operations(program: PulseProgram) -> ShotOperations:
    """The operations of ``program``'s shot at every sweep point (in point order)."""
    shots = [_expand(program.resolve(i)) for i in range(program.n_points)]
    first = shots[0]
    kinds = np.array([LASER if "laser" in b.on else PULSE if "mw" in b.on else FREE
                      for b in first], dtype=np.int64)
    durations = np.array([[b.duration_ns * 1e-9 for b in shot] for shot in shots])
    phases = np.array([[math.radians(b.phase) if b.phase is not None else 0.0 for b in shot]
                       for shot in shots])
    n_ro = len(program.readouts)
    window_laser = np.full(n_ro, -1, dtype=np.int64)
    starts = np.zeros((program.n_points, n_ro))
    lengths = np.zeros((program.n_points, n_ro))
    laser_index = -1
    onset = np.zeros(program.n_points)
    in_laser = False
    r = 0
    for k, b in enumerate(first):
        t_k = durations[:, :k].sum(axis=1)
        if kinds[k] == LASER and not in_laser:
            laser_index += 1
            onset = t_k
        in_laser = kinds[k] == LASER
        if b.readout is not None:
            window_laser[r] = laser_index if in_laser else -1
            starts[:, r] = t_k - onset
            lengths[:, r] = durations[:, k]
            r += 1
    return ShotOperations(kinds, durations, phases, window_laser, starts, lengths)


def expected_populations(program: PulseProgram, system: SpinSystem,
                         ops: ShotOperations | None = None) -> NDArray[np.float64]:
    """The ms=0 population each readout window reads, (n_points, n_readouts) (NaN for a
    window with the laser off)."""
    ops = ops or shot_operations(program)
    pops = evolve(ops.kinds, ops.durations, ops.phases, system)
    out = np.full(ops.window_start.shape, np.nan)
    for r, laser in enumerate(ops.window_laser):
        if laser >= 0:
            out[:, r] = pops[:, laser]
    return out


def expected_counts(program: PulseProgram, system: SpinSystem, *, rate: float,
                    contrast: float, dark_rate: float = 0.0, decay_time: float = 300e-9,
                    ops: ShotOperations | None = None) -> NDArray[np.float64]:
    """Expected photons per shot in each readout window, (n_points, n_readouts).

    ``rate`` is the detected rate of the ms=0 state with the laser on, ``contrast`` the
    readout contrast (see :func:`nvsense.physics.readout_photons`), ``dark_rate`` the rate
    with the laser off (and added throughout).
    """
    ops = ops or shot_operations(program)
    pop = expected_populations(program, system, ops)
    bright, dark = readout_photons(rate, ops.window_start, ops.window_length, contrast,
                                   decay_time)
    lit = np.where(np.isnan(pop), 0.0, pop * bright + (1 - pop) * dark)
    lit = np.where(ops.window_laser[None, :] >= 0, lit, 0.0)
    return lit + dark_rate * ops.window_length
