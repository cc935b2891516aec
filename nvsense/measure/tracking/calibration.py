"""What the tracking magnetometer locks with: lines, dither depth, slope, lock thresholds.

Everything here is computed from fits of measured spectra (no instrument access), so it is
tested against closed forms:

- :func:`select_lines` finds the requested axis's pair of lines in the initial sweep.  Two
  lines are the only pair (axis 0).  Eight lines of an ensemble (or fewer, when some merge)
  are assigned to the four NV axes by :func:`nvsense.physics.field_from_transitions`; without
  ``field_guess`` the vector is the canonical one of the symmetry-equivalent fields, which
  maximises B·n₀, then B·n₁, ... — so axis 0 is the pair with the largest |B∥| (the outermost
  pair), axis 1 the next, and so on.  With ``field_guess`` axis k is the crystal axis n_k for
  the field nearest the guess.
- :func:`calibrate_line` picks the dither half-depth δ for the steepest discriminator on the
  fitted line shape (Δν/(2√3) for a Lorentzian), the discriminator slope, the depth of the
  dip at the dither points when locked, and the depth that marks the capture range.
- :func:`shot_noise_density` is the noise the locked line would show from photon shot noise
  alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar

from ...fitting import dip_spectrum
from ...physics import NV_AXES, axial_field, field_from_transitions, shot_noise_sensitivity

__all__ = [
    "CalibrationError",
    "LineCalibration",
    "LineSelection",
    "LineShape",
    "calibrate_line",
    "cw_limit_density",
    "reference_frequency",
    "select_lines",
    "shot_noise_density",
]

#: Lowest count rate (fraction of the calibration's) still taken as "light on the sample".
LIGHT_THRESHOLD = 0.25
#: Off-resonance reference: at least this far (Hz), and this many linewidths, from any line.
REFERENCE_MARGIN_HZ = 30e6
REFERENCE_MARGIN_WIDTHS = 30.0


class CalibrationError(RuntimeError):
    """The initial sweep cannot set up the lock; the message says why and what to do."""


@dataclass(frozen=True)
class LineShape:
    """A fitted spectrum normalised to its off-resonance level: ``S(f) = 1 − Σ C·shape``.

    Attributes are those of :func:`nvsense.fitting.dip_spectrum` (Hz, fractions).
    """

    centers: NDArray[np.float64]
    widths: NDArray[np.float64]
    contrasts: NDArray[np.float64]
    lineshape: str = "lorentzian"
    offsets: NDArray[np.float64] | None = None

    def __call__(self, f: ArrayLike) -> NDArray[np.float64]:
        """Normalised signal at frequencies ``f`` (Hz), any shape."""
        f = np.asarray(f, dtype=float)
        offsets = np.zeros(1) if self.offsets is None else self.offsets
        out = dip_spectrum(f.ravel(), self.centers, self.widths, self.contrasts, offset=1.0,
                           slope=0.0, lineshape=self.lineshape, offsets=offsets)
        return np.asarray(out).reshape(f.shape)

    @classmethod
    def from_fit(cls, fit: Any) -> LineShape:
        """From a :class:`nvsense.fitting.LineFit` (lorentzian, gaussian, 14n, 15n)."""
        return cls(np.asarray(fit.centers, float), np.asarray(fit.widths, float),
                   np.asarray(fit.contrasts, float), fit.model.lineshape,
                   np.asarray(fit.model.offsets, float))


@dataclass(frozen=True)
class LineCalibration:
    """How one line is locked.

    Attributes
    ----------
    label
        ``"axis 0 lower"``, ``"axis 2 upper"``.
    axis, branch
        NV axis index and 0 (lower) / 1 (upper) transition.
    center, width, contrast
        Fitted line centre and FWHM (Hz) and depth (fraction) at the tracking MW power.
    count_rate
        Detected photon rate off resonance (1/s), from the fit's baseline; NaN for a
        photodiode.
    delta
        Dither half-depth δ (Hz): the source alternates between f0 + δ and f0 − δ.
    slope
        Discriminator slope k (1/Hz): the normalised error e = (N₋ − N₊)/(N₋ + N₊) is k·x
        for the line a small x above the dither centre.
    lock_depth
        Fractional dip depth at f0 ± δ when locked (1 − S(f0 ± δ)).
    saturation
        Largest offset (Hz) the discriminator reports, e_max / k: beyond it the error falls
        again.
    capture_range
        Offset (Hz) beyond which the line counts as lost.
    depth_threshold
        Dip depth at the capture range, as a fraction of ``lock_depth``.
    """

    label: str
    axis: int
    branch: int
    center: float
    width: float
    contrast: float
    count_rate: float
    delta: float
    slope: float
    lock_depth: float
    saturation: float
    capture_range: float
    depth_threshold: float
    #: The discriminator e(x) for 0 ≤ x ≤ its maximum (odd in x), to invert it exactly.
    table_x: NDArray[np.float64] = field(repr=False, compare=False,
                                         default_factory=lambda: np.zeros(0))
    table_e: NDArray[np.float64] = field(repr=False, compare=False,
                                         default_factory=lambda: np.zeros(0))
    #: The dip depth over ``lock_depth`` at the offsets of ``table_x``.
    table_q: NDArray[np.float64] = field(repr=False, compare=False,
                                         default_factory=lambda: np.zeros(0))

    def depth_ratio(self, offset: ArrayLike) -> NDArray[np.float64]:
        """Expected dip depth over ``lock_depth`` for a line ``offset`` Hz from the centre
        (within the discriminator's range; the depth is even in the offset)."""
        return np.interp(np.abs(np.asarray(offset, dtype=float)), self.table_x, self.table_q)

    def offset(self, error: ArrayLike) -> NDArray[np.float64]:
        """The line's offset x (Hz) above the dither centre from the normalised error e.

        Inverts the calibrated discriminator (exact beyond the linear range, up to its
        maximum at ``saturation``); errors beyond that maximum give ±``saturation``."""
        e = np.asarray(error, dtype=float)
        if self.table_x.size == 0:
            return np.clip(e / self.slope, -self.saturation, self.saturation)
        return np.sign(e) * np.interp(np.abs(e), self.table_e, self.table_x)

    def record(self) -> dict[str, Any]:
        """Plain JSON-ready values (without the discriminator table)."""
        out = {}
        for k, v in asdict(self).items():
            if k.startswith("table_"):
                continue
            out[k] = float(v) if isinstance(v, float | np.floating) else v
        return out


def _discriminator(shape: LineShape, f0: NDArray[np.float64], delta: ArrayLike
                   ) -> NDArray[np.float64]:
    """Normalised error (S(f0 − δ) − S(f0 + δ)) / (S(f0 − δ) + S(f0 + δ))."""
    lo, hi = shape(f0 - delta), shape(f0 + delta)
    return (lo - hi) / (lo + hi)


def _slope(shape: LineShape, center: float, delta: ArrayLike, h: float, *,
           normalised: bool = True) -> NDArray[np.float64]:
    """de/dx at the line centre (x = line − dither centre, so f0 = center − x); with
    ``normalised=False`` the slope of the plain difference S(f0 − δ) − S(f0 + δ)."""
    def error(f0: float) -> NDArray[np.float64]:
        if normalised:
            return _discriminator(shape, np.asarray(f0), delta)
        return shape(f0 - np.asarray(delta)) - shape(f0 + np.asarray(delta))

    return (error(center - h) - error(center + h)) / (2 * h)


def calibrate_line(shape: LineShape, center: float, width: float, *, label: str = "line",
                   axis: int = 0, branch: int = 0, contrast: float = float("nan"),
                   count_rate: float = float("nan"),
                   capture_range: float | None = None) -> LineCalibration:
    """Dither depth, slope and lock thresholds for the line at ``center`` of ``shape``.

    Parameters
    ----------
    shape
        The fitted, normalised spectrum around the line (neighbouring lines and hyperfine
        partners included: they shape the discriminator too).
    center, width
        The line's centre and FWHM, Hz.
    label, axis, branch, contrast, count_rate
        Recorded in the result (see :class:`LineCalibration`).
    capture_range
        Offset (Hz) beyond which the lock counts as lost; default one FWHM.

    Raises
    ------
    CalibrationError
        If the line gives no usable discriminator (no dip at ``center``).
    """
    h = 1e-4 * width
    # δ for the steepest difference of the two dither points (Δν/(2√3) for a Lorentzian):
    # a coarse grid first (a multiplet can have several local maxima), then a bounded refine
    grid = width * np.linspace(0.05, 1.5, 146)
    slopes = _slope(shape, center, grid, h, normalised=False)
    i = int(np.argmax(slopes))
    if not slopes[i] > 0:
        raise CalibrationError(f"no dip at {center / 1e6:.3f} MHz to lock to (the fitted line "
                               "has no contrast); check the RF and the laser")
    step = grid[1] - grid[0]
    lo, hi = max(grid[0], grid[i] - step), min(grid[-1], grid[i] + step)
    best = minimize_scalar(lambda d: -float(_slope(shape, center, d, h, normalised=False)),
                           bounds=(lo, hi), method="bounded",
                           options={"xatol": 1e-6 * width})
    delta = float(best.x)
    slope = float(_slope(shape, center, delta, h))
    lock_depth = float(1 - 0.5 * (shape(center - delta) + shape(center + delta)))
    x = width * np.linspace(0.0, 3.0, 1201)
    e = _discriminator(shape, center - x, delta)
    peak = int(np.argmax(e))
    # the rising part of e(x) only, made strictly increasing for the inversion
    table_x, table_e = x[: peak + 1], np.maximum.accumulate(e[: peak + 1])
    table_q = (1 - 0.5 * (shape(center - table_x - delta) + shape(center - table_x + delta))
               ) / lock_depth
    saturation = float(table_x[-1])
    cr = float(width if capture_range is None else capture_range)
    depths = [1 - 0.5 * (shape(center - s * cr - delta) + shape(center - s * cr + delta))
              for s in (1.0, -1.0)]
    threshold = float(max(depths) / lock_depth)
    return LineCalibration(label=label, axis=axis, branch=branch, center=float(center),
                           width=float(width), contrast=float(contrast),
                           count_rate=float(count_rate), delta=delta, slope=slope,
                           lock_depth=lock_depth, saturation=saturation, capture_range=cr,
                           depth_threshold=threshold, table_x=table_x, table_e=table_e,
                           table_q=table_q)


def shot_noise_density(calibration: LineCalibration, time_fraction: float) -> float:
    """Frequency-noise density (Hz/√Hz, one-sided ASD) of the locked line from shot noise.

    ``N`` photons at the dither points give σ(e) = 1/√N, so σ(x) = 1/(k√N) per sample; a
    one-sided ASD of white noise is σ·√(2/fs).  ``time_fraction`` is the share of each sample
    spent on this line's dither points.  For a lone Lorentzian dithered at Δν/(2√3) this is
    √2·η·γ·√((1 − 3C/4)/fraction), η the CW limit of Dréau et al. (REFERENCES.md): the √2
    turns η = δB·√t into a one-sided ASD, and 1 − 3C/4 is the fewer photons at the dip's
    flanks, which η's derivation neglects.
    """
    rate = calibration.count_rate * (1 - calibration.lock_depth) * time_fraction
    return math.sqrt(2.0 / rate) / calibration.slope


def cw_limit_density(width: float, contrast: float, count_rate: float) -> float:
    """The CW-ODMR shot-noise limit as a one-sided field ASD, T/√Hz: √2·η.

    η (Dréau et al. 2011; Barry et al. 2020) is δB·√t, the standard deviation of a field
    averaged for t, times √t.  White noise of one-sided density ρ averages to ρ/√(2t), so the
    ASD shot noise alone gives is √2·η (the relation :mod:`nvsense.analysis.allan` uses).
    """
    return math.sqrt(2.0) * float(shot_noise_sensitivity(width, contrast, count_rate))


@dataclass(frozen=True)
class LineSelection:
    """The lines of the requested axes in an initial sweep, and the field they imply.

    Attributes
    ----------
    indices
        Per requested axis, (lower, upper) indices into the fit's sorted centres.
    axis_vectors
        Unit vector of each requested axis (crystal frame; ẑ for a two-line sample, whose
        orientation is unknown).
    field
        Field vector (T) of the operating point; for a two-line sample B∥·ẑ (its transverse
        field cannot be told from two lines and is taken as zero).
    D
        Zero-field splitting (Hz) of the fit.
    n_found
        Number of lines the sweep showed.
    assignment
        (n_axes, 2) line indices of every axis (the physics assignment), or None for two lines.
    """

    indices: tuple[tuple[int, int], ...]
    axis_vectors: NDArray[np.float64]
    field: NDArray[np.float64]
    D: float
    n_found: int
    assignment: NDArray[np.int64] | None


def select_lines(centers: ArrayLike, center_errors: ArrayLike | None, axes: Sequence[int], *,
                 field_guess: ArrayLike | None = None) -> LineSelection:
    """Find the lines of ``axes`` among fitted line centres (see the module docstring).

    Raises
    ------
    CalibrationError
        One line or none; an axis the sweep does not show; an axis whose lines coincide
        with another axis's lines (they cannot be tracked apart).
    """
    c = np.sort(np.asarray(centers, dtype=float))
    n = c.size
    if n < 2:
        raise CalibrationError(
            f"the initial sweep shows {n} line(s); tracking needs the two lines of an NV axis. "
            "Widen the sweep (sweep), raise the MW power or average more sweeps")
    if n == 2:
        if tuple(axes) != (0,):
            raise CalibrationError(
                f"the initial sweep shows one pair of lines (one NV axis): only axis 0 can be "
                f"tracked, not {list(axes)}")
        b, d = axial_field(c[0], c[1])
        return LineSelection(((0, 1),), np.array([[0.0, 0.0, 1.0]]),
                             np.array([0.0, 0.0, float(b)]), float(d), 2, None)
    sigma = None
    if center_errors is not None:
        err = np.asarray(center_errors, dtype=float)[np.argsort(np.asarray(centers, float))]
        sigma = err if np.all(np.isfinite(err) & (err > 0)) else None
    try:
        est = field_from_transitions(c, sigma=sigma, guess=field_guess)
    except ValueError as exc:
        raise CalibrationError(
            f"the {n} lines of the initial sweep do not fit the NV Hamiltonian ({exc}); check "
            "the sweep range and the line count (n_lines)") from None
    assignment = np.asarray(est.assignment)
    counts = np.bincount(assignment.ravel(), minlength=n)
    picked = []
    for a in axes:
        lo, hi = (int(i) for i in assignment[a])
        if counts[lo] > 1 or counts[hi] > 1:
            others = sorted({k for k in range(assignment.shape[0]) if k != a
                             and ({lo, hi} & set(assignment[k].tolist()))})
            raise CalibrationError(
                f"the lines of axis {a} coincide with those of axis {others} at this field: "
                "they cannot be tracked apart; track another axis or change the bias field")
        picked.append((min(lo, hi), max(lo, hi)))
    return LineSelection(tuple(picked), NV_AXES[list(axes)], np.asarray(est.field, float),
                         float(est.D), n, assignment)


def reference_frequency(centers: ArrayLike, widths: ArrayLike, *, span: float = 0.0,
                        allowed: Any = None) -> float:
    """An off-resonance frequency for the count-rate reference, outside every line.

    Below the lowest line (or above the highest) by at least
    max(:data:`REFERENCE_MARGIN_HZ`, :data:`REFERENCE_MARGIN_WIDTHS` × FWHM) plus the
    hyperfine ``span``.  ``allowed(f)`` raises for a frequency the bench refuses.

    Raises
    ------
    CalibrationError
        When neither side is allowed.
    """
    c = np.asarray(centers, dtype=float)
    margin = max(REFERENCE_MARGIN_HZ, REFERENCE_MARGIN_WIDTHS * float(np.max(widths))) + span
    reasons = []
    for f in (float(c.min() - margin), float(c.max() + margin)):
        try:
            if allowed is not None:
                allowed(f)
            return f
        except Exception as exc:  # a LimitError naming the limit
            reasons.append(str(exc))
    raise CalibrationError("no off-resonance reference frequency within the limits: "
                           + "; ".join(reasons))
