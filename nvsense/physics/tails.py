"""Tail probabilities and quantiles of the normal and χ² distributions, for the thresholds of
the line detector, the resonance check and the field inversion.

``normal_isf(p)`` is ``scipy.stats.norm.isf(p)`` (``-scipy.special.ndtri(p)``),
``chi2_sf(x, dof)`` is ``scipy.special.chdtrc(dof, x)`` and ``chi2_isf(p, dof)`` is
``scipy.special.chdtri(dof, p)``, to about 1e-11 relative (1e-9 for probabilities within
1e-6 of 1, where the quantile is ill-conditioned); the tests compare them with SciPy.  Written
out here because importing ``scipy.special`` (with the array-API layer it loads) costs about
a quarter of a second, paid by every short ``nvsense odmr`` run for three numbers.  The tail
is computed directly (``math.erfc``, the continued fraction of the upper incomplete gamma
function), so small probabilities keep their relative precision.
"""

from __future__ import annotations

import math

__all__ = ["chi2_isf", "chi2_sf", "normal_isf"]

_EPS = 1e-15
_TINY = 1e-300


def normal_isf(p: float) -> float:
    """The ``x`` with P(Z > x) = ``p`` for a standard normal Z (inf at 0, -inf at 1, NaN
    outside [0, 1])."""
    p = float(p)
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        return math.nan
    if p == 0.0:
        return math.inf
    if p == 1.0:
        return -math.inf
    if p > 0.5:  # symmetric; 1 - p is exact here, and the small tail keeps its precision
        return -normal_isf(1.0 - p)
    x = _acklam_isf(p)
    # Newton on log Q(x) (Q the upper tail): quadratic convergence, relative precision in
    # both tails (erfc keeps it far into the upper tail, the log keeps it near p = 1)
    for _ in range(6):
        q = 0.5 * math.erfc(x / math.sqrt(2.0))
        if q <= 0.0:
            break
        density = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        step = (math.log(q) - math.log(p)) * q / density
        x += step
        if abs(step) <= _EPS * max(1.0, abs(x)):
            break
    return x


def _acklam_isf(p: float) -> float:
    """P. J. Acklam's rational approximation of the normal quantile (relative error below
    1.2e-9), negated for the upper tail probability ``p``: the start of the refinement."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)

    def tail(q: float) -> float:
        return ((((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0))

    low = 0.02425
    if p < low:  # the lower-tail quantile of p is tail(...) < 0
        return -tail(math.sqrt(-2.0 * math.log(p)))
    if p > 1.0 - low:
        return tail(math.sqrt(-2.0 * math.log(1.0 - p)))
    q = p - 0.5
    r = q * q
    return -((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
             / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0))


def _gamma_q(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x), a > 0, x ≥ 0."""
    if x <= 0.0:
        return 1.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:  # the series of P(a, x); Q = 1 - P is not small here
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    # the continued fraction of Q (modified Lentz): relative precision far into the tail
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(log_prefactor) * h


def chi2_sf(x: float, dof: float) -> float:
    """P(χ² > ``x``) for ``dof`` degrees of freedom (NaN for dof ≤ 0)."""
    x, dof = float(x), float(dof)
    if not dof > 0 or math.isnan(x):
        return math.nan
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    return _gamma_q(0.5 * dof, 0.5 * x)


def chi2_isf(p: float, dof: float) -> float:
    """The ``x`` with P(χ² > x) = ``p`` for ``dof`` degrees of freedom (inf at p = 0, 0 at
    p = 1, NaN outside [0, 1] or for dof ≤ 0)."""
    p, dof = float(p), float(dof)
    if not 0.0 <= p <= 1.0 or not dof > 0 or math.isnan(p):
        return math.nan
    if p == 0.0:
        return math.inf
    if p == 1.0:
        return 0.0
    a = 0.5 * dof
    # Wilson–Hilferty's cube-root normal approximation as the start
    z = normal_isf(p)
    h = 2.0 / (9.0 * dof)
    x = dof * max(1.0 - h + z * math.sqrt(h), 0.1) ** 3
    log_p = math.log(p)
    for _ in range(200):
        q = _gamma_q(a, 0.5 * x)
        if q <= 0.0:  # far beyond the tail: step back toward the bulk
            x *= 0.5
            continue
        # Newton on log Q(x/2): d/dx log Q = -(x/2)^(a-1) e^(-x/2) / (2 Γ(a) Q)
        log_density = (a - 1.0) * math.log(0.5 * x) - 0.5 * x - math.lgamma(a) - math.log(2.0)
        slope = -math.exp(log_density) / q
        step = -(math.log(q) - log_p) / slope
        new = x + step
        if new <= 0.0:  # keep x positive
            new = 0.5 * x
        if abs(new - x) <= _EPS * 4 * x:
            return new
        x = new
    return x
