"""The tracking run's summary numbers: mean field, noise floor, locked fraction.

The noise floor is :func:`nvsense.analysis.noise_floor` — the one-sided ASD of B(t) between
10 Hz and a third of the output rate, tones excluded — over the longest stretch of samples in
lock.  For output rates of 60 Hz and below, where that band is empty or narrow, the band is a
thirtieth to a third of the rate.  For a vector the headline floor is the RMS of the floors of
x, y and z (each is in ``noise_floor_components``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...analysis import noise_floor

__all__ = ["MIN_NOISE_SAMPLES", "longest_locked_stretch", "noise_band_for", "summarise_noise"]

log = logging.getLogger(__name__)

#: Fewest samples in lock for a noise floor.
MIN_NOISE_SAMPLES = 64


def noise_band_for(rate: float) -> tuple[float, float]:
    """The band of the noise floor at output rate ``rate`` (Hz)."""
    hi = rate / 3.0
    lo = 10.0 if hi > 20.0 else rate / 30.0
    return lo, hi


def longest_locked_stretch(locked: NDArray[np.bool_]) -> slice:
    """The longest run of consecutive True values (an empty slice if there is none)."""
    flags = np.concatenate([[False], np.asarray(locked, bool), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    if edges.size == 0:
        return slice(0, 0)
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return slice(int(starts[k]), int(stops[k]))


def summarise_noise(time: NDArray[np.float64], field: NDArray[np.float64],
                    D: NDArray[np.float64], locked: NDArray[np.bool_], rate: float,
                    limit: float | None) -> dict[str, Any]:
    """Mean, spread and noise floor of the samples in lock.

    Returns
    -------
    dict
        ``field_mean`` (T, or [x, y, z]), ``field_std``, ``D_mean`` (Hz or None),
        ``locked_fraction``, ``noise_floor`` (T/√Hz or None when too few samples are in
        lock), ``noise_floor_components`` (vector runs), ``band`` (Hz), ``stretch`` (first and
        last time used, s), ``ratio`` (floor / ``limit``).
    """
    out: dict[str, Any] = {"band": list(noise_band_for(rate)), "field_mean": None,
                           "field_std": None, "D_mean": None, "noise_floor": None,
                           "noise_floor_components": None, "stretch": None, "ratio": None,
                           "locked_fraction": None}
    n = time.size
    if n == 0:
        return out
    locked = np.asarray(locked, bool)
    out["locked_fraction"] = float(np.mean(locked))
    good = field[locked]
    if good.shape[0]:
        vector = field.ndim == 2
        mean = np.mean(good, axis=0)
        out["field_mean"] = [float(v) for v in mean] if vector else float(mean)
        out["field_std"] = ([float(v) for v in np.std(good, axis=0)] if vector
                            else float(np.std(good)))
        d = D[locked]
        if np.any(np.isfinite(d)):
            out["D_mean"] = float(np.nanmean(d))
    stretch = longest_locked_stretch(locked)
    if stretch.stop - stretch.start < MIN_NOISE_SAMPLES:
        return out
    lo, hi = noise_band_for(rate)
    part = field[stretch]
    try:
        if part.ndim == 2:
            floors = [noise_floor(part[:, k], rate, lo, hi) for k in range(part.shape[1])]
            out["noise_floor_components"] = floors
            out["noise_floor"] = float(np.sqrt(np.mean(np.square(floors))))
        else:
            out["noise_floor"] = float(noise_floor(part, rate, lo, hi))
    except ValueError as exc:  # too short for the band: report the rest
        log.warning("no noise floor: %s", exc)
        return out
    out["stretch"] = [float(time[stretch.start]), float(time[stretch.stop - 1])]
    if limit is not None and limit > 0:
        out["ratio"] = out["noise_floor"] / limit
    return out
