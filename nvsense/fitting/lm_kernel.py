"""Levenberg–Marquardt for many small spectra at once, compiled with numba.

:func:`fit_rows_lines` and :func:`fit_rows_hamiltonian` fit rows ``i0 .. i1`` of a chunk, one
spectrum after the other, with the GIL released; :mod:`nvsense.fitting.parallel` runs blocks
of rows on threads.  Everything is in *internal units*: frequencies in MHz relative to the
sweep's reference frequency, fields in mT, signals as given.  ``nvsense.fitting.batch``
converts to and from SI.

Parameter vectors
-----------------
lines model
    ``[offset, (slope), center_0, width_0, contrast_0, center_1, ...]``; each resonance is
    expanded into lines at ``center + offs[m]``.
Hamiltonian model
    ``[offset, (slope), Bx, By, Bz, D, E, width, contrast_0 .. contrast_{n_axes-1}]``, with
    D and E in MHz (absolute) and B in mT.

The algorithm is Marquardt's, with the damping matrix λ·diag(JᵀJ), Nielsen's update of λ,
box bounds by projection (a parameter on a bound whose gradient points outwards is frozen for
that step) and fixed parameters (``vary`` False).  Analytic Jacobians throughout; for the
lines model the exact Hessian (Newton) where it is positive definite.

Each model has two passes over the points, both vectorised over the points (SIMD) and free of
allocation:

stage 1
    model and χ² at a parameter vector; keeps the line shapes of every line.
stage 2
    at an *accepted* point only: the weighted Jacobian (from the kept line shapes, without
    recomputing a division or exponential), JᵀWJ, JᵀWr and the second-order term S.

A rejected trial step costs one stage 1 and a new solve with larger λ (JᵀWJ, JᵀWr and S are
kept).  A converged last step that moved every parameter by less than ``xtol`` standard errors
(and lowered χ² as predicted) needs no stage 2: the covariance is taken from JᵀWJ one step
earlier (the errors then differ from those at the final point by ~1e-4 relative at most).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba.extending import overload

from .jit import FAST, entry, helper
from .kernel_layout import WEIGHTS_PER_ROW, WEIGHTS_POISSON, WEIGHTS_SHARED
from .kernel_layout import fit_scratch as scratch
from .nv_transitions import crystal_transitions

__all__ = ["DISPERSIVE_SCALE", "WEIGHTS_PER_ROW", "WEIGHTS_POISSON", "WEIGHTS_SHARED",
           "fit_rows_hamiltonian", "fit_rows_lines", "line_shape", "scratch"]

# Kernel status codes; nvsense.fitting.status.FitStatus gives their meaning.
OK = 0
MAX_ITER = 1
BAD_INPUT = 2
SINGULAR = 4
NUMERICAL = 6


_FOUR_LN2 = 4.0 * math.log(2.0)
#: The dispersive (Lorentzian-derivative) shape is −K·u/(1 + 4u²)², K = 32/(3√3): the slope of
#: the unit Lorentzian scaled to extrema of ±1 (at u = ∓1/(2√3)).
DISPERSIVE_SCALE = 32.0 / (3.0 * math.sqrt(3.0))
_LAMBDA0 = 1e-3
_LAMBDA_MAX = 1e12

#: Work arrays of one thread (views of the arrays made by :func:`scratch`): weights, baseline,
#: 1 − depth, residuals, weighted residuals (the last row of JW), line shapes, weighted
#: Jacobian rows, JᵀWJ, second-order term, Hessian, damped matrix, its Cholesky factor,
#: covariance, JᵀWr, step, trial point, frozen flags.
Work = namedtuple("Work", ["w", "base", "om", "res", "wr", "sbuf", "JW", "A", "S", "H", "M",
                           "L", "C", "g", "delta", "p_new", "frozen"])


@helper(inline="always")
def line_shape(u: float, shape: int):
    """Unit line shape s(u) and its derivative ds/du (0 Lorentzian, 1 Gaussian, 2 dispersive:
    the Lorentzian's derivative with extrema ±1)."""
    if shape == 0:
        s = 1.0 / (1.0 + 4.0 * u * u)
        return s, -8.0 * u * s * s
    if shape == 2:
        lor = 1.0 / (1.0 + 4.0 * u * u)
        return -DISPERSIVE_SCALE * u * lor * lor, -DISPERSIVE_SCALE * lor * lor * lor * (
            1.0 - 12.0 * u * u)
    s = math.exp(-_FOUR_LN2 * u * u)
    return s, -2.0 * _FOUR_LN2 * u * s


@helper(inline="always")
def _work(V, SB, JW, MAT, VEC, FROZEN):
    return Work(V[0], V[1], V[2], V[3], JW[JW.shape[0] - 1], SB, JW, MAT[0], MAT[1], MAT[2],
                MAT[3], MAT[4], MAT[5], VEC[0], VEC[1], VEC[2], FROZEN)


@helper(fastmath=FAST)
def _load_weights(y, W, wmode, i, w):
    """Weights 1/σ of spectrum ``y`` (row ``i``) into ``w``; returns how many are > 0."""
    n = y.size
    if wmode == WEIGHTS_POISSON:
        for k in range(n):
            yk = y[k]
            # 1/√max(y, 1), NaN for NaN (a select, so the loop vectorises)
            w[k] = 1.0 / math.sqrt(yk if not yk < 1.0 else 1.0)
    else:
        row = i if wmode == WEIGHTS_PER_ROW else 0
        for k in range(n):
            w[k] = W[row, k]
    n_eff = 0
    for k in range(n):
        n_eff += 1 if w[k] > 0.0 else 0
    return n_eff


# --------------------------------------------------------------------------- model passes


@helper(inline="always")
def _line_shapes(shape, x, co, inv_w, a, sbuf, row, om):
    """One line at ``co``: its shape into ``sbuf[row:row+n]``, ``a``·shape off ``om``."""
    n = x.size
    if shape == 0:
        for k in range(n):
            u = (x[k] - co) * inv_w
            s = 1.0 / (1.0 + 4.0 * u * u)
            sbuf[row + k] = s
            om[k] -= a * s
    elif shape == 2:
        for k in range(n):
            u = (x[k] - co) * inv_w
            lor = 1.0 / (1.0 + 4.0 * u * u)
            s = -DISPERSIVE_SCALE * u * lor * lor
            sbuf[row + k] = s
            om[k] -= a * s
    else:
        for k in range(n):
            u = (x[k] - co) * inv_w
            s = math.exp(-_FOUR_LN2 * u * u)
            sbuf[row + k] = s
            om[k] -= a * s


@helper(inline="always")
def _chi2(p, n_base, additive, x, y, wk):
    """Baseline, residuals y − m and χ² from ``wk.om`` = 1 − Σ a·s.

    The model is b(x)·om (dips on a baseline) or, ``additive``, b(x) + 1 − om (peaks and
    dispersive lines added to a baseline).  For the additive model the line factor ``base``
    is then set to −1 and ``om`` to 1: the Jacobian and second-order passes, written for the
    multiplicative model, then give the additive model's derivatives unchanged.
    """
    base = wk.base
    om = wk.om
    res = wk.res
    w = wk.w
    p0 = p[0]
    p1 = p[1] if n_base >= 2 else 0.0
    p2 = p[2] if n_base == 3 else 0.0
    chi2 = 0.0
    if additive:
        for k in range(x.size):
            xk = x[k]
            b = p0 + (p1 + p2 * xk) * xk
            r = y[k] - (b + 1.0 - om[k])
            res[k] = r
            base[k] = -1.0
            om[k] = 1.0
            t = w[k] * r
            chi2 += t * t
        return chi2
    for k in range(x.size):
        xk = x[k]
        b = p0 + (p1 + p2 * xk) * xk
        base[k] = b
        r = y[k] - b * om[k]
        res[k] = r
        t = w[k] * r
        chi2 += t * t
    return chi2


@helper(inline="always")
def _baseline_rows(n_base, x, wk):
    """Weighted residuals and the baseline rows of the weighted Jacobian."""
    w = wk.w
    om = wk.om
    res = wk.res
    wr = wk.wr
    JW = wk.JW
    for k in range(x.size):
        wr[k] = w[k] * res[k]
        JW[0, k] = w[k] * om[k]
    if n_base >= 2:
        for k in range(x.size):
            JW[1, k] = w[k] * x[k] * om[k]
    if n_base == 3:
        for k in range(x.size):
            JW[2, k] = w[k] * x[k] * x[k] * om[k]


@helper(inline="always")
def _normal(wk):
    """A = JᵀWJ and g = JᵀWr from the weighted Jacobian rows (``JW[P]`` holds Wr).

    Row i is multiplied with the columns (P, 0, 1, .., i) four at a time: one pass over the
    points loads row i once for four sums.
    """
    JW = wk.JW
    A = wk.A
    g = wk.g
    P = A.shape[0]
    n = JW.shape[1]
    for i in range(P):
        m_end = i + 2  # slot 0 is Wr (for g), slot m ≥ 1 is column m − 1
        for m0 in range(0, m_end, 4):
            c0 = P if m0 == 0 else m0 - 1
            c1 = min(m0, i)
            c2 = min(m0 + 1, i)
            c3 = min(m0 + 2, i)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            for k in range(n):
                v = JW[i, k]
                s0 += v * JW[c0, k]
                s1 += v * JW[c1, k]
                s2 += v * JW[c2, k]
                s3 += v * JW[c3, k]
            if m0 == 0:
                g[i] = s0
            else:
                A[i, c0] = s0
                A[c0, i] = s0
            if m0 + 1 < m_end:
                A[i, c1] = s1
                A[c1, i] = s1
            if m0 + 2 < m_end:
                A[i, c2] = s2
                A[c2, i] = s2
            if m0 + 3 < m_end:
                A[i, c3] = s3
                A[c3, i] = s3


@helper(inline="always")
def _shape_coefficients(shape):
    """(α, β, γ) with ds/du = α·u·s·v and d²s/du² = v·s·(β·u²·v + γ), v = s (Lorentzian) or
    1 (Gaussian)."""
    if shape == 0:
        return -8.0, 128.0, -8.0
    return -2.0 * _FOUR_LN2, 4.0 * _FOUR_LN2 * _FOUR_LN2, -2.0 * _FOUR_LN2


@helper(fastmath=FAST)
def _stage1_lines(model, p, x, y, wk):
    shape, n_base, n_groups, offs, additive = model
    n = x.size
    n_off = offs.size
    om = wk.om
    for k in range(n):
        om[k] = 1.0
    for grp in range(n_groups):
        j0 = n_base + 3 * grp
        inv_w = 1.0 / p[j0 + 1]
        for o in range(n_off):
            _line_shapes(shape, x, p[j0] + offs[o], inv_w, p[j0 + 2], wk.sbuf,
                         (grp * n_off + o) * n, om)
    return _chi2(p, n_base, additive, x, y, wk)


@helper(inline="always")
def _group_pass(shape, x, wk, row, co, inv_w, ai, j0, add):
    """One line of a resonance: its Jacobian columns into rows j0..j0+2 of JW (added to them
    with ``add``, the resonance's later lines) and the sums that make up the second-order
    term."""
    alpha, beta, gamma = _shape_coefficients(shape)
    lor = shape == 0
    sbuf = wk.sbuf
    w = wk.w
    wr = wk.wr
    base = wk.base
    JW = wk.JW
    q_ds = 0.0
    q_dsu = 0.0
    q_s = 0.0
    qx_ds = 0.0
    qx_dsu = 0.0
    qx_s = 0.0
    qb_d2s = 0.0
    qb_d2su = 0.0
    qb_d2suu = 0.0
    qb_ds = 0.0
    qb_dsu = 0.0
    for k in range(x.size):
        s = sbuf[row + k]
        xk = x[k]
        u = (xk - co) * inv_w
        v = s if lor else 1.0
        ds = alpha * u * s * v
        dsu = ds * u
        d2s = v * s * (beta * u * u * v + gamma)
        wb = w[k] * base[k]
        # (unconditional loads, so that the choice is a select and the loop vectorises)
        j_c = JW[j0, k]
        j_w = JW[j0 + 1, k]
        j_a = JW[j0 + 2, k]
        JW[j0, k] = (j_c if add else 0.0) + wb * ai * ds
        JW[j0 + 1, k] = (j_w if add else 0.0) + wb * ai * dsu
        JW[j0 + 2, k] = (j_a if add else 0.0) - wb * s
        q = w[k] * wr[k]
        qb = -q * base[k]
        q_ds += q * ds
        q_dsu += q * dsu
        q_s += q * s
        qx_ds += q * xk * ds
        qx_dsu += q * xk * dsu
        qx_s += q * xk * s
        qb_d2s += qb * d2s
        qb_d2su += qb * d2s * u
        qb_d2suu += qb * d2s * u * u
        qb_ds += qb * ds
        qb_dsu += qb * dsu
    return (q_ds, q_dsu, q_s, qx_ds, qx_dsu, qx_s, qb_d2s, qb_d2su, qb_d2suu, qb_ds, qb_dsu)


@helper(inline="always")
def _group_pass_dispersive(x, wk, row, co, inv_w, ai, j0, add):
    """:func:`_group_pass` for the dispersive shape s = −K·u·L², L = 1/(1 + 4u²):
    ds/du = −K·L³·(1 − 12u²) and d²s/du² = 48·K·u·L⁴·(1 − 4u²)."""
    sbuf = wk.sbuf
    w = wk.w
    wr = wk.wr
    base = wk.base
    JW = wk.JW
    q_ds = 0.0
    q_dsu = 0.0
    q_s = 0.0
    qx_ds = 0.0
    qx_dsu = 0.0
    qx_s = 0.0
    qb_d2s = 0.0
    qb_d2su = 0.0
    qb_d2suu = 0.0
    qb_ds = 0.0
    qb_dsu = 0.0
    for k in range(x.size):
        s = sbuf[row + k]
        xk = x[k]
        u = (xk - co) * inv_w
        u2 = u * u
        lor = 1.0 / (1.0 + 4.0 * u2)
        lor3 = lor * lor * lor
        ds = -DISPERSIVE_SCALE * lor3 * (1.0 - 12.0 * u2)
        dsu = ds * u
        d2s = 48.0 * DISPERSIVE_SCALE * u * lor3 * lor * (1.0 - 4.0 * u2)
        wb = w[k] * base[k]
        j_c = JW[j0, k]
        j_w = JW[j0 + 1, k]
        j_a = JW[j0 + 2, k]
        JW[j0, k] = (j_c if add else 0.0) + wb * ai * ds
        JW[j0 + 1, k] = (j_w if add else 0.0) + wb * ai * dsu
        JW[j0 + 2, k] = (j_a if add else 0.0) - wb * s
        q = w[k] * wr[k]
        qb = -q * base[k]
        q_ds += q * ds
        q_dsu += q * dsu
        q_s += q * s
        qx_ds += q * xk * ds
        qx_dsu += q * xk * dsu
        qx_s += q * xk * s
        qb_d2s += qb * d2s
        qb_d2su += qb * d2s * u
        qb_d2suu += qb * d2s * u2
        qb_ds += qb * ds
        qb_dsu += qb * dsu
    return (q_ds, q_dsu, q_s, qx_ds, qx_dsu, qx_s, qb_d2s, qb_d2su, qb_d2suu, qb_ds, qb_dsu)


@helper(fastmath=FAST)
def _stage2_lines(model, p, x, wk):
    """Weighted Jacobian, A, g and S = Σ w²(y − m)∇²m at the point of the last stage 1.

    ``A − S`` is the exact Hessian of χ²/2.  Gauss–Newton drops S and converges only linearly
    when the lines are weak against the noise (every iteration then gains a factor of about
    3); with S the iteration is Newton's and converges quadratically near the optimum.
    """
    shape, n_base, n_groups, offs, additive = model
    n = x.size
    n_off = offs.size
    S = wk.S
    # baseline × line second derivatives: −∂depth/∂θ for dips on a baseline, 0 when added
    mult = 0.0 if additive else 1.0
    P = p.size
    _baseline_rows(n_base, x, wk)
    for i in range(P):
        for j in range(P):
            S[i, j] = 0.0
    for grp in range(n_groups):
        j0 = n_base + 3 * grp
        c = p[j0]
        inv_w = 1.0 / p[j0 + 1]
        a = p[j0 + 2]
        ai = a * inv_w
        q_ds = 0.0
        q_dsu = 0.0
        q_s = 0.0
        qx_ds = 0.0
        qx_dsu = 0.0
        qx_s = 0.0
        qb_d2s = 0.0
        qb_d2su = 0.0
        qb_d2suu = 0.0
        qb_ds = 0.0
        qb_dsu = 0.0
        for o in range(n_off):
            if shape == 2:
                t = _group_pass_dispersive(x, wk, (grp * n_off + o) * n, c + offs[o], inv_w,
                                           ai, j0, o > 0)
            else:
                t = _group_pass(shape, x, wk, (grp * n_off + o) * n, c + offs[o], inv_w, ai,
                                j0, o > 0)
            q_ds += t[0]
            q_dsu += t[1]
            q_s += t[2]
            qx_ds += t[3]
            qx_dsu += t[4]
            qx_s += t[5]
            qb_d2s += t[6]
            qb_d2su += t[7]
            qb_d2suu += t[8]
            qb_ds += t[9]
            qb_dsu += t[10]
        # Baseline × line terms: ∂²m/∂offset∂θ = −∂depth/∂θ (times x for the slope).  (A
        # quadratic baseline has no such term here: it is fitted by Gauss–Newton.)
        S[0, j0] += mult * ai * q_ds
        S[0, j0 + 1] += mult * ai * q_dsu
        S[0, j0 + 2] -= mult * q_s
        if n_base >= 2:
            S[1, j0] += mult * ai * qx_ds
            S[1, j0 + 1] += mult * ai * qx_dsu
            S[1, j0 + 2] -= mult * qx_s
        iw2 = inv_w * inv_w
        S[j0, j0] += a * iw2 * qb_d2s
        S[j0, j0 + 1] += a * iw2 * (qb_d2su + qb_ds)
        S[j0 + 1, j0 + 1] += a * iw2 * (qb_d2suu + 2.0 * qb_dsu)
        S[j0, j0 + 2] -= inv_w * qb_ds
        S[j0 + 1, j0 + 2] -= inv_w * qb_dsu
    for i in range(P):
        for j in range(i):
            S[i, j] = S[j, i]
    _normal(wk)


@helper(fastmath=FAST)
def _stage1_hamiltonian(model, p, x, y, wk):
    shape, nb, offs, frames, gamma, fref, t, dt, additive = model
    n = x.size
    n_off = offs.size
    crystal_transitions(p[nb], p[nb + 1], p[nb + 2], p[nb + 3], p[nb + 4], frames, gamma, t, dt)
    inv_w = 1.0 / p[nb + 5]
    om = wk.om
    for k in range(n):
        om[k] = 1.0
    for a in range(frames.shape[0]):
        ca = p[nb + 6 + a]
        for j in range(2):
            c = t[a, j] - fref
            for o in range(n_off):
                _line_shapes(shape, x, c + offs[o], inv_w, ca, wk.sbuf,
                             ((2 * a + j) * n_off + o) * n, om)
    return _chi2(p, nb, additive, x, y, wk)


@helper(inline="always")
def _hamiltonian_pass(shape, x, wk, row, co, inv_w, ci, nb, ja, d0, d1, d2, d3, d4):
    """One line: add its contribution to the field, D, E, width and contrast rows."""
    alpha, _, _ = _shape_coefficients(shape)
    lor = shape == 0
    dispersive = shape == 2
    sbuf = wk.sbuf
    w = wk.w
    base = wk.base
    JW = wk.JW
    for k in range(x.size):
        s = sbuf[row + k]
        u = (x[k] - co) * inv_w
        v = s if lor else 1.0
        wb = w[k] * base[k]
        if dispersive:
            lorentz = 1.0 / (1.0 + 4.0 * u * u)
            ds = -DISPERSIVE_SCALE * lorentz * lorentz * lorentz * (1.0 - 12.0 * u * u)
        else:
            ds = alpha * u * s * v
        fc = wb * ci * ds  # ∂m/∂(line center), weighted
        JW[nb, k] += fc * d0
        JW[nb + 1, k] += fc * d1
        JW[nb + 2, k] += fc * d2
        JW[nb + 3, k] += fc * d3
        JW[nb + 4, k] += fc * d4
        JW[nb + 5, k] += fc * u
        JW[ja, k] -= wb * s


@helper(fastmath=FAST)
def _stage2_hamiltonian(model, p, x, wk):
    """Weighted Jacobian, A and g (Gauss–Newton: S stays zero)."""
    shape, nb, offs, frames, _, fref, t, dt, _ = model
    n = x.size
    n_off = offs.size
    JW = wk.JW
    _baseline_rows(nb, x, wk)
    for i in range(nb, p.size):
        for k in range(n):
            JW[i, k] = 0.0
    inv_w = 1.0 / p[nb + 5]
    for a in range(frames.shape[0]):
        ci = p[nb + 6 + a] * inv_w
        for j in range(2):
            c = t[a, j] - fref
            for o in range(n_off):
                _hamiltonian_pass(shape, x, wk, ((2 * a + j) * n_off + o) * n, c + offs[o],
                                  inv_w, ci, nb, nb + 6 + a, dt[a, j, 0], dt[a, j, 1],
                                  dt[a, j, 2], dt[a, j, 3], dt[a, j, 4])
    _normal(wk)


# Compile-time dispatch on the model tuple: (shape, n_base, n_groups, offs, additive) for the
# lines model, (shape, n_base, offs, frames, gamma, fref, t, dt, additive) for the
# Hamiltonian.  Only the model's own passes are compiled into its kernel (passing the
# functions as arguments would embed run-time pointers, which numba cannot cache).


def _stage1(model, p, x, y, wk):
    """χ² at ``p`` (stage 1 of the model)."""


def _stage2(model, p, x, wk):
    """Jacobian, A, g (and S) at the point of the last stage 1 (stage 2 of the model)."""


@overload(_stage1, inline="always")
def _stage1_impl(model, p, x, y, wk):
    if len(model) == 5:
        return lambda model, p, x, y, wk: _stage1_lines(model, p, x, y, wk)
    return lambda model, p, x, y, wk: _stage1_hamiltonian(model, p, x, y, wk)


@overload(_stage2, inline="always")
def _stage2_impl(model, p, x, wk):
    if len(model) == 5:
        return lambda model, p, x, wk: _stage2_lines(model, p, x, wk)
    return lambda model, p, x, wk: _stage2_hamiltonian(model, p, x, wk)


# --------------------------------------------------------------------------- linear algebra


@helper()
def _cholesky(A, L):
    """Cholesky factor of the symmetric matrix A into L (lower); False if not positive."""
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if not s > 0.0:
                    return False
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
        for j in range(i + 1, n):
            L[i, j] = 0.0
    return True


@helper(inline="always")
def _cho_solve(L, b, out):
    n = b.size
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * out[k]
        out[i] = s / L[i, i]
    for i in range(n - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, n):
            s -= L[k, i] * out[k]
        out[i] = s / L[i, i]


@helper(inline="always")
def _inverse_from_cholesky(L, T, C):
    """C = (L Lᵀ)⁻¹, with T as scratch for L⁻¹."""
    n = L.shape[0]
    for j in range(n):
        for i in range(j):
            T[i, j] = 0.0
        T[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, n):
            s = 0.0
            for k in range(j, i):
                s += L[i, k] * T[k, j]
            T[i, j] = -s / L[i, i]
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for k in range(i, n):
                s += T[k, i] * T[k, j]
            C[i, j] = s
            C[j, i] = s


@helper()
def _solve(use_s, lam, dmax, wk):
    """Damped step into ``wk.delta`` (Newton's Hessian A − S where it is positive definite,
    else Gauss–Newton's A); ``wk.H`` keeps the Hessian used.  False if both are singular."""
    A = wk.A
    S = wk.S
    H = wk.H
    M = wk.M
    frozen = wk.frozen
    delta = wk.delta
    P = A.shape[0]
    for attempt in range(2 if use_s else 1):
        newton = use_s and attempt == 0
        for i in range(P):
            for j in range(P):
                h = A[i, j] - S[i, j] if newton else A[i, j]
                H[i, j] = h
                M[i, j] = 0.0 if (frozen[i] or frozen[j]) else h
            if frozen[i]:
                M[i, i] = 1.0
            else:
                M[i, i] = H[i, i] + lam * max(A[i, i], 1e-12 * dmax + 1e-300)
        if _cholesky(M, wk.L):
            for i in range(P):
                delta[i] = 0.0 if frozen[i] else wk.g[i]
            _cho_solve(wk.L, delta, delta)
            return True
    return False


# --------------------------------------------------------------------------- the iteration


@helper(inline="always")
def _lm_fit(model, use_s, x, y, p, lo, hi, vary, n_eff, max_iter, ftol, xtol, scale_covar,
            perr, wk):
    """Fit one spectrum in place (``wk.w`` holds its weights).

    ``p`` holds the start values and receives the result, ``perr`` the standard errors and
    ``wk.C`` the unscaled covariance.  Returns ``(chi2, n_iter, status, factor)`` with
    ``factor`` the covariance scale (reduced χ² with ``scale_covar``).

    Each stage is called from one place only (the start point is evaluated as a first trial
    that is always accepted), so that inlining them costs no extra compilation.
    """
    n = x.size
    P = p.size
    w = wk.w
    A = wk.A
    g = wk.g
    H = wk.H
    M = wk.M
    delta = wk.delta
    p_new = wk.p_new
    frozen = wk.frozen
    for j in range(P):
        perr[j] = np.nan
    power = 0.0  # signal power, the scale for "numerically zero" χ² changes
    check = 0.0  # NaN if any y or w is NaN or infinite
    for k in range(n):
        yw = y[k] * w[k]
        power += yw * yw
        check += y[k] * 0.0 + w[k] * 0.0
    if not check == 0.0:
        return np.nan, 0, BAD_INPUT, 1.0
    n_free = 0
    for j in range(P):
        if not math.isfinite(p[j]):
            return np.nan, 0, BAD_INPUT, 1.0
        if vary[j]:
            n_free += 1
            p[j] = min(max(p[j], lo[j]), hi[j])
        p_new[j] = p[j]
    if n_eff <= n_free:
        return np.nan, 0, BAD_INPUT, 1.0
    abs_tol = 1e-24 * power + 1e-300
    dof = max(n_eff - n_free, 1)

    lam = _LAMBDA0
    nu = 2.0
    status = MAX_ITER
    it = 0
    chi2 = np.inf
    first = True  # p_new holds the start point
    dmax = 0.0
    while True:
        chi2_new = _stage1(model, p_new, x, y, wk)
        if first and not math.isfinite(chi2_new):
            return np.nan, 0, NUMERICAL, 1.0
        if first or (math.isfinite(chi2_new) and chi2_new < chi2):
            converged = False
            keep_jacobian = False
            if not first:
                # Accepted step: compare the actual χ² drop with the quadratic model's.
                pred = 0.0
                for i in range(P):
                    s = 0.0
                    for j in range(P):
                        s += H[i, j] * delta[j]
                    pred += delta[i] * (2.0 * g[i] - s)
                dchi = chi2 - chi2_new
                rho = dchi / pred if pred > 0.0 else 0.0
                chi2_unit = chi2_new / dof + abs_tol  # the reduced χ²: one "σ²" of χ²
                small = True  # every step below xtol standard errors
                for i in range(P):
                    if abs(delta[i]) * math.sqrt(A[i, i]) > xtol * math.sqrt(chi2_unit):
                        small = False
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                # Converged when the χ² drop is a small fraction of its statistical unit (the
                # parameters are then within ~√ftol standard errors of the optimum), or every
                # step is below xtol standard errors.
                converged = lam <= 1.0 and rho > 0.25 and (dchi <= ftol * chi2_unit or small)
                # A last step below xtol standard errors in every parameter, whose χ² drop
                # agreed with its prediction, leaves JᵀWJ unchanged to ~1e-4: keep it for the
                # covariance instead of a stage 2 at the final point.
                keep_jacobian = converged and small and abs(rho - 1.0) <= 0.5
            for i in range(P):
                p[i] = p_new[i]
            chi2 = chi2_new
            first = False
            if not keep_jacobian:
                _stage2(model, p, x, wk)
            if converged:
                status = OK
                break
            if it >= max_iter:
                break
            it += 1
            dmax = 0.0
            for i in range(P):
                dmax = max(dmax, A[i, i])
                frozen[i] = (not vary[i]) or (p[i] <= lo[i] and g[i] < 0.0) or (
                    p[i] >= hi[i] and g[i] > 0.0)
        else:  # rejected: raise λ and solve again (A, g and S are kept)
            lam *= nu
            nu *= 2.0
        # Next trial step.
        while lam <= _LAMBDA_MAX and not _solve(use_s, lam, dmax, wk):
            lam *= nu
            nu *= 2.0
        if lam > _LAMBDA_MAX:
            # No downhill step even along the gradient: a (numerically) stationary point.
            status = OK
            break
        for i in range(P):
            p_new[i] = min(max(p[i] + delta[i], lo[i]), hi[i]) if vary[i] else p[i]
            delta[i] = p_new[i] - p[i]

    # Covariance from the undamped normal matrix of the varied parameters.
    for i in range(P):
        for j in range(P):
            M[i, j] = A[i, j] if (vary[i] and vary[j]) else 0.0
        if not vary[i]:
            M[i, i] = 1.0
    if not math.isfinite(chi2):
        return chi2, it, NUMERICAL, 1.0
    if not _cholesky(M, wk.L):
        return chi2, it, SINGULAR, 1.0
    C = wk.C
    _inverse_from_cholesky(wk.L, H, C)
    factor = chi2 / max(n_eff - n_free, 1) if scale_covar else 1.0
    for i in range(P):
        perr[i] = math.sqrt(C[i, i] * factor) if (vary[i] and C[i, i] >= 0.0) else 0.0
    return chi2, it, status, factor


_ROWS = ("float64[:, ::1], float64[:, ::1], int64, float64[:, ::1], float64[:, ::1], "
         "float64[:, ::1], boolean[::1], int64, float64, float64, boolean, float64[:, ::1], "
         "float64[:, ::1], float64[:, ::1], float64[::1], int64[::1], int64[::1], int64[::1], "
         "float64[:, ::1], float64[::1], float64[:, ::1], float64[:, :, ::1], float64[:, ::1], "
         "boolean[::1]")
_ROWS_END = "int64, int64)"


@entry("void(int64, int64, int64, float64[::1], int64, float64[::1], " + _ROWS + ", "
       + _ROWS_END)
def fit_rows_lines(shape, n_base, n_groups, offs, additive, x, Y, W, wmode, P, LO, HI, vary,
                   max_iter, ftol, xtol, scale_covar, PERR, CPOS, CERR, CHI2, NIT, STATUS, NEFF, V,
                   SB, JW, MAT, VEC, FROZEN, i0, i1):
    """Fit rows ``i0 .. i1`` of ``Y`` with the lines model (in place into the outputs).

    ``W`` holds weights 1/σ as selected by ``wmode`` (per row, one shared row, or unused for
    Poisson weights); ``P`` the start values, overwritten by the results; ``LO``/``HI`` the
    bounds per row.  ``NEFF`` receives the number of points with positive weight.  ``V`` ..
    ``FROZEN`` are the thread's work arrays (:func:`scratch`).  ``additive`` (0/1) selects
    lines added to the baseline (peaks, dispersive lines) instead of dips on it; a quadratic
    baseline (``n_base`` 3) is fitted by Gauss–Newton (no second-order term).
    """
    wk = _work(V, SB, JW, MAT, VEC, FROZEN)
    model = (shape, n_base, n_groups, offs, additive)
    use_s = n_base < 3
    for i in range(i0, i1):
        y = Y[i]
        n_eff = _load_weights(y, W, wmode, i, wk.w)
        NEFF[i] = n_eff
        p = P[i]
        perr = PERR[i]
        chi2, it, st, _ = _lm_fit(model, use_s, x, y, p, LO[i], HI[i], vary, n_eff, max_iter,
                                  ftol, xtol, scale_covar, perr, wk)
        CHI2[i] = chi2
        NIT[i] = it
        STATUS[i] = st
        for grp in range(n_groups):
            if st == OK or st == MAX_ITER:
                CPOS[i, grp] = p[n_base + 3 * grp]
                CERR[i, grp] = perr[n_base + 3 * grp]
            else:
                CPOS[i, grp] = np.nan
                CERR[i, grp] = np.nan


@entry("void(int64, int64, float64[::1], float64[:, :, ::1], float64, float64, int64, "
       "float64[::1], " + _ROWS + ", float64[:, ::1], float64[:, :, ::1], " + _ROWS_END)
def fit_rows_hamiltonian(shape, n_base, offs, frames, gamma, fref, additive, x, Y, W, wmode, P,
                         LO, HI, vary, max_iter, ftol, xtol, scale_covar, PERR, CPOS, CERR, CHI2,
                         NIT, STATUS, NEFF, V, SB, JW, MAT, VEC, FROZEN, t, dt, i0, i1):
    """Fit rows ``i0 .. i1`` of ``Y`` with the Hamiltonian model (see :func:`fit_rows_lines`).

    ``CPOS``/``CERR`` receive the 2·n_axes transitions (internal units) and their errors,
    propagated from the covariance of the varied ones of (B, D, E) (a fixed parameter, such as
    E by default, has no error and must not enter: the covariance holds a placeholder 1 on its
    diagonal).
    """
    n_axes = frames.shape[0]
    wk = _work(V, SB, JW, MAT, VEC, FROZEN)
    model = (shape, n_base, offs, frames, gamma, fref, t, dt, additive)
    nb = n_base
    C = wk.C
    for i in range(i0, i1):
        y = Y[i]
        n_eff = _load_weights(y, W, wmode, i, wk.w)
        NEFF[i] = n_eff
        p = P[i]
        chi2, it, st, factor = _lm_fit(model, False, x, y, p, LO[i], HI[i], vary, n_eff,
                                       max_iter, ftol, xtol, scale_covar, PERR[i], wk)
        CHI2[i] = chi2
        NIT[i] = it
        STATUS[i] = st
        for idx in range(2 * n_axes):
            CPOS[i, idx] = np.nan
            CERR[i, idx] = np.nan
        if not (st == OK or st == MAX_ITER):
            continue
        crystal_transitions(p[nb], p[nb + 1], p[nb + 2], p[nb + 3], p[nb + 4], frames, gamma,
                            t, dt)
        for a in range(n_axes):
            for j in range(2):
                idx = 2 * a + j
                CPOS[i, idx] = t[a, j] - fref
                var = 0.0
                for q1 in range(5):
                    if not vary[nb + q1]:
                        continue
                    for q2 in range(5):
                        if vary[nb + q2]:
                            var += dt[a, j, q1] * C[nb + q1, nb + q2] * dt[a, j, q2]
                CERR[i, idx] = math.sqrt(max(var, 0.0) * factor)
