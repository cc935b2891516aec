"""Pulse programs of the standard protocols, from physicist-level parameters.

Every builder takes times in seconds (SI; swept times are rounded to whole ns, and for
CPMG/XY8 to the nearest τ for which τ/2 − tπ/2 is whole ns) and returns a
:class:`~nvsense.pulses.PulseProgram` whose ``parameters`` hold the arguments it was built
from.  Each shot ends with the optical readout: the laser on for ``laser_time``, the counter
gate open for ``readout_time`` after ``gate_delay`` (an AOM's switching delay, say), then
``wait_time`` dark for the metastable state to empty before the next microwave part.  The
readout of one shot initialises the next.

Readout labels: ``signal``, which reads ms=0 (bright) when the coherence is intact — the last
π/2 pulse is about −x for Ramsey, CPMG and XY8 (whose first π/2 is about x) and about x for the
echo; ``signal_pc``, the phase-cycled twin with the last π/2 pulse turned by 180° (dark when
the coherence is intact; for T1: a π pulse first), so that ``(signal − signal_pc)/(signal +
signal_pc)`` is positive and proportional to the coherence; ``ref0`` (no microwave: the
ms=0 level) and ``ref1`` (after a π pulse: the ms=±1 level).

Conventions for τ (the swept value):

- ``rabi``: the pulse length;
- ``ramsey``: the free evolution between the two π/2 pulses (edge to edge);
- ``hahn_echo``: each of the two free evolutions (edge to edge); total free evolution 2τ;
- ``cpmg`` and ``xy8``: the π-pulse spacing, centre to centre (the filter passes
  f = 1/(2τ)); the first π pulse's centre is τ/2 after the end of the first π/2 pulse, so
  the evolution between the π/2 pulses is N·τ for N π pulses;
- ``t1``: the dark time between initialisation (or the π pulse) and readout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import PulseProgramError
from .program import Block, Element, Param, PulseProgram, Repeat, Sweep

__all__ = [
    "PROTOCOLS",
    "cpmg",
    "hahn_echo",
    "pulsed_odmr",
    "rabi",
    "ramsey",
    "readout_blocks",
    "t1",
    "xy8",
]

#: Readout labels the builders use.
REFERENCE_LABELS = ("ref0", "ref1")
#: XY8 phases (degrees): X Y X Y Y X Y X.
XY8_PHASES = (0.0, 90.0, 0.0, 90.0, 90.0, 0.0, 90.0, 0.0)


def _ns(value: float, name: str) -> int:
    """A time in s as whole ns; raises naming the parameter if it is off the 1 ns grid."""
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise PulseProgramError(f"{name} must be a finite time >= 0 in s, not {value!r}")
    ns = v * 1e9
    n = round(ns)
    if abs(ns - n) > 1e-6:
        raise PulseProgramError(f"{name} = {ns:g} ns is not a whole number of ns")
    return int(n)


def _positive_ns(value: float, name: str) -> int:
    n = _ns(value, name)
    if n == 0:
        raise PulseProgramError(f"{name} must be longer than 0 ns")
    return n


def _values(values: ArrayLike, name: str, *, grid_ns: int | None = None,
            parity_ns: int | None = None) -> tuple[float, ...]:
    """Sweep values as floats; times rounded to a ``grid_ns`` grid (values such as
    ``np.linspace`` output land on whole ns), and with ``parity_ns`` to the nearest value
    whose ns count has the parity of ``parity_ns`` (so that τ/2 − tπ/2 is whole ns)."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise PulseProgramError(f"{name} must be a non-empty list of values")
    if not np.all(np.isfinite(arr)):
        raise PulseProgramError(f"{name} has non-finite values")
    if grid_ns is not None:
        if np.any(arr < 0):
            raise PulseProgramError(f"{name} must be >= 0 (times in s)")
        ns = np.round(arr * 1e9 / grid_ns) * grid_ns
        if parity_ns is not None:
            off = (ns - parity_ns) % 2 != 0
            ns = np.where(off, ns + np.where(arr * 1e9 >= ns, 1, -1), ns)
        arr = ns * 1e-9
    return tuple(float(v) for v in arr)


def readout_blocks(label: str, *, laser_time: float = 3e-6, readout_time: float = 300e-9,
                   gate_delay: float = 0.0, wait_time: float = 1e-6,
                   prefix: str = "") -> list[Block]:
    """The optical readout and re-initialisation that ends a shot.

    Laser on for ``laser_time``; the gate (window ``label``) opens ``gate_delay`` after the
    laser and stays open for ``readout_time``; then ``wait_time`` dark.
    """
    laser = _positive_ns(laser_time, "laser_time")
    gate = _positive_ns(readout_time, "readout_time")
    delay = _ns(gate_delay, "gate_delay")
    wait = _ns(wait_time, "wait_time")
    if delay + gate > laser:
        raise PulseProgramError(
            f"the readout window (gate_delay {delay} ns + readout_time {gate} ns) must fit in "
            f"laser_time {laser} ns")
    name = f"{prefix}{label}"
    blocks = []
    if delay:
        blocks.append(Block(f"{name}_delay", delay, on=("laser",)))
    blocks.append(Block(f"{name}_readout", gate, on=("laser", "gate"), readout=label))
    if laser - delay - gate:
        blocks.append(Block(f"{name}_init", laser - delay - gate, on=("laser",)))
    if wait:
        blocks.append(Block(f"{name}_wait", wait))
    return blocks


def _references(references: Sequence[str], pi_ns: int | None, phase: float,
                ro: dict[str, Any]) -> list[Element]:
    out: list[Element] = []
    for ref in references:
        if ref not in REFERENCE_LABELS:
            raise PulseProgramError(f"unknown reference {ref!r}; use {', '.join(REFERENCE_LABELS)}")
        if ref == "ref1":
            if not pi_ns:
                raise PulseProgramError("the ms=±1 reference (ref1) needs pi_pulse (the π-pulse "
                                        "length, from a Rabi measurement)")
            out.append(Block("ref1_pi", pi_ns, on=("mw",), phase=phase))
        out.extend(readout_blocks(ref, **ro))
    return out


def _readout_options(laser_time: float, readout_time: float, gate_delay: float,
                     wait_time: float) -> dict[str, Any]:
    ro = {"laser_time": laser_time, "readout_time": readout_time, "gate_delay": gate_delay,
          "wait_time": wait_time}
    readout_blocks("check", **ro)  # validates them once, before any sweep
    return ro


def _params(**kwargs: Any) -> dict[str, Any]:
    """Builder arguments as plain JSON values."""
    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        if isinstance(v, np.ndarray | tuple | list):
            v = [float(x) if isinstance(x, float | np.floating | int) else x for x in v]
        elif isinstance(v, np.floating | np.integer):
            v = v.item()
        out[k] = v
    return out


def rabi(durations: ArrayLike, *, pi_pulse: float | None = None,
         references: Sequence[str] = ("ref0",), phase: float = 0.0,
         laser_time: float = 3e-6, readout_time: float = 300e-9, gate_delay: float = 0.0,
         wait_time: float = 1e-6) -> PulseProgram:
    """Rabi oscillation: a microwave pulse of swept length, then readout.

    Parameters
    ----------
    durations
        Pulse lengths τ in s (whole ns; 0 allowed).
    pi_pulse
        π-pulse length in s, needed only for the ``ref1`` reference.
    references
        Reference readouts after each signal shot: ``"ref0"`` (no pulse), ``"ref1"`` (a π pulse).
    """
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    values = _values(durations, "durations", grid_ns=1)
    pi_ns = _positive_ns(pi_pulse, "pi_pulse") if pi_pulse is not None else None
    seq: list[Element] = [Block("mw_pulse", Param("tau"), on=("mw",), phase=float(phase))]
    seq += readout_blocks("signal", **ro)
    seq += _references(references, pi_ns, float(phase), ro)
    return PulseProgram(seq, sweep=Sweep("tau", values, "s", label="pulse length τ"),
                        name="rabi", protocol="rabi",
                        parameters=_params(durations=values, pi_pulse=pi_pulse,
                                           references=list(references), phase=phase, **ro))


def pulsed_odmr(frequencies: ArrayLike, pi_pulse: float, *, references: Sequence[str] = ("ref0",),
                trigger_time: float = 100e-9, settle_time: float = 1e-6,
                laser_time: float = 3e-6, readout_time: float = 300e-9, gate_delay: float = 0.0,
                wait_time: float = 1e-6) -> PulseProgram:
    """Pulsed ODMR: a π pulse at each microwave frequency, stepped by the trigger line.

    Each point starts with a ``trigger_time`` pulse on ``trigger`` (which steps the microwave
    source's frequency list) and waits ``settle_time`` for the source to settle.  The sweep
    values are the frequencies (Hz) the measurement loads into that list.
    """
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    values = _values(frequencies, "frequencies")
    pi_ns = _positive_ns(pi_pulse, "pi_pulse")
    seq: list[Element] = [Block("trigger", _positive_ns(trigger_time, "trigger_time"),
                                on=("trigger",))]
    settle = _ns(settle_time, "settle_time")
    if settle:
        seq.append(Block("settle", settle))
    seq.append(Block("pi_pulse", pi_ns, on=("mw",), phase=0.0))
    seq += readout_blocks("signal", **ro)
    seq += _references(references, pi_ns, 0.0, ro)
    return PulseProgram(seq, sweep=Sweep("mw_frequency", values, "Hz", label="MW frequency"),
                        name="pulsed_odmr", protocol="pulsed_odmr",
                        parameters=_params(frequencies=values, pi_pulse=pi_pulse,
                                           references=list(references), trigger_time=trigger_time,
                                           settle_time=settle_time, **ro))


def _final_readouts(prefix_blocks: list[Element], last_pulse_ns: int, *, phase_cycle: bool,
                    final_phase: float, references: Sequence[str], pi_ns: int | None,
                    ro: dict[str, Any], final_name: str = "pi_half_final") -> list[Element]:
    """The coherent part closed by a π/2 pulse (and its phase-cycled twin), then readouts."""
    seq: list[Element] = [*prefix_blocks,
                          Block(final_name, last_pulse_ns, on=("mw",), phase=final_phase)]
    seq += readout_blocks("signal", **ro)
    if phase_cycle:
        seq += [*_renamed(prefix_blocks, "pc_"),
                Block(f"pc_{final_name}", last_pulse_ns, on=("mw",),
                      phase=(final_phase + 180.0) % 360.0)]
        seq += readout_blocks("signal_pc", **ro)
    seq += _references(references, pi_ns, 0.0, ro)
    return seq


def _renamed(elements: Sequence[Element], prefix: str) -> list[Element]:
    out: list[Element] = []
    for el in elements:
        if isinstance(el, Repeat):
            out.append(Repeat(prefix + el.name, el.count, tuple(_renamed(el.body, prefix))))
        else:
            out.append(Block(prefix + el.name, el.duration, el.on, el.phase, el.readout))
    return out


def ramsey(taus: ArrayLike, pi_half: float, *, phase_cycle: bool = True,
           pi_pulse: float | None = None, references: Sequence[str] = (),
           final_phase: float = 180.0, laser_time: float = 3e-6, readout_time: float = 300e-9,
           gate_delay: float = 0.0, wait_time: float = 1e-6) -> PulseProgram:
    """Ramsey (free induction decay): π/2 – τ – π/2.

    Parameters
    ----------
    taus
        Free evolution times τ in s.
    pi_half
        π/2-pulse length in s.
    phase_cycle
        Also read out with the last π/2 pulse about −x (``signal_pc``), for normalisation.
    final_phase
        Phase (degrees) of the last π/2 pulse: 180 (−x) reads ms=0 at τ = 0 on resonance
        (``signal`` ∝ +cos of the phase accumulated); 270 reads +sin of it.
    """
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    values = _values(taus, "taus", grid_ns=1)
    half = _positive_ns(pi_half, "pi_half")
    pi_ns = _positive_ns(pi_pulse, "pi_pulse") if pi_pulse is not None else None
    prefix: list[Element] = [Block("pi_half", half, on=("mw",), phase=0.0),
                             Block("tau", Param("tau"))]
    seq = _final_readouts(prefix, half, phase_cycle=phase_cycle, final_phase=final_phase,
                          references=references, pi_ns=pi_ns, ro=ro)
    return PulseProgram(seq, sweep=Sweep("tau", values, "s", label="free evolution τ"),
                        name="ramsey", protocol="ramsey",
                        parameters=_params(taus=values, pi_half=pi_half, pi_pulse=pi_pulse,
                                           phase_cycle=phase_cycle, final_phase=final_phase,
                                           references=list(references), **ro))


def hahn_echo(taus: ArrayLike, pi_half: float, pi_pulse: float, *, phase_cycle: bool = True,
              references: Sequence[str] = (), laser_time: float = 3e-6,
              readout_time: float = 300e-9, gate_delay: float = 0.0,
              wait_time: float = 1e-6) -> PulseProgram:
    """Hahn echo: π/2 – τ – π – τ – π/2 (τ each arm, edge to edge; total free evolution 2τ)."""
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    values = _values(taus, "taus", grid_ns=1)
    half = _positive_ns(pi_half, "pi_half")
    pi_ns = _positive_ns(pi_pulse, "pi_pulse")
    prefix: list[Element] = [Block("pi_half", half, on=("mw",), phase=0.0),
                             Block("tau_1", Param("tau")),
                             Block("pi", pi_ns, on=("mw",), phase=0.0),
                             Block("tau_2", Param("tau"))]
    seq = _final_readouts(prefix, half, phase_cycle=phase_cycle, final_phase=0.0,
                          references=references, pi_ns=pi_ns, ro=ro)
    return PulseProgram(seq, sweep=Sweep("tau", values, "s", label="echo arm τ"),
                        name="hahn_echo", protocol="hahn_echo",
                        parameters=_params(taus=values, pi_half=pi_half, pi_pulse=pi_pulse,
                                           phase_cycle=phase_cycle, references=list(references),
                                           **ro))


def _decoupling(protocol: str, taus: ArrayLike, pi_half: float, pi_pulse: float,
                unit_phases: Sequence[float], repeats: int, *, phase_cycle: bool,
                references: Sequence[str], final_phase: float,
                ro: dict[str, Any]) -> PulseProgram:
    half = _positive_ns(pi_half, "pi_half")
    pi_ns = _positive_ns(pi_pulse, "pi_pulse")
    values = _values(taus, "taus", grid_ns=1, parity_ns=pi_ns)
    if isinstance(repeats, bool) or int(repeats) != repeats or repeats < 1:
        raise PulseProgramError(f"{protocol}: the number of repetitions must be a whole number "
                                f">= 1, not {repeats!r}")
    too_short = [v for v in values if v * 1e9 < pi_ns]
    if too_short:
        raise PulseProgramError(
            f"{protocol}: the pulse spacing τ = {too_short[0] * 1e9:g} ns is shorter than the "
            f"π pulse ({pi_ns} ns); start τ at {pi_ns} ns or more")
    # Spacing τ centre to centre: each unit is [τ/2 − tπ/2, π, τ − tπ, π, ..., π, τ/2 − tπ/2],
    # so units join with a full τ − tπ gap and the first (last) π-pulse centre is τ/2 after
    # (before) the π/2 pulse's edge: N·τ of evolution between the π/2 pulses.
    half_gap = Param("tau", 0.5, -pi_ns / 2.0)
    gap = Param("tau", 1.0, -float(pi_ns))
    body: list[Element] = [Block("half_gap_start", half_gap)]
    for k, ph in enumerate(unit_phases):
        body.append(Block(f"pi_{k + 1}", pi_ns, on=("mw",), phase=float(ph)))
        if k < len(unit_phases) - 1:
            body.append(Block(f"gap_{k + 1}", gap))
    body.append(Block("half_gap_end", half_gap))
    prefix: list[Element] = [Block("pi_half", half, on=("mw",), phase=0.0),
                             Repeat(f"{protocol}_unit", int(repeats), tuple(body))]
    seq = _final_readouts(prefix, half, phase_cycle=phase_cycle, final_phase=final_phase,
                          references=references, pi_ns=pi_ns, ro=ro)
    n_pulses = len(unit_phases) * int(repeats)
    return PulseProgram(seq, sweep=Sweep("tau", values, "s", label="π-pulse spacing τ"),
                        name=protocol, protocol=protocol,
                        parameters=_params(taus=values, pi_half=pi_half, pi_pulse=pi_pulse,
                                           units=int(repeats), n_pulses=n_pulses,
                                           phase_cycle=phase_cycle, final_phase=final_phase,
                                           references=list(references), **ro))


def cpmg(taus: ArrayLike, pi_half: float, pi_pulse: float, n_pulses: int, *,
         phase_cycle: bool = True, references: Sequence[str] = (), final_phase: float = 180.0,
         laser_time: float = 3e-6, readout_time: float = 300e-9, gate_delay: float = 0.0,
         wait_time: float = 1e-6) -> PulseProgram:
    """CPMG-N: π/2(x) – [τ/2 – π(y) – τ/2]×N – π/2(−x); τ the π-pulse spacing (centre to
    centre).

    The π pulses form one repeat (a hardware loop on devices that have them).
    """
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    return _decoupling("cpmg", taus, pi_half, pi_pulse, (90.0,), n_pulses,
                       phase_cycle=phase_cycle, references=references,
                       final_phase=final_phase, ro=ro)


def xy8(taus: ArrayLike, pi_half: float, pi_pulse: float, n_blocks: int = 1, *,
        phase_cycle: bool = True, references: Sequence[str] = (), final_phase: float = 180.0,
        laser_time: float = 3e-6, readout_time: float = 300e-9, gate_delay: float = 0.0,
        wait_time: float = 1e-6) -> PulseProgram:
    """XY8-N: π/2(x) – [XYXYYXYX with spacing τ]×N – π/2(−x): 8N π pulses, τ centre to centre.

    For AC magnetometry the filter passes f = 1/(2τ): the signal reads cos φ of the phase φ
    accumulated from a field B·cos(2πf t) (t from the end of the first π/2 pulse);
    ``final_phase=270`` reads sin φ (see
    :func:`nvsense.fitting.pulsed.ac_field_from_quadratures`).
    """
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    return _decoupling("xy8", taus, pi_half, pi_pulse, XY8_PHASES, n_blocks,
                       phase_cycle=phase_cycle, references=references,
                       final_phase=final_phase, ro=ro)


def t1(taus: ArrayLike, *, pi_pulse: float | None = None, laser_time: float = 3e-6,
       readout_time: float = 300e-9, gate_delay: float = 0.0,
       wait_time: float = 1e-6) -> PulseProgram:
    """T1 relaxation (and relaxometry): dark time τ after initialisation, then readout.

    With ``pi_pulse`` every point also reads a shot that starts with a π pulse (``signal_pc``):
    the difference of the two decays as exp(−τ/T1) without the background of other processes
    (charge-state dynamics, laser heating).
    """
    ro = _readout_options(laser_time, readout_time, gate_delay, wait_time)
    values = _values(taus, "taus", grid_ns=1)
    seq: list[Element] = [Block("tau", Param("tau"))]
    seq += readout_blocks("signal", **ro)
    if pi_pulse is not None:
        seq += [Block("pi", _positive_ns(pi_pulse, "pi_pulse"), on=("mw",), phase=0.0),
                Block("pc_tau", Param("tau"))]
        seq += readout_blocks("signal_pc", **ro)
    return PulseProgram(seq, sweep=Sweep("tau", values, "s", label="dark time τ"),
                        name="t1", protocol="t1",
                        parameters=_params(taus=values, pi_pulse=pi_pulse, **ro))


#: Builders by protocol name.
PROTOCOLS = {"pulsed_odmr": pulsed_odmr, "rabi": rabi, "ramsey": ramsey, "hahn_echo": hahn_echo,
             "cpmg": cpmg, "xy8": xy8, "t1": t1}
