"""The lock-in's low-pass filter: N identical RC stages in cascade, streaming.

Commercial lock-ins build their output filter from identical first-order (RC) stages: the
SR860 offers 1–4 stages (6, 12, 18, 24 dB/oct), the Zurich Instruments MFLI 1–8 (6–48 dB/oct),
all sharing one time constant τ.  One stage has ``H(f) = 1 / (1 + i·2πfτ)``; N stages have
``H(f)^N``.  Closed forms used by the tests and reported to the user:

- equivalent noise bandwidth (one-sided, Hz):
  ``ENBW = ∫₀^∞ |H|^{2N} df = Γ(N − ½) / (4 √π τ Γ(N))``, i.e. 1/(4τ), 1/(8τ), 3/(32τ),
  5/(64τ) for N = 1…4 (the values in the SR830/SR860 manuals);
- step response: ``1 − e^{−t/τ} Σ_{k<N} (t/τ)^k / k!`` (the Erlang distribution function);
- −3 dB bandwidth: ``√(2^{1/N} − 1) / (2πτ)``.

The discrete filter is the impulse-invariant stage ``y[n] = y[n−1] + α (x[n] − y[n−1])``,
``α = 1 − e^{−Δt/τ}``, which has the exact continuous step response at the sample instants for
one stage; the cascade matches the closed forms to O(Δt/τ).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import signal, special

__all__ = [
    "MAX_ORDER",
    "CascadedRC",
    "rc_bandwidth_3db",
    "rc_enbw",
    "rc_step_response",
    "rc_transfer",
]

#: Most stages a filter may have (the MFLI's 48 dB/oct).
MAX_ORDER = 8


def check_order(order: object) -> int:
    """The filter order as an int in 1..8, or a ValueError naming the fix."""
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or \
            not 1 <= int(order) <= MAX_ORDER:
        raise ValueError(f"filter order must be a whole number of RC stages from 1 to "
                         f"{MAX_ORDER} (6 to {6 * MAX_ORDER} dB/oct), not {order!r}")
    return int(order)


def check_time_constant(time_constant: object) -> float:
    """The time constant as a positive finite float (s), or a ValueError."""
    try:
        tau = float(time_constant)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        tau = math.nan
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"time_constant must be a positive number of seconds, "
                         f"not {time_constant!r}")
    return tau


def rc_enbw(order: int, time_constant: float) -> float:
    """Equivalent noise bandwidth (one-sided, Hz) of ``order`` RC stages of ``time_constant``."""
    n = check_order(order)
    tau = check_time_constant(time_constant)
    return float(special.gamma(n - 0.5) / (4.0 * math.sqrt(math.pi) * tau * special.gamma(n)))


def rc_bandwidth_3db(order: int, time_constant: float) -> float:
    """Frequency (Hz) where ``|H|^N`` falls to 1/√2."""
    n = check_order(order)
    tau = check_time_constant(time_constant)
    return math.sqrt(2.0 ** (1.0 / n) - 1.0) / (2.0 * math.pi * tau)


def rc_transfer(frequency: ArrayLike, order: int, time_constant: float) -> NDArray[np.complex128]:
    """Continuous transfer function ``(1 + i 2π f τ)^−N``."""
    n = check_order(order)
    tau = check_time_constant(time_constant)
    f = np.asarray(frequency, dtype=float)
    return (1.0 + 2j * np.pi * f * tau) ** (-n)


def rc_step_response(time: ArrayLike, order: int, time_constant: float) -> NDArray[np.float64]:
    """Step response ``1 − e^{−t/τ} Σ_{k<N} (t/τ)^k/k!`` (0 for t < 0)."""
    n = check_order(order)
    tau = check_time_constant(time_constant)
    t = np.asarray(time, dtype=float)
    # The regularised lower incomplete gamma function P(N, t/τ) is exactly this sum.
    return np.where(t > 0, special.gammainc(n, np.maximum(t, 0.0) / tau), 0.0)


class CascadedRC:
    """``order`` identical RC stages applied along the last axis, state kept between calls.

    Parameters
    ----------
    order
        Number of stages, 1..8.
    time_constant
        τ of each stage, s.
    sample_rate
        Input sample rate, Hz.

    Notes
    -----
    Feeding a record in blocks gives exactly the output of feeding it at once (the state of
    every stage is carried; scipy's ``sosfilt`` does the same arithmetic either way).  The
    state is created at the first call, for that call's leading shape and dtype; a later call
    with another shape raises.
    """

    def __init__(self, order: int, time_constant: float, sample_rate: float) -> None:
        self.order = check_order(order)
        self.time_constant = check_time_constant(time_constant)
        fs = float(sample_rate)
        if not (math.isfinite(fs) and fs > 0):
            raise ValueError(f"sample_rate must be a positive number of Hz, not {sample_rate!r}")
        self.sample_rate = fs
        # alpha = 1 - exp(-dt/tau), computed without cancellation for tau >> dt
        self.alpha = -math.expm1(-1.0 / (fs * self.time_constant))
        pole = 1.0 - self.alpha
        self._sos = np.tile([self.alpha, 0.0, 0.0, 1.0, -pole, 0.0], (self.order, 1))
        self._state: NDArray[np.complex128] | NDArray[np.float64] | None = None

    @property
    def enbw(self) -> float:
        """Closed-form equivalent noise bandwidth (Hz), see :func:`rc_enbw`."""
        return rc_enbw(self.order, self.time_constant)

    def reset(self) -> None:
        """Forget the state (the next sample starts from a discharged filter)."""
        self._state = None

    def __call__(self, x: NDArray) -> NDArray:
        """Filter ``x`` along its last axis, continuing from the previous call."""
        x = np.asarray(x)
        if self._state is None:
            dtype = np.complex128 if np.iscomplexobj(x) else np.float64
            self._state = np.zeros((self.order, *x.shape[:-1], 2), dtype=dtype)
        elif self._state.shape[1:-1] != x.shape[:-1]:
            raise ValueError(f"this filter was started with blocks of shape "
                             f"(..., n) = {(*self._state.shape[1:-1], 'n')}, got {x.shape}")
        if np.iscomplexobj(x) and not np.iscomplexobj(self._state):
            self._state = self._state.astype(np.complex128)
        y, self._state = signal.sosfilt(self._sos, x, axis=-1, zi=self._state)
        return y
