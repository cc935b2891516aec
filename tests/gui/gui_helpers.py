"""Helpers of the window tests (conftest.py puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: ODMR form values for quick runs on the built-in simulated bench (8 lines: the vector).
QUICK_ODMR = {"start": "2.80 GHz", "stop": "2.94 GHz", "points": "281", "dwell": "1 ms",
              "n_lines": "8", "sweeps": "400", "duration": ""}


def simulated_bench(**faults: Any) -> dict[str, Any]:
    """The built-in simulated bench as a mapping, with injected ``sample.faults``."""
    import yaml

    from nvsense.instruments.config import builtin_bench_path

    config = yaml.safe_load(Path(builtin_bench_path("simulated")).read_text())
    if faults:
        config["sample"]["faults"] = faults
    return config


def set_form(form: Any, values: dict[str, str]) -> None:
    """Type values into a settings form as a user would."""
    for key, text in values.items():
        form.set_value(key, text)
