"""Initial guesses from the data alone, for many spectra at once (numba).

For each spectrum: smooth with a 5-point binomial kernel, estimate the baseline from the upper
decile (per half of the sweep for a linear baseline), turn the signal into a depth profile
``d = 1 − signal / baseline`` and pick resonances greedily, deepest first:

1. the center is the maximum of the *comb profile* (the depth averaged over the hyperfine
   offsets of one resonance, so a resolved triplet and an unresolved blob both peak at the
   resonance center), refined by a parabola through the three points around it;
2. the width is the full width at half depth of the deepest point near that center (doubled
   half width when the dip runs off the sweep; corrected for unresolved multiplets);
3. the contrast is the depth at the center divided by the model's depth there for unit
   contrast;
4. that resonance's model is subtracted from the depth profile before the next pick.

Centers can be preset (a seed from a previous fit or a field guess); then only the width and
contrast are estimated there.  Everything is in the kernels' internal units (MHz).
"""

from __future__ import annotations

import math

import numpy as np

from .jit import entry, helper
from .kernel_layout import SMOOTHING_KERNEL, SMOOTHING_NOISE_GAIN
from .kernel_layout import guess_scratch as scratch
from .lm_kernel import line_shape

__all__ = ["SMOOTHING_NOISE_GAIN", "guess_one", "guess_rows", "scratch"]

_KERNEL = SMOOTHING_KERNEL


@helper()
def _quantile(v, i0, i1, q, buf):
    """The ``q`` quantile of ``v[i0:i1]`` (nearest rank), using ``buf`` as scratch.

    The k-th smallest value is the r-th largest, r = length − k: one pass keeps the r largest
    values seen so far in ``buf`` (ascending), so for the upper decile most values cost one
    comparison (a quickselect's unpredictable branches cost several times more).
    """
    m = i1 - i0
    r = m - min(int(q * (m - 1) + 0.5), m - 1)
    cnt = 0
    for idx in range(i0, i1):
        val = v[idx]
        if cnt < r:
            j = cnt
            while j > 0 and buf[j - 1] > val:
                buf[j] = buf[j - 1]
                j -= 1
            buf[j] = val
            cnt += 1
        elif val > buf[0]:
            j = 0
            while j + 1 < r and buf[j + 1] < val:
                buf[j] = buf[j + 1]
                j += 1
            buf[j] = val
    return buf[0]


@helper()
def _interp(x, d, xq):
    """Linear interpolation of d(x) at xq, 0 outside the sweep (no dip seen there)."""
    n = x.size
    if xq < x[0] or xq > x[n - 1]:
        return 0.0
    lo = 0  # first index with x[i] >= xq (np.searchsorted, side="left")
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if x[mid] < xq:
            lo = mid + 1
        else:
            hi = mid
    i = lo
    if i <= 0:
        return d[0]
    if i >= n:
        return d[n - 1]
    t = (xq - x[i - 1]) / (x[i] - x[i - 1])
    return d[i - 1] + t * (d[i] - d[i - 1])


@helper()
def _half_crossing(x, d, j0, half, step):
    """Frequency where d falls to ``half`` walking from j0 by ``step`` (±1); NaN at the edge."""
    k = j0
    n = x.size
    while 0 <= k + step < n and d[k + step] > half:
        k += step
    k2 = k + step
    if k2 < 0 or k2 >= n:
        return np.nan
    dd = d[k] - d[k2]
    t = (d[k] - half) / dd if dd > 0.0 else 0.5
    return x[k] + t * (x[k2] - x[k])


@helper(inline="always")
def guess_one(shape, n_base, n_groups, offs, x, y, preset, min_w, max_w, p, h, ys, d, comb):
    """Guess the parameters of one spectrum into ``p`` (pick order) and depths into ``h``.

    ``ys``, ``d`` and ``comb`` are scratch arrays of the spectrum's length.
    """
    n = x.size
    # Run-time values, not literal constants: numba compiles a helper once per literal value.
    left = -1 if n > 0 else 1
    start = n - n
    for k in range(n):
        if not math.isfinite(y[k]):
            for j in range(p.size):
                p[j] = np.nan
            for j in range(h.size):
                h[j] = np.nan
            return
    # Smooth.
    for k in range(2, n - 2):
        ys[k] = (y[k - 2] + 4.0 * y[k - 1] + 6.0 * y[k] + 4.0 * y[k + 1] + y[k + 2]) / 16.0
    for k in (0, 1, n - 2, n - 1):
        if 0 <= k < n:
            s = 0.0
            wsum = 0.0
            for j in range(-2, 3):
                kk = k + j
                if 0 <= kk < n:
                    s += _KERNEL[j + 2] * y[kk]
                    wsum += _KERNEL[j + 2]
            ys[k] = s / wsum
    # Baseline: upper decile (per half for a linear or quadratic baseline, which starts with
    # no curvature).
    if n_base >= 2 and n >= 8:
        half = n // 2
        q_left = _quantile(ys, start, half, 0.9, comb)
        q_right = _quantile(ys, half, n, 0.9, comb)
        x_left = 0.5 * (x[0] + x[half - 1])
        x_right = 0.5 * (x[half] + x[n - 1])
        slope = (q_right - q_left) / (x_right - x_left)
        offset = q_left - slope * x_left
    else:
        offset = _quantile(ys, start, n, 0.9, comb)
        slope = 0.0
    p[0] = offset
    if n_base >= 2:
        p[1] = slope
    if n_base == 3:
        p[2] = 0.0
    for k in range(n):
        base = offset + slope * x[k]
        d[k] = 1.0 - ys[k] / base if base != 0.0 else 0.0

    n_off = offs.size
    off_lo = offs[0]
    off_hi = offs[0]
    for o in range(n_off):
        off_lo = min(off_lo, offs[o])
        off_hi = max(off_hi, offs[o])
    off_span = off_hi - off_lo
    spacing = np.inf
    for o1 in range(n_off):
        for o2 in range(n_off):
            if o1 != o2:
                spacing = min(spacing, abs(offs[o1] - offs[o2]))
    dx = (x[n - 1] - x[0]) / max(n - 1, 1)
    for grp in range(n_groups):
        # Center: preset, or the maximum of the comb profile.
        if math.isfinite(preset[grp]):
            c = preset[grp]
        else:
            prof = d
            if n_off > 1:
                for k in range(n):
                    s = 0.0
                    for o in range(n_off):
                        s += _interp(x, d, x[k] + offs[o])
                    comb[k] = s / n_off
                prof = comb
            best = -np.inf
            jbest = 0
            for k in range(n):
                if prof[k] > best:
                    best = prof[k]
                    jbest = k
            c = x[jbest]
            if 0 < jbest < n - 1:  # parabolic refinement of the maximum
                c0 = prof[jbest - 1]
                c1 = prof[jbest]
                c2 = prof[jbest + 1]
                den = c0 - 2.0 * c1 + c2
                if den < 0.0:
                    shift = 0.5 * (c0 - c2) / den
                    if abs(shift) < 1.0:
                        c = x[jbest] + shift * (x[jbest + 1] - x[jbest - 1]) * 0.5
        # Deepest point near the center (a multiplet line, or the center itself).
        window = 0.5 * off_span + dx
        j0 = -1
        dmax = -np.inf
        for k in range(n):
            if abs(x[k] - (c + 0.5 * (off_lo + off_hi))) <= window and d[k] > dmax:
                dmax = d[k]
                j0 = k
        if j0 < 0:  # center outside the sweep (a preset seed): nearest point
            j0 = 0 if c < x[0] else n - 1
            dmax = d[j0]
        h[grp] = dmax
        # Width from the half-depth crossings.
        if dmax > 0.0:
            xl = _half_crossing(x, d, j0, 0.5 * dmax, left)
            xr = _half_crossing(x, d, j0, 0.5 * dmax, -left)
            if math.isfinite(xl) and math.isfinite(xr):
                fwhm = xr - xl
            elif math.isfinite(xr):
                fwhm = 2.0 * (xr - x[j0])
            elif math.isfinite(xl):
                fwhm = 2.0 * (x[j0] - xl)
            else:
                fwhm = 0.5 * (x[n - 1] - x[0])
        else:
            fwhm = 0.1 * (x[n - 1] - x[0])
        w = fwhm
        if n_off > 1 and fwhm > spacing:  # the walk merged the multiplet's lines
            w = math.sqrt(max(fwhm * fwhm - off_span * off_span, 0.25 * fwhm * fwhm))
        w = min(max(w, min_w), max_w)
        # Contrast: depth at the center over the unit-contrast model depth there.
        unit = 0.0
        for o in range(n_off):
            s, _ = line_shape(offs[o] / w, shape)
            unit += s
        dc = _interp(x, d, c) if n_off > 1 else max(dmax, 0.0)
        a = min(max(dc / unit, 0.0), 1.0)
        p[n_base + 3 * grp] = c
        p[n_base + 3 * grp + 1] = w
        p[n_base + 3 * grp + 2] = a
        if grp == n_groups - 1:
            break
        # Remove this resonance before looking for the next.
        inv_w = 1.0 / w
        for o in range(n_off):
            co = c + offs[o]
            for k in range(n):
                s, _ = line_shape((x[k] - co) * inv_w, shape)
                d[k] -= a * s


@entry("void(int64, int64, int64, float64[::1], float64[::1], float64[:, ::1], float64[:, ::1], "
       "float64, float64, float64[:, ::1], float64[:, ::1], float64[:, ::1], int64, int64)")
def guess_rows(shape, n_base, n_groups, offs, x, Y, PRESET, min_w, max_w, P, H, WORK, i0, i1):
    """Guess rows ``i0 .. i1`` of ``Y`` into ``P`` (N, n_params) and the depths into ``H``.

    ``PRESET`` (N, n_groups) holds preset centers, NaN where the center is to be found;
    ``WORK`` is the thread's work array (:func:`scratch`).
    """
    ys = WORK[0]
    d = WORK[1]
    comb = WORK[2]
    for i in range(i0, i1):
        guess_one(shape, n_base, n_groups, offs, x, Y[i], PRESET[i], min_w, max_w, P[i], H[i],
                  ys, d, comb)
