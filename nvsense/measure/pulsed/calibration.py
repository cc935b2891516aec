"""The latest pulsed calibration of each bench: results that flow on to the next protocol.

A Rabi run stores its π pulse (with the microwave power it was measured at), a pulsed-ODMR
run the resonance frequency; the next run on the same bench uses them unless it is given its
own (:func:`nvsense.measure.pulsed.resolve_settings`).  The store is one small JSON file in the
data folder, :data:`CALIBRATION_FILE`, keyed by bench name::

    {"single_nv": {"pi_pulse": {"value": 6.2e-08, "error": 2e-10, "mw_power": -20.0,
                                "run_id": "...", "time": "..."},
                   "mw_frequency": {"value": 2841960000.0, ...}}}

Only successful fits are stored.  A π pulse measured at another power is scaled by the
microwave amplitude, ``t_π ∝ 10^(−(P − P_Rabi)/20)`` (the linear regime of the amplifier).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CALIBRATION_FILE", "latest_calibration", "pi_pulse_at", "store_calibration"]

log = logging.getLogger(__name__)

#: File name of the store in the data folder.
CALIBRATION_FILE = "pulsed_calibration.json"


def _path(data_dir: str | Path) -> Path:
    return Path(data_dir) / CALIBRATION_FILE


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("ignoring the pulsed calibration %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def latest_calibration(data_dir: str | Path, bench: str) -> dict[str, dict[str, Any]]:
    """The stored calibration of ``bench`` (``{}`` if none): quantity -> record with
    ``value``, ``error``, ``run_id``, ``time`` (and ``mw_power`` for the π pulse)."""
    entry = _read(_path(data_dir)).get(bench, {})
    return {k: v for k, v in entry.items()
            if isinstance(v, dict) and isinstance(v.get("value"), int | float)}


def store_calibration(data_dir: str | Path, bench: str, **records: dict[str, Any]) -> None:
    """Store (replace) quantities of ``bench``'s calibration, atomically."""
    path = _path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _read(path)
    entry = data.setdefault(bench, {})
    entry.update(records)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".calibration-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pi_pulse_at(record: dict[str, Any], mw_power: float) -> float:
    """The stored π pulse (s) scaled to ``mw_power`` (dBm), to whole ns."""
    value = float(record["value"])
    measured_at = record.get("mw_power")
    if isinstance(measured_at, int | float):
        value *= 10 ** (-(mw_power - float(measured_at)) / 20)
    return max(round(value * 1e9), 1) * 1e-9
