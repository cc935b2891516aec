"""Parameter vectors of the models: layout, SI conversion, bounds and seeds (guesses).

The kernels work on internal units (MHz relative to the sweep's reference frequency, mT);
users give and get SI (Hz, T).  This module holds the conversion and turns the user's
``bounds=``, ``fixed=`` and ``guess=`` options into per-spectrum arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import FitInputError
from .inputs import MHZ, Sweep
from .models import ModelSpec

__all__ = ["Layout", "SeedArrays", "resolve_bounds", "resolve_fixed", "resolve_seed"]

MT = 1e-3  # internal field unit, T
#: Default limit on each field component of the Hamiltonian model, T (below the ground-state
#: level anticrossing at ≈ 102 mT, where the model's "lowest level is ms = 0" stops holding).
B_MAX_T = 0.1
#: Default range of D, Hz (covers the zero-field splitting from cryogenic to ≈ 500 K).
D_RANGE_HZ = (2.80e9, 2.95e9)
#: Default range of E, Hz.
E_RANGE_HZ = (-50e6, 50e6)


def _frozen(a: NDArray[np.intp]) -> NDArray[np.intp]:
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Layout:
    """Indices of each kind of parameter in the parameter vector of ``spec``."""

    spec: ModelSpec

    @property
    def offset(self) -> int:
        return 0

    @property
    def slope(self) -> int | None:
        return 1 if self.spec.n_base >= 2 else None

    @property
    def curvature(self) -> int | None:
        return 2 if self.spec.n_base == 3 else None

    def _groups(self, k: int) -> NDArray[np.intp]:
        return _frozen(self.spec.n_base + 3 * np.arange(self.spec.n_lines) + k)

    # Index arrays are computed once per layout (the live loop builds them on every call) and
    # are read-only, since they are shared.
    @cached_property
    def centers(self) -> NDArray[np.intp]:
        return self._groups(0)

    @cached_property
    def widths(self) -> NDArray[np.intp]:
        if self.spec.is_hamiltonian:
            return _frozen(np.array([self.spec.n_base + 5]))
        return self._groups(1)

    @cached_property
    def contrasts(self) -> NDArray[np.intp]:
        if self.spec.is_hamiltonian:
            return _frozen(self.spec.n_base + 6 + np.arange(self.spec.n_axes))
        return self._groups(2)

    @cached_property
    def field(self) -> NDArray[np.intp]:
        return _frozen(self.spec.n_base + np.arange(3))

    @property
    def D(self) -> int:
        return self.spec.n_base + 3

    @property
    def E(self) -> int:
        return self.spec.n_base + 4

    def si_scale_shift(self, sweep: Sweep) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``SI = internal · scale + shift`` for every parameter."""
        P = self.spec.n_params
        scale = np.ones(P)
        shift = np.zeros(P)
        if self.slope is not None:
            scale[self.slope] = 1.0 / MHZ
        if self.curvature is not None:
            scale[self.curvature] = 1.0 / (MHZ * MHZ)
        scale[self.widths] = MHZ
        if self.spec.is_hamiltonian:
            scale[self.field] = MT
            scale[[self.D, self.E]] = MHZ
        else:
            scale[self.centers] = MHZ
            shift[self.centers] = sweep.f_ref
        return scale, shift

    def to_si(self, P: NDArray[np.float64], sweep: Sweep) -> NDArray[np.float64]:
        scale, shift = self.si_scale_shift(sweep)
        return P * scale + shift

    def errors_to_si(self, E: NDArray[np.float64], sweep: Sweep) -> NDArray[np.float64]:
        scale, _ = self.si_scale_shift(sweep)
        return E * np.abs(scale)

    def from_si(self, P: NDArray[np.float64], sweep: Sweep) -> NDArray[np.float64]:
        scale, shift = self.si_scale_shift(sweep)
        return (P - shift) / scale

    def names_for(self, key: str) -> NDArray[np.intp]:
        """Indices of a parameter class ("center", "width", ...) or of one parameter name."""
        spec = self.spec
        classes: dict[str, Any] = {"offset": [self.offset], "width": self.widths,
                                   "contrast": self.contrasts}
        if self.slope is not None:
            classes["slope"] = [self.slope]
        if self.curvature is not None:
            classes["curvature"] = [self.curvature]
        if spec.is_hamiltonian:
            classes.update({"field": self.field, "D": [self.D], "E": [self.E]})
        else:
            classes["center"] = self.centers
        if key in classes:
            return np.asarray(classes[key], dtype=np.intp)
        if key in spec.param_names:
            return np.array([spec.param_names.index(key)])
        raise FitInputError(f"unknown parameter {key!r} for model {spec.name!r}; use one of "
                            f"{', '.join(sorted(classes))} or a parameter name "
                            f"({', '.join(spec.param_names)})")


def default_bounds(layout: Layout, sweep: Sweep) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Internal (lo, hi) for every parameter: centers inside the sweep, widths from half a point
    spacing to the sweep span, contrasts in [0, 1] (peak amplitudes ≥ 0, dispersive amplitudes
    free), field within ±0.1 T, D and E in their physical ranges, baseline free."""
    P = layout.spec.n_params
    lo = np.full(P, -np.inf)
    hi = np.full(P, np.inf)
    lo[layout.widths] = 0.5 * sweep.step_mhz
    hi[layout.widths] = sweep.span_mhz
    if layout.spec.signal == "dips":
        lo[layout.contrasts] = 0.0
        hi[layout.contrasts] = 1.0
    elif layout.spec.signal == "peaks":
        lo[layout.contrasts] = 0.0
    if layout.spec.is_hamiltonian:
        lo[layout.field] = -B_MAX_T / MT
        hi[layout.field] = B_MAX_T / MT
        lo[layout.D], hi[layout.D] = (v / MHZ for v in D_RANGE_HZ)
        lo[layout.E], hi[layout.E] = (v / MHZ for v in E_RANGE_HZ)
    else:
        lo[layout.centers] = sweep.x[0]
        hi[layout.centers] = sweep.x[-1]
    return lo, hi


_BOUND_KEYS_LINES = ("center", "center_window", "width", "contrast", "offset", "slope",
                     "curvature")
_BOUND_KEYS_HAMILTONIAN = ("field", "D", "E", "width", "contrast", "offset", "slope",
                           "curvature")


def resolve_bounds(
    bounds: Mapping[str, Any] | None,
    layout: Layout,
    sweep: Sweep,
    P0: NDArray[np.float64],
    rows: slice,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-spectrum internal bounds (n, P) for the chunk ``rows`` with start values ``P0``.

    ``bounds`` maps a parameter class to ``(lo, hi)`` in SI: "center", "width", "contrast",
    "offset", "slope" (lines models) or "field", "D", "E", "width", "contrast", "offset",
    "slope" (Hamiltonian); ``lo``/``hi`` may be arrays, one value per line (per axis for the
    Hamiltonian contrasts, per component for the field) or one row per spectrum.
    ``"center_window": w`` bounds each center to ``seed ± w`` (Hz), the widefield practice of
    seeding every pixel from the region-average fit.
    """
    lo0, hi0 = default_bounds(layout, sweep)
    n = P0.shape[0]
    lo = np.repeat(lo0[None, :], n, axis=0)
    hi = np.repeat(hi0[None, :], n, axis=0)
    if not bounds:
        return lo, hi
    if not isinstance(bounds, Mapping):
        raise FitInputError("bounds must be a dict such as {'width': (3e6, 40e6), "
                            "'center_window': 25e6}")
    spec = layout.spec
    allowed = _BOUND_KEYS_HAMILTONIAN if spec.is_hamiltonian else _BOUND_KEYS_LINES
    scale, shift = layout.si_scale_shift(sweep)
    for key, value in bounds.items():
        if key not in allowed:
            raise FitInputError(f"unknown bounds key {key!r} for model {spec.name!r}; use "
                                f"{', '.join(allowed)}")
        if key == "center_window":
            win = float(value) / MHZ
            if not (np.isfinite(win) and win > 0):
                raise FitInputError(f"center_window must be a positive number of Hz, got "
                                    f"{value!r}")
            idx = layout.centers
            lo[:, idx] = np.maximum(lo[:, idx], P0[:, idx] - win)
            hi[:, idx] = np.minimum(hi[:, idx], P0[:, idx] + win)
            continue
        if isinstance(value, str) or np.ndim(value) == 0 or len(value) != 2:
            raise FitInputError(f"bounds[{key!r}] must be a pair (lo, hi) in SI units, got "
                                f"{value!r}")
        idx = layout.names_for(key)
        for side, target in ((0, lo), (1, hi)):
            v = _rows(value[side], len(idx), n, rows, f"bounds[{key!r}]")
            if v is None:
                continue
            target[:, idx] = (v - shift[idx]) / scale[idx]
    bad = ~(lo <= hi)
    if np.any(bad):
        j = int(np.argwhere(bad)[0, 1])
        raise FitInputError(f"bounds give lo > hi for parameter {spec.param_names[j]!r}")
    return lo, hi


def _rows(value: Any, k: int, n: int, rows: slice, what: str) -> NDArray[np.float64] | None:
    """``value`` as an (n, k) array for the chunk ``rows``; None keeps the default."""
    if value is None:
        return None
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full((n, k), float(a))
    if a.ndim == 1 and a.size == k:
        return np.broadcast_to(a, (n, k))
    if a.ndim == 1 and k == 1:
        return a[rows][:, None]
    if a.ndim == 2 and a.shape[1] == k:
        if a.shape[0] == 1:
            return np.broadcast_to(a, (n, k))
        return a[rows]
    raise FitInputError(f"{what} has shape {a.shape}; give a scalar, {k} values, or one row of "
                        f"{k} per spectrum")


def resolve_fixed(fixed: Mapping[str, Any] | None, layout: Layout
                  ) -> tuple[NDArray[np.bool_], dict[int, Any]]:
    """(vary mask, {index: SI value or None}) from ``fixed``.

    ``fixed`` maps a parameter class or name to a value in SI (or None: keep the start
    value).  Fixed parameters do not vary and get a zero error.
    """
    vary = np.ones(layout.spec.n_params, dtype=bool)
    values: dict[int, Any] = {}
    if not fixed:
        return vary, values
    if not isinstance(fixed, Mapping):
        raise FitInputError("fixed must be a dict such as {'E': 0.0} or {'width': 5e6}")
    for key, value in fixed.items():
        idx = layout.names_for(key)
        vary[idx] = False
        if value is not None:
            a = np.asarray(value, dtype=float)
            if a.ndim > 1 or (a.ndim == 1 and a.size != idx.size):
                raise FitInputError(f"fixed[{key!r}] must be a number or {idx.size} numbers")
            for j, i in enumerate(idx):
                values[int(i)] = float(a) if a.ndim == 0 else float(a[j])
    return vary, values


@dataclass
class SeedArrays:
    """A user's seed (``guess=``) as arrays of shape (1, k) (shared) or (N, k) (per spectrum)."""

    values: dict[str, NDArray[np.float64]]

    def has(self, key: str) -> bool:
        return key in self.values

    def rows(self, key: str, rows: slice, n: int) -> NDArray[np.float64]:
        """The seed ``key`` for the chunk ``rows`` (n rows)."""
        a = self.values[key]
        if a.shape[0] == 1:
            return np.broadcast_to(a, (n, a.shape[1]))
        return a[rows]


_SEED_KEYS_LINES = {"centers": None, "widths": None, "contrasts": None, "offset": 1,
                    "slope": 1, "curvature": 1, "field": 3, "D": 1, "E": 1}
_SEED_KEYS_HAMILTONIAN = {"field": 3, "D": 1, "E": 1, "width": 1, "contrasts": None,
                          "offset": 1, "slope": 1, "curvature": 1, "centers": None}
_ALIASES = {"baseline": "offset", "center": "centers", "contrast": "contrasts",
            "B": "field", "field_guess": "field"}


def resolve_seed(guess: Any, spec: ModelSpec, N: int) -> SeedArrays:
    """Normalise ``guess=`` into :class:`SeedArrays`.

    ``guess`` may be None, a mapping of seed values in SI, or any object with an ``as_guess()``
    method (every fit result of this package: a previous fit seeds the next).  Per-line values
    take n_lines values (shared by all spectra) or an (N, n_lines) array (one row per spectrum);
    with one line an (N,) array is also read per spectrum.
    """
    if guess is None:
        return SeedArrays({})
    if hasattr(guess, "as_guess"):
        guess = guess.as_guess()
    if not isinstance(guess, Mapping):
        raise FitInputError("guess must be a previous fit result or a dict such as "
                            "{'centers': [2.85e9, 2.89e9], 'widths': 8e6}")
    keys = _SEED_KEYS_HAMILTONIAN if spec.is_hamiltonian else _SEED_KEYS_LINES
    out: dict[str, NDArray[np.float64]] = {}
    for raw_key, value in guess.items():
        key = _ALIASES.get(raw_key, raw_key)
        if key == "width" and not spec.is_hamiltonian:
            key = "widths"
        if key == "widths" and spec.is_hamiltonian:
            key = "width"
        if key not in keys:
            raise FitInputError(f"unknown guess key {raw_key!r} for model {spec.name!r}; use "
                                f"{', '.join(keys)}")
        if value is None:
            continue
        k = keys[key]
        if k is None:
            k = spec.n_axes if (spec.is_hamiltonian and key == "contrasts") else spec.n_lines
        a = np.asarray(value, dtype=float)
        if key == "width" and a.ndim >= 1 and a.shape[-1] != 1:
            # a per-line width seed (e.g. from a lines fit): use its median per spectrum
            a = np.median(np.atleast_2d(a), axis=-1) if a.ndim == 2 else np.median(a)
        if key in ("widths", "contrasts") and a.ndim == 0:
            a = np.full(k, float(a))
        if a.ndim == 0:
            arr = a.reshape(1, 1)
        elif a.ndim == 1 and a.size == k:
            arr = a.reshape(1, k)
        elif a.ndim == 1 and k == 1 and a.size == N:
            arr = a.reshape(N, 1)
        elif a.ndim == 2 and a.shape == (N, k):
            arr = a
        elif a.ndim == 2 and a.shape == (1, k):
            arr = a
        else:
            raise FitInputError(f"guess[{raw_key!r}] has shape {a.shape}; give {k} value(s) "
                                f"shared by all spectra or an array of shape ({N}, {k})")
        if arr.shape[1] != k:
            raise FitInputError(f"guess[{raw_key!r}] needs {k} value(s) per spectrum")
        out[key] = np.ascontiguousarray(arr, dtype=float)
    return SeedArrays(out)
