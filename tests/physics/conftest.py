"""Physics tests: make the independent reference (nv_reference.py beside this file) importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
