"""The widefield sweep pipeline: finished sweeps written beside the camera, in order, with a
bounded queue; a write failure stops the run with one clear error and the bench safe; a stop
or a kill -9 keeps every completed sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import yaml

from nvsense.cli import main
from nvsense.instruments import load_bench
from nvsense.measure import RunControl
from nvsense.measure.documents import RunFinished, WidefieldMap, WidefieldSweep
from nvsense.measure.lifecycle import execute
from nvsense.measure.widefield import WidefieldMeasurement, WidefieldSettings
from nvsense.measure.widefield.sweep_pipeline import SweepPipeline
from nvsense.storage import Catalog
from nvsense.storage.cube_writer import CubeWriter, open_widefield_run

RANGE = "2.79GHz:2.95GHz:81"


def bench_config(pace: str = "fast") -> dict:
    return {
        "name": "widefield_pipeline",
        "sample": {"field": ["1.1547 mT"] * 3, "axes": [0], "linewidth": "6 MHz",
                   "contrast": 0.03, "pace": pace},
        "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                        "counter": {"driver": "simulated"},
                        "camera": {"driver": "simulated", "sensor": [32, 32],
                                   "field_map": "wire"}},
        "safe_state": {"laser": "off"},
    }


def run(tmp_path, settings: dict, *, threaded: bool | None = True, pace: str = "fast",
        subscribers=(), control: RunControl | None = None):
    """A widefield run on a 32×32 camera; its result, its measurement and its bench's state
    after the run (RF output, laser, camera acquiring)."""
    values = WidefieldSettings.parse({"range": RANGE, "live_binning": 0, "exposure": "1 ms",
                                      **settings})
    with load_bench(bench_config(pace)) as bench:
        measurement = WidefieldMeasurement(values, out=tmp_path / "run.nc", threaded=threaded)
        outcome = execute(measurement, bench, catalog=Catalog(tmp_path / "data"),
                          subscribers=list(subscribers), control=control)
        state = (bench.mw.output, bench.laser.on, bench.camera.acquiring)
    return measurement.result(outcome), measurement, state


# --- the pipeline on its own ---------------------------------------------------------------


def test_jobs_are_processed_in_order_in_a_thread_of_their_own():
    seen: list[tuple[int, str]] = []
    pipeline = SweepPipeline(lambda job: seen.append((job, threading.current_thread().name)))
    for job in range(20):
        pipeline.submit(job)
    pipeline.finish()
    assert [job for job, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"nvsense-widefield-writer"}
    assert len(pipeline.busy) == 20


def test_a_full_queue_holds_the_submitter_back():
    gate = threading.Event()
    done: list[int] = []
    pipeline = SweepPipeline(lambda job: (gate.wait(), done.append(job)), depth=2)
    pipeline.submit(0)                       # taken by the thread, which waits at the gate
    submitter = threading.Thread(target=lambda: [pipeline.submit(j) for j in (1, 2, 3)])
    submitter.start()
    submitter.join(timeout=1.0)
    assert submitter.is_alive()              # 1 and 2 fill the queue: 3 waits for room
    gate.set()
    submitter.join(timeout=60)
    pipeline.finish()
    assert done == [0, 1, 2, 3] and pipeline.waited > 0


def test_a_failure_is_raised_at_the_next_hand_over_and_later_jobs_are_dropped():
    processed: list[int] = []

    def process(job):
        if job == 1:
            raise OSError("No space left on device")
        processed.append(job)

    pipeline = SweepPipeline(process)
    pipeline.submit(0)
    pipeline.submit(1)
    with pytest.raises(OSError, match="No space left"):
        for job in range(2, 1000):           # raised at a hand-over soon after the failure
            pipeline.submit(job)
    pipeline.close()                         # never raises
    with pytest.raises(OSError):
        pipeline.finish()
    assert processed[:1] == [0] and 1 not in processed and max(processed) < 1000


def test_inline_jobs_run_at_once_in_the_submitting_thread():
    seen: list[str] = []
    pipeline = SweepPipeline(lambda job: seen.append(threading.current_thread().name),
                             threaded=False)
    pipeline.submit(0)
    assert seen == [threading.current_thread().name]
    pipeline.finish()


# --- in a run -------------------------------------------------------------------------------


def test_in_real_time_sweeps_are_written_beside_the_camera(tmp_path):
    writers: list[str] = []
    docs: list = []

    def note(doc):
        docs.append(doc)
        if isinstance(doc, WidefieldSweep):
            writers.append(threading.current_thread().name)

    result, measurement, state = run(tmp_path, {"sweeps": 4, "live_binning": 4}, threaded=None,
                                     pace="realtime", subscribers=[note])
    assert measurement.pipeline.threaded
    assert result.status == "completed" and result.sweeps == 4
    assert writers == ["nvsense-widefield-writer"] * 4
    # a 1000-frame ring buffer holds the whole run: nothing can be lost
    assert result.dropped_frames == 0 and result.marked_points == 0
    assert [d.index for d in docs if isinstance(d, WidefieldSweep)] == [0, 1, 2, 3]
    assert isinstance(docs[-1], RunFinished)
    assert [d for d in docs if isinstance(d, WidefieldMap)][-1].n_sweeps == 4
    ds = open_widefield_run(result.file)
    assert ds.sizes["sweep"] == 4 and ds.attrs["pl_sweeps"] == 4
    assert np.isfinite(ds["pl"].values).all()
    assert state == (False, False, False)    # RF off, laser off, camera stopped


def test_a_write_failure_stops_the_run_with_one_error_and_the_bench_safe(tmp_path,
                                                                         monkeypatch):
    real = CubeWriter.append_values
    calls = []

    def append_values(self, values):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, values)

    monkeypatch.setattr(CubeWriter, "append_values", append_values)
    result, _, state = run(tmp_path, {"sweeps": 8})
    assert result.status == "aborted"
    assert result.reason.startswith("sweep 3 could not be written to ")
    assert "No space left on device" in result.reason
    assert "every sweep before it is in the file" in result.reason
    assert isinstance(result.error, OSError)
    assert state == (False, False, False)
    ds = open_widefield_run(result.file)
    assert ds.sizes["sweep"] == 2 == result.sweeps and ds.attrs["status"] == "aborted"
    assert ds.attrs["result_sweeps"] == 2
    assert np.isfinite(ds["pl"].values).all()


def test_the_command_reports_a_write_failure_in_one_line(tmp_path, monkeypatch, capsys):
    real = CubeWriter.append_values
    calls = []

    def append_values(self, values):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(self, values)

    monkeypatch.setattr(CubeWriter, "append_values", append_values)
    bench = tmp_path / "bench.yaml"
    bench.write_text(yaml.safe_dump(bench_config("realtime")))
    code = main(["widefield", "measure", "--bench", str(bench), "--range", RANGE,
                 "--sweeps", "5", "--exposure", "1ms", "--live-bin", "0",
                 "--out", str(tmp_path / "run.nc"), "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "run aborted" in line]
    assert len(lines) == 1 and "sweep 2 could not be written" in lines[0]
    assert "Traceback" not in err
    assert open_widefield_run(tmp_path / "run.nc").sizes["sweep"] == 1


def test_a_stop_writes_every_sweep_already_handed_over(tmp_path):
    control = RunControl()
    published: list[int] = []

    def stop_at_the_first(doc):
        if isinstance(doc, WidefieldSweep):
            published.append(doc.index)
            control.stop()

    result, _, state = run(tmp_path, {"sweeps": 20}, subscribers=[stop_at_the_first],
                           control=control)
    assert result.status == "aborted" and result.reason == "stopped by user"
    assert result.sweeps >= 1 and published == list(range(result.sweeps))
    ds = open_widefield_run(result.file)
    assert ds.sizes["sweep"] == result.sweeps == ds.attrs["pl_sweeps"]
    assert state == (False, False, False)


def test_a_kill_during_the_writer_thread_keeps_every_completed_sweep(tmp_path):
    """The process dies (no clean-up at all) in the pipeline's thread, after the second
    sweep's record, while the camera runs in real time."""
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(bench_config("realtime")))
    script = textwrap.dedent(f"""
        import json, os
        from nvsense.instruments import load_bench
        from nvsense.measure.documents import WidefieldSweep
        from nvsense.measure.widefield import run_widefield
        from nvsense.storage import Catalog

        def die(doc):
            if isinstance(doc, WidefieldSweep) and doc.index == 1:
                os._exit(9)

        with load_bench(json.load(open({str(bench)!r}))) as bench:
            run_widefield(bench, {{"range": {RANGE!r}, "sweeps": 50, "live_binning": 0,
                                   "exposure": "1 ms"}},
                          out={str(tmp_path / "run.nc")!r},
                          catalog=Catalog({str(tmp_path / "data")!r}), subscribers=[die])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ})
    assert done.returncode == 9, done.stderr
    ds = open_widefield_run(tmp_path / "run.nc")
    assert ds.sizes["sweep"] == 2 and ds.attrs["status"] == "running"
    assert np.isfinite(ds["pl"].values).all()
