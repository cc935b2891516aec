"""Widefield streaming: 256×256 frames at 100 frames/s from the simulated camera to disk.

The simulated camera runs in real time (its frames become available at 100 frames/s of wall
time; frames not read before its ring buffer wraps are lost, as on a real camera) with its
exposure output stepping a 101-point microwave list.  One thread reads frames, assigns them to
sweeps from the frame counters (:mod:`nvsense.instruments.frame_sync`) and hands each
finished sweep to a second thread, which registers its drift, writes it to a widefield run
file and updates the accumulated cube (:class:`nvsense.storage.cube_writer.CubeWriter`); with
``--live`` a third thread fits the binned map after each sweep
(:class:`nvsense.analysis.widefield_live.LiveMapper`).

Prints: frames received, lost, duplicated and misassigned (checked against the simulation's
truth for every frame: must all be 0), the writer's throughput as a ratio of the camera's data
rate (time of a sweep at the camera / time the writer spent on it; target ≥ 2×), the live-map
update rate (target ≥ 1 Hz), the camera simulation's own cost, the registered drift against the
true drift, and the file size.  The file is deleted afterwards unless ``--keep`` is given.

Run: ``.venv/bin/python benchmarks/widefield_stream.py [--minutes 1] [--reference every]
[--live 4] [--keep DIR]``.  The issue's target is ``--minutes 10`` (about 8 GB of file).

``--pipeline measure`` runs the same target through the measurement kind itself
(:class:`nvsense.measure.widefield.WidefieldMeasurement` on the lifecycle, what ``nvsense
widefield measure --frame-period 10ms`` does) on a simulated bench file with a 256×256 camera
at 100 frames/s: the camera renders its frames in its own producer thread (as hardware makes
them, whether read or not), the measurement thread only reads the ring buffer in blocks and
assigns frames to sweeps, and each finished sweep goes through a bounded queue to the sweep
pipeline's thread (registration, the record written and flushed, ``pl``, the live map's cube);
the live map is fitted in a third thread on the newest cube; lost frames are marked.  Every
stored frame counter is checked against the simulation's truth afterwards.  It prints the
acquisition's pace against real time, frames lost / duplicated / misassigned, the writer's
time per sweep as a ratio of the camera's data rate (the sweep pipeline's own time per sweep:
registration + record + cube), the live-map updates per second of acquisition, the camera
simulation's cost and the process's CPU use.

Measured (``--pipeline measure --minutes 10``, 2026-12-07, load average 1.1–1.8 on 2 cores):
594 sweeps, 59,996 frames (7.89 GB) in 600.0 s (1.000× real time); frames lost 0,
duplicated 0, misassigned 0 of 59,994 checked; writer 287 ms per 1.01 s sweep = 3.5× the
camera's data rate (slowest sweep 1.0×); live map 591 updates, 0.26 s each (3.9 Hz possible),
0.99 Hz achieved (one per 1.01 s sweep); camera simulation 5.1 ms a frame in its own thread;
0.89 cores used.  At load 5–10 the process got 0.5–0.6 of a core and lost 80–250 frames a
minute in the ring buffer (each marked, none misassigned).  With maps refreshed during the
sweeps (``LIVE_MAP_PERIOD`` 0.5 s; ``--minutes 1``, 2026-12-07, load average 1.2–2.4): 59
sweeps, 0 frames lost, duplicated or misassigned of 5,959 checked; writer 353 ms per sweep =
2.9× the camera rate (worst 1.5×); live map 103 updates (59 after a sweep, 44 during one),
0.14 s a fit, **1.67 Hz achieved** (median gap 0.59 s, longest 1.75 s); 0.92 cores used.
See the "Performance" table of docs/widefield_acquisition.md.
"""

from __future__ import annotations

import argparse
import os
import queue
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from nvsense.analysis.registration import DriftTracker
from nvsense.analysis.widefield_live import LiveMapper
from nvsense.instruments.frame_sync import SweepAssembler, SweepPlan, TriggerTiming
from nvsense.instruments.simulated.widefield import widefield_bench
from nvsense.storage.cube_writer import CubeWriter

SIZE = 256
FPS = 100.0
EXPOSURE = 5e-3
POINTS = 101
FREQ = np.linspace(2.79e9, 2.95e9, POINTS)
REFERENCE_FREQUENCY = 2.60e9  # far below every line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0,
                        help="acquisition time (default 1; the target is 10)")
    parser.add_argument("--reference", choices=("none", "every"), default="none")
    parser.add_argument("--live", type=int, default=4, metavar="BIN",
                        help="fit the map binned BIN×BIN after each sweep (0: off; default 4)")
    parser.add_argument("--buffer", type=int, default=1000, help="ring buffer frames")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="write the run file into DIR and keep it")
    parser.add_argument("--pace", choices=("realtime", "fast"), default="realtime",
                        help="realtime: the camera keeps wall time and loses frames read too "
                             "late (the target); fast: as fast as the pipeline goes, to see "
                             "its margin over real time")
    parser.add_argument("--pipeline", choices=("chain", "measure"), default="chain",
                        help="chain: the pieces in three threads (default); measure: the "
                             "measurement kind (nvsense widefield measure) in one thread")
    args = parser.parse_args()
    if args.pipeline == "measure":
        measure_pipeline(args)
        return

    bench = widefield_bench(sensor=(SIZE, SIZE), field_map="wire", pace=args.pace, seed=1,
                            drift=(0.5 / 60, -0.3 / 60))  # pixels/s: 0.5 and 0.3 px a minute
    bench.laser.on = True
    cam = bench.camera
    cam.exposure = EXPOSURE
    cam.frame_period = 1 / FPS
    cam.trigger_mode = "exposure_out"
    plan = SweepPlan(POINTS, args.reference)
    bench.mw.load_list(plan.hardware_list(FREQ, REFERENCE_FREQUENCY, cam.mw_trigger_lead), -10)
    bench.mw.output = True
    bench.mw.start_list()
    assembler = SweepAssembler(plan, TriggerTiming("exposure_out", cam.frame_period,
                                                   counter=cam.counter_source),
                               cam.frame_shape)
    frame_bytes = SIZE * SIZE * 2
    camera_rate = frame_bytes * FPS
    sweep_time = plan.entries / FPS

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"widefield_stream_{os.getpid()}.nc"
        cal = cam.calibration
        writer = CubeWriter(path, FREQ, cam.frame_shape, electrons_per_adu=cal.electrons_per_adu,
                            offset=cal.offset, reference=plan.reference == "every",
                            pixel_size=cam.pixel_size,
                            parameters={"exposure": EXPOSURE, "frame_rate": FPS},
                            parameter_units={"exposure": "s", "frame_rate": "Hz"})
        sweeps: queue.Queue = queue.Queue()
        live_in: queue.Queue = queue.Queue(maxsize=1)
        stats = {"write": [], "live": [], "live_done": 0, "misassigned": 0, "checked": 0,
                 "incomplete": 0, "drift": (0.0, 0.0)}
        tracker = DriftTracker()
        truth_by_frame: dict[int, float] = {}
        truth_lock = threading.Lock()

        last: list = []

        def write_loop() -> None:
            while (sweep := sweeps.get()) is not None:
                last[:] = [sweep]
                start = time.perf_counter()
                reg = tracker.update(sweep.signal.mean(axis=0, dtype=np.float32))
                writer.append_sweep(sweep, shift=reg.shift, drift_confidence=reg.confidence)
                stats["write"].append(time.perf_counter() - start)
                stats["drift"] = reg.shift
                if not sweep.complete:
                    stats["incomplete"] += 1
                with truth_lock:
                    for p in range(POINTS):
                        for number, expected in ((sweep.frame_number[p], FREQ[p]),) + (
                                ((sweep.reference_frame_number[p], REFERENCE_FREQUENCY),)
                                if sweep.reference is not None else ()):
                            if number < 0:
                                continue
                            stats["checked"] += 1
                            if truth_by_frame.pop(int(number), None) != expected:
                                stats["misassigned"] += 1
                if args.live:
                    try:
                        live_in.get_nowait()  # the live map takes only the latest cube
                    except queue.Empty:
                        pass
                    live_in.put(writer.accumulated())

        def live_loop() -> None:
            mapper = LiveMapper(FREQ, binning=args.live)
            while (pl := live_in.get()) is not None:
                start = time.perf_counter()
                try:
                    mapper.update(pl)
                except ValueError:
                    continue
                stats["live"].append(time.perf_counter() - start)
                stats["live_done"] += 1

        threads = [threading.Thread(target=write_loop)]
        if args.live:
            threads.append(threading.Thread(target=live_loop))
        for t in threads:
            t.start()
        render = 0.0
        frames = lost = 0
        cam.start(args.buffer)
        t_start = bench.sample.now()
        t0 = time.perf_counter()
        deadline = t0 + 60 * args.minutes
        target = int(60 * args.minutes * FPS)  # fast pace: frames of simulated time
        realtime = args.pace == "realtime"
        try:
            while (time.perf_counter() < deadline) if realtime else (frames < target):
                start = time.perf_counter()
                block = cam.read_frames(min_frames=1 if realtime else plan.entries,
                                        timeout=0.2 if realtime else 10.0)
                render += time.perf_counter() - start
                frames += len(block)
                lost += block.lost
                with truth_lock:
                    for truth in cam.frame_log:
                        truth_by_frame[truth.frame_number] = truth.frequency
                cam.frame_log.clear()
                for sweep in assembler.add(block):
                    sweeps.put(sweep)
                if realtime:
                    time.sleep(0.02)
                elif sweeps.qsize() > 2:  # fast pace: do not outrun the writer by much
                    time.sleep(0.05)
        finally:
            elapsed = time.perf_counter() - t0
            exposed = cam.frames_exposed
            cam.stop()
            sweeps.put(None)
            threads[0].join()
            if args.live:
                live_in.put(None)
                threads[1].join()
            writer.close("completed")
            size = path.stat().st_size
            if not args.keep:
                path.unlink()
            alone = writer_alone(folder, last[0], cam, plan) if last else float("nan")
        report = assembler.report
        writes = np.array(stats["write"])
        n_sweeps = len(writes)
        if not realtime:
            print(f"fast pace: {frames} frames ({frames / FPS:.0f} s of camera time) went "
                  f"through in {elapsed:.0f} s: {frames / FPS / elapsed:.2f}× real time")
        print(f"{elapsed:.0f} s at {FPS:.0f} frames/s, {SIZE}×{SIZE} pixels, {POINTS} points"
              f"{' + references' if plan.reference == 'every' else ''}: {frames} frames, "
              f"{n_sweeps} sweeps written ({size / 1e9:.2f} GB)")
        backlog = exposed - frames - report.lost_in_transfer
        print(f"frames exposed: {exposed}; received {frames}; still unread in the ring buffer "
              f"when the run stopped: {backlog}")
        print(f"frames lost: {report.lost_in_transfer} (of which overwritten in the camera's "
              f"ring buffer before they were read: {lost}), "
              f"duplicated: {report.duplicates}, rejected: {report.timing_rejects}, "
              f"misassigned: {stats['misassigned']} of {stats['checked']} checked, "
              f"incomplete sweeps: {stats['incomplete']}")
        print(f"camera data rate {camera_rate / 1e6:.1f} MB/s; writer {1e3 * writes.mean():.0f} ms "
              f"per {sweep_time:.2f} s sweep (max {1e3 * writes.max():.0f} ms): throughput "
              f"{sweep_time / writes.mean():.1f}× the camera rate (worst sweep "
              f"{sweep_time / writes.max():.1f}×)")
        print(f"writer alone (the last sweep written again 10 times, camera stopped): "
              f"{1e3 * alone:.0f} ms a sweep = {sweep_time / alone:.1f}× the camera rate")
        if args.live:
            live = np.array(stats["live"]) if stats["live"] else np.array([np.nan])
            print(f"live map (bin {args.live}): {stats['live_done']} updates, "
                  f"{1e3 * np.mean(live):.0f} ms each: {1 / np.mean(live):.1f} Hz possible, "
                  f"{stats['live_done'] / elapsed:.2f} Hz achieved (one per sweep)")
        print(f"camera simulation (its producer thread): {cam.frames_rendered} frames "
              f"rendered, {1e3 * cam.render_seconds / max(cam.frames_rendered, 1):.1f} ms each "
              f"({100 * cam.render_seconds / elapsed:.0f}% of one core); the reader spent "
              f"{1e3 * render / max(frames, 1):.2f} ms a frame in read_frames (waits included)")
        stamps = last[0].timestamp if last else np.array([0.0])
        true_drift = cam.drift_at(t_start + float(np.nanmean(stamps)))
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"drift of the last sweep written: registered {stats['drift'][0]:+.2f}, "
              f"{stats['drift'][1]:+.2f} px; true {true_drift[0]:+.2f}, {true_drift[1]:+.2f} px "
              f"(the drift steps every second, within a sweep)")
    bench.close()


def measure_pipeline(args: argparse.Namespace) -> None:
    """The target through the measurement kind (what ``nvsense widefield measure`` runs)."""
    from nvsense.instruments import load_bench
    from nvsense.instruments.simulated.widefield import WIDEFIELD_SAMPLE
    from nvsense.measure.documents import WidefieldMap, WidefieldSweep
    from nvsense.measure.lifecycle import execute
    from nvsense.measure.widefield import WidefieldMeasurement, WidefieldSettings
    from nvsense.measure.widefield.live_map import LIVE_MAP_PERIOD
    from nvsense.storage import Catalog
    from nvsense.storage.cube_writer import open_widefield_run

    entries = POINTS * (2 if args.reference == "every" else 1)
    sweeps = max(1, round(60 * args.minutes * FPS / entries))
    config = {
        "name": "widefield_stream",
        "sample": {**WIDEFIELD_SAMPLE, "field": [2e-3 / np.sqrt(3)] * 3, "seed": 1,
                   "pace": args.pace},
        "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                        "counter": {"driver": "simulated"},
                        "camera": {"driver": "simulated", "sensor": [SIZE, SIZE],
                                   "field_map": "wire", "drift": [0.5 / 60, -0.3 / 60]}},
    }
    settings = WidefieldSettings.parse({
        "range": f"{FREQ[0]}:{FREQ[-1]}:{POINTS}", "sweeps": sweeps, "exposure": EXPOSURE,
        "frame_period": 1 / FPS, "reference": args.reference, "live_binning": args.live,
        "repair": "mark", "buffer_frames": args.buffer})
    arrivals: list[float] = []
    fits: list[float] = []
    maps: list[float] = []
    partial: list[bool] = []

    def timing(doc: object) -> None:
        if isinstance(doc, WidefieldSweep):  # written (the writer is the first subscriber)
            arrivals.append(time.perf_counter())
        elif isinstance(doc, WidefieldMap) and not doc.message:
            if doc.fit_seconds > 0:  # (a refresh during the first sweep has no fit)
                fits.append(doc.fit_seconds)
            maps.append(time.perf_counter())
            partial.append(doc.partial_points > 0)

    cpu0 = os.times()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"widefield_measure_{os.getpid()}.nc"
        with load_bench(config) as bench:
            measurement = WidefieldMeasurement(settings, out=path)
            start = time.perf_counter()
            outcome = execute(measurement, bench, catalog=Catalog(folder / "nvsense-data"),
                              subscribers=[timing])
            elapsed = time.perf_counter() - start
            result = measurement.result(outcome)
            cam = bench.camera
            truth = {f.frame_number: f.frequency for f in cam.frame_log}
            rendered, render_s, produced = (cam.frames_rendered, cam.render_seconds,
                                            cam.frames_produced)
        cpu = os.times()
        ds = open_widefield_run(path)
        checked = misassigned = 0
        for name, expected in (("frame_number", FREQ),
                               ("ref_frame_number", np.full(POINTS, REFERENCE_FREQUENCY))):
            if name not in ds:
                continue
            for row in ds[name].values:
                for p, number in enumerate(row):
                    if number >= 0:
                        checked += 1
                        misassigned += truth.get(int(number)) != expected[p]
        acquired = float(ds["time"].values[-1]) if ds.sizes["sweep"] else float("nan")
        size = path.stat().st_size
        if not args.keep:
            path.unlink()
    pipeline = measurement.pipeline
    camera_time = result.frames / FPS
    sweep_time = entries / FPS
    busy = np.array(pipeline.busy if pipeline is not None and pipeline.busy else [np.nan])
    print(f"measure pipeline ({args.pace}): {result.status}, {result.sweeps} of {sweeps} "
          f"sweeps of {POINTS} points{' + references' if args.reference == 'every' else ''}, "
          f"{SIZE}×{SIZE} pixels at {FPS:.0f} frames/s (frame period "
          f"{1e3 * result.frame_period:.2f} ms), {result.frames} frames, {size / 1e9:.2f} GB")
    print(f"acquisition: last sweep ended {acquired:.1f} s after the sequence started "
          f"({result.sweeps * sweep_time:.1f} s of frames: "
          f"{result.sweeps * sweep_time / acquired:.3f}× real time); the whole run with set-up "
          f"and close {elapsed:.1f} s ({camera_time:.1f} s of camera time)")
    print(f"frames lost: {result.dropped_frames} (each marked, never shifted: "
          f"{result.marked_points} points marked; sweeps skipped {result.skipped_sweeps}; "
          f"sequence restarted {measurement.restarts} times after a sweep mostly lost, "
          f"dropping what the ring buffer held), "
          f"duplicated: {result.duplicated_frames}, misassigned: {misassigned} of {checked} "
          f"checked against the simulation")
    print(f"writer (registration + record + cube, its own thread: "
          f"{'yes' if pipeline is not None and pipeline.threaded else 'no'}): "
          f"{1e3 * np.mean(busy):.0f} ms per {sweep_time:.2f} s sweep (max "
          f"{1e3 * np.max(busy):.0f} ms): {sweep_time / np.mean(busy):.1f}× the camera rate "
          f"({SIZE * SIZE * 2 * FPS / 1e6:.1f} MB/s; worst sweep "
          f"{sweep_time / np.max(busy):.1f}×); most sweeps queued "
          f"{pipeline.max_waiting if pipeline else 0}, reader waited "
          f"{pipeline.waited if pipeline else 0:.1f} s for the queue")
    if maps:
        gaps = np.diff(maps) if len(maps) > 1 else np.array([np.nan])
        refreshed = int(np.sum(partial))
        during = [t for t in maps if arrivals and t <= arrivals[-1]]
        window = arrivals[-1] - start if arrivals else float("nan")
        fit_ms = 1e3 * np.mean(fits) if fits else float("nan")
        print(f"live map (bin {args.live}): {len(maps)} updates ({len(maps) - refreshed} after "
              f"a sweep, {refreshed} refreshed during a sweep with its frames so far, every "
              f"{LIVE_MAP_PERIOD:g} s at most), {fit_ms:.0f} ms a fit "
              f"({1e3 / fit_ms:.1f} Hz possible); {len(during) / window:.2f} Hz achieved "
              f"during acquisition ({len(during)} maps until the last sweep was written, "
              f"{window:.1f} s; a sweep takes {sweep_time:.2f} s); median gap "
              f"{np.median(gaps):.2f} s, longest {np.max(gaps):.2f} s")
    if len(arrivals) > 1:
        print(f"sweeps written every {np.median(np.diff(arrivals)):.3f} s (median)")
    print(f"camera simulation: {rendered} frames rendered, {1e3 * render_s / max(rendered, 1):.1f}"
          f" ms each ({100 * render_s / max(elapsed, 1e-9):.0f}% of one core), "
          f"{produced} by its producer thread")
    user, system = cpu.user - cpu0.user, cpu.system - cpu0.system
    print(f"process CPU: {user + system:.0f} s in {elapsed:.0f} s "
          f"({(user + system) / elapsed:.2f} cores); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"drift of the last sweep: {result.drift_px[0]:+.2f}, {result.drift_px[1]:+.2f} px")


def writer_alone(folder: Path, sweep: object, cam: object, plan: SweepPlan) -> float:
    """Median time to append one sweep (with its registration) when nothing else runs."""
    cal = cam.calibration  # type: ignore[attr-defined]
    path = folder / f"widefield_stream_alone_{os.getpid()}.nc"
    tracker = DriftTracker()
    times = []
    try:
        with CubeWriter(path, FREQ, cam.frame_shape,  # type: ignore[attr-defined]
                        electrons_per_adu=cal.electrons_per_adu, offset=cal.offset,
                        reference=plan.reference == "every") as run:
            for i in range(11):
                start = time.perf_counter()
                reg = tracker.update(sweep.signal.mean(axis=0, dtype=np.float32))  # type: ignore[attr-defined]
                run.append_sweep(sweep, shift=(reg.shift[0] + 0.4 * i, reg.shift[1]))  # type: ignore[arg-type]
                if i:  # the first pays for imports
                    times.append(time.perf_counter() - start)
    finally:
        path.unlink(missing_ok=True)
    return float(np.median(times))


if __name__ == "__main__":
    main()
