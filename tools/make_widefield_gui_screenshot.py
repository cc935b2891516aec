"""Draw docs/images/gui_widefield.png: the GUI's widefield tab after a run recorded on the
simulated bench of examples/benches/widefield.yaml (live map 32×32, the cursor on the wire).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python tools/make_widefield_gui_screenshot.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from nvsense.gui.widefield_panel import WidefieldPanel
    from nvsense.instruments import load_bench
    from nvsense.measure.widefield import run_widefield
    from nvsense.storage import Catalog

    app = QApplication.instance() or QApplication([])
    config = yaml.safe_load((ROOT / "examples/benches/widefield.yaml").read_text())
    config["sample"]["seed"] = 3
    docs: list = []
    with tempfile.TemporaryDirectory() as tmp, load_bench(config) as bench:
        run_widefield(bench, {"range": "2.79GHz:2.95GHz:101", "sweeps": 6, "live_binning": 2},
                      out=Path(tmp) / "wire.nc", catalog=Catalog(Path(tmp) / "data"),
                      subscribers=[docs.append])
    panel = WidefieldPanel()
    panel.resize(1100, 800)
    panel.show()
    for doc in docs:
        panel.handle(doc)
    panel.set_cursor(16, 14)
    app.processEvents()
    out = ROOT / "docs/images/gui_widefield.png"
    panel.grab().save(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
