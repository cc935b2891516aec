"""The least-squares problem behind the field inversion: measured lines, their weights, the model
lines of a field (and D), the matching of model lines to measured ones, and Levenberg–Marquardt.

Parameters ``x`` are γB in MHz (crystal frame, 3 values) followed by D in MHz when D is fitted,
so that every parameter is of order 1–1000.  Model lines are in MHz, axis-major: (axis 0 low,
axis 0 high, axis 1 low, ...).  An *assignment* maps each model line to the index of the
measured line it is compared with, or −1 when it is not compared (a line outside the sweep
window, or a line the user did not measure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .assignment import linear_sum_assignment
from .constants import GAMMA_NV_HZ_PER_T, ZFS_HZ
from .forward import frame_line_derivatives
from .hamiltonian import BLOCK_SIZE, axis_frames, levels_from_frame_field

__all__ = ["EVALUATIONS", "MHZ", "LineProblem", "Solution"]

#: The problem's frequency unit (γB and D are fitted in MHz).
MHZ = 1e6
#: Model evaluations (lines and Jacobian) allowed for one fit from one start, re-assignments
#: included.  A start in the basin of a solution converges in 5–30.
EVALUATIONS = 150


@dataclass
class Solution:
    """A least-squares fit from one start."""

    x: NDArray[np.float64]  # γB in MHz (3), then D in MHz if fitted
    assignment: NDArray[np.intp]  # (2n,) model line -> measured line, −1 if not compared
    cost: float
    lines: NDArray[np.float64]  # (2n,) model lines at x, MHz
    jac: NDArray[np.float64]  # (2n, p) their derivatives


class LineProblem:
    """Measured lines, their weights and the model; the fitting machinery.

    Parameters
    ----------
    lines
        The measured lines in Hz (finite values only), flat.
    sigma
        Their uncertainties in Hz, or None.
    axes
        Normalised NV axes (n, 3).
    E
        Transverse splitting in Hz (fixed).
    D
        Zero-field splitting in Hz, or None to fit it.
    fixed
        For assigned lines: (2n,) index of the measured line of each model line (−1 where that
        line was not measured); None for unassigned lines.
    window
        For unassigned lines: (low, high) in Hz; model lines outside are not compared (they
        were outside the sweep).  None: every model line must be among the measured ones.
    """

    def __init__(
        self,
        lines: NDArray[np.float64],
        sigma: NDArray[np.float64] | None,
        axes: NDArray[np.float64],
        E: float,
        D: float | None,
        fixed: NDArray[np.intp] | None = None,
        window: tuple[float, float] | None = None,
    ) -> None:
        self.y = np.asarray(lines, dtype=float) / MHZ
        self.sigma = None if sigma is None else np.asarray(sigma, dtype=float) / MHZ
        # without uncertainties every line weighs as if σ = 1 MHz
        self.s = np.ones_like(self.y) if sigma is None else self.sigma
        self.axes = axes
        self.n_axes = axes.shape[0]
        self.E = E
        self.e = E / MHZ
        self.D_fixed = D
        self.assigned = fixed is not None
        self.fixed = None if fixed is None else np.asarray(fixed, dtype=np.intp)
        self.window = None if window is None else (window[0] / MHZ, window[1] / MHZ)
        self.frames = axis_frames(axes)  # (n, 3, 3): rows x, y, z of each NV frame
        self.to_frame = [self.frames[:, k, :].T.copy() for k in range(3)]  # (3, n) each

    @property
    def n_params(self) -> int:
        return 3 if self.D_fixed is not None else 4

    @property
    def complete(self) -> bool:
        """Every model line has its own measured line (all lines given, none merged or
        outside the sweep)."""
        if self.assigned:
            return bool(np.all(self.fixed >= 0))
        return self.window is None and self.y.size == 2 * self.n_axes

    # -- model ---------------------------------------------------------------------------
    def split(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Field in T and D in Hz for parameters x (any leading batch shape)."""
        b = x[..., :3] * (MHZ / GAMMA_NV_HZ_PER_T)
        d = x[..., 3] * MHZ if self.D_fixed is None else np.full(x.shape[:-1], self.D_fixed)
        return b, d

    def pack(self, field: NDArray[np.float64], d: NDArray[np.float64]) -> NDArray[np.float64]:
        """Parameters from fields (..., 3) in T and D (...) in Hz."""
        x = np.asarray(field, dtype=float) * (GAMMA_NV_HZ_PER_T / MHZ)
        if self.D_fixed is None:
            x = np.concatenate([x, (np.asarray(d, dtype=float) / MHZ)[..., None]], axis=-1)
        return x

    def model(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Model lines in MHz, shape (..., 2·n_axes) (axis-major, low then high), for many
        parameter vectors at once (the closed form of ``transition_frequencies``, in MHz)."""
        n = self.n_axes
        flat = x.reshape(-1, x.shape[-1])
        out = np.empty((flat.shape[0], 2 * n))
        rows = max(1, BLOCK_SIZE // n)  # blocks that stay in the CPU cache
        for start in range(0, flat.shape[0], rows):
            xb = flat[start:start + rows, :3]
            bx, by, bz = xb @ self.to_frame[0], xb @ self.to_frame[1], xb @ self.to_frame[2]
            d = flat[start:start + rows, 3:4] if self.D_fixed is None else self.D_fixed / MHZ
            _, low, high = levels_from_frame_field(bx, by, bz, d, self.e)
            out[start:start + rows, 0::2] = low
            out[start:start + rows, 1::2] = high
        return out.reshape(*x.shape[:-1], 2 * n)

    def lines_jacobian(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                               NDArray[np.float64]]:
        """Model lines (2n,) in MHz for one parameter vector and their derivatives
        d(lines)/dx (2n, p), from :func:`nvsense.physics.forward.frame_line_derivatives` (the
        problem's units are consistent: γB, D and E in MHz)."""
        xb = x[:3]
        d = x[3] if self.D_fixed is None else self.D_fixed / MHZ
        lines, dlines = frame_line_derivatives(xb @ self.to_frame[0], xb @ self.to_frame[1],
                                               xb @ self.to_frame[2], d, self.e)
        n = self.n_axes
        jac = np.empty((2 * n, 4 if self.D_fixed is None else 3))
        # chain rule to the crystal frame: b_k = (row k of the axis's frame)·x
        jac[:, :3] = (dlines[..., :3] @ self.frames).reshape(2 * n, 3)
        if self.D_fixed is None:
            jac[:, 3] = dlines[..., 3].reshape(2 * n)
        return lines.reshape(2 * n), jac

    # -- weights and cost ------------------------------------------------------------------
    def weights(self, a: NDArray[np.intp]) -> NDArray[np.float64]:
        """Per-model-line weights: a measured line shared by m model lines counts once; model
        lines not compared weigh 0."""
        used = a >= 0
        mult = np.bincount(a[used], minlength=self.y.size)
        w = np.zeros(a.size)
        w[used] = 1.0 / (self.s[a[used]] ** 2 * mult[a[used]])
        return w

    def targets(self, a: NDArray[np.intp], model: NDArray[np.float64]) -> NDArray[np.float64]:
        """The measured line each model line is compared with (the model line itself where it
        is not compared, so that its residual is zero)."""
        return np.where(a >= 0, self.y[np.maximum(a, 0)], model)

    def residual(self, x: NDArray[np.float64], a: NDArray[np.intp]) -> NDArray[np.float64]:
        model = self.model(x)
        return (model - self.targets(a, model)) * np.sqrt(self.weights(a))

    def cost(self, x: NDArray[np.float64], a: NDArray[np.intp]) -> float:
        r = self.residual(x, a)
        return float(r @ r)

    def worst(self, fit: Solution) -> float:
        """Largest distance (Hz) between a model line and the measured line it is matched to."""
        used = fit.assignment >= 0
        if not np.any(used):
            return 0.0
        return float(np.max(np.abs(fit.lines[used] - self.y[fit.assignment[used]]))) * MHZ

    def inside(self, model: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which model lines lie inside the sweep window (all of them without one)."""
        if self.window is None:
            return np.ones(model.shape, dtype=bool)
        return (model >= self.window[0]) & (model <= self.window[1])

    # -- assignment ------------------------------------------------------------------------
    def assign(self, model: NDArray[np.float64], weighted: bool = True) -> NDArray[np.intp]:
        """Match model lines to measured lines: every measured line gets at least one model
        line (optimal one-to-one matching first), the rest go to their nearest line; model
        lines outside the window are not compared.  The distances are in units of the line
        uncertainties, or in MHz (``weighted=False``: for a model still far from the lines,
        where a precise line would otherwise draw the nearest model line to it across the
        others)."""
        if self.assigned:
            return self.fixed
        diff = model[None, :] - self.y[:, None]
        cost = (diff / self.s[:, None]) ** 2 if weighted else diff * diff
        inside = self.inside(model)
        if np.count_nonzero(inside) < self.y.size:  # too few inside: compare them all
            inside = np.ones_like(inside)
        cols = np.flatnonzero(inside)
        a = np.full(model.size, -1, dtype=np.intp)
        a[cols] = np.argmin(cost[:, cols], axis=0)
        rows, picked = linear_sum_assignment(cost[:, cols])
        a[cols[picked]] = rows
        return a

    # -- fitting ----------------------------------------------------------------------------
    def refine(self, x0: NDArray[np.float64], budget: int = EVALUATIONS) -> Solution:
        """Least squares from x0, re-assigning lines until the assignment is stable (the
        first assignment by distance, the later ones in units of the uncertainties), with at
        most ``budget`` model evaluations in all: a start in the basin of a solution needs a
        few tens; one that wanders off (e.g. a guess of 1 T) is given up."""
        x = np.asarray(x0, dtype=float)
        a = self.assign(self.model(x), weighted=False)
        for _ in range(20):
            x, cost, lines, jac, used = self.least_squares(x, a, budget)
            budget -= used
            new = self.assign(lines)
            if np.array_equal(new, a) or budget <= 0:
                break
            a = new
            cost = self.cost(x, a)
        return Solution(x, a, cost, lines, jac)

    def least_squares(
        self, x: NDArray[np.float64], a: NDArray[np.intp], max_evaluations: int = EVALUATIONS
    ) -> tuple[NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64], int]:
        """Levenberg–Marquardt for the assignment ``a`` with the exact Jacobian: Marquardt's
        scaling (damping ∝ diag JᵀJ), Nielsen's damping update.  Stops when a step no longer
        changes x (relative 1e-12) or the cost (relative 1e-14), or after
        ``max_evaluations`` evaluations of the model.  Returns x, its cost, the model lines
        and Jacobian there, and the number of evaluations used."""
        sw = np.sqrt(self.weights(a))
        lines, jac = self.lines_jacobian(x)
        r = (lines - self.targets(a, lines)) * sw
        jw = jac * sw[:, None]
        cost = float(r @ r)
        mu, nu = 1e-3, 2.0
        used = 1
        while used < max_evaluations:
            g = jw.T @ r
            h = jw.T @ jw
            diag = np.diag(h)
            scale = np.maximum(diag, 1e-12 * max(float(diag.max()), 1e-300))
            try:
                step = np.linalg.solve(h + np.diag(mu * scale), -g)
            except np.linalg.LinAlgError:
                mu, nu = mu * nu, nu * 2.0
                if mu > 1e16:
                    break
                continue
            if not np.isfinite(step).all():
                break
            if np.sqrt(step @ step) <= 1e-12 * (np.sqrt(x @ x) + 1e-12):
                break
            predicted = -(2.0 * (g @ step) + step @ h @ step)  # decrease of the linear model
            if predicted <= 0.0:
                break
            x_new = x + step
            lines_new, jac_new = self.lines_jacobian(x_new)
            used += 1
            r_new = (lines_new - self.targets(a, lines_new)) * sw
            cost_new = float(r_new @ r_new)
            rho = (cost - cost_new) / predicted
            if rho > 0.0 and np.isfinite(cost_new):
                done = cost - cost_new <= 1e-14 * cost
                x, r, cost, lines, jac = x_new, r_new, cost_new, lines_new, jac_new
                jw = jac * sw[:, None]
                mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                if done or cost == 0.0:
                    break
            else:
                mu, nu = mu * nu, nu * 2.0
                if mu > 1e16:
                    break
        return x, cost, lines, jac, used

    def default_d(self) -> float:
        """D of the starting points: the fixed one, or the room-temperature value."""
        return float(self.D_fixed) if self.D_fixed is not None else ZFS_HZ
