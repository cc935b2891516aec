"""The widefield ODMR measurement kind: its check, its variables and its loop.

The camera is the master clock: its exposure output steps the microwave list
(:attr:`~nvsense.instruments.camera.TriggerMode.EXPOSURE_OUT`), so every frame belongs to one
list entry, and :class:`~nvsense.instruments.frame_sync.SweepAssembler` assigns each frame to
its sweep and frequency point from the camera's frame counter — never from the order frames
arrive in.  The measurement thread only reads the camera's ring buffer in blocks, assigns frames and
repairs sweeps (steps 1 below); each finished sweep then goes to the
:class:`~.sweep_pipeline.SweepPipeline`, a thread of its own in real time, which does steps 2
to 4 one sweep at a time, in order, so that the camera is read while the last sweep is
written.  For each sweep the assembler hands over:

1. frames that did not arrive (lost in transfer, rejected) are **measured again** — the
   hardware sequence is paused, the microwave set to the point's frequency and one frame
   taken on the camera's own clock, then the sequence restarts with the next sweep — or, past
   ``max_remeasure`` frames (a burst of losses) or with ``repair="mark"``, their points are
   **marked**: stored, but left out of the cube.  No frame is ever shifted to another point;
2. the sweep's mean image is **registered** against the first sweep's
   (:class:`~nvsense.analysis.registration.DriftTracker`); the drift is stored and, with
   ``drift_correction``, undone in the cube (whole pixels: counts stay Poisson);
3. the sweep is published as a :class:`~nvsense.measure.documents.WidefieldSweep`: the writer
   (:class:`~.run_file.WidefieldFileWriter`) appends its record to the run file, flushed,
   before anyone else sees it, so a crash keeps every completed sweep;
4. the accumulated cube is binned and fitted, and the live map published as a
   :class:`~nvsense.measure.documents.WidefieldMap`.

A stop request ends the run at once: the sweep under way is incomplete and not recorded;
sweeps already handed to the pipeline are written before the run is closed.  A failure to
write (disk full, a file error) stops the run with that error, the bench left safe; every
sweep before it is in the file.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...instruments.errors import CapabilityError, InstrumentError
from ..documents import WidefieldSweep
from ..lifecycle import Conclusion, Measurement, Run, RunAborted, RunOutcome
from ..settings import SettingsError
from .live_map import BackgroundLiveMap, LiveMapProcessor, live_binning
from .result import WidefieldResult
from .settings import PARAMETER_UNITS, WidefieldSettings
from .sweep_pipeline import SweepPipeline

__all__ = ["KIND", "WidefieldMeasurement", "check_widefield"]

log = logging.getLogger(__name__)

#: Run kind of widefield runs (:data:`nvsense.storage.cube_writer.KIND`).
KIND = "widefield"
#: How far below the sweep the reference frames are taken by default, Hz.
REFERENCE_OFFSET = 200e6
#: A sweep's registration is applied when its correlation peak stands this many robust σ
#: above the rest of the surface: noise alone stays below about 4.5σ on images up to
#: 256 × 256 pixels (the maximum of 65,536 near-Gaussian values), so 6σ is a real match.
#: (:data:`nvsense.analysis.registration.MIN_CONFIDENCE`, 8σ, is the stricter flag for
#: reporting a registration as unreliable.)
MIN_DRIFT_CONFIDENCE = 6.0
#: So many sweeps in a row of which no frame arrived end the run as aborted.
MAX_SKIPPED_IN_A_ROW = 10
#: A camera that delivers no frame for this many frame periods (and at least 10 s) has
#: stalled: the run ends as aborted.
STALL_PERIODS = 100
#: The measurement thread reads the camera's ring buffer in blocks of about this long, s.
READ_BLOCK_S = 0.05


@dataclass(frozen=True)
class _SweepJob:
    """A finished sweep on its way to the pipeline."""

    sweep: Any
    index: int
    elapsed: float
    missing: int
    remeasured: int


def check_widefield(bench: Any, settings: WidefieldSettings) -> None:
    """Check every setting of a widefield run against the bench, sending nothing
    (:meth:`WidefieldMeasurement.check`).

    Raises
    ------
    SettingsError, LimitError
    """
    WidefieldMeasurement(settings).check(bench)


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


class WidefieldMeasurement(Measurement):
    """Widefield ODMR: frame-synchronised sweeps into a streaming cube, with a live map.

    Parameters
    ----------
    settings
        Validated :class:`WidefieldSettings`.
    out
        The run file to write (``.nc``, must not exist); default: a new file in the data
        folder.
    """

    kind = KIND
    parameter_units = PARAMETER_UNITS

    def __init__(self, settings: WidefieldSettings, out: str | Path | None = None, *,
                 threaded: bool | None = None) -> None:
        from ...instruments.frame_sync import SweepPlan

        super().__init__(settings)
        self.out = Path(out) if out is not None else None
        self.frequencies = settings.frequencies()
        self.plan = SweepPlan(self.frequencies.size, settings.reference)
        self.reference_frequency: float | None = None
        self.frame_shape: tuple[int, int] | None = None
        self.n_lines = settings.n_lines
        self.live_binning = settings.live_binning
        self.buffer_frames = settings.buffer_frames
        self.camera: Any = None
        self.calibration: Any = None
        self.full_scale = 65535   # ADU at which counts are clipped (set once connected)
        self.pixel_size: float | None = None
        # the run so far
        self.n_sweeps = 0            # sweeps handed to the pipeline
        self.sweeps_written = 0      # sweeps in the file
        self.frames = 0              # frames received from the camera (all sequences)
        self.dropped_frames = 0      # triggers without a usable frame (lost, missed, rejected)
        self.duplicated_frames = 0
        self.remeasured = 0
        self.marked_points = 0
        self.drift_px: tuple[float, float] = (math.nan, math.nan)
        self.live: LiveMapProcessor | None = None
        self.live_thread: BackgroundLiveMap | None = None
        self.sweeps_with_data = 0
        self.skipped_sweeps = 0      # sweeps of which no frame arrived (not written)
        self.frame_period = math.nan  # the camera's, s, once set
        self.restarts = 0            # sequences started afresh after a sweep mostly lost
        self.saturated = 0           # frame pixels at the camera's full scale
        self._assembler: Any = None
        self._tracker: Any = None
        self._shift: tuple[float, float] = (0.0, 0.0)
        self._running = False
        #: Process finished sweeps in a thread of their own (``None``: in real time only).
        self.threaded = threaded
        self.pipeline: SweepPipeline | None = None

    # -- the kind -------------------------------------------------------------------------

    def check(self, bench: Any) -> None:
        """The frequencies and powers against the limits, the camera's settings against its
        limits, the list against the source, the memory and the disk the run needs.

        Raises
        ------
        LimitError, SettingsError
        """
        from ..preflight import check_list

        s = self.settings
        try:
            camera = bench.require("camera")[0]
        except CapabilityError as exc:
            raise SettingsError(str(exc)) from None
        if not getattr(bench.mw, "supports_list", False):
            raise SettingsError(f"{bench.label}: a widefield run steps a hardware-timed "
                                "frequency list with the camera's exposure output, and this "
                                "microwave source has no lists; use a source with list mode")
        self.reference_frequency = self._reference_frequency(bench)
        planned = self.frequencies if self.reference_frequency is None else \
            np.append(self.frequencies, self.reference_frequency)
        bench.check_settings(frequencies=planned, mw_power=s.mw_power,
                             laser_power=s.laser_power)
        check_list(bench.mw, self.plan.entries, f"a sweep of {self.plan.entries} frames")
        if self.n_lines is None:
            axes = bench.sample_info.axes
            self.n_lines = 2 * (4 if axes is None else len(axes))
        try:
            self._check_camera(camera)
        except InstrumentError:
            # a real camera tells its limits only once connected: checked then (_prepare)
            log.info("%s: camera limits unknown before connecting; checked then", camera.name)

    def _check_camera(self, camera: Any) -> None:
        """Exposure, binning, region and trigger against the camera's limits; the frame
        shape, the live map's binning, the ring buffer, memory and disk."""
        from ...instruments.camera import (
            TriggerMode,
            check_binning,
            check_buffer_frames,
            check_exposure,
            check_roi,
            check_trigger_mode,
        )

        s = self.settings
        limits = camera.limits
        try:
            roi = camera.roi
        except InstrumentError:  # not connected yet: it starts on the whole sensor
            roi = limits.full_roi
        check_exposure(s.exposure, limits, who=camera.name)
        check_binning(s.binning, limits, who=camera.name)
        roi = check_roi(roi, limits, s.binning, who=camera.name)
        check_trigger_mode(TriggerMode.EXPOSURE_OUT, limits, who=camera.name)
        self.frame_shape = roi.frame_shape(s.binning)
        if self.settings.live_binning is None:
            self.live_binning = live_binning(self.frame_shape)
        if self.live_binning and self.live_binning > min(self.frame_shape):
            raise SettingsError(f"live_binning {self.live_binning} is larger than the "
                                f"{self.frame_shape[0]}×{self.frame_shape[1]}-pixel frames")
        if self.settings.buffer_frames is None:
            frame_bytes = 2 * self.frame_shape[0] * self.frame_shape[1]
            self.buffer_frames = int(min(max(1000, 4 * self.plan.entries),
                                         max(4e8 // frame_bytes, 1), limits.max_buffer_frames))
        check_buffer_frames(self.buffer_frames, limits, self.frame_shape, who=camera.name)
        self._check_resources()

    def _reference_frequency(self, bench: Any) -> float | None:
        """The reference frames' frequency: given, or below the sweep (above it if below is
        outside the bench's limits)."""
        s = self.settings
        if s.reference != "every":
            return None
        if s.reference_frequency is not None:
            return float(s.reference_frequency)
        below = s.range.start - REFERENCE_OFFSET
        try:
            bench.check_settings(frequencies=below)
            return below
        except Exception:
            return s.range.stop + REFERENCE_OFFSET

    def _check_resources(self) -> None:
        """Refuse a run whose sums do not fit in memory or whose frames do not fit on disk:
        one clear error now, not a crash hours in."""
        assert self.frame_shape is not None
        s = self.settings
        pixels = self.frame_shape[0] * self.frame_shape[1]
        n = self.frequencies.size
        sums = n * pixels * (4 + 2) * (2 if s.reference == "every" else 1) + n * pixels * 4
        sweeps_held = 3 * self.plan.entries * pixels * 2   # open sweeps and the one written
        need = sums + sweeps_held + (self.buffer_frames or 0) * pixels * 2
        memory = _physical_memory()
        if memory is not None and need > memory / 2:
            raise SettingsError(
                f"a widefield run of {n} points on {self.frame_shape[0]}×{self.frame_shape[1]}-"
                f"pixel frames needs {_gigabytes(need)} of memory, more than half of this "
                f"computer's {_gigabytes(memory)}: use fewer points or a larger --bin")
        disk = s.sweeps * self.plan.entries * pixels * 2
        folder = (self.out.absolute().parent if self.out is not None else None)
        while folder is not None and not folder.exists():
            folder = folder.parent
        if folder is not None:
            free = shutil.disk_usage(folder).free
            if disk > free:
                raise SettingsError(
                    f"{s.sweeps} sweeps of {self.plan.entries} frames take {_gigabytes(disk)} "
                    f"on disk; {folder} has {_gigabytes(free)} free: use fewer sweeps or "
                    "points, a larger --bin, or another --out")

    def variables(self, bench: Any) -> Any:
        """The per-sweep records (:func:`nvsense.storage.cube_writer.widefield_schema`)."""
        from ...storage.cube_writer import widefield_schema

        self._prepare(bench)
        assert self.frame_shape is not None
        return widefield_schema(self.frequencies, self.frame_shape,
                                reference=self.settings.reference == "every",
                                pixel_size=self.pixel_size)

    def _prepare(self, bench: Any) -> None:
        if self.camera is not None:
            return
        if self.reference_frequency is None and self.settings.reference == "every":
            self.check(bench)
        self.camera = bench.require("camera")[0]
        self._check_camera(self.camera)  # connected now: its own limits
        self.calibration = self.camera.calibration
        # clipped: at the ADC's full scale, or at the full well (of the binned pixels:
        # b² wells; 0.5 % below it, where read noise scatters the clipped values)
        cal = self.calibration
        well = cal.offset + 0.995 * self.settings.binning ** 2 * cal.full_well \
            / cal.electrons_per_adu
        self.full_scale = min(2 ** int(self.camera.limits.bits) - 1, int(well))
        size = getattr(self.camera, "pixel_size", None)
        self.pixel_size = float(size) * self.settings.binning if size else None

    def file_writer(self, catalog: Any) -> Any:
        from .run_file import WidefieldFileWriter

        return WidefieldFileWriter(catalog, self.out)

    def parameters(self) -> dict[str, Any]:
        parameters = self.settings.as_record()
        parameters["n_lines"] = self.n_lines
        parameters["live_binning"] = self.live_binning
        if self.reference_frequency is not None:
            parameters["reference_frequency"] = self.reference_frequency
        return parameters

    def attrs(self, bench: Any) -> dict[str, Any]:
        self._prepare(bench)
        cal = self.calibration
        return {"electrons_per_adu": float(cal.electrons_per_adu),
                "offset_adu": float(cal.offset), "read_noise_e": float(cal.read_noise),
                "reference_frames": self.settings.reference, "shift_method": "integer",
                "trigger_mode": "exposure_out", "camera_binning": self.settings.binning}

    # -- the loop -------------------------------------------------------------------------

    def loop(self, run: Run) -> None:
        from ...analysis.registration import DriftTracker

        s, bench = self.settings, run.bench
        cam = self.camera
        cam.exposure = s.exposure
        if s.frame_period is not None:
            cam.frame_period = s.frame_period
        cam.binning = s.binning
        cam.trigger_mode = "exposure_out"
        self.frame_period = float(cam.frame_period)
        if s.frame_period is not None and self.frame_period > s.frame_period * (1 + 1e-6):
            log.warning("%s: frame period %.4g ms instead of the %.4g ms asked (exposure plus "
                        "readout)", cam.name, 1e3 * self.frame_period, 1e3 * s.frame_period)
        if s.laser_power is not None:
            bench.laser.power = s.laser_power
        bench.laser.on = True
        self._tracker = DriftTracker()
        if self.live_binning:
            self.live = LiveMapProcessor(self.frequencies, binning=self.live_binning,
                                         model=s.model, n_lines=int(self.n_lines or 2),
                                         pixel_size=self.pixel_size)
            # in real time the fit must not hold up the camera: a thread of its own; on a
            # simulated bench in fast pace the clock waits for the fit, so it stays here
            # (and every sweep gets its map, in order)
            sample = getattr(bench, "sample", None)
            if sample is None or getattr(sample, "pace", "realtime") != "fast":
                self.live_thread = BackgroundLiveMap(self.live)
        threaded = self.threaded
        if threaded is None:  # a simulated clock that waits for the computer: inline
            threaded = getattr(getattr(bench, "sample", None), "pace", "realtime") != "fast"
        self.pipeline = SweepPipeline(lambda job: self._process(run, job), threaded=threaded)
        pipeline = self.pipeline
        if hasattr(run.writer, "defer_cube"):  # behind the camera: pl with the last waiting
            run.writer.defer_cube = lambda: pipeline.waiting > 0
        bench.mw.power = s.mw_power
        bench.mw.load_list(self.plan.hardware_list(self.frequencies, self.reference_frequency,
                                                   cam.mw_trigger_lead), s.mw_power)
        bench.mw.output = True
        self._start_sequence(bench)
        t0 = run.clock()
        idle = 0.0
        skipped_in_a_row = 0
        stall = max(10.0, STALL_PERIODS * cam.frame_period)
        # in real time, blocks of ~50 ms of frames: few wake-ups, and the ring buffer is
        # emptied long before it wraps (it holds seconds); a simulated clock that waits for
        # the computer goes frame by frame (and stops at the last frame of the run)
        block_frames = 1 if not threaded else int(
            min(self.plan.entries, max(1, READ_BLOCK_S // max(cam.frame_period, 1e-9))))
        while self.sweeps_with_data < s.sweeps:
            if run.stop_requested:
                self.pipeline.finish()
                return
            self.pipeline.check()
            if not self._running:
                self._start_sequence(bench)
            block = cam.read_frames(min_frames=block_frames, max_frames=self.plan.entries,
                                    timeout=0.5)
            self.frames += len(block)
            if len(block) == 0:
                idle += 0.5
                if idle >= stall:
                    raise RunAborted(f"{cam.name}: no frame for {idle:.0f} s (is the camera "
                                     "still acquiring?); every completed sweep is in the file")
                continue
            idle = 0.0
            done = self._assembler.add(block)
            for k, sweep in enumerate(done):
                if self.sweeps_with_data >= s.sweeps:
                    break
                missing, remeasured = self._repair(bench, sweep)
                if not sweep.valid.any():  # nothing arrived: accounted for, not written
                    self.skipped_sweeps += 1
                    skipped_in_a_row += 1
                    if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
                        raise RunAborted(
                            f"{cam.name}: no frame of {skipped_in_a_row} sweeps in a row "
                            "arrived (lost in transfer or rejected); every completed sweep is "
                            "in the file")
                else:
                    skipped_in_a_row = 0
                    self._submit(sweep, run.clock() - t0, missing, remeasured)
                if missing > self.plan.entries // 2 and self._running:
                    # most of the sweep lost: the computer fell behind the camera and its
                    # ring buffer overflowed; start afresh rather than record fragments
                    self._pause(bench)
                    self.restarts += 1
                    self.skipped_sweeps += len(done) - k - 1
                    break
        self._pause(bench)
        self.pipeline.finish()  # every sweep written
        if self.live_thread is not None:  # the map of every sweep, before the run ends
            for doc in self.live_thread.wait(timeout=60.0):
                run.publish(doc)

    def _start_sequence(self, bench: Any) -> None:
        """Start the hardware-timed sequence: the list at its first entry, the camera on its
        own clock stepping it; a fresh frame bookkeeping (frame counters restart)."""
        from ...instruments.frame_sync import SweepAssembler, TriggerTiming

        cam = self.camera
        self._collect_report()
        cam.trigger_mode = "exposure_out"
        bench.mw.start_list()
        timing = TriggerTiming("exposure_out", cam.frame_period,
                               counter=getattr(cam, "counter_source", "camera"))
        self._assembler = SweepAssembler(self.plan, timing, cam.frame_shape)
        cam.start(buffer_frames=self.buffer_frames)
        self._running = True

    def _pause(self, bench: Any) -> None:
        """Stop the hardware sequence (camera, then list); what the camera still holds of the
        next sweep is dropped: the next sequence starts that sweep again."""
        if not self._running:
            return
        self._running = False
        try:
            self.camera.stop()
        finally:
            bench.mw.stop_list()

    def _collect_report(self) -> None:
        """Add the finished sequence's frame counts to the run's."""
        if self._assembler is None:
            return
        report = self._assembler.report
        self.dropped_frames += report.dropped_frames
        self.duplicated_frames += report.duplicates
        self._assembler = None

    def _repair(self, bench: Any, sweep: Any) -> tuple[int, int]:
        """Measure the sweep's missing frames again, or mark their points
        (:func:`~nvsense.instruments.frame_sync.plan_repairs`); returns (missing, measured
        again)."""
        from ...instruments.frame_sync import plan_repairs

        missing = len(sweep.missing)
        if not missing:
            return 0, 0
        s = self.settings
        plan = plan_repairs(sweep, remeasure=s.repair == "remeasure",
                            max_remeasure=s.max_remeasure)
        done = 0
        if plan.remeasure:
            self._pause(bench)
            done = self._remeasure(bench, sweep, plan.remeasure)
        # a signal frame still missing (re-measuring failed too) is marked; a missing
        # reference frame takes its neighbours' level
        sweep.mark(p for p in np.flatnonzero(~sweep.signal_valid))
        self.remeasured += done
        return missing, done

    def _remeasure(self, bench: Any, sweep: Any, wanted: tuple[tuple[int, bool], ...]) -> int:
        """Take one frame per (point, is reference) on the camera's own clock, the microwave
        at that point's frequency (CW); returns the frames taken."""
        cam, mw = self.camera, bench.mw
        cam.trigger_mode = "internal"
        mw.power = self.settings.mw_power
        taken = 0
        for point, reference in wanted:
            f = self.reference_frequency if reference else self.frequencies[point]
            mw.frequency = float(f)  # type: ignore[arg-type]
            cam.start(buffer_frames=4)
            try:
                block = cam.read_frames(min_frames=1, max_frames=1,
                                        timeout=max(1.0, 10 * cam.frame_period))
            finally:
                cam.stop()
            if len(block):
                sweep.put(point, block.frames[0], reference=reference, frame_number=-2,
                          timestamp=math.nan)
                taken += 1
        return taken

    def _submit(self, sweep: Any, elapsed: float, missing: int, remeasured: int) -> None:
        """Count the sweep and hand it to the pipeline (measurement thread)."""
        assert self.pipeline is not None
        index = self.n_sweeps
        self.n_sweeps += 1
        self.sweeps_with_data += bool(sweep.valid.any())
        self.pipeline.submit(_SweepJob(sweep, index, elapsed, missing, remeasured))

    def _process(self, run: Run, job: _SweepJob) -> None:
        """The pipeline's work on one sweep; a failure ends the run with one clear error."""
        try:
            self._record(run, job.sweep, job.index, job.elapsed, job.missing, job.remeasured)
        except Exception as exc:
            where = run.file or "the run file"
            raise RunAborted(f"sweep {job.index + 1} could not be written to {where} "
                             f"({type(exc).__name__}: {exc}); the run was stopped and every "
                             "sweep before it is in the file", error=exc) from exc

    def _record(self, run: Run, sweep: Any, index: int, elapsed: float, missing: int = 0,
                remeasured: int = 0) -> None:
        """Register the sweep, publish its record (written first), then the live map (the
        pipeline's thread, one sweep at a time)."""
        from ...storage.cube_writer import applied_shift, sweep_record

        valid = sweep.valid
        drift, confidence = (math.nan, math.nan), math.nan
        if valid.any():
            image = sweep.signal[valid].mean(axis=0, dtype=np.float32)
            registration = self._tracker.update(image)
            drift, confidence = registration.shift, registration.confidence
            if self.settings.drift_correction and confidence >= MIN_DRIFT_CONFIDENCE:
                self._shift = applied_shift(drift, "integer")
            # a registration that found no clear match keeps the last shift
        shift = self._shift if self.settings.drift_correction else (0.0, 0.0)
        cal = self.calibration
        values = sweep_record(sweep, drift=drift, shift=shift, drift_confidence=confidence,
                              time=elapsed, electrons_per_adu=float(cal.electrons_per_adu),
                              offset=float(cal.offset))
        marked = int(np.sum(sweep.marked))
        self.marked_points += marked
        saturated = int(np.count_nonzero(sweep.signal[valid] >= self.full_scale))
        if saturated and not self.saturated:
            log.warning("%s: %d pixel(s) of sweep %d at full scale or full well (%d ADU): their "
                        "counts are clipped; shorten the exposure", self.camera.name, saturated,
                        index + 1, self.full_scale)
        self.saturated += saturated
        run.publish(WidefieldSweep(
            run_id=run.run_id or "", index=index, frequencies=self.frequencies,
            elapsed=elapsed, drift=(float(drift[0]), float(drift[1])),
            shift=(float(shift[0]), float(shift[1])), drift_confidence=float(confidence),
            sweeps_planned=self.settings.sweeps, missing=missing,
            remeasured=remeasured, marked=marked, saturated=saturated, values=values))
        self.sweeps_written += 1
        if np.all(np.isfinite(drift)):
            self.drift_px = (float(drift[0]), float(drift[1]))
        if self.live_thread is not None:
            for doc in self.live_thread.finished():
                run.publish(doc)
            if self.pipeline is not None and self.pipeline.waiting:
                return  # behind the camera: the next sweep brings a newer cube to map
            self.live_thread.submit(run.run_id or "", index, index + 1,
                                    run.writer.accumulated())
        elif self.live is not None:
            run.publish(self.live.update(run.run_id or "", index, index + 1,
                                         run.writer.accumulated()))

    def stop(self, run: Run) -> None:
        if self.camera is not None and self._running:
            try:
                self._pause(run.bench)
            except InstrumentError as exc:
                log.warning("could not stop the camera's sequence: %s", exc)
        if self.pipeline is not None:  # the sweeps handed over are written before the end
            self.pipeline.close()
        if self.live_thread is not None:
            self.live_thread.close()
        self._collect_report()

    def conclude(self, run: Run, status: str, reason: str | None) -> Conclusion:
        results: dict[str, Any] = {"sweeps": self.sweeps_written, "frames": self.frames,
                                   "dropped_frames": self.dropped_frames,
                                   "remeasured_frames": self.remeasured,
                                   "marked_points": self.marked_points,
                                   "saturated_pixels": self.saturated,
                                   "skipped_sweeps": self.skipped_sweeps}
        units = {"sweeps": "1", "frames": "1", "dropped_frames": "1",
                 "remeasured_frames": "1", "marked_points": "1", "saturated_pixels": "1",
                 "skipped_sweeps": "1"}
        if math.isfinite(self.frame_period):
            results["frame_period"], units["frame_period"] = self.frame_period, "s"
        if np.all(np.isfinite(self.drift_px)):
            results["drift_y"], results["drift_x"] = self.drift_px
            units["drift_y"] = units["drift_x"] = "pixel"
        last = self.live.last if self.live is not None else None
        if last is not None and last.success.any():
            results["live_success_fraction"] = float(np.mean(last.success))
            units["live_success_fraction"] = "1"
        return Conclusion(results=results, result_units=units)

    def result(self, outcome: RunOutcome) -> WidefieldResult:
        """The :class:`WidefieldResult` of the run that ended with ``outcome``."""
        error = outcome.error if isinstance(outcome.error, Exception) else None
        return WidefieldResult(
            run_id=outcome.run_id, file=outcome.file, status=outcome.status,
            reason=outcome.reason, settings=self.settings, frequencies=self.frequencies,
            sweeps=self.sweeps_written, frames=self.frames, dropped_frames=self.dropped_frames,
            duplicated_frames=self.duplicated_frames, remeasured_frames=self.remeasured,
            marked_points=self.marked_points, drift_px=self.drift_px,
            saturated_pixels=self.saturated, skipped_sweeps=self.skipped_sweeps,
            live_map=self.live.last if self.live is not None else None,
            frame_period=self.frame_period,
            safe_report=outcome.safe_report, error=error)

