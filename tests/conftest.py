"""Shared test set-up: Qt runs headless, matplotlib draws to files."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
