"""``nvsense gui``: the experimentalist's window (PySide6 + pyqtgraph).

Qt is imported only when the command runs, so the rest of the command line works on machines
without a display or Qt's system libraries.  ``--screenshot PNG --quit-after SECONDS`` captures
the real window (also offscreen, ``QT_QPA_PLATFORM=offscreen``) after the measurement started
with ``--start`` has run for that long, then closes it (stopping the run, bench left safe).
``--replay RUN`` shows a finished run (a run file, a run id or ``latest``) as if it were live,
through the same display path (:mod:`nvsense.measure.replay`); nothing is sent to the bench.

Exit codes: 0 closed normally, 1 the run started with ``--start`` could not start or was
aborted by an instrument fault (or Qt could not start), 2 bad options (a ``--replay`` run that
cannot be found or read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import EXIT_BAD_INPUT, EXIT_FAULT

__all__ = ["QT_SYSTEM_PACKAGES", "START_CHOICES", "register", "run"]

#: ``--start``: every measurement tab of the window (nvsense.gui.main_window.START_NAMES;
#: written out here so that the command line does not import Qt).
START_CHOICES = ("odmr", "track", "lockin", "pulsed", "widefield")
#: Debian/Ubuntu packages Qt needs besides the Python wheels.
QT_SYSTEM_PACKAGES = "libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3"


def register(subparsers: Any) -> None:
    """Add ``nvsense gui``."""
    p = subparsers.add_parser(
        "gui", help="the live window: bench, ODMR, tracking magnetometer, data",
        description="Open the nvsense window on a bench (default: the built-in simulated "
                    "bench, paced in real time).  Settings are remembered between sessions.")
    p.add_argument("--bench", metavar="FILE", help="bench file (YAML) or built-in bench name; "
                   "default: the one of the last session, else the simulated bench")
    p.add_argument("--start", choices=START_CHOICES,
                   help="start this measurement with its tab's settings at once (lockin: "
                        "lock-in tracking)")
    p.add_argument("--replay", metavar="RUN",
                   help="show a finished odmr, track or widefield run as if it were live: a run "
                        "file, a run id or latest / latest-KIND (`nvsense runs` lists them); with "
                        "--pace fast as fast as the window draws, else at the recorded pace")
    p.add_argument("--screenshot", metavar="PNG", type=Path,
                   help="save a picture of the window to PNG (needs --quit-after)")
    p.add_argument("--quit-after", metavar="SECONDS", type=float,
                   help="take the screenshot (if asked) and close the window after this time")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default: the last "
                   "session's, else $NVSENSE_DATA_DIR or ./nvsense-data)")
    p.add_argument("--pace", choices=("realtime", "fast"), default="realtime",
                   help="pace of a simulated bench: as a real bench (default), or as fast as "
                        "it goes")
    p.add_argument("--settings", metavar="INI", type=Path,
                   help="keep the window's settings in this file instead of the user's Qt "
                        "settings (e.g. for reproducible screenshots)")
    theme = p.add_mutually_exclusive_group()
    theme.add_argument("--dark", dest="dark", action="store_true", default=None,
                       help="dark plots (default: as in the last session)")
    theme.add_argument("--light", dest="dark", action="store_false", help="light plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``nvsense gui``; returns the exit code."""
    if args.screenshot is not None and args.quit_after is None:
        print("nvsense gui: --screenshot needs --quit-after SECONDS (when to take it)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.quit_after is not None and not args.quit_after >= 0:
        print(f"nvsense gui: --quit-after {args.quit_after:g} must be 0 or more seconds",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.screenshot is not None and args.screenshot.suffix.lower() != ".png":
        print(f"nvsense gui: --screenshot {args.screenshot}: give a .png file name",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    replay = None
    if args.replay is not None:
        if args.start is not None:
            print("nvsense gui: --replay shows a stored run; it cannot go with --start",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        replay = _replay_file(args.replay, args.data_dir)
        if replay is None:
            return EXIT_BAD_INPUT
    try:
        from ..gui.app import GuiOptions, run_gui
    except ImportError as exc:
        print(f"nvsense gui: Qt could not start: {exc}\nInstall the Python side with "
              "`pip install nvsense` (PySide6, pyqtgraph) and, on Debian/Ubuntu, the system "
              f"libraries with `apt-get install {QT_SYSTEM_PACKAGES}`.", file=sys.stderr)
        return EXIT_FAULT
    options = GuiOptions(bench=args.bench, start=args.start, screenshot=args.screenshot,
                         quit_after=args.quit_after, data_dir=args.data_dir, pace=args.pace,
                         settings_file=args.settings, dark=args.dark, replay=replay)
    return run_gui(options)


def _replay_file(target: str, data_dir: str | None) -> Path | None:
    """The run file of ``--replay RUN``, checked to be a run that replays (the message
    printed and ``None`` otherwise)."""
    from ..export.runs import resolve_run
    from ..measure.replay import ReplayError, replay_source
    from ..storage import Catalog, CatalogError, RunFileError

    try:
        catalog = Catalog(data_dir) if data_dir and not Path(target).exists() else None
        path = resolve_run(target, catalog)
        replay_source(path)
    except (CatalogError, RunFileError, ReplayError, OSError, ValueError) as exc:
        print(f"nvsense gui: --replay {target}: {exc}", file=sys.stderr)
        return None
    return path
