"""Instrument tests: the NI-DAQmx doubles (``nidaq_doubles.py``) are importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
