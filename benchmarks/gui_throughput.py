"""Display throughput of the nvsense window while the simulated bench sweeps fast.

The real :class:`nvsense.gui.main_window.MainWindow` (offscreen Qt) runs ODMR on a simulated
bench paced in real time with 201-point sweeps (one NV axis: two lines, B∥).  A first short
run with a negligible dwell measures how fast fit, file and display together can go with the
window open; the dwell then fills the rest of 1/50 s so that the bench produces 50 sweeps/s
(if the machine allows it at all; the printout says so).  Printed:

- sweeps published by the measurement and sweeps per second;
- display updates per second, and how many sweeps the display coalesced (skipped on the
  spectrum plot; the waterfall still gets every row);
- latency from a sweep's publication to the end of the display update that showed it, and to
  the next repaint of the spectrum plot (median, 95th percentile, max);
- the share of time the GUI thread was busy, and how long its event loop was ever held up
  (the gaps of a 10 ms heartbeat timer beyond 10 ms: how long the window was unresponsive);
- the check that no data were lost: sweeps in the run file == sweeps published == rows
  delivered to the display.

A second case runs the default 8-line ensemble (vector field fit) at whatever rate its fit
allows.  Usage::

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_throughput.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QObject, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from nvsense.gui.app import configure_threads
from nvsense.gui.bridge import DEFAULT_MIN_INTERVAL, SweepBatch
from nvsense.gui.main_window import MainWindow
from nvsense.storage import open_run

POINTS = 201
HEARTBEAT_MS = 10
TARGET_RATE = 50.0  # sweeps per second

#: One NV axis of the built-in sample: two lines, B∥ in closed form (a cheap per-sweep fit).
ONE_AXIS_BENCH = {
    "name": "simulated, one NV axis",
    "sample": {"field": ["0.4 mT", "1.1 mT", "1.9 mT"], "axes": [0], "seed": 1},
    "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                    "counter": {"driver": "simulated"}},
    "limits": {"frequency": ["2.5 GHz", "3.3 GHz"], "max_mw_power": "0 dBm"},
}


class PaintClock(QObject):
    """Times the repaints of a widget's viewport (when the new data reach the screen)."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: float | None = None  # wall time of the newest event not yet painted
        self.latencies: list[float] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.pending is not None:
            self.latencies.append(time.time() - self.pending)
            self.pending = None
        return False


def run_case(app: QApplication, name: str, bench: Any, form: dict[str, str], seconds: float,
             workdir: Path) -> dict[str, Any]:
    """Run ODMR in the real window for ``seconds``, then stop it; measure what the display
    did and compare the run file with what was published."""
    store = QSettings(str(workdir / f"{len(name)}-{time.time_ns()}.ini"),
                      QSettings.Format.IniFormat)
    window = MainWindow(bench, pace="realtime", data_dir=workdir / "data", settings=store)
    window.resize(1600, 950)
    window.show()
    clock = PaintClock()
    window.odmr_panel.plots.spectrum.viewport().installEventFilter(clock)
    rows_delivered = 0
    first_sweep: list[float] = []

    def on_batch(batch: SweepBatch) -> None:
        nonlocal rows_delivered
        rows_delivered += len(batch.rows)
        clock.pending = batch.latest.wall_time
        if not first_sweep:
            first_sweep.append(batch.first_wall_time)

    window.bridge.sweeps.connect(on_batch)
    for key, value in form.items():
        window.odmr_panel.form.set_value(key, value)
    if not window.start_odmr():
        raise SystemExit(f"{name}: could not start: {window.odmr_panel.banner.text()}")
    # run the real event loop; a 10 ms heartbeat timer shows how long it was ever held up
    beats: list[float] = []
    heart = QTimer()
    heart.setTimerType(Qt.TimerType.PreciseTimer)
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))
    heart.start(HEARTBEAT_MS)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    c0 = time.thread_time()
    loop.exec()
    gui_cpu = time.thread_time() - c0
    heart.stop()
    stalls = np.diff(beats) - HEARTBEAT_MS / 1000 if len(beats) > 1 else np.zeros(0)
    stop_wall = time.time()
    published_at_stop = window.bridge.stats.sweeps_received
    window.stop_run()
    if not window.wait_idle(120):
        raise SystemExit(f"{name}: the run did not stop")
    stats = window.bridge.stats
    result = window.last_result
    with open_run(result.file) as ds:
        in_file = int(ds.sizes["sweep"])
    window.shutdown()
    window.deleteLater()
    app.processEvents()
    measured = stop_wall - (first_sweep[0] if first_sweep else stop_wall)
    return {
        "name": name,
        "published": stats.sweeps_received,
        "published_at_stop": published_at_stop,
        "in_file": in_file,
        "rows_delivered": rows_delivered,
        "elapsed": max(measured, 1e-9),
        "seconds": seconds,
        "gui_busy": gui_cpu / seconds,
        "stalls": np.maximum(stalls, 0.0),
        "updates": stats.updates,
        "coalesced": stats.sweeps_coalesced,
        "latency": np.array(stats.latencies),
        "oldest_latency": np.array(stats.oldest_latencies),
        "paint_latency": np.array(clock.latencies),
    }


def report(case: dict[str, Any]) -> bool:
    def ms(values: np.ndarray) -> str:
        if values.size == 0:
            return "n/a"
        p50, p95 = np.percentile(values, [50, 95]) * 1e3
        return f"median {p50:.1f} ms, 95th pct {p95:.1f} ms, max {values.max() * 1e3:.1f} ms"

    c = case
    lost = not (c["in_file"] == c["published"] == c["rows_delivered"])
    rate = c["published_at_stop"] / c["elapsed"]
    print(f"== {c['name']}")
    print(f"  sweeps published         {c['published_at_stop']} in {c['elapsed']:.1f} s "
          f"({rate:.1f} sweeps/s of {POINTS} points)")
    print(f"  display updates          {c['updates']} ({c['updates'] / c['elapsed']:.1f} /s, "
          f"at most {1 / DEFAULT_MIN_INTERVAL:.0f} /s); {c['coalesced']} sweeps coalesced "
          f"({100 * c['coalesced'] / max(c['published'], 1):.0f} %)")
    print(f"  GUI thread busy          {100 * c['gui_busy']:.0f} % of the time (CPU time of "
          "the event loop)")
    print(f"  event loop held up       {ms(c['stalls'])} (beyond a {HEARTBEAT_MS} ms "
          "heartbeat timer)")
    print(f"  event -> display updated {ms(c['latency'])}")
    print(f"  oldest coalesced sweep   {ms(c['oldest_latency'])}")
    print(f"  event -> repaint         {ms(c['paint_latency'])}")
    print(f"  sweeps in the run file   {c['in_file']}  (published {c['published']}, rows to "
          f"the waterfall {c['rows_delivered']}): {'DATA LOST' if lost else 'nothing lost'}")
    return not lost


def fastest_rate(app: QApplication, bench: Any, form: dict[str, str], workdir: Path) -> float:
    """Sweeps per second of the window's ODMR run with a negligible dwell: what fit, file and
    display together allow on this machine."""
    case = run_case(app, "calibration", bench, {**form, "dwell": "1 us"}, 4.0, workdir)
    return case["published_at_stop"] / case["elapsed"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    args = parser.parse_args()
    configure_threads()  # as `nvsense gui` does
    app = QApplication.instance() or QApplication(sys.argv[:1])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f}; Python "
          f"{sys.version.split()[0]}, switch interval {sys.getswitchinterval() * 1e3:g} ms")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        form = {"start": "2.80 GHz", "stop": "2.94 GHz", "points": str(POINTS),
                "dwell": "1 us", "n_lines": "2", "sweeps": "1000000", "duration": "",
                "extra_ranges": "", "mw_power": "-10 dBm", "model": "lorentzian",
                "field_guess": "", "laser_power": "", "mode": "auto"}
        fastest = fastest_rate(app, ONE_AXIS_BENCH, form, workdir)
        # the dwell fills what the fit and file leave of 1/50 s: the bench then makes 50/s
        spare = 1.0 / TARGET_RATE - 1.0 / fastest
        dwell = max(spare / POINTS, 1e-6)
        print(f"fastest with the window open: {fastest:.1f} sweeps/s -> dwell "
              f"{dwell * 1e6:.1f} µs for {TARGET_RATE:.0f} sweeps/s"
              + ("" if spare > 0 else " (not reachable here: the bench runs flat out)"))
        form["dwell"] = f"{dwell * 1e6:.3f} us"
        ok &= report(run_case(app, f"one NV axis (B∥), bench paced at {TARGET_RATE:.0f} "
                              "sweeps/s", ONE_AXIS_BENCH, form, args.seconds, workdir))
        form8 = {**form, "n_lines": "8", "dwell": "1 us"}
        ok &= report(run_case(app, "NV ensemble, 8 lines (vector fit), flat out", None, form8,
                              args.seconds, workdir))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
