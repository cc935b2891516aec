"""A pulse generator's limits, and the check of a program against them before upload.

:func:`check_program` raises one :class:`~nvsense.pulses.ProgramLimitError` naming the block,
the sweep value and the limit, and saying what to change; it sends nothing, so a bad program
never reaches (or stops) a device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ProgramLimitError
from .program import PulseProgram, ResolvedBlock, ResolvedRepeat

__all__ = ["PulserLimits", "check_program", "estimate_steps"]


@dataclass(frozen=True)
class PulserLimits:
    """What a pulse generator can play.

    Attributes
    ----------
    device
        Its name in messages (``"Pulse Streamer 8/2"``).
    resolution_ns
        Timing grid: every block is a whole multiple of it.
    min_duration_ns
        Shortest block (a Pulse Streamer's minimum pulse width, a PulseBlaster's minimum
        instruction length).
    max_steps
        Memory: most sequence steps (Pulse Streamer) or instructions (PulseBlaster).
    hardware_loops
        Whether repeats become hardware loops (else they are unrolled into memory).
    max_loop_count
        Highest loop counter (``None``: no loops or no limit).
    max_loop_depth
        Deepest loop nesting, counting the loop that repeats the whole pass if the device
        uses one (``None``: no limit).
    max_repetitions
        Most passes one start can play (``None``: unlimited).
    digital_channels, analog_channels
        Outputs of each kind.
    """

    device: str
    resolution_ns: int = 1
    min_duration_ns: int = 1
    max_steps: int = 2_000_000
    hardware_loops: bool = False
    max_loop_count: int | None = None
    max_loop_depth: int | None = None
    max_repetitions: int | None = None
    digital_channels: int = 8
    analog_channels: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain values (for run files)."""
        return dict(self.__dict__)


def _where(program: PulseProgram, point: int) -> str:
    s = program.sweep
    if s is None:
        return ""
    v = s.values[point]
    if s.unit == "s":
        text = f"{v * 1e9:g} ns" if abs(v) < 1e-6 else f"{v * 1e6:g} µs"
    elif s.unit == "Hz":
        text = f"{v / 1e6:.6g} MHz"
    elif s.unit == "deg":
        text = f"{v:g}°"
    else:
        text = f"{v:g}"
    return f" at {s.name} = {text}"


def estimate_steps(program: PulseProgram, hardware_loops: bool) -> int:
    """Memory steps a pass needs, counted without unrolling anything: every block of length
    > 0 once per time it plays (repeats unrolled), or once per instruction with each repeat's
    body stored once (hardware loops, plus the two closing instructions).  Neighbours with the
    same outputs may share a step on the device, so this is an upper bound for unrolled
    devices; drivers pass their exact count to :func:`check_program`."""

    def count(elements: Sequence[ResolvedBlock | ResolvedRepeat]) -> int:
        total = 0
        for e in elements:
            if isinstance(e, ResolvedRepeat):
                total += count(e.body) * (1 if hardware_loops else e.count)
            else:
                total += int(e.duration_ns > 0)
        return total

    extra = 2 if hardware_loops else 0
    return sum(count(program.resolve(i)) for i in range(program.n_points)) + extra


def check_program(program: PulseProgram, limits: PulserLimits, *,
                  steps: int | None = None) -> None:
    """Check ``program`` against ``limits``; raise before anything is sent.

    Parameters
    ----------
    program
        The program.
    limits
        The device's limits.
    steps
        Memory steps the device's compiled form needs, if its driver knows them exactly;
        otherwise :func:`estimate_steps`.

    Raises
    ------
    ProgramLimitError
        The first block (in time order, at the first sweep value) that the device cannot play,
        or a whole-program limit (memory).
    """
    dev = limits.device
    res = limits.resolution_ns
    for point in range(program.n_points):
        where = _where(program, point)

        def walk(elements: Sequence[ResolvedBlock | ResolvedRepeat], depth: int,
                 where: str = where) -> None:
            for el in elements:
                if isinstance(el, ResolvedRepeat):
                    if limits.hardware_loops:
                        if limits.max_loop_count is not None and el.count > limits.max_loop_count:
                            raise ProgramLimitError(
                                f"{dev} cannot play repeat {el.name!r}: {el.count} repetitions "
                                f"exceed its loop counter ({limits.max_loop_count}); split the "
                                f"repeat into nested repeats (nothing was sent)",
                                block=el.name, device=dev, limit="loop_count")
                        if limits.max_loop_depth is not None and depth + 1 > limits.max_loop_depth:
                            raise ProgramLimitError(
                                f"{dev} cannot play repeat {el.name!r}: loops nest {depth + 1} "
                                f"deep, more than its {limits.max_loop_depth} levels; flatten an "
                                f"inner repeat (nothing was sent)",
                                block=el.name, device=dev, limit="loop_depth")
                    walk(el.body, depth + 1)
                    continue
                d = el.duration_ns
                if d == 0:
                    continue  # dropped: nothing is played
                if d < limits.min_duration_ns:
                    raise ProgramLimitError(
                        f"{dev} cannot play block {el.name!r}{where}: {d} ns is shorter than "
                        f"its minimum of {limits.min_duration_ns} ns; lengthen the block or "
                        f"start the sweep later (nothing was sent)",
                        block=el.name, device=dev, limit="min_duration")
                if d % res:
                    raise ProgramLimitError(
                        f"{dev} cannot play block {el.name!r}{where}: {d} ns is not a multiple "
                        f"of its {res} ns timing resolution; choose values on a {res} ns grid "
                        f"(nothing was sent)", block=el.name, device=dev, limit="resolution")

        # the outer loop over passes counts as one level on devices that loop in hardware
        walk(program.resolve(point), 1 if limits.hardware_loops else 0)
    n = steps if steps is not None else estimate_steps(program, limits.hardware_loops)
    if n > limits.max_steps:
        kind = "instructions" if limits.hardware_loops else "sequence steps"
        raise ProgramLimitError(
            f"{dev} cannot hold the program: it needs {n} {kind}, more than its memory of "
            f"{limits.max_steps}; use fewer sweep points or repeats (nothing was sent)",
            device=dev, limit="memory")
