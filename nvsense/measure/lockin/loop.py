"""The closed loop of a lock-in run: integral control once per block, and its bandwidth.

Each block n the lock reads the line's position at the block's m output samples,
``LPF(ν)(t_i)`` (the lock-in's filter ``H(f) = (1 + i2πfτ)^−N`` on the line's motion: the
estimate ``LPF(p) − X/k`` of :class:`ControlFilter`), and moves the control by ki times the mean
offset: ``p_{n+1} = p_n + ki·(mean_i LPF(ν)(t_i) − p_n)``.  For a line moving as e^{i2πft},
with the outputs at ``t_n + (i + 1)·T/m`` (T the block), the control follows with

    P(f) = ki·H(f)·A(f)·z⁻¹ / (1 − (1 − ki)·z⁻¹),   z = e^{i2πfT},
    A(f) = (1/m)·Σ_{i<m} e^{i2πf(i+1)T/m},

whose −3 dB frequency is the lock's bandwidth.  :func:`gain_for_bandwidth` finds the ki that
gives the bandwidth asked for (well-damped loops only: the response peaks by at most 3 dB).
The tests check P against a time-domain simulation of the loop.

The field itself does not wait for the loop: its estimate is the line position
``LPF(p) − X/k`` at every output sample, valid while the line stays within the linear part of
the error signal.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = ["ControlFilter", "closed_loop_bandwidth", "closed_loop_response",
           "gain_for_bandwidth"]

#: Largest integral gain used: beyond it the loop rings (one block of delay).
MAX_GAIN = 1.0


def closed_loop_response(f: NDArray[np.float64], ki: float, block_time: float,
                         time_constant: float, order: int, outputs: int = 1
                         ) -> NDArray[np.complex128]:
    """P(f) of the module docstring: how the control follows a line moving at f (Hz), with
    ``outputs`` lock-in samples per block."""
    f = np.asarray(f, dtype=float)
    T = block_time
    z1 = np.exp(-2j * np.pi * f * T)
    h = (1 + 2j * np.pi * f * time_constant) ** (-order)
    m = max(1, int(outputs))
    a = np.mean([np.exp(2j * np.pi * f * (i + 1) * T / m) for i in range(m)], axis=0)
    return ki * h * a * z1 / (1 - (1 - ki) * z1)


def closed_loop_bandwidth(ki: float, block_time: float, time_constant: float,
                          order: int, outputs: int = 1) -> float:
    """−3 dB frequency of :func:`closed_loop_response`, Hz (the update rate's Nyquist
    frequency when it does not fall that far)."""
    nyquist = 0.5 / block_time
    f = np.geomspace(1e-3 * nyquist, nyquist, 4000)
    mag = np.abs(closed_loop_response(f, ki, block_time, time_constant, order, outputs))
    below = np.flatnonzero(mag < 1 / math.sqrt(2))
    if below.size == 0:
        return nyquist
    k = int(below[0])
    if k == 0:
        return float(f[0])
    # interpolate in log f between the two grid points around −3 dB
    a, b = mag[k - 1], mag[k]
    frac = (a - 1 / math.sqrt(2)) / (a - b)
    return float(np.exp(np.log(f[k - 1]) + frac * (np.log(f[k]) - np.log(f[k - 1]))))


def _peaking_db(ki: float, block_time: float, time_constant: float, order: int,
                outputs: int) -> float:
    f = np.geomspace(1e-4 / block_time, 0.5 / block_time, 2000)
    mag = np.abs(closed_loop_response(f, ki, block_time, time_constant, order, outputs))
    return float(20 * np.log10(mag.max()))


def gain_for_bandwidth(bandwidth: float, block_time: float, time_constant: float,
                       order: int, outputs: int = 1) -> float:
    """The integral gain whose closed loop has ``bandwidth`` (Hz).

    Raises
    ------
    ValueError
        Not reachable with a well-damped loop (peaking ≤ 3 dB, ki ≤ 1): the message says to
        shorten the block or the time constant.
    """
    lo, hi = 1e-6, MAX_GAIN
    top = closed_loop_bandwidth(hi, block_time, time_constant, order, outputs)
    if top < bandwidth or _peaking_db(hi, block_time, time_constant, order, outputs) > 3.0:
        # the largest well-damped gain
        for ki in np.linspace(MAX_GAIN, 0.05, 20):
            if _peaking_db(ki, block_time, time_constant, order, outputs) <= 3.0:
                top = closed_loop_bandwidth(ki, block_time, time_constant, order, outputs)
                hi = float(ki)
                break
        if top < bandwidth:
            raise ValueError(
                f"a lock bandwidth of {bandwidth:g} Hz is out of reach with blocks of "
                f"{block_time:g} s and a {time_constant:g} s time constant (at most "
                f"{top:.3g} Hz): shorten block_time or the time constant (raise the rate)")
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if closed_loop_bandwidth(mid, block_time, time_constant, order, outputs) < bandwidth:
            lo = mid
        else:
            hi = mid
    return hi


class ControlFilter:
    """The lock-in's own filter applied to the control's steps, sampled like the lock-in's
    output: what the demodulated signal "sees" of the control value.

    The control is constant within a block, so its filtered value is the sum of its steps,
    each through the step response of the lock-in's discrete filter (N stages
    ``y += α(x − y)``: ``s[j] = I_α(N, j + 1)``, the negative-binomial distribution function,
    j samples after the step): ``LPF(p) = p_now − Σ_j Δp_j·(1 − s)`` over the recent steps
    (older ones have settled to below 1e-12 of their size and are dropped).  Exact, and far
    cheaper per block than running the filter over every sample.
    """

    def __init__(self, order: int, time_constant: float, sample_rate: float,
                 decimation: int) -> None:
        self.order = int(order)
        self.time_constant = float(time_constant)
        self.sample_rate = float(sample_rate)
        self.decimation = int(decimation)
        self.index = 0
        self.value: float | None = None
        self.steps: list[tuple[int, float]] = []  # (sample index of the step, size)
        self.alpha = -math.expm1(-1.0 / (self.sample_rate * self.time_constant))
        # settled when 1 − s[j] < 1e-12
        j = 1
        while self._tail(np.array([j]))[0] >= 1e-12:
            j *= 2
        self.settle = j

    def _tail(self, j: NDArray[np.int64]) -> NDArray[np.float64]:
        """1 − s[j]: what is still to come of a unit step j samples after it."""
        return 1 - special.betainc(self.order, np.maximum(j, 0) + 1, self.alpha)

    def __call__(self, value: float, n: int) -> NDArray[np.float64]:
        """Feed ``n`` samples of the control ``value``; the filtered control at the output
        instants within them."""
        value = float(value)
        if self.value is None:  # start settled at the first value
            self.value = value
        elif value != self.value:
            self.steps.append((self.index, value - self.value))
            self.value = value
        d = self.decimation
        first = -(-(self.index + 1) // d) * d - 1
        picks = np.arange(first, self.index + n, d)
        self.index += n
        self.steps = [(k, dp) for k, dp in self.steps if self.index - k < self.settle]
        out = np.full(picks.size, value)
        if self.steps:
            ks = np.array([k for k, _ in self.steps])
            dps = np.array([dp for _, dp in self.steps])
            out -= dps @ self._tail(picks[None, :] - ks[:, None])
        return out
