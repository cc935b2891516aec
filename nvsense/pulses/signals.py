"""Normalised pulsed signals from the counts of the readout windows.

The counts of one pass come back per window (:meth:`PulseProgram.by_point` arranges them as
points × readouts); the references of each point turn them into a signal that does not depend
on the count rate:

- ``ref0`` and ``ref1`` present: ``(signal − ref1) / (ref0 − ref1)``, the ms=0 population
  (1 after initialisation, 0 after a perfect π pulse);
- ``signal_pc`` present: ``(signal − signal_pc) / (signal + signal_pc)``, the phase-cycled
  contrast (proportional to the coherence; rate and slow drifts cancel);
- ``ref0`` only: ``signal / ref0``;
- none: ``signal`` divided by its mean over the points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["normalisation_method", "normalised_signal"]


def normalisation_method(readouts: Sequence[str]) -> str:
    """Which normalisation :func:`normalised_signal` uses for these readout labels."""
    labels = set(readouts)
    if "signal" not in labels:
        raise ValueError(f"no 'signal' readout among {list(readouts)}")
    if {"ref0", "ref1"} <= labels:
        return "population"
    if "signal_pc" in labels:
        return "phase_cycled"
    if "ref0" in labels:
        return "ratio"
    return "mean"


def normalised_signal(by_point: ArrayLike, readouts: Sequence[str]
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The normalised signal per point and its photon-shot-noise error.

    Parameters
    ----------
    by_point
        Counts, shape (n_points, n_readouts), summed over repetitions (Poisson).
    readouts
        The readout labels (``program.readouts``).

    Returns
    -------
    signal, error
        Shape (n_points,) each; the error propagates √counts of every window used.
    """
    c = np.asarray(by_point, dtype=float)
    if c.ndim != 2 or c.shape[1] != len(readouts):
        raise ValueError(f"counts must have shape (points, {len(readouts)}), not {c.shape}")
    method = normalisation_method(readouts)
    idx = {label: k for k, label in enumerate(readouts)}
    s = c[:, idx["signal"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "population":
            r0, r1 = c[:, idx["ref0"]], c[:, idx["ref1"]]
            d = r0 - r1
            val = (s - r1) / d
            # ∂/∂s = 1/d, ∂/∂r1 = (s − r0)/d², ∂/∂r0 = −(s − r1)/d²
            err = np.sqrt(s / d**2 + r1 * ((s - r0) / d**2) ** 2 + r0 * ((s - r1) / d**2) ** 2)
        elif method == "phase_cycled":
            p = c[:, idx["signal_pc"]]
            tot = s + p
            val = (s - p) / tot
            err = 2.0 * np.sqrt(s * p / tot**3)
        elif method == "ratio":
            r0 = c[:, idx["ref0"]]
            val = s / r0
            err = val * np.sqrt(1.0 / s + 1.0 / r0)
        else:
            m = s.mean()
            val = s / m
            err = np.sqrt(s) / m
    return val, err
