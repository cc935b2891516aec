"""The noise budget of a lock: shot-noise limits, expected noise, detector windows.

Computed once, after the calibration, from the calibrated lines and the frequency → field
model (:class:`~nvsense.measure.tracking.field.LockedLineModel`):

- ``limit``: the CW-ODMR shot-noise limit of the reported field as a one-sided ASD, √2·η per
  line (:func:`~nvsense.measure.tracking.calibration.cw_limit_density`) from the *fitted*
  width and contrast and the *measured* count rate — what the lines are at the MW and laser
  powers used (power broadening!) — each line getting 1/n of the time, propagated through the
  exact Jacobian.  With one axis this is √2·η whether one or both lines are locked;
- ``bench_limit``: the same from the bench file's ``linewidth``, ``contrast`` and
  ``count_rate`` (simulated benches), which hold only at the file's reference powers;
- ``expected``: what this lock should reach from shot noise: the limit with the time the
  reference bin takes and the photons the dip removes at the dither points;
- the loss detector's windows and the warnings when one sample holds too few photons.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...physics import GAMMA_NV_HZ_PER_T
from .calibration import LineCalibration, cw_limit_density, shot_noise_density
from .field import LockedLineModel

__all__ = ["NoiseBudget", "headline", "noise_budget", "quality_sigma"]

log = logging.getLogger(__name__)

#: The loss detector's window: long enough for a 5σ margin, at most this long (s).
LOSS_WINDOW_MAX_S = 2.0
LOSS_MARGIN_SIGMA = 5.0
#: The reference level is averaged over at least this long, and long enough that its noise
#: does not exceed the lines' (it changes only with laser drifts), at most the maximum, s.
REFERENCE_WINDOW_S = 0.2
REFERENCE_WINDOW_MAX_S = 10.0
#: Warn when one sample's frequency noise exceeds this share of the discriminator's range.
SAMPLE_NOISE_SHARE = 0.25
_HYPERFINE_LINES = {"none": 1, "14N": 3, "15N": 2}


@dataclass(frozen=True)
class NoiseBudget:
    """See the module docstring; noises in T/√Hz (None for a photodiode), windows in
    samples, ``sample_noise`` the shot-noise σ of each line's offset in one sample (Hz)."""

    limit: float | None
    bench_limit: float | None
    expected: float | None
    sample_noise: NDArray[np.float64]
    loss_window: int
    reference_window: int
    warnings: tuple[str, ...]


def headline(noise: Any) -> float:
    """One number for a noise: itself, or the RMS over a vector's components."""
    a = np.asarray(noise, dtype=float)
    return float(np.sqrt(np.mean(a * a)))


def quality_sigma(c: LineCalibration, periods: int, bin_time: float, samples: float,
                  reference_samples: float) -> float:
    """Shot-noise σ of the lock quality from ``samples`` samples of the line and
    ``reference_samples`` reference bins (``math.inf``: that part's noise left out)."""
    n_line = c.count_rate * (1 - c.lock_depth) * 2 * periods * bin_time * samples
    n_ref = c.count_rate * bin_time * reference_samples
    return math.sqrt(1 / n_line + 1 / n_ref) / c.lock_depth


def noise_budget(lines: Sequence[LineCalibration], model: LockedLineModel, *, rate: float,
                 periods: int, counts: bool, sample_config: Any = None) -> NoiseBudget:
    """The budget of a lock of ``lines`` at output ``rate`` with ``periods`` dither cycles.

    Parameters
    ----------
    counts
        Photon counts (True) or a photodiode (False: no shot-noise numbers).
    sample_config
        The simulated sample's configuration, for the bench-file limit (None otherwise).
    """
    n = len(lines)
    bins = 2 * n * periods + 1
    fraction = 2 * periods / bins  # each line's share of every sample
    window, ref_window, warnings = _windows(lines, rate, periods, bins, counts)
    if not counts:
        return NoiseBudget(None, None, None, np.full(n, np.nan), window, ref_window,
                           tuple(warnings))
    per_line = [cw_limit_density(c.width, c.contrast, c.count_rate) * math.sqrt(n)
                * GAMMA_NV_HZ_PER_T for c in lines]
    limit = headline(model.field_noise(per_line))
    density = np.array([shot_noise_density(c, fraction) for c in lines])
    expected = headline(model.field_noise(density))
    sample_noise = density * math.sqrt(rate / 2)  # one sample's σ from the one-sided ASD
    share = sample_noise / np.array([c.saturation for c in lines])
    worst = int(np.argmax(share))
    if share[worst] > SAMPLE_NOISE_SHARE:
        best_rate = rate * (SAMPLE_NOISE_SHARE / share[worst]) ** 2
        warnings.append(f"{lines[worst].label}: one sample's frequency noise "
                        f"({sample_noise[worst] / 1e3:.3g} kHz) is {share[worst]:.0%} of the "
                        "discriminator's range: samples will often fall out of lock; lower "
                        f"the rate to {best_rate:.3g} Hz or less")
    bench = _bench_limit(model, n, sample_config)
    return NoiseBudget(limit, bench, expected, sample_noise, window, ref_window, tuple(warnings))


def _bench_limit(model: LockedLineModel, n: int, config: Any) -> float | None:
    """The limit from the bench file's sample parameters, or None."""
    if config is None:
        return None
    try:
        contrast = (float(np.mean(config.axis_contrasts()))
                    / _HYPERFINE_LINES[config.nucleus])  # each hyperfine line's share
        per_line = cw_limit_density(config.linewidth, contrast, config.count_rate)
    except Exception as exc:  # an odd sample section must not stop the run
        log.warning("no bench-file shot-noise limit: %s", exc)
        return None
    return headline(model.field_noise(np.full(n, per_line * math.sqrt(n) * GAMMA_NV_HZ_PER_T)))


def _windows(lines: Sequence[LineCalibration], rate: float, periods: int, bins: int,
             counts: bool) -> tuple[int, int, list[str]]:
    """Samples the loss detector averages (a 5σ margin between locked and lost), and reference
    bins it averages (as many photons as the lines get, at least :data:`REFERENCE_WINDOW_S`)."""
    cap = max(1, round(LOSS_WINDOW_MAX_S * rate))
    ref_min = max(1, round(REFERENCE_WINDOW_S * rate))
    ref_cap = max(ref_min, round(REFERENCE_WINDOW_MAX_S * rate))
    if not counts:  # a photodiode's noise is not known: a tenth of a second
        window = max(1, min(cap, round(0.1 * rate)))
        return window, max(window, ref_min), []
    bin_time = 1.0 / (rate * bins)
    ratio = 2 * periods  # line bins per reference bin
    need = 1
    for c in lines:
        # with the reference averaged ratio× longer, its noise equals the line's
        sigma = quality_sigma(c, periods, bin_time, 1, ratio)
        margin = max(1e-6, 1 - c.depth_threshold)
        need = max(need, math.ceil((LOSS_MARGIN_SIGMA * sigma / margin) ** 2))
    warnings = []
    if need > cap:
        warnings.append(f"the loss-of-lock detector needs {need} samples for a 5-sigma margin; "
                        f"it uses {cap} ({LOSS_WINDOW_MAX_S:g} s): a false loss is possible at "
                        "this count rate (lower the rate)")
    window = min(need, cap)
    return window, int(min(ref_cap, max(ref_min, window * ratio))), warnings
