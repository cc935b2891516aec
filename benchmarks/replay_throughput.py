"""How fast a stored run replays: documents made from a run file, and the window drawing them.

A 200-sweep, 8-line ODMR run of the simulated bench (fast pace, 281 points) is recorded once;
then printed:

- opening the file for replay (``replay_source``);
- making its documents (``replay_documents``: the running averages, the stored fits as
  ``FitSummary`` with the curve of each running average on a 1500-point grid, the resonance
  verdict of every average), sweeps per second;
- the real window (offscreen) replaying it as fast as it draws (``MainWindow.replay``, speed
  ``None``): sweeps per second from Start to the end, display updates and sweeps coalesced.

Usage::

    QT_QPA_PLATFORM=offscreen python benchmarks/replay_throughput.py [--sweeps 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=200)
    args = parser.parse_args()

    from nvsense.instruments import load_bench
    from nvsense.measure import run_odmr
    from nvsense.measure.replay import replay_documents, replay_source

    tmp = Path(tempfile.mkdtemp(prefix="nvsense-replay-"))
    with load_bench("simulated", pace="fast") as bench:
        t = time.perf_counter()
        result = run_odmr(bench, {"sweeps": args.sweeps, "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:281"]}, data_dir=tmp / "data")
        recorded = time.perf_counter() - t
    print(f"recorded {result.sweeps} sweeps of 281 points, 8 lines, in {recorded:.1f} s "
          f"({result.sweeps / recorded:.1f} sweeps/s: measuring and fitting)")

    t = time.perf_counter()
    replay_source(result.file)
    first = time.perf_counter() - t
    t = time.perf_counter()
    stored = replay_source(result.file)
    opened = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(1 for _when, _doc in replay_documents(stored)) - 2
    made = time.perf_counter() - t
    print(f"open for replay            {opened * 1e3:.0f} ms ({first * 1e3:.0f} ms the first "
          "time: importing xarray)")
    print(f"documents made             {n} sweeps in {made:.2f} s ({n / made:.0f} sweeps/s, "
          f"{made / n * 1e3:.1f} ms per sweep)")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from nvsense.gui.app import configure_threads
    from nvsense.gui.main_window import MainWindow

    configure_threads()
    app = QApplication.instance() or QApplication([])
    window = MainWindow("simulated", pace="fast", data_dir=tmp / "data",
                        settings=QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat))
    window.show()
    app.processEvents()
    t = time.perf_counter()
    assert window.replay(result.file)
    window.wait_idle(600)
    shown = time.perf_counter() - t
    stats = window.bridge.stats
    print(f"window replay (fast)       {stats.sweeps_received} sweeps in {shown:.2f} s "
          f"({stats.sweeps_received / shown:.0f} sweeps/s); {stats.updates} display updates, "
          f"{stats.sweeps_coalesced} sweeps coalesced; waterfall rows "
          f"{window.odmr_panel.plots.waterfall_rows}")
    window.shutdown()


if __name__ == "__main__":
    main()
