"""``nvsense gui``: option checks, and a screenshot of the real window during a live run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nvsense.cli import build_parser, main
from nvsense.storage import Catalog


def test_screenshot_needs_quit_after(capsys):
    assert main(["gui", "--screenshot", "x.png"]) == 2
    assert "--screenshot needs --quit-after" in capsys.readouterr().err


def test_screenshot_must_be_a_png(capsys):
    assert main(["gui", "--screenshot", "x.jpg", "--quit-after", "1"]) == 2
    assert "give a .png file name" in capsys.readouterr().err


def test_the_command_does_not_import_qt_until_it_runs():
    # `nvsense --help` and the other commands must work where Qt cannot start
    code = ("import argparse, sys; from nvsense.cli import gui; "
            "p = argparse.ArgumentParser(); gui.register(p.add_subparsers()); "
            "a = p.parse_args(['gui', '--start', 'odmr', '--pace', 'fast']); "
            "print(a.start, a.pace, 'PySide6' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["odmr", "fast", "False"]
    assert "gui" in build_parser().format_help()


def test_screenshot_of_a_live_odmr_run(tmp_path: Path):
    png = tmp_path / "window.png"
    data = tmp_path / "data"
    ini = tmp_path / "gui.ini"
    ini.write_text("[odmr]\nsweeps=1000\npoints=281\nn_lines=8\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "nvsense", "gui", "--pace", "fast", "--start", "odmr",
         "--screenshot", str(png), "--quit-after", "2", "--settings", str(ini),
         "--data-dir", str(data)],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"screenshot: {png}" in proc.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    # the run was going when the window closed: it was stopped and recorded as such
    (run,) = Catalog(data).records()
    assert run["status"] == "aborted"
    assert run["abort_reason"] == "stopped by user (window closed)"
    assert run["n_records"] >= 1


def test_replay_of_a_run_that_cannot_be_found_is_bad_input(capsys, tmp_path):
    assert main(["gui", "--replay", str(tmp_path / "missing.nc")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nvsense gui: --replay ") and "missing.nc" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["gui", "--replay", "latest", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "no run in the catalogue" in capsys.readouterr().err
    assert main(["gui", "--replay", "latest", "--start", "odmr"]) == 2
    assert "cannot go with --start" in capsys.readouterr().err


def test_replay_of_the_latest_run_in_the_window(tmp_path: Path):
    """`nvsense gui --replay latest` shows the stored run: the window is drawn with its
    sweeps, and nothing is measured or written."""
    from nvsense.instruments import load_bench
    from nvsense.measure import run_odmr

    data = tmp_path / "data"
    with load_bench("simulated", pace="fast") as bench:
        result = run_odmr(bench, {"sweeps": 3, "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:281"]}, data_dir=data)
    png = tmp_path / "replay.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "nvsense", "gui", "--replay", "latest", "--pace", "fast",
         "--screenshot", str(png), "--quit-after", "3", "--settings", str(tmp_path / "g.ini"),
         "--data-dir", str(data)],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    # the replayed run only: nothing new was recorded
    assert list(Catalog(data).runs().index) == [result.run_id]
