"""nvsense: NV-centre quantum sensing toolkit.

Top-level shortcuts (imported on first use, so ``import nvsense`` stays light):

- :func:`nvsense.open_run` — open a run file as an xarray Dataset;
- :class:`nvsense.Catalog` — the SQLite catalogue of runs in a data folder;
- :func:`nvsense.load_bench` — a bench from a bench file (default: the simulated bench);
- :func:`nvsense.run_odmr` — measure CW-ODMR on a bench;
- :func:`nvsense.load_spectrum` — one ODMR spectrum from a file (CSV, Qudi, MATLAB, NumPy, run
  files), as an xarray DataArray in Hz.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "open_run": "nvsense.storage",
    "Catalog": "nvsense.storage",
    "load_bench": "nvsense.instruments",
    "run_odmr": "nvsense.measure",
    "OdmrSettings": "nvsense.measure",
    "load_spectrum": "nvsense.io",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nvsense' has no attribute {name!r}")
