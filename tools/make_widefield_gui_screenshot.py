"""Draw docs/images/gui_widefield.png: the GUI's widefield tab after a run started from its
form on the simulated bench of examples/benches/widefield.yaml (bin 2 at 1 ms: 32×32 frames and live
map, the cursor on the wire).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python tools/make_widefield_gui_screenshot.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from nvsense.gui.widefield_panel import WidefieldPanel
    from nvsense.instruments import load_bench

    app = QApplication.instance() or QApplication([])
    config = yaml.safe_load((ROOT / "examples/benches/widefield.yaml").read_text())
    config["sample"]["seed"] = 3
    with tempfile.TemporaryDirectory() as tmp, load_bench(config, pace="fast") as bench:
        panel = WidefieldPanel(bench=lambda: bench, data_dir=lambda: Path(tmp) / "data")
        panel.resize(1300, 800)
        panel.show()
        panel.form.set_values({"range": "2.79GHz:2.95GHz:101", "sweeps": "6",
                               "exposure": "1ms", "binning": "2", "reference": "none",
                               "out": "wire.nc"})
        if not panel.start():
            raise SystemExit(panel.banner.text())
        while panel.last_result is None:
            app.processEvents()
            time.sleep(0.01)
        if isinstance(panel.last_result, BaseException):
            raise SystemExit(str(panel.last_result))
        panel.set_cursor(16, 14)
        app.processEvents()
        out = ROOT / "docs/images/gui_widefield.png"
        panel.grab().save(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
