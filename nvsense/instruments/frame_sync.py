"""Frame bookkeeping for hardware-timed widefield sweeps: which frame belongs to which
frequency, and what is missing.

In a frame-synchronised sweep one pulse train clocks both the camera and the microwave list
(the camera's exposure output, or a DAQ clock wired to both), so frame *k* measures list entry
*k*.  That holds only while no frame is lost, repeated or missed; a single silent slip would
shift every later frame of the run to the wrong frequency.  This module assigns each frame
to its trigger from evidence, never from the order in which frames arrive:

- with the camera as the master clock (:attr:`TriggerMode.EXPOSURE_OUT`) every exposure steps
  the list once, so the trigger of a frame is its frame counter; a frame lost on the way to
  the computer leaves a gap in the counter and its entry is reported missing;
- with an external clock (:attr:`TriggerMode.EXTERNAL`) the camera may miss an edge (it was
  still reading out): the list steps, the counter does not.  The trigger is then counted from
  the frame timestamps (the time since the previous frame in clock periods), cross-checked
  with the counter, so missed edges are found too;
- a repeated frame counter is a duplicate and dropped; a counter that runs backwards, or a
  timestamp that fits no clock edge, makes the frame unassignable: it is rejected and its
  entry reported missing rather than guessed.

The list holds ``n_points`` frequencies in the order of :class:`SweepPlan` and, with
``reference="every"``, a reference entry (far off resonance) after each of them, used to
normalise the frame before it (laser intensity drifts cancel).  :class:`SweepAssembler`
collects the frames of each sweep and hands over complete sweeps with the entries that are
missing; :func:`plan_repairs` decides which of those to measure again and which to mark
(invalid, left out of the average).  These are pure bookkeeping: no instrument is touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .camera import FrameBlock, TriggerMode

__all__ = [
    "Assignment",
    "FrameStatus",
    "FrameSync",
    "FrameSyncError",
    "Reference",
    "RepairPlan",
    "SweepAssembler",
    "SweepFrames",
    "SweepPlan",
    "SyncReport",
    "TriggerTiming",
    "entries_of",
    "plan_repairs",
    "reference_levels",
]


class FrameSyncError(ValueError):
    """Frames cannot be assigned safely (wrong mode, missing timestamps, bad plan)."""


class Reference(StrEnum):
    """Reference frames in the list: ``every`` frequency point gets one, or ``none``."""

    EVERY = "every"
    NONE = "none"


class FrameStatus(IntEnum):
    """What became of a frame."""

    OK = 0  #: assigned to a trigger, sweep and list entry
    DUPLICATE = 1  #: same frame counter as the frame before it: dropped
    OUT_OF_ORDER = 2  #: frame counter below an earlier one: rejected
    TIMING = 3  #: timestamp fits no clock edge, or disagrees with the counter: rejected


@dataclass(frozen=True)
class SweepPlan:
    """The microwave list of one sweep and what each of its entries measures.

    Parameters
    ----------
    n_points
        Frequency points per sweep.
    reference
        ``"every"``: each signal entry is followed by a reference entry (list length
        ``2 × n_points``); ``"none"``.
    order
        Frequency point measured by each signal entry, in list order (a permutation of
        ``range(n_points)``; default increasing).  A shuffled order spreads slow drifts over
        the spectrum instead of tilting it.
    """

    n_points: int
    reference: Reference = Reference.NONE
    order: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_points, bool) or int(self.n_points) < 1:
            raise FrameSyncError(f"n_points must be a whole number ≥ 1, not {self.n_points!r}")
        object.__setattr__(self, "n_points", int(self.n_points))
        try:
            object.__setattr__(self, "reference", Reference(self.reference))
        except ValueError:
            raise FrameSyncError(f"reference must be 'every' or 'none', not "
                                 f"{self.reference!r}") from None
        if self.order is not None:
            order = tuple(int(i) for i in self.order)
            if sorted(order) != list(range(self.n_points)):
                raise FrameSyncError(f"order must be a permutation of 0..{self.n_points - 1}")
            object.__setattr__(self, "order", order)

    @property
    def entries(self) -> int:
        """List entries (triggers) per sweep."""
        return self.n_points * (2 if self.reference == Reference.EVERY else 1)

    @property
    def point_order(self) -> NDArray[np.int64]:
        """Point of each signal entry, in list order."""
        return np.arange(self.n_points) if self.order is None else np.asarray(self.order)

    def decode(self, entry: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """(frequency point, is reference) of list entries."""
        entry = np.asarray(entry, dtype=np.int64)
        if self.reference == Reference.EVERY:
            return self.point_order[entry // 2], (entry % 2) == 1
        return self.point_order[entry], np.zeros(entry.shape, bool)

    def hardware_list(self, frequency: ArrayLike, reference_frequency: float | None = None,
                      lead: int = 0) -> NDArray[np.float64]:
        """The frequencies to load into the microwave list, Hz.

        Parameters
        ----------
        frequency
            The ``n_points`` sweep frequencies, indexed by point.
        reference_frequency
            Frequency of the reference entries (far off every line), required with
            ``reference="every"``.
        lead
            List steps the trigger sends before the first frame
            (:attr:`~nvsense.instruments.simulated.camera.SimulatedCamera.mw_trigger_lead`):
            the list is rotated so that the frame of trigger *k* measures entry *k*.
        """
        f = np.asarray(frequency, dtype=float)
        if f.shape != (self.n_points,):
            raise FrameSyncError(f"frequency must hold the {self.n_points} sweep points, "
                                 f"not shape {f.shape}")
        signal = f[self.point_order]
        if self.reference == Reference.EVERY:
            if reference_frequency is None or not math.isfinite(reference_frequency):
                raise FrameSyncError("reference='every' needs a reference_frequency (Hz) far "
                                     "from every line")
            out = np.empty(self.entries)
            out[0::2], out[1::2] = signal, float(reference_frequency)
        else:
            out = signal
        return np.roll(out, lead)


@dataclass(frozen=True)
class TriggerTiming:
    """How frames relate to list steps.

    Attributes
    ----------
    mode
        :attr:`TriggerMode.EXPOSURE_OUT` or :attr:`TriggerMode.EXTERNAL` (frames of a
        free-running camera with nothing linked step no list).
    period
        Clock period in s: the camera's frame period (exposure output) or the trigger
        pulse train's (external).  Needed to read timestamps.
    tolerance
        How far (fraction of a period) a frame's timestamp may stray from a clock edge.
    counter
        The camera's ``counter_source``: "camera" (a hardware frame counter) or "host"
        (frames numbered as they arrive, so triggers are counted from the timestamps in
        every mode).
    """

    mode: TriggerMode
    period: float | None = None
    tolerance: float = 0.25
    counter: Literal["camera", "host"] = "camera"

    def __post_init__(self) -> None:
        mode = TriggerMode(self.mode)
        object.__setattr__(self, "mode", mode)
        if mode == TriggerMode.INTERNAL:
            raise FrameSyncError("a free-running camera without exposure output steps no "
                                 "microwave list, so its frames belong to no list entry; use "
                                 "trigger mode 'exposure_out' or 'external'")
        if self.period is not None and not (math.isfinite(self.period) and self.period > 0):
            raise FrameSyncError(f"period must be a positive number of seconds, not "
                                 f"{self.period!r}")
        if self.counter not in ("camera", "host"):
            raise FrameSyncError(f"counter must be 'camera' or 'host', not {self.counter!r}")
        if self.by_time and self.period is None:
            raise FrameSyncError("the clock period is needed to count triggers from the frame "
                                 "timestamps (external trigger, or a host-side frame counter)")
        if not 0 < self.tolerance < 0.5:
            raise FrameSyncError(f"tolerance must be in (0, 0.5) periods, not {self.tolerance}")

    @property
    def by_time(self) -> bool:
        """Whether triggers are counted from timestamps (external clock or host counter)."""
        return self.mode == TriggerMode.EXTERNAL or self.counter == "host"


@dataclass(frozen=True)
class Assignment:
    """Where each frame of a block went (arrays over the block's frames).

    ``trigger``, ``sweep``, ``entry`` and ``point`` are −1 for frames not assigned
    (``status`` says why).
    """

    frame_number: NDArray[np.int64]
    trigger: NDArray[np.int64]
    sweep: NDArray[np.int64]
    entry: NDArray[np.int64]
    point: NDArray[np.int64]
    reference: NDArray[np.bool_]
    status: NDArray[np.int8]

    @property
    def ok(self) -> NDArray[np.bool_]:
        """Frames assigned."""
        return self.status == FrameStatus.OK


@dataclass
class SyncReport:
    """Running counts of a :class:`FrameSync`."""

    frames: int = 0  #: frames received
    assigned: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    timing_rejects: int = 0
    lost_in_transfer: int = 0  #: counter gaps: exposed but never received
    missed_triggers: int = 0  #: external clock edges the camera did not answer

    @property
    def dropped_frames(self) -> int:
        """Triggers without a usable frame so far (lost, missed or rejected)."""
        return (self.lost_in_transfer + self.missed_triggers + self.timing_rejects
                + self.out_of_order)


class FrameSync:
    """Assigns frames to triggers, block after block, from frame counters and timestamps.

    Parameters
    ----------
    plan
        The sweep's list (:class:`SweepPlan`).
    timing
        How frames relate to list steps (:class:`TriggerTiming`).

    Notes
    -----
    The first frame received is taken as trigger ``frame_number`` (the camera is armed
    before the clock starts, so it cannot miss the first edges; frames lost in transfer
    before it still count).  Later frames are placed relative to the last assigned frame:
    by the counter difference (exposure output) or by the timestamp difference in clock
    periods (external), which tolerates the slow drift between the camera's clock and the
    trigger clock.
    """

    def __init__(self, plan: SweepPlan, timing: TriggerTiming) -> None:
        self.plan = plan
        self.timing = timing
        self.report = SyncReport()
        self._last: tuple[int, float, int] | None = None  # (frame number, timestamp, trigger)

    def assign(self, block: FrameBlock) -> Assignment:
        """Assign the frames of one block (in the order the camera delivered them)."""
        n = len(block)
        numbers = np.asarray(block.frame_number, dtype=np.int64)
        stamps = np.asarray(block.timestamp, dtype=np.float64)
        trigger = np.full(n, -1, np.int64)
        status = np.zeros(n, np.int8)
        by_time = self.timing.by_time
        external = self.timing.mode == TriggerMode.EXTERNAL
        if by_time and n and not np.all(np.isfinite(stamps)):
            raise FrameSyncError(
                "frame timestamps are needed to count triggers (external triggering, or a "
                "camera without a frame counter of its own) and this camera gave none; use a "
                "camera with timestamps, or its exposure output with a hardware frame counter")
        period, tol = self.timing.period, self.timing.tolerance
        report = self.report
        for i in range(n):
            k, t = int(numbers[i]), float(stamps[i])
            if self._last is None:
                trigger[i] = k
                report.lost_in_transfer += k
                self._last = (k, t, k)
                continue
            k0, t0, g0 = self._last
            dk = k - k0
            if dk == 0:
                status[i] = FrameStatus.DUPLICATE
                continue
            if dk < 0:
                status[i] = FrameStatus.OUT_OF_ORDER
                continue
            if by_time:
                steps = (t - t0) / period  # type: ignore[operator]
                dg = round(steps)
                if abs(steps - dg) > tol or dg < dk:
                    # between two edges, or fewer edges than exposures: nothing to trust
                    status[i] = FrameStatus.TIMING
                    continue
                if external:
                    report.missed_triggers += dg - dk
                else:  # exposures the camera made but never delivered
                    report.lost_in_transfer += dg - dk
            else:
                dg = dk
                if period is not None and math.isfinite(t) and math.isfinite(t0) and \
                        abs((t - t0) / period - dk) > tol * max(1, dk):
                    status[i] = FrameStatus.TIMING
                    continue
            report.lost_in_transfer += dk - 1
            trigger[i] = g0 + dg
            self._last = (k, t, g0 + dg)
        report.frames += n
        report.duplicates += int(np.sum(status == FrameStatus.DUPLICATE))
        report.out_of_order += int(np.sum(status == FrameStatus.OUT_OF_ORDER))
        report.timing_rejects += int(np.sum(status == FrameStatus.TIMING))
        ok = status == FrameStatus.OK
        report.assigned += int(ok.sum())
        sweep = np.full(n, -1, np.int64)
        entry = np.full(n, -1, np.int64)
        point = np.full(n, -1, np.int64)
        reference = np.zeros(n, bool)
        if ok.any():
            sweep[ok], entry[ok] = np.divmod(trigger[ok], self.plan.entries)
            point[ok], reference[ok] = self.plan.decode(entry[ok])
        return Assignment(numbers, trigger, sweep, entry, point, reference, status)

    @property
    def last_trigger(self) -> int:
        """Trigger of the last assigned frame (−1 before any)."""
        return -1 if self._last is None else self._last[2]


@dataclass
class SweepFrames:
    """The frames of one sweep, frame-major, with what is missing.

    Attributes
    ----------
    index
        Sweep number (from 0).
    signal
        (n_points, rows, columns) ``uint16`` frames by frequency point (zeros where missing).
    reference
        The reference frames likewise, or ``None`` without references.
    signal_valid, reference_valid
        (n_points,) which frames are present.
    frame_number, reference_frame_number
        (n_points,) camera frame counters (−1: missing; −2: measured again outside the
        hardware sequence).
    timestamp, reference_timestamp
        (n_points,) camera timestamps, s (NaN where missing).
    marked
        (n_points,) points left out (missing signal, or a reference that cannot be
        replaced): invalid in the stored sweep.
    """

    index: int
    signal: NDArray[np.uint16]
    reference: NDArray[np.uint16] | None
    signal_valid: NDArray[np.bool_]
    reference_valid: NDArray[np.bool_] | None
    frame_number: NDArray[np.int64]
    reference_frame_number: NDArray[np.int64] | None
    timestamp: NDArray[np.float64]
    reference_timestamp: NDArray[np.float64] | None
    marked: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))

    @classmethod
    def empty(cls, index: int, n_points: int, shape: tuple[int, int],
              reference: bool) -> SweepFrames:
        def frames() -> NDArray[np.uint16]:
            return np.zeros((n_points, *shape), np.uint16)

        def numbers() -> NDArray[np.int64]:
            return np.full(n_points, -1, np.int64)

        def stamps() -> NDArray[np.float64]:
            return np.full(n_points, np.nan)

        return cls(index, frames(), frames() if reference else None,
                   np.zeros(n_points, bool), np.zeros(n_points, bool) if reference else None,
                   numbers(), numbers() if reference else None, stamps(),
                   stamps() if reference else None, np.zeros(n_points, bool))

    @property
    def n_points(self) -> int:
        return len(self.signal_valid)

    @property
    def missing(self) -> list[tuple[int, bool]]:
        """(point, is reference) of every frame this sweep lacks, signal first."""
        out = [(int(p), False) for p in np.flatnonzero(~self.signal_valid)]
        if self.reference_valid is not None:
            out += [(int(p), True) for p in np.flatnonzero(~self.reference_valid)]
        return out

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def valid(self) -> NDArray[np.bool_]:
        """(n_points,) points usable in the average: signal present and not marked."""
        return self.signal_valid & ~self.marked

    def put(self, point: int, frame: NDArray[np.uint16], *, reference: bool = False,
            frame_number: int = -2, timestamp: float = math.nan) -> None:
        """Store a frame (from the hardware sequence, or measured again) at ``point``."""
        if reference:
            if self.reference is None or self.reference_valid is None \
                    or self.reference_frame_number is None or self.reference_timestamp is None:
                raise FrameSyncError("this sweep has no reference frames")
            self.reference[point] = frame
            self.reference_valid[point] = True
            self.reference_frame_number[point] = frame_number
            self.reference_timestamp[point] = timestamp
        else:
            self.signal[point] = frame
            self.signal_valid[point] = True
            self.frame_number[point] = frame_number
            self.timestamp[point] = timestamp
            self.marked[point] = False

    def mark(self, points: Iterable[int]) -> None:
        """Leave ``points`` out of the average (their data is kept but flagged)."""
        for p in points:
            self.marked[int(p)] = True

    def cube(self, what: str = "signal") -> NDArray[np.uint16]:
        """``signal`` or ``reference`` as (rows, columns, n_points), the cube layout."""
        frames = self.signal if what == "signal" else self.reference
        if frames is None:
            raise FrameSyncError("this sweep has no reference frames")
        return np.ascontiguousarray(np.moveaxis(frames, 0, -1))


class SweepAssembler:
    """Collects assigned frames into sweeps and hands over each sweep once it is over.

    A sweep is over when all its entries have arrived or a frame of a later sweep has (its
    triggers are then past: nothing more can arrive for it).  Sweeps with no frame at all
    (a long outage) are handed over too, empty, so every gap is accounted for.

    Parameters
    ----------
    plan, timing
        As for :class:`FrameSync` (one is made from them).
    frame_shape
        (rows, columns) of the frames.
    """

    def __init__(self, plan: SweepPlan, timing: TriggerTiming,
                 frame_shape: tuple[int, int]) -> None:
        self.plan = plan
        self.sync = FrameSync(plan, timing)
        self.frame_shape = tuple(frame_shape)
        self._open: dict[int, SweepFrames] = {}
        self._next = 0  # lowest sweep not yet handed over

    @property
    def report(self) -> SyncReport:
        return self.sync.report

    @property
    def in_progress(self) -> SweepFrames | None:
        """The sweep to be handed over next, as far as its frames have arrived (``None``
        before its first frame); frames of its points not arrived yet may still be put."""
        return self._open.get(self._next)

    def add(self, block: FrameBlock) -> list[SweepFrames]:
        """Assign a block's frames; return the sweeps that are now over, in order."""
        if len(block) and block.frames.shape[1:] != self.frame_shape:
            raise FrameSyncError(f"frames of shape {block.frames.shape[1:]} do not match the "
                                 f"sweep's {self.frame_shape}")
        assignment = self.sync.assign(block)
        reference = self.plan.reference == Reference.EVERY
        for i in np.flatnonzero(assignment.ok):
            s = int(assignment.sweep[i])
            if s < self._next:
                continue  # cannot happen with increasing triggers; never overwrite a sweep
            sweep = self._open.get(s)
            if sweep is None:
                sweep = self._open[s] = SweepFrames.empty(s, self.plan.n_points,
                                                          self.frame_shape, reference)
            sweep.put(int(assignment.point[i]), block.frames[i],
                      reference=bool(assignment.reference[i]),
                      frame_number=int(block.frame_number[i]),
                      timestamp=float(block.timestamp[i]))
        last = self.sync.last_trigger
        current = last // self.plan.entries if last >= 0 else -1
        # a sweep is over once a later one has begun, or when its last entry has arrived
        done_through = current - 1
        if last >= 0 and (last + 1) % self.plan.entries == 0:
            done_through = current
        return self._handover(done_through)

    def finish(self) -> list[SweepFrames]:
        """At the end of the acquisition: hand over every sweep still open (incomplete)."""
        if not self._open:
            return []
        return self._handover(max(self._open))

    def _handover(self, through: int) -> list[SweepFrames]:
        out = []
        reference = self.plan.reference == Reference.EVERY
        while self._next <= through:
            sweep = self._open.pop(self._next, None)
            if sweep is None:
                sweep = SweepFrames.empty(self._next, self.plan.n_points, self.frame_shape,
                                          reference)
            out.append(sweep)
            self._next += 1
        return out


@dataclass(frozen=True)
class RepairPlan:
    """What to do about a sweep's missing frames.

    Attributes
    ----------
    remeasure
        (point, is reference) to measure again (microwave at that entry, a frame).
    mark
        Points to leave out of the average (their signal is missing and will not be
        measured again, or their reference is missing and no neighbour can stand in).
    """

    remeasure: tuple[tuple[int, bool], ...]
    mark: tuple[int, ...]


def plan_repairs(sweep: SweepFrames, *, remeasure: bool = True,
                 max_remeasure: int = 5) -> RepairPlan:
    """Decide how to repair a sweep: measure a few missing frames again, mark the rest.

    A missing reference frame is replaced by its neighbours (the references before and after
    it in the list) when :func:`reference_levels` can, so only references without any valid
    reference in the sweep need measuring again.  If more than ``max_remeasure`` frames
    would need it, none are measured again (a burst of losses means the sweep was
    disturbed) and the points are marked.

    Parameters
    ----------
    sweep
        The sweep as :class:`SweepAssembler` handed it over.
    remeasure
        Whether measuring again is possible (a hardware list may not allow jumping to one
        entry); ``False`` marks every missing point.
    max_remeasure
        Most frames to measure again per sweep.
    """
    missing_signal = [p for p, ref in sweep.missing if not ref]
    missing_ref: list[int] = []
    if sweep.reference_valid is not None and not sweep.reference_valid.any():
        missing_ref = [p for p, ref in sweep.missing if ref]
    wanted = [(p, False) for p in missing_signal] + [(p, True) for p in missing_ref]
    if remeasure and 0 < len(wanted) <= max_remeasure:
        return RepairPlan(tuple(wanted), ())
    marked = sorted(set(missing_signal) | set(missing_ref))
    return RepairPlan((), tuple(marked))


def reference_levels(sweep: SweepFrames, plan: SweepPlan,
                     region: tuple[slice, slice] | None = None) -> NDArray[np.float64] | None:
    """Mean grey level of the reference frame of each point, ADU (``None`` without
    references).  A missing reference takes the mean of the nearest valid references before
    and after it in list order (NaN if the sweep has none)."""
    if sweep.reference is None or sweep.reference_valid is None:
        return None
    ys, xs = region if region is not None else (slice(None), slice(None))
    levels = np.full(plan.n_points, np.nan)
    valid = sweep.reference_valid
    if valid.any():
        levels[valid] = sweep.reference[valid][:, ys, xs].mean(axis=(1, 2), dtype=np.float64)
    # fill gaps in list (time) order from the neighbours
    order = plan.point_order
    seq = levels[order]
    ok = np.isfinite(seq)
    if ok.any() and not ok.all():
        idx = np.arange(seq.size)
        seq[~ok] = np.interp(idx[~ok], idx[ok], seq[ok])
        levels[order] = seq
    return levels


def entries_of(points: Sequence[int], plan: SweepPlan,
               reference: bool = False) -> NDArray[np.int64]:
    """List entries of frequency ``points`` (signal or reference): where to point the
    microwave to measure them again."""
    position = np.empty(plan.n_points, np.int64)
    position[plan.point_order] = np.arange(plan.n_points)
    entries = position[np.asarray(points, dtype=np.int64)]
    if plan.reference == Reference.EVERY:
        return 2 * entries + (1 if reference else 0)
    if reference:
        raise FrameSyncError("this plan has no reference entries")
    return entries
