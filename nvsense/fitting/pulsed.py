"""Fits of pulsed measurements: Rabi, Ramsey, Hahn echo, CPMG/XY8, T1, pulsed ODMR.

Every fit returns a :class:`PulsedFit` with values, 1σ errors (from the covariance of a
bounded least-squares fit, scaled by the reduced χ² unless ``scale_covar=False``), the best-fit
curve and a status.  ``success`` is True only when the result can be trusted: converged, no
parameter of interest on a bound, the oscillation or decay significant, and physically
plausible for the data (a frequency below the Nyquist limit with most of a period observed, a
decay time inside the sampled range).  Anything else says why in ``message``.

Models (x in s):

- Rabi: ``c + A·exp(−x/τd)·cos(2π f x + φ)``; f the (generalised) Rabi frequency, π pulse
  ``(π − φ)/(2π f)`` (1/(2f) with φ = 0), π/2 pulse half of it;
- Ramsey: ``c + A·exp(−(x/T2*)^p)·Σ_k cos(2π(Δ + δ_k) x + φ)/K`` with the hyperfine offsets
  δ_k of the nucleus (14N: 0, ±|A∥|; the nuclear spin is unpolarised), p = 2 by default;
- echo / CPMG / XY8: ``c + A·exp(−(T/T2)^p)`` with T the total evolution (2τ for an echo,
  N·τ for N π pulses);
- T1: ``c + A·exp(−x/T1)``; relaxometry compares 1/T1 with an intrinsic rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import hyperfine_offsets
from nvsense.physics.pulsed_sensitivity import ac_field_from_phase

__all__ = [
    "JSON_KEYS",
    "PulsedFit",
    "PulsedStatus",
    "ac_field_from_quadratures",
    "fit_decoupling",
    "fit_hahn_echo",
    "fit_pulsed_odmr",
    "fit_rabi",
    "fit_ramsey",
    "fit_t1",
    "relaxometry_rate",
]


class PulsedStatus(IntEnum):
    """Why a pulsed fit is (not) trusted; the codes 0–6 match :class:`FitStatus`."""

    OK = 0
    MAX_ITER = 1
    BAD_INPUT = 2
    AT_BOUND = 3
    SINGULAR = 4
    NOT_SIGNIFICANT = 5
    NUMERICAL = 6
    #: The value is outside what the data can determine (decay far beyond the sampled range,
    #: less than half an oscillation observed).
    IMPLAUSIBLE = 7
    #: The oscillation is too fast for the sampling (near or above the Nyquist frequency).
    UNDERSAMPLED = 8
    #: The data reject an assumption of the model (a Rabi oscillation that does not start in
    #: phase at t = 0 when φ is held at 0): the values are biased; the message names the option
    #: whose model fits.
    WRONG_MODEL = 9


#: Result names and the JSON keys they appear under (``<key>`` and ``<key>_error``).
JSON_KEYS = {
    "rabi_frequency": "rabi_frequency_hz",
    "pi_pulse": "pi_pulse_s",
    "pi_half_pulse": "pi_half_pulse_s",
    "t2_star": "t2star_s",
    "t2": "t2_s",
    "t1": "t1_s",
    "detuning": "detuning_hz",
    "ac_field": "ac_field_t",
    "exponent": "exponent",
    "contrast": "contrast",
}


@dataclass(frozen=True)
class PulsedFit:
    """Result of a pulsed fit (SI units).

    Attributes
    ----------
    protocol
        ``"rabi"``, ``"ramsey"``, ``"hahn_echo"``, ``"decoupling"``, ``"t1"``.
    x, signal, sigma
        The data fitted (x is the model's abscissa: pulse length, τ, or total evolution).
    values, errors
        Fitted and derived quantities and their 1σ errors (NaN where unknown).
    best_fit, residual
        Model and data − model on ``x``.
    chisqr, redchi
        χ² (weighted by ``sigma`` when given) and reduced χ².
    status, message
        Why it is (not) trusted.
    """

    protocol: str
    x: NDArray[np.float64]
    signal: NDArray[np.float64]
    sigma: NDArray[np.float64] | None
    values: dict[str, float]
    errors: dict[str, float]
    best_fit: NDArray[np.float64]
    residual: NDArray[np.float64]
    chisqr: float
    redchi: float
    status: PulsedStatus
    message: str
    _model: Callable[[NDArray[np.float64]], NDArray[np.float64]] = field(repr=False,
                                                                         compare=False)

    @property
    def success(self) -> bool:
        return self.status == PulsedStatus.OK

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def error(self, name: str) -> float:
        """1σ error of ``name``."""
        return self.errors.get(name, math.nan)

    def __getattr__(self, name: str) -> float:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no {name!r}; it has "
                             f"{', '.join(values)}")

    def model(self, x: ArrayLike) -> NDArray[np.float64]:
        """The fitted model at ``x``."""
        return self._model(np.asarray(x, dtype=float))

    def as_dict(self) -> dict[str, Any]:
        """Results under their JSON keys (``rabi_frequency_hz``, ``pi_pulse_s``, ``t2star_s``,
        ``t2_s``, ``t1_s``, ``detuning_hz``, ...), each with ``<key>_error``, plus
        ``success``, ``status`` and ``message``."""
        out: dict[str, Any] = {"protocol": self.protocol, "success": self.success,
                               "status": self.status.name, "message": self.message}
        for name, value in self.values.items():
            key = JSON_KEYS.get(name, name)
            out[key] = float(value)
            out[f"{key}_error"] = float(self.errors.get(name, math.nan))
        return out

    def report(self) -> str:
        """Readable lines: status and each value ± error."""
        lines = [f"{self.protocol} fit: {self.status.name} ({self.message}); reduced χ² "
                 f"{self.redchi:.3g}"]
        for name, value in self.values.items():
            lines.append(f"  {name} = {value:.6g} ± {self.errors.get(name, math.nan):.2g}")
        return "\n".join(lines)


# --- the least-squares engine --------------------------------------------------------------


@dataclass
class _Raw:
    p: NDArray[np.float64]
    err: NDArray[np.float64]
    chisqr: float
    redchi: float
    at_lower: NDArray[np.bool_]
    at_upper: NDArray[np.bool_]
    converged: bool
    singular: bool


def _prepare(x: ArrayLike, y: ArrayLike, sigma: ArrayLike | None, n_params: int
             ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None,
                        str]:
    xa = np.asarray(x, dtype=float).ravel()
    ya = np.asarray(y, dtype=float).ravel()
    sa = None if sigma is None else np.broadcast_to(np.asarray(sigma, float), ya.shape).copy()
    problem = ""
    if xa.shape != ya.shape:
        problem = f"x has {xa.size} points but the signal {ya.size}"
    elif not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        problem = "x or the signal has NaN/inf values"
    elif sa is not None and not np.all(np.isfinite(sa) & (sa > 0)):
        problem = "sigma must be finite and > 0"
    elif xa.size < n_params + 2:
        problem = f"{xa.size} points are too few for {n_params} parameters"
    if not problem:
        order = np.argsort(xa, kind="stable")
        xa, ya = xa[order], ya[order]
        if sa is not None:
            sa = sa[order]
    return xa, ya, sa, problem


def _least_squares(model: Callable[..., NDArray[np.float64]], x: NDArray[np.float64],
                   y: NDArray[np.float64], sigma: NDArray[np.float64] | None,
                   starts: Sequence[Sequence[float]], lower: Sequence[float],
                   upper: Sequence[float], scale_covar: bool,
                   fixed: dict[int, float] | None = None) -> _Raw:
    """Bounded least squares from several starts; the best χ² wins.  Parameters in ``fixed``
    (index → value) are held; their errors are 0."""
    from scipy.optimize import least_squares

    fixed = fixed or {}
    n = len(lower)
    free = np.array([k not in fixed for k in range(n)])
    lo = np.asarray(lower, float)[free]
    hi = np.asarray(upper, float)[free]
    w = 1.0 if sigma is None else 1.0 / sigma
    full = np.array([fixed.get(k, 0.0) for k in range(n)])

    def expand(q: NDArray[np.float64]) -> NDArray[np.float64]:
        p = full.copy()
        p[free] = q
        return p

    def resid(q: NDArray[np.float64]) -> NDArray[np.float64]:
        return (model(x, *expand(q)) - y) * w

    best = None
    best_start = None
    for p0 in starts:
        q0 = np.asarray(p0, float)[free]
        inside = np.isfinite(lo) & np.isfinite(hi)
        margin = np.where(inside, 1e-9 * (hi - lo), 0.0)
        q0 = np.clip(q0, np.where(np.isfinite(lo), lo + margin, -np.inf),
                     np.where(np.isfinite(hi), hi - margin, np.inf))
        try:
            with np.errstate(all="ignore"):
                r = least_squares(resid, q0, bounds=(lo, hi), method="trf", x_scale="jac",
                                  max_nfev=3000)
        except (ValueError, FloatingPointError):
            continue
        if not np.isfinite(r.cost):
            continue
        if best is None or r.cost < best.cost:
            best, best_start = r, q0
    if best is None:
        return _Raw(np.full(n, np.nan), np.full(n, np.nan), math.nan, math.nan,
                    np.zeros(n, bool), np.zeros(n, bool), False, True)
    q = best.x
    chisqr = float(2 * best.cost)
    dof = max(1, x.size - q.size)
    redchi = chisqr / dof
    err = np.zeros(n)
    singular = False
    # covariance in scaled coordinates (parameters span 1e-9 s to 1e7 Hz)
    typical = np.maximum(np.abs(q), np.abs(best_start))
    scale = np.where(typical > 0, typical, 1.0)
    js = best.jac * scale
    _, sv, vt = np.linalg.svd(js, full_matrices=False)
    if not np.all(np.isfinite(sv)) or sv.size == 0 or sv[-1] <= 1e-10 * sv[0]:
        err[free] = np.nan
        singular = True
    else:
        cov = (vt.T / sv**2) @ vt * np.outer(scale, scale)
        if scale_covar or sigma is None:
            cov = cov * redchi
        err[free] = np.sqrt(np.abs(np.diag(cov)))
    span = np.where(np.isfinite(hi - lo), hi - lo, np.abs(q) + 1.0)
    at_lower = np.zeros(n, bool)
    at_upper = np.zeros(n, bool)
    at_lower[free] = np.isfinite(lo) & (q - lo <= 1e-6 * span)
    at_upper[free] = np.isfinite(hi) & (hi - q <= 1e-6 * span)
    return _Raw(expand(q), err, chisqr, redchi, at_lower, at_upper, bool(best.status > 0),
                singular)


def _build(protocol: str, x: NDArray[np.float64], y: NDArray[np.float64],
           sigma: NDArray[np.float64] | None, model: Callable[..., NDArray[np.float64]],
           raw: _Raw, names: Sequence[str], values: dict[str, float],
           errors: dict[str, float], status: PulsedStatus, message: str) -> PulsedFit:
    p = raw.p

    def fitted(xx: NDArray[np.float64]) -> NDArray[np.float64]:
        return model(xx, *p)

    best = fitted(x) if np.all(np.isfinite(p)) else np.full_like(y, np.nan)
    return PulsedFit(protocol, x, y, sigma, values, errors, best, y - best, raw.chisqr,
                     raw.redchi, status, message, fitted)


def _bad(protocol: str, x: NDArray[np.float64], y: NDArray[np.float64],
         sigma: NDArray[np.float64] | None, message: str) -> PulsedFit:
    nan = np.full(y.shape, np.nan)
    return PulsedFit(protocol, x, y, sigma, {}, {}, nan, nan, math.nan, math.nan,
                     PulsedStatus.BAD_INPUT, message, lambda xx: np.full(np.shape(xx), np.nan))


def _generic_status(raw: _Raw, names: Sequence[str], bounded: Sequence[str]
                    ) -> tuple[PulsedStatus, str]:
    if not np.all(np.isfinite(raw.p)):
        return PulsedStatus.NUMERICAL, "the fit produced non-finite values"
    if raw.singular:
        return PulsedStatus.SINGULAR, "singular covariance: a parameter is not determined"
    for k, name in enumerate(names):
        if name in bounded and (raw.at_lower[k] or raw.at_upper[k]):
            side = "lower" if raw.at_lower[k] else "upper"
            return PulsedStatus.AT_BOUND, f"{name} ended on its {side} bound"
    if not raw.converged:
        return PulsedStatus.MAX_ITER, "did not converge"
    return PulsedStatus.OK, "converged"


def _significant(value: float, error: float, what: str, k: float = 3.0
                 ) -> tuple[PulsedStatus, str] | None:
    if not (abs(value) > k * error):
        return (PulsedStatus.NOT_SIGNIFICANT,
                f"the {what} ({value:.3g} ± {error:.2g}) is not significant (< {k:g}σ)")
    return None


def _uniform(x: NDArray[np.float64], y: NDArray[np.float64]
             ) -> tuple[NDArray[np.float64], float]:
    """y on a uniform grid over x (for FFT guesses), and its step."""
    n = x.size
    step = (x[-1] - x[0]) / max(n - 1, 1)
    grid = x[0] + step * np.arange(n)
    return np.interp(grid, x, y), step


def _fft_peak(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Frequency of the largest non-zero FFT peak of y(x) (zero-padded ×8)."""
    yu, step = _uniform(x, y - y.mean())
    if step <= 0:
        return 0.0
    n = 8 * yu.size
    spec = np.abs(np.fft.rfft(yu * np.hanning(yu.size), n))
    freqs = np.fft.rfftfreq(n, step)
    spec[0] = 0.0
    return float(freqs[int(np.argmax(spec))])


def _sampling(x: NDArray[np.float64]) -> tuple[float, float]:
    """(largest step, span) of sorted x."""
    steps = np.diff(x)
    return float(steps.max()) if steps.size else 0.0, float(x[-1] - x[0])


# --- Rabi --------------------------------------------------------------------------------


def fit_rabi(durations: ArrayLike, signal: ArrayLike, *, sigma: ArrayLike | None = None,
             free_phase: bool = False, scale_covar: bool = True) -> PulsedFit:
    """Fit a Rabi oscillation: ``c + A·exp(−t/τd)·cos(2π f t + φ)``.

    Parameters
    ----------
    durations
        Pulse lengths, s.
    signal
        Normalised signal (or counts).
    sigma
        1σ errors of the signal (weights); ``None`` weighs all points equally.
    free_phase
        Fit φ (finite rise times, a delay before the pulse); by default φ = 0, as for an ideal
        pulse starting at t = 0.

    Returns
    -------
    PulsedFit
        Values ``rabi_frequency`` (Hz), ``pi_pulse``, ``pi_half_pulse`` (s), ``decay_time``
        (s; inf without damping), ``contrast`` (|A|), ``offset``, ``phase`` (rad).
    """
    names = ["offset", "amplitude", "rabi_frequency", "decay_rate", "phase"]
    x, y, s, problem = _prepare(durations, signal, sigma, 4 + free_phase)
    if problem:
        return _bad("rabi", x, y, s, problem)
    step, span = _sampling(x)
    nyquist = 0.5 / step if step > 0 else math.inf

    def model(t: NDArray[np.float64], c: float, a: float, f: float, g: float,
              ph: float) -> NDArray[np.float64]:
        return c + a * np.exp(-g * t) * np.cos(2 * np.pi * f * t + ph)

    c0 = float(np.mean(y))
    f0 = _fft_peak(x, y) or 1.0 / span
    a0 = float(y[0] - c0) if not free_phase else float(np.ptp(y) / 2)
    lo = [-np.inf, -np.inf, 0.0, 0.0, -math.pi]
    hi = [np.inf, np.inf, nyquist, 50.0 / max(step, 1e-30), math.pi]
    starts = [[c0, a0, f, g, 0.0] for f in (f0, 0.8 * f0, 1.25 * f0)
              for g in (0.1 / span, 1.0 / span, 5.0 / span)]
    if free_phase:
        starts += [[c0, -a0, f0, 1.0 / span, 0.5], [c0, a0, f0, 1.0 / span, -0.5]]
    raw = _least_squares(model, x, y, s, starts, lo, hi, scale_covar,
                         fixed=None if free_phase else {4: 0.0})
    c, a, f, g, ph = raw.p
    ec, ea, ef, eg, eph = raw.err
    status, message = _generic_status(raw, names, ["rabi_frequency"])
    # a time-reversed fit (negative amplitude, φ ≈ ±π) is the same curve: keep A > 0 if φ free
    t_pi = (math.pi - ph) / (2 * math.pi * f) if f > 0 else math.nan
    e_tpi = abs(t_pi) * math.hypot(ef / f if f else math.nan,
                                   eph / (math.pi - ph) if free_phase and ph != math.pi else 0.0)
    # no damping seen (the rate on its bound 0, e.g. 1e-12 /s): the decay time is ∞, not 1e12 s
    damped = g > 0 and not raw.at_lower[3]
    values = {"rabi_frequency": f, "pi_pulse": t_pi, "pi_half_pulse": t_pi / 2,
              "decay_time": 1.0 / g if damped else math.inf, "contrast": abs(a),
              "offset": c, "phase": ph}
    errors = {"rabi_frequency": ef, "pi_pulse": e_tpi, "pi_half_pulse": e_tpi / 2,
              "decay_time": eg / g**2 if damped else math.nan, "contrast": ea, "offset": ec,
              "phase": eph if free_phase else 0.0}
    if status == PulsedStatus.OK:
        worse = _significant(a, ea, "oscillation amplitude")
        if worse is None and f > 0.8 * nyquist:
            worse = (PulsedStatus.UNDERSAMPLED, f"the Rabi frequency {f:.4g} Hz is close to the "
                     f"Nyquist limit {nyquist:.4g} Hz of the sampling; use finer steps")
        if worse is None and f * span < 0.75:
            worse = (PulsedStatus.IMPLAUSIBLE, f"less than 3/4 of a Rabi period is in the data "
                     f"({f * span:.2f} periods); sweep longer pulses")
        if worse is None and g > 2.0 * f:
            worse = (PulsedStatus.IMPLAUSIBLE, "the oscillation decays within half a period: "
                     "its frequency is not determined")
        if worse is None and not free_phase:
            worse = _phase_rejected(model, x, y, s, raw, lo, hi)
        if worse is not None:
            status, message = worse
    return _build("rabi", x, y, s, model, raw, names, values, errors, status, message)


def _phase_rejected(model: Callable[..., NDArray[np.float64]], x: NDArray[np.float64],
                    y: NDArray[np.float64], sigma: NDArray[np.float64] | None, held: _Raw,
                    lower: Sequence[float], upper: Sequence[float],
                    p_limit: float = 1e-4) -> tuple[PulsedStatus, str] | None:
    """Whether the data reject φ = 0 (F-test of the fit with φ held against φ free).

    Real Rabi data rarely start exactly in phase: a delay before the pulse, finite rise times
    or a detuned drive shift the phase, and a cosine held at φ = 0 then trades frequency for
    phase (a 10 % bias in a published Qudi data set, with χ²/dof = 46).  The fit with φ held
    is not a success when freeing φ lowers χ² by more than chance allows (p < ``p_limit``).
    """
    from scipy.stats import f as f_dist

    c, a, f, g, _ = held.p
    starts = [[c, a, f, g, ph] for ph in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    free = _least_squares(model, x, y, sigma, starts, lower, upper, True)
    dof = x.size - 5
    if not (np.isfinite(free.chisqr) and free.chisqr < held.chisqr and dof > 0):
        return None
    if free.chisqr <= 0:
        p_value = 0.0
    else:
        p_value = float(f_dist.sf((held.chisqr - free.chisqr) / (free.chisqr / dof), 1, dof))
    if p_value >= p_limit:
        return None
    ph, e_ph = free.p[4], free.err[4]
    return (PulsedStatus.WRONG_MODEL,
            f"the oscillation does not start in phase at t = 0 (φ = {ph:.3g} ± {e_ph:.2g} rad "
            f"fits better: χ² {held.chisqr:.4g} → {free.chisqr:.4g}, p = {p_value:.2g}); the "
            f"frequency with φ = 0 is biased: fit with free_phase=True")


# --- Ramsey ------------------------------------------------------------------------------


def _hyperfine(nucleus: str | None, offsets: Sequence[float] | None) -> NDArray[np.float64]:
    if offsets is not None:
        return np.asarray(offsets, dtype=float)
    return hyperfine_offsets(nucleus)


def fit_ramsey(taus: ArrayLike, signal: ArrayLike, *, sigma: ArrayLike | None = None,
               nucleus: str | None = "14N", hyperfine: Sequence[float] | None = None,
               exponent: float | None = 2.0, time_offset: float | None = None,
               scale_covar: bool = True) -> PulsedFit:
    """Fit a Ramsey signal: decaying cosines at Δ + δ_k for each hyperfine line δ_k,
    ``c + A·exp(−(τ/T2*)^p)·Σ_k cos(2π(Δ + δ_k)(τ + t0))/K``.

    Parameters
    ----------
    taus
        Free evolution times between the π/2 pulses, s.
    nucleus
        ``"14N"`` (three lines, |A∥| apart), ``"15N"`` (two) or ``"none"``.
    hyperfine
        Explicit line offsets in Hz (overrides ``nucleus``).
    exponent
        Envelope power p (2: a quasi-static Gaussian spread); ``None`` fits it (0.5–4).
    time_offset
        t0: the extra evolution the finite π/2 pulses add (about (4/π)·t_π/2 for two hard
        pulses); ``None`` fits it (within ±5 sampling steps), a number fixes it.

    Returns
    -------
    PulsedFit
        ``t2_star`` (s), ``detuning`` (Hz, ≥ 0: its sign is not measurable this way),
        ``exponent``, ``time_offset`` (s), ``contrast``, ``offset``.
    """
    names = ["offset", "amplitude", "detuning", "t2_star", "exponent", "time_offset"]
    hf = _hyperfine(nucleus, hyperfine)
    x, y, s, problem = _prepare(taus, signal, sigma,
                                4 + (exponent is None) + (time_offset is None))
    if problem:
        return _bad("ramsey", x, y, s, problem)
    step, span = _sampling(x)
    nyquist = 0.5 / step if step > 0 else math.inf

    def shape(t: NDArray[np.float64], d: float, t0: float) -> NDArray[np.float64]:
        return np.cos(2 * np.pi * (d + hf[:, None]) * (t[None, :] + t0)).mean(axis=0)

    def model(t: NDArray[np.float64], c: float, a: float, d: float, t2: float, p: float,
              t0: float) -> NDArray[np.float64]:
        return c + a * np.exp(-((t / t2) ** p)) * shape(t, d, t0)

    # detuning guess: scan Δ with a fixed envelope, amplitude and offset by linear least
    # squares on the cosine and sine quadratures (which absorbs the unknown t0)
    env = np.exp(-((x / (span / 3)) ** 2))
    grid = np.arange(0.0, nyquist, 1.0 / (8 * span)) if span > 0 else np.array([0.0])
    best_d, best_r, best_a = 0.0, math.inf, float(np.ptp(y) / 2)
    for d in grid[:20000]:
        phase = 2 * np.pi * (d + hf[:, None]) * x[None, :]
        basis = np.column_stack([np.ones_like(x), env * np.cos(phase).mean(axis=0),
                                 env * np.sin(phase).mean(axis=0)])
        coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
        r = float(((basis @ coef - y) ** 2).sum())
        if r < best_r:
            best_d, best_r, best_a = float(d), r, float(coef[1])
    c0 = float(np.mean(y))
    p_fixed = exponent if exponent is not None else 2.0
    t0_max = 5 * step
    lo = [-np.inf, -np.inf, 0.0, 0.5 * step, 0.5, -t0_max]
    hi = [np.inf, np.inf, nyquist, 100.0 * span, 4.0, t0_max]
    starts = [[c0, sa * best_a, best_d, t2, p_fixed, t0]
              for t2 in (span / 10, span / 3, span) for sa in (1.0, -1.0)
              for t0 in (0.0, 0.25 / max(best_d, 1.0 / span), -0.25 / max(best_d, 1.0 / span))]
    fixed: dict[int, float] = {}
    if time_offset is not None:
        fixed[5] = float(time_offset)
    if exponent is not None:
        fixed[4] = float(exponent)
    raw = _least_squares(model, x, y, s, starts, lo, hi, scale_covar, fixed=fixed)
    c, a, d, t2, p, t0 = raw.p
    errs = raw.err
    bounded = ["t2_star", "detuning"] + (["exponent"] if exponent is None else [])
    bounded += ["time_offset"] if time_offset is None else []
    status, message = _generic_status(raw, names, bounded)
    values = {"t2_star": t2, "detuning": d, "exponent": p, "time_offset": t0,
              "contrast": abs(a), "offset": c}
    errors = {"t2_star": errs[3], "detuning": errs[2], "exponent": errs[4],
              "time_offset": errs[5], "contrast": errs[1], "offset": errs[0]}
    if status == PulsedStatus.OK:
        worse = _significant(a, errs[1], "Ramsey amplitude")
        if worse is None and (t2 > 3 * span or t2 < 2 * step):
            worse = (PulsedStatus.IMPLAUSIBLE, f"T2* = {t2:.3g} s is outside what the sampled "
                     f"range ({step:.2g}–{span:.2g} s) determines")
        if worse is None and not (errs[3] < 0.5 * t2):
            worse = (PulsedStatus.NOT_SIGNIFICANT, "T2* is not determined (error > 50 %)")
        if worse is not None:
            status, message = worse
    return _build("ramsey", x, y, s, model, raw, names, values, errors, status, message)


# --- echo, CPMG, XY8 ---------------------------------------------------------------------


def _fit_decay(protocol: str, key: str, t: ArrayLike, signal: ArrayLike,
               sigma: ArrayLike | None, exponent: float | None, offset: float | None,
               scale_covar: bool) -> PulsedFit:
    names = ["offset", "amplitude", key, "exponent"]
    n_free = 2 + (exponent is None) + (offset is None)
    x, y, s, problem = _prepare(t, signal, sigma, n_free)
    if problem:
        return _bad(protocol, x, y, s, problem)
    x_max = float(x[-1])

    def model(tt: NDArray[np.float64], c: float, a: float, tt2: float,
              p: float) -> NDArray[np.float64]:
        return c + a * np.exp(-((tt / tt2) ** p))

    c0 = float(y[-1]) if offset is None else float(offset)
    a0 = float(y[0] - c0) or float(np.ptp(y))
    # time guess: where the signal crosses 1/e of its initial excursion
    rel = (y - c0) / a0 if a0 else np.zeros_like(y)
    below = np.flatnonzero(rel < math.exp(-1))
    t_guess = float(x[below[0]]) if below.size else 2 * x_max
    p0 = exponent if exponent is not None else 2.0
    lo = [-np.inf, -np.inf, max(1e-12, 0.1 * float(x[x > 0].min()) if np.any(x > 0) else 1e-12),
          0.5]
    hi = [np.inf, np.inf, 100.0 * x_max, 5.0]
    starts = [[c0, a0, tg, pp] for tg in (t_guess, 0.5 * t_guess, 2 * t_guess)
              for pp in ((1.0, 2.0, 3.0) if exponent is None else (p0,))]
    fixed = {}
    if offset is not None:
        fixed[0] = float(offset)
    if exponent is not None:
        fixed[3] = float(exponent)
    raw = _least_squares(model, x, y, s, starts, lo, hi, scale_covar, fixed=fixed)
    c, a, tt2, p = raw.p
    errs = raw.err
    bounded = [key] + (["exponent"] if exponent is None else [])
    status, message = _generic_status(raw, names, bounded)
    values = {key: tt2, "exponent": p, "contrast": abs(a), "offset": c}
    errors = {key: errs[2], "exponent": errs[3] if exponent is None else 0.0,
              "contrast": errs[1], "offset": errs[0] if offset is None else 0.0}
    if status == PulsedStatus.OK:
        worse = _significant(a, errs[1], "decay amplitude")
        if worse is None and tt2 > 2.0 * x_max:
            worse = (PulsedStatus.IMPLAUSIBLE, f"{key} = {tt2:.3g} s is beyond twice the longest "
                     f"time measured ({x_max:.3g} s): measure longer")
        if worse is None and not (errs[2] < 0.5 * tt2):
            worse = (PulsedStatus.NOT_SIGNIFICANT, f"{key} is not determined (error > 50 %)")
        if worse is not None:
            status, message = worse
    return _build(protocol, x, y, s, model, raw, names, values, errors, status, message)


def fit_hahn_echo(taus: ArrayLike, signal: ArrayLike, *, sigma: ArrayLike | None = None,
                  tau_is: str = "arm", exponent: float | None = None,
                  offset: float | None = None, scale_covar: bool = True) -> PulsedFit:
    """Fit a Hahn-echo decay ``c + A·exp(−(T/T2)^p)`` (T the total free evolution).

    Parameters
    ----------
    taus
        The swept τ, s: each arm (``tau_is="arm"``, T = 2τ, as :func:`nvsense.pulses.hahn_echo`)
        or the total (``tau_is="total"``).
    exponent
        Fixed p, or ``None`` to fit it (0.5–5; 1–3 is typical).
    offset
        Fixed c (0 for a phase-cycled contrast), or ``None`` to fit it.

    Returns
    -------
    PulsedFit
        ``t2`` (s), ``exponent``, ``contrast``, ``offset``; ``x`` is the total evolution T.
    """
    if tau_is not in ("arm", "total"):
        raise ValueError(f"tau_is must be 'arm' or 'total', not {tau_is!r}")
    t = np.asarray(taus, dtype=float) * (2.0 if tau_is == "arm" else 1.0)
    return _fit_decay("hahn_echo", "t2", t, signal, sigma, exponent, offset, scale_covar)


def fit_decoupling(taus: ArrayLike, signal: ArrayLike, n_pulses: int, *,
                   sigma: ArrayLike | None = None, exponent: float | None = None,
                   offset: float | None = None, scale_covar: bool = True) -> PulsedFit:
    """Fit the coherence decay of CPMG-N / XY8-N: ``c + A·exp(−(T/T2)^p)``, T = N·τ.

    ``taus`` is the π-pulse spacing (centre to centre) and ``n_pulses`` the number of π pulses
    (8 per XY8 unit).  ``t2`` is T2(N), which grows as N^(2/3) for a slow Lorentzian bath.
    """
    if isinstance(n_pulses, bool) or int(n_pulses) != n_pulses or n_pulses < 1:
        raise ValueError(f"n_pulses must be a whole number >= 1, not {n_pulses!r}")
    t = np.asarray(taus, dtype=float) * int(n_pulses)
    fit = _fit_decay("decoupling", "t2", t, signal, sigma, exponent, offset, scale_covar)
    fit.values["n_pulses"] = float(n_pulses)
    fit.errors["n_pulses"] = 0.0
    return fit


def fit_t1(taus: ArrayLike, signal: ArrayLike, *, sigma: ArrayLike | None = None,
           offset: float | None = None, scale_covar: bool = True) -> PulsedFit:
    """Fit a T1 decay ``c + A·exp(−τ/T1)`` (``offset=0`` for the difference of the signal and
    its π-flipped twin).  Returns ``t1`` (s), ``contrast``, ``offset``."""
    fit = _fit_decay("t1", "t1", taus, signal, sigma, 1.0, offset, scale_covar)
    fit.values.pop("exponent", None)
    fit.errors.pop("exponent", None)
    return fit


def relaxometry_rate(t1: float, t1_error: float, t1_intrinsic: float,
                     t1_intrinsic_error: float = 0.0) -> tuple[float, float]:
    """The relaxation rate added by the environment, ``1/T1 − 1/T1,intrinsic`` (1/s), and its
    1σ error (relaxometry: paramagnetic species, spin noise near the sensor)."""
    for name, v in (("t1", t1), ("t1_intrinsic", t1_intrinsic)):
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite time > 0 in s, not {v!r}")
    rate = 1.0 / t1 - 1.0 / t1_intrinsic
    err = math.hypot(t1_error / t1**2, t1_intrinsic_error / t1_intrinsic**2)
    return rate, err


# --- AC field, pulsed ODMR -----------------------------------------------------------------


def ac_field_from_quadratures(in_phase: float, in_phase_error: float, quadrature: float,
                              quadrature_error: float, evolution_time: float
                              ) -> dict[str, float]:
    """AC field amplitude from the two quadratures of a CPMG/XY8 measurement.

    With the builders' default last π/2 pulse (about −x) the phase-cycled contrast is
    ``X = K cos φ``; with ``final_phase=270`` it is ``Y = K sin φ`` (K the coherence contrast,
    φ the phase accumulated from ``B·cos(2πf t)``, t from the end of the first π/2 pulse).
    ``φ = atan2(Y, X)`` needs no knowledge of K or of the decay, and the field is
    ``B = φ/(4γT)`` (:func:`nvsense.physics.pulsed_sensitivity.ac_field_from_phase`).

    Returns
    -------
    dict
        ``ac_field`` (T) and ``ac_field_error``, ``phase`` (rad) and ``phase_error``,
        ``coherence`` (K) — errors from first-order propagation.
    """
    x, y = float(in_phase), float(quadrature)
    k2 = x * x + y * y
    if not k2 > 0:
        raise ValueError("both quadratures are zero: no coherence left to read a phase from")
    phi = math.atan2(y, x)
    # ∂φ/∂x = −y/K², ∂φ/∂y = x/K²
    e_phi = math.sqrt((y * in_phase_error) ** 2 + (x * quadrature_error) ** 2) / k2
    b = float(ac_field_from_phase(phi, evolution_time))
    e_b = float(ac_field_from_phase(e_phi, evolution_time))
    return {"ac_field": b, "ac_field_error": e_b, "phase": phi, "phase_error": e_phi,
            "coherence": math.sqrt(k2)}


def fit_pulsed_odmr(frequencies: ArrayLike, signal: ArrayLike, model: str = "lorentzian",
                    n_lines: int | None = None, **kwargs: Any) -> Any:
    """Fit a pulsed-ODMR spectrum: :func:`nvsense.fitting.fit_spectrum` (Lorentzian dips,
    14N/15N multiplets), whose lines are as narrow as the π pulse allows (≈ 0.8/t_π FWHM)."""
    from .single import fit_spectrum

    return fit_spectrum(frequencies, signal, model, n_lines, **kwargs)

