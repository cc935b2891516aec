"""Levenberg–Marquardt for many small spectra at once, compiled with numba.

One spectrum is fitted by :func:`fit_one`; :func:`fit_chunk` runs it over the rows of a chunk
in parallel (``prange``).  Everything is in *internal units*: frequencies in MHz relative to
the sweep's reference frequency, fields in mT, signals as given.  ``nvsense.fitting.batch``
converts to and from SI.

Parameter vectors
-----------------
lines model (kind 0)
    ``[offset, (slope), center_0, width_0, contrast_0, center_1, ...]``; each resonance is
    expanded into lines at ``center + offs[m]``.
Hamiltonian model (kind 1)
    ``[offset, (slope), Bx, By, Bz, D, E, width, contrast_0 .. contrast_{n_axes-1}]``, with
    D and E in MHz (absolute) and B in mT.

The algorithm is Marquardt's, with the damping matrix λ·diag(JᵀJ), Nielsen's update of λ,
box bounds by projection (a parameter on a bound whose gradient points outwards is frozen for
that step) and fixed parameters (``vary`` False).  Analytic Jacobians throughout.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .nv_transitions import crystal_transitions

__all__ = ["KIND_HAMILTONIAN", "KIND_LINES", "fit_chunk", "fit_one"]

KIND_LINES = 0
KIND_HAMILTONIAN = 1

# Kernel status codes; nvsense.fitting.status.FitStatus gives their meaning.
OK = 0
MAX_ITER = 1
BAD_INPUT = 2
SINGULAR = 4
NUMERICAL = 6

_FOUR_LN2 = 4.0 * math.log(2.0)
_LAMBDA0 = 1e-3
_LAMBDA_MAX = 1e12


@njit(cache=True, nogil=True, inline="always")
def _shape(u: float, shape: int):
    """Unit line shape s(u) and its derivative ds/du (0 Lorentzian, 1 Gaussian)."""
    if shape == 0:
        s = 1.0 / (1.0 + 4.0 * u * u)
        return s, -8.0 * u * s * s
    s = math.exp(-_FOUR_LN2 * u * u)
    return s, -2.0 * _FOUR_LN2 * u * s


@njit(cache=True, nogil=True)
def eval_lines(p, x, shape, n_base, n_groups, offs, m, J, want_jac):
    """Model (and Jacobian) of the lines model at ``p`` on ``x`` (in place)."""
    n_off = offs.size
    for k in range(x.size):
        xk = x[k]
        base = p[0]
        if n_base == 2:
            base += p[1] * xk
        depth = 0.0
        for g in range(n_groups):
            j0 = n_base + 3 * g
            c = p[j0]
            inv_w = 1.0 / p[j0 + 1]
            a = p[j0 + 2]
            ssum = 0.0
            dsum = 0.0
            dusum = 0.0
            for o in range(n_off):
                u = (xk - c - offs[o]) * inv_w
                s, ds = _shape(u, shape)
                ssum += s
                dsum += ds
                dusum += ds * u
            depth += a * ssum
            if want_jac:
                J[j0, k] = base * a * dsum * inv_w
                J[j0 + 1, k] = base * a * dusum * inv_w
                J[j0 + 2, k] = -base * ssum
        one_minus = 1.0 - depth
        m[k] = base * one_minus
        if want_jac:
            J[0, k] = one_minus
            if n_base == 2:
                J[1, k] = xk * one_minus


@njit(cache=True, nogil=True)
def lines_second_order(p, x, y, wt, m, shape, n_base, n_groups, offs, S):
    """S = Σ_k wt_k² (y_k − m_k) ∇²m_k for the lines model (in place).

    ``JᵀJ − S`` is the exact Hessian of χ²/2.  Gauss–Newton drops S and converges only
    linearly when the lines are weak against the noise (every iteration then gains a factor of
    about 3); with S the iteration is Newton's and converges quadratically near the optimum.
    """
    n_off = offs.size
    for i in range(S.shape[0]):
        for j in range(S.shape[1]):
            S[i, j] = 0.0
    for k in range(x.size):
        xk = x[k]
        q = wt[k] * wt[k] * (y[k] - m[k])
        base = p[0]
        if n_base == 2:
            base += p[1] * xk
        for g in range(n_groups):
            j0 = n_base + 3 * g
            c = p[j0]
            inv_w = 1.0 / p[j0 + 1]
            a = p[j0 + 2]
            s0 = 0.0
            s1 = 0.0
            s1u = 0.0
            s2 = 0.0
            s2u = 0.0
            s2uu = 0.0
            for o in range(n_off):
                u = (xk - c - offs[o]) * inv_w
                if shape == 0:
                    s = 1.0 / (1.0 + 4.0 * u * u)
                    ds = -8.0 * u * s * s
                    d2s = -8.0 * s * s + 128.0 * u * u * s * s * s
                else:
                    s = math.exp(-_FOUR_LN2 * u * u)
                    ds = -2.0 * _FOUR_LN2 * u * s
                    d2s = (-2.0 * _FOUR_LN2 + 4.0 * _FOUR_LN2 * _FOUR_LN2 * u * u) * s
                s0 += s
                s1 += ds
                s1u += ds * u
                s2 += d2s
                s2u += d2s * u
                s2uu += d2s * u * u
            # first derivatives of the depth, for the baseline cross terms
            dd_c = -a * s1 * inv_w
            dd_w = -a * s1u * inv_w
            dd_a = s0
            S[0, j0] -= q * dd_c
            S[0, j0 + 1] -= q * dd_w
            S[0, j0 + 2] -= q * dd_a
            if n_base == 2:
                S[1, j0] -= q * xk * dd_c
                S[1, j0 + 1] -= q * xk * dd_w
                S[1, j0 + 2] -= q * xk * dd_a
            iw2 = inv_w * inv_w
            qb = -q * base
            S[j0, j0] += qb * a * s2 * iw2
            S[j0, j0 + 1] += qb * a * (s2u + s1) * iw2
            S[j0 + 1, j0 + 1] += qb * a * (s2uu + 2.0 * s1u) * iw2
            S[j0, j0 + 2] += qb * (-s1 * inv_w)
            S[j0 + 1, j0 + 2] += qb * (-s1u * inv_w)
    for i in range(S.shape[0]):
        for j in range(i):
            S[i, j] = S[j, i]


@njit(cache=True, nogil=True)
def eval_hamiltonian(p, x, shape, n_base, offs, frames, gamma, fref, m, J, want_jac, t, dt):
    """Model (and Jacobian) of the Hamiltonian model at ``p`` (in place).

    ``t`` (n_axes, 2) and ``dt`` (n_axes, 2, 5) receive the transitions (MHz, absolute) and
    their derivatives with respect to (Bx, By, Bz, D, E).
    """
    nb = n_base
    n_axes = frames.shape[0]
    n_off = offs.size
    crystal_transitions(p[nb:nb + 3], p[nb + 3], p[nb + 4], frames, gamma, t, dt)
    inv_w = 1.0 / p[nb + 5]
    acc = np.zeros(6)
    for k in range(x.size):
        xk = x[k]
        base = p[0]
        if n_base == 2:
            base += p[1] * xk
        depth = 0.0
        for q in range(6):
            acc[q] = 0.0
        for a in range(n_axes):
            ca = p[nb + 6 + a]
            ssum = 0.0
            for j in range(2):
                c = t[a, j] - fref
                dsum = 0.0
                dusum = 0.0
                for o in range(n_off):
                    u = (xk - c - offs[o]) * inv_w
                    s, ds = _shape(u, shape)
                    ssum += s
                    dsum += ds
                    dusum += ds * u
                if want_jac:
                    g_center = base * ca * dsum * inv_w  # ∂model/∂(line center)
                    for q in range(5):
                        acc[q] += g_center * dt[a, j, q]
                    acc[5] += base * ca * dusum * inv_w
            depth += ca * ssum
            if want_jac:
                J[nb + 6 + a, k] = -base * ssum
        one_minus = 1.0 - depth
        m[k] = base * one_minus
        if want_jac:
            for q in range(6):
                J[nb + q, k] = acc[q]
            J[0, k] = one_minus
            if n_base == 2:
                J[1, k] = xk * one_minus


@njit(cache=True, nogil=True)
def _evaluate(kind, p, x, shape, n_base, n_groups, offs, frames, gamma, fref, m, J, want_jac,
              t, dt):
    if kind == KIND_LINES:
        eval_lines(p, x, shape, n_base, n_groups, offs, m, J, want_jac)
    else:
        eval_hamiltonian(p, x, shape, n_base, offs, frames, gamma, fref, m, J, want_jac, t, dt)


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
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


# Reassociation lets LLVM vectorise the dot products (no NaN/inf assumptions are made).
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, fastmath=_FAST)
def _normal_equations(J, r, A, g):
    """A = JᵀJ and g = Jᵀr for the transposed Jacobian J (P, n)."""
    P, n = J.shape
    for i in range(P):
        s = 0.0
        for k in range(n):
            s += J[i, k] * r[k]
        g[i] = s
        for j in range(i + 1):
            s = 0.0
            for k in range(n):
                s += J[i, k] * J[j, k]
            A[i, j] = s
            A[j, i] = s


@njit(cache=True, nogil=True, fastmath=_FAST)
def _residuals(y, wt, m, r):
    chi2 = 0.0
    for k in range(y.size):
        rk = (y[k] - m[k]) * wt[k]
        r[k] = rk
        chi2 += rk * rk
    return chi2


@njit(cache=True, nogil=True)
def fit_one(kind, shape, n_base, n_groups, offs, frames, gamma, fref, x, y, wt, p, lo, hi,
            vary, max_iter, ftol, xtol, scale_covar, perr, cpos, cerr):
    """Fit one spectrum in place.

    ``p`` holds the start values and receives the result; ``perr`` the standard errors;
    ``cpos``/``cerr`` the line (resonance) positions and their errors.  Returns
    ``(chi2, n_iter, status)``.
    """
    n = x.size
    P = p.size
    n_axes = frames.shape[0]
    for j in range(P):
        perr[j] = np.nan
    for j in range(cpos.size):
        cpos[j] = np.nan
        cerr[j] = np.nan

    n_eff = 0
    for k in range(n):
        if not (math.isfinite(y[k]) and math.isfinite(wt[k])):
            return np.nan, 0, BAD_INPUT
        if wt[k] > 0.0:
            n_eff += 1
    n_free = 0
    for j in range(P):
        if not math.isfinite(p[j]):
            return np.nan, 0, BAD_INPUT
        if vary[j]:
            n_free += 1
            p[j] = min(max(p[j], lo[j]), hi[j])
    if n_eff <= n_free:
        return np.nan, 0, BAD_INPUT

    m = np.empty(n)
    r = np.empty(n)
    J = np.empty((P, n))  # transposed: contiguous per parameter
    J_new = np.empty((P, n))
    r_new = np.empty(n)
    t = np.empty((n_axes, 2))
    dt = np.empty((n_axes, 2, 5))
    A = np.empty((P, P))
    S = np.zeros((P, P))  # second-order term (lines model); JᵀJ − S is the exact Hessian
    H = np.empty((P, P))
    M = np.empty((P, P))
    L = np.empty((P, P))
    g = np.empty(P)
    delta = np.empty(P)
    p_new = np.empty(P)
    frozen = np.empty(P, dtype=np.bool_)

    newton = kind == KIND_LINES
    _evaluate(kind, p, x, shape, n_base, n_groups, offs, frames, gamma, fref, m, J, True, t, dt)
    chi2 = _residuals(y, wt, m, r)
    if not math.isfinite(chi2):
        return np.nan, 0, NUMERICAL
    if newton:
        lines_second_order(p, x, y, wt, m, shape, n_base, n_groups, offs, S)
    for j in range(P):
        for k in range(n):
            J[j, k] *= wt[k]
    power = 0.0  # signal power, the scale for "numerically zero" χ² changes
    for k in range(n):
        power += (y[k] * wt[k]) ** 2
    abs_tol = 1e-24 * power + 1e-300
    dof = max(n_eff - n_free, 1)

    lam = _LAMBDA0
    nu = 2.0
    status = MAX_ITER
    it = 0
    while it < max_iter:
        it += 1
        _normal_equations(J, r, A, g)
        dmax = 0.0
        for i in range(P):
            dmax = max(dmax, A[i, i])
        for i in range(P):
            frozen[i] = (not vary[i]) or (p[i] <= lo[i] and g[i] < 0.0) or (
                p[i] >= hi[i] and g[i] > 0.0)
        while True:  # inner loop: raise λ until a step lowers χ²
            # Newton's Hessian where it is positive definite, else Gauss–Newton's JᵀJ.
            for attempt in range(2 if newton else 1):
                use_s = newton and attempt == 0
                for i in range(P):
                    for j in range(P):
                        H[i, j] = A[i, j] - S[i, j] if use_s else A[i, j]
                        M[i, j] = 0.0 if (frozen[i] or frozen[j]) else H[i, j]
                    if frozen[i]:
                        M[i, i] = 1.0
                    else:
                        M[i, i] = H[i, i] + lam * max(A[i, i], 1e-12 * dmax + 1e-300)
                ok = _cholesky(M, L)
                if ok:
                    break
            if ok:
                for i in range(P):
                    delta[i] = 0.0 if frozen[i] else g[i]
                _cho_solve(L, delta, delta)
                for i in range(P):
                    p_new[i] = min(max(p[i] + delta[i], lo[i]), hi[i]) if vary[i] else p[i]
                    delta[i] = p_new[i] - p[i]
                # The trial's Jacobian is computed too: most steps are accepted.
                _evaluate(kind, p_new, x, shape, n_base, n_groups, offs, frames, gamma, fref,
                          m, J_new, True, t, dt)
                chi2_new = _residuals(y, wt, m, r_new)
                if math.isfinite(chi2_new) and chi2_new < chi2:
                    break
            lam *= nu
            nu *= 2.0
            if lam > _LAMBDA_MAX:
                break
        if lam > _LAMBDA_MAX:
            # No downhill step even along the gradient: a (numerically) stationary point.
            status = OK
            break
        # Accepted step: compare the actual χ² drop with the quadratic model's prediction.
        pred = 0.0
        for i in range(P):
            s = 0.0
            for j in range(P):
                s += H[i, j] * delta[j]
            pred += delta[i] * (2.0 * g[i] - s)
        dchi = chi2 - chi2_new
        rho = dchi / pred if pred > 0.0 else 0.0
        small_step = True
        chi2_unit = chi2_new / dof + abs_tol  # the reduced χ²: one "σ²" of χ²
        sigma_scale = math.sqrt(chi2_unit)
        for i in range(P):
            if abs(delta[i]) * math.sqrt(A[i, i]) > xtol * sigma_scale:
                small_step = False
        for i in range(P):
            p[i] = p_new[i]
        J, J_new = J_new, J
        r, r_new = r_new, r
        chi2 = chi2_new
        for j in range(P):
            for k in range(n):
                J[j, k] *= wt[k]
        if newton:
            lines_second_order(p, x, y, wt, m, shape, n_base, n_groups, offs, S)
        lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
        nu = 2.0
        # Converged when the χ² drop is a small fraction of its statistical unit (the
        # parameters are then within ~√ftol standard errors of the optimum), or every step is
        # below xtol standard errors.
        if lam <= 1.0 and rho > 0.25 and (dchi <= ftol * chi2_unit or small_step):
            status = OK
            break

    # Covariance from the undamped normal matrix of the varied parameters.
    _normal_equations(J, r, A, g)
    for i in range(P):
        for j in range(P):
            M[i, j] = A[i, j] if (vary[i] and vary[j]) else 0.0
        if not vary[i]:
            M[i, i] = 1.0
    if not math.isfinite(chi2):
        return chi2, it, NUMERICAL
    if not _cholesky(M, L):
        return chi2, it, SINGULAR
    cov = np.empty((P, P))
    e = np.zeros(P)
    col = np.empty(P)
    for j in range(P):
        e[j] = 1.0
        _cho_solve(L, e, col)
        e[j] = 0.0
        for i in range(P):
            cov[i, j] = col[i]
    factor = chi2 / max(n_eff - n_free, 1) if scale_covar else 1.0
    for i in range(P):
        perr[i] = math.sqrt(cov[i, i] * factor) if (vary[i] and cov[i, i] >= 0.0) else 0.0

    if kind == KIND_LINES:
        for grp in range(n_groups):
            cpos[grp] = p[n_base + 3 * grp]
            cerr[grp] = perr[n_base + 3 * grp]
    else:
        nb = n_base
        crystal_transitions(p[nb:nb + 3], p[nb + 3], p[nb + 4], frames, gamma, t, dt)
        for a in range(n_axes):
            for j in range(2):
                idx = 2 * a + j
                cpos[idx] = t[a, j] - fref
                var = 0.0
                for q1 in range(5):
                    for q2 in range(5):
                        var += dt[a, j, q1] * cov[nb + q1, nb + q2] * dt[a, j, q2]
                cerr[idx] = math.sqrt(max(var, 0.0) * factor)
    return chi2, it, status


@njit(cache=True, parallel=True)
def fit_chunk(kind, shape, n_base, n_groups, offs, frames, gamma, fref, x, Y, W, P, LO, HI,
              vary, max_iter, ftol, xtol, scale_covar, PERR, CPOS, CERR, CHI2, NIT, STATUS):
    """Fit every row of ``Y`` (in place into the output arrays); rows run in parallel.

    ``W`` (weights 1/σ), ``LO`` and ``HI`` have one row per spectrum.
    """
    N = Y.shape[0]
    for i in prange(N):
        chi2, nit, st = fit_one(kind, shape, n_base, n_groups, offs, frames, gamma, fref, x,
                                Y[i], W[i], P[i], LO[i], HI[i], vary, max_iter, ftol, xtol,
                                scale_covar, PERR[i], CPOS[i], CERR[i])
        CHI2[i] = chi2
        NIT[i] = nit
        STATUS[i] = st
