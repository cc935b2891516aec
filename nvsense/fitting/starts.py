"""Start values of the fits: from a seed (a previous fit, a field), or from the data alone.

:func:`start_values` fills the parameter vectors of a chunk of spectra (internal units: MHz
relative to the sweep's middle, mT).  Without a seed the guess kernel
(:mod:`nvsense.fitting.guess_kernel`) picks dips deepest first; peaks and dispersive lock-in
lines are guessed on the spectrum of dips that stands for them
(:mod:`nvsense.fitting.signal_views`).  :func:`noise_depth` and :func:`count_significant` are
the detection statistics (a dip counts when it stands out of the noise by ``DETECT_SIGMA``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import NV_AXES, ZFS_HZ, transition_frequencies

from .errors import FitInputError
from .field_guess import field_from_lines
from .inputs import MHZ, Sweep
from .jit import as_f8
from .kernel_layout import SMOOTHING_NOISE_GAIN, guess_scratch
from .kernels import GUESS_ROWS
from .models import ModelSpec, make_model
from .parallel import run_rows
from .parameters import MT, Layout, SeedArrays
from .signal_views import dip_view, from_dip_view

__all__ = [
    "DETECT_RELATIVE",
    "DETECT_SIGMA",
    "SMALL_BATCH",
    "count_significant",
    "detect_and_fit_lines",
    "guess_from_internal",
    "guess_lines_internal",
    "hamiltonian_field_guess",
    "noise_depth",
    "start_values",
]

#: Chunks with fewer spectra than this run on one thread.
SMALL_BATCH = 64
#: Dip detection for n_lines=None: a dip must be deeper than this many noise σ ...
DETECT_SIGMA = 5.0
#: ... and than this fraction of the deepest dip (rejects residues of imperfect subtraction).
DETECT_RELATIVE = 0.15


def guess_lines_internal(
    Y: NDArray[np.float64],
    sweep: Sweep,
    spec: ModelSpec,
    n_groups: int,
    preset: NDArray[np.float64] | None = None,
    n_threads: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Data guesses (internal units, pick order) and dip depths for ``n_groups`` resonances
    of the lines family (``spec``'s shape, offsets, baseline and signal).  The depths ``H``
    are relative to the baseline of the (dips) view of the signal."""
    n = Y.shape[0]
    P = spec.n_base + 3 * n_groups
    if n_threads is None and n < SMALL_BATCH:
        n_threads = 1
    if preset is None:
        preset = np.full((n, n_groups), np.nan)
    P0 = np.empty((n, P))
    H = np.empty((n, n_groups))
    view = dip_view(Y, sweep, spec)
    shape = 0 if spec.signal == "derivative" else spec.shape_code
    run_rows(GUESS_ROWS, n, shape, spec.n_base, n_groups, as_f8(spec.offsets / MHZ),
             sweep.x, as_f8(view.Y), as_f8(preset), 0.5 * sweep.step_mhz, sweep.span_mhz, P0, H,
             scratch=partial(guess_scratch, sweep.n), n_threads=n_threads)
    return from_dip_view(P0, view, spec, n_groups), H


def noise_depth(Y: NDArray[np.float64], offset: NDArray[np.float64]) -> NDArray[np.float64]:
    """Noise of the smoothed depth profile, per spectrum, from the second differences (robust
    to the dips themselves)."""
    d2 = np.diff(Y, n=2, axis=1)
    mad = np.median(np.abs(d2 - np.median(d2, axis=1, keepdims=True)), axis=1)
    sigma_y = 1.4826 * mad / np.sqrt(6.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return SMOOTHING_NOISE_GAIN * sigma_y / np.abs(offset)


def count_significant(depths: NDArray[np.float64], noise: float) -> int:
    """Number of leading (deepest-first) picks that are real dips."""
    if depths.size == 0 or not np.isfinite(depths[0]) or depths[0] <= 0:
        return 0
    threshold = max(DETECT_SIGMA * noise, DETECT_RELATIVE * depths[0])
    k = 0
    for d in depths:
        if not d > threshold:
            break
        k += 1
    return k


def _sort_groups(P0: NDArray[np.float64], n_base: int, n_groups: int) -> NDArray[np.float64]:
    groups = P0[:, n_base:].reshape(P0.shape[0], n_groups, 3)
    order = np.argsort(groups[:, :, 0], axis=1)
    groups = np.take_along_axis(groups, order[:, :, None], axis=1)
    out = P0.copy()
    out[:, n_base:] = groups.reshape(P0.shape[0], -1)
    return out


def start_values(
    Y: NDArray[np.float64],
    sweep: Sweep,
    spec: ModelSpec,
    seed: SeedArrays,
    rows: slice,
    n_threads: int | None = None,
) -> NDArray[np.float64]:
    """Start values (internal units) for the chunk ``Y`` from the seed and the data."""
    if spec.is_hamiltonian:
        return _hamiltonian_start(Y, sweep, spec, seed, rows, n_threads)
    n = Y.shape[0]
    G = spec.n_lines
    nb = spec.n_base
    preset = None
    if seed.has("centers"):
        preset = sweep.to_internal(seed.rows("centers", rows, n))
    elif seed.has("field"):
        preset = _centers_from_field(seed, rows, n, G) / MHZ - sweep.f_ref / MHZ
    complete = (preset is not None and seed.has("widths") and seed.has("contrasts")
                and seed.has("offset") and (nb == 1 or seed.has("slope")))
    # (a quadratic baseline's curvature starts at 0 unless seeded)
    if complete:
        P0 = np.empty((n, spec.n_params))
    else:
        P0, _ = guess_lines_internal(Y, sweep, spec, G, preset, n_threads)
        if preset is None and G > 1:
            P0 = _sort_groups(P0, nb, G)
    if preset is not None:
        P0[:, nb::3] = preset
    if seed.has("widths"):
        P0[:, nb + 1::3] = seed.rows("widths", rows, n) / MHZ
    if seed.has("contrasts"):
        P0[:, nb + 2::3] = seed.rows("contrasts", rows, n)
    _seed_baseline(P0, seed, rows, n, nb, reset=complete)
    return P0


def _seed_baseline(P0: NDArray[np.float64], seed: SeedArrays, rows: slice, n: int, nb: int,
                   reset: bool) -> None:
    """Baseline entries of ``P0`` from the seed; slope and curvature not seeded are kept from
    the data guess, or zeroed when there was none (``reset``)."""
    if seed.has("offset"):
        P0[:, 0] = seed.rows("offset", rows, n)[:, 0]
    for index, key, scale in ((1, "slope", MHZ), (2, "curvature", MHZ * MHZ)):
        if nb > index:
            if seed.has(key):
                P0[:, index] = seed.rows(key, rows, n)[:, 0] * scale
            elif reset:
                P0[:, index] = 0.0


def _centers_from_field(seed: SeedArrays, rows: slice, n: int, G: int) -> NDArray[np.float64]:
    """Sorted line positions (Hz) implied by a field seed, for the lines models."""
    B = seed.rows("field", rows, n)
    D = seed.rows("D", rows, n)[:, 0] if seed.has("D") else np.full(n, ZFS_HZ)
    E = seed.rows("E", rows, n)[:, 0] if seed.has("E") else np.zeros(n)
    t = transition_frequencies(B, D, E, NV_AXES)
    lines = np.sort(t.reshape(n, -1), axis=1)
    if lines.shape[1] != G:
        raise FitInputError(f"a field seed gives {lines.shape[1]} lines (4 NV axes) but "
                            f"n_lines is {G}; use n_lines={lines.shape[1]} or seed 'centers'")
    return lines


def _hamiltonian_start(Y: NDArray[np.float64], sweep: Sweep, spec: ModelSpec, seed: SeedArrays,
                       rows: slice, n_threads: int | None) -> NDArray[np.float64]:
    n = Y.shape[0]
    nb = spec.n_base
    na = spec.n_axes
    layout = Layout(spec)
    P0 = np.empty((n, spec.n_params))
    D = seed.rows("D", rows, n)[:, 0] if seed.has("D") else np.full(n, ZFS_HZ)
    E = seed.rows("E", rows, n)[:, 0] if seed.has("E") else np.zeros(n)
    if seed.has("field"):
        B = np.array(seed.rows("field", rows, n), dtype=float)
    elif seed.has("centers"):
        centers = seed.rows("centers", rows, n)
        B = np.empty((n, 3))
        for i in range(n):
            if i and centers.strides[0] == 0:
                B[i] = B[0]
                continue
            B[i], _ = field_from_lines(centers[i][np.isfinite(centers[i])], float(D[i]),
                                       spec.axes)
    else:
        B = np.empty((n, 3))
        for i in range(n):
            B[i] = hamiltonian_field_guess(sweep, Y[i], spec, float(D[i]))
    P0[:, layout.field] = B / MT
    P0[:, layout.D] = D / MHZ
    P0[:, layout.E] = E / MHZ
    need_data = not (seed.has("width") and seed.has("contrasts") and seed.has("offset"))
    if need_data:
        # Width, contrasts and baseline from the data at the lines the field predicts.
        t = transition_frequencies(B, D, E, spec.axes)  # (n, na, 2) Hz
        preset = sweep.to_internal(t.reshape(n, 2 * na))
        inside = (preset >= sweep.x[0]) & (preset <= sweep.x[-1])
        Pl, _ = guess_lines_internal(Y, sweep, spec, 2 * na, np.where(inside, preset, np.nan),
                                     n_threads)
        widths = Pl[:, nb + 1::3]
        contrasts = Pl[:, nb + 2::3]
        P0[:, layout.widths[0]] = np.nanmedian(np.where(inside, widths, np.nan), axis=1)
        c_med = np.nanmedian(np.where(inside, contrasts, np.nan), axis=1)
        P0[:, layout.contrasts] = np.nan_to_num(c_med, nan=0.01)[:, None]
        P0[:, :nb] = Pl[:, :nb]
        bad = ~np.isfinite(P0[:, layout.widths[0]])
        P0[bad, layout.widths[0]] = 0.05 * sweep.span_mhz
    if seed.has("width"):
        P0[:, layout.widths[0]] = seed.rows("width", rows, n)[:, 0] / MHZ
    if seed.has("contrasts"):
        P0[:, layout.contrasts] = seed.rows("contrasts", rows, n)
    _seed_baseline(P0, seed, rows, n, nb, reset=not need_data)
    return P0


def hamiltonian_field_guess(sweep: Sweep, y: NDArray[np.float64], spec: ModelSpec,
                            D: float = ZFS_HZ, field_guess: ArrayLike | None = None
                            ) -> NDArray[np.float64]:
    """Field (T) seed for one spectrum from the data alone: find the dips, fit them as
    independent lines, then invert the line positions (:func:`field_from_lines`)."""
    positions = detect_and_fit_lines(sweep, y, spec, 2 * spec.n_axes)
    if positions.size < 2:
        return np.zeros(3) if field_guess is None else np.asarray(field_guess, dtype=float)
    B, _ = field_from_lines(positions, D, spec.axes, field_guess)
    return B


def detect_and_fit_lines(sweep: Sweep, y: NDArray[np.float64], spec: ModelSpec,
                         max_lines: int) -> NDArray[np.float64]:
    """Positions (Hz, sorted) of the significant dips of ``y``, refined by a quick lines fit
    with ``spec``'s shape and multiplet."""
    if not np.all(np.isfinite(y)):
        return np.zeros(0)
    Y = np.ascontiguousarray(y[None, :], dtype=float)
    P0, H = guess_lines_internal(Y, sweep, spec, max_lines)
    noise = float(noise_depth(Y, P0[:, 0])[0])
    k = count_significant(H[0], noise)
    if k == 0:
        return np.zeros(0)
    name = {1: "lorentzian"}.get(spec.offsets.size, "14n" if spec.offsets.size == 3 else "15n")
    if spec.lineshape == "gaussian" and spec.offsets.size == 1:
        name = "gaussian"
    lines_spec = make_model(name, k, baseline=spec.baseline, signal=spec.signal)
    keep = P0[:, : spec.n_base + 3 * k]
    freq = sweep.to_hz(sweep.x)
    from .batch import fit_batch  # (fit_batch's start values come from this module)

    res = fit_batch(freq, y, lines_spec.name, k, baseline=spec.baseline, signal=spec.signal,
                    guess=guess_from_internal(keep, sweep, k, spec.n_base),
                    min_significance=0.0)
    pos = res.centers[0]
    if not np.all(np.isfinite(pos)):
        pos = np.sort(sweep.to_hz(keep[0, spec.n_base::3]))
    return pos[np.isfinite(pos)]


def guess_from_internal(P: NDArray[np.float64], sweep: Sweep, k: int, nb: int, row: int = 0
                        ) -> dict[str, Any]:
    """A ``guess=`` dict (SI) from an internal parameter vector of the lines models."""
    g = {"centers": sweep.to_hz(P[row, nb::3][:k]), "widths": P[row, nb + 1::3][:k] * MHZ,
         "contrasts": P[row, nb + 2::3][:k], "offset": P[row, 0]}
    if nb >= 2:
        g["slope"] = P[row, 1] / MHZ
    if nb == 3:
        g["curvature"] = P[row, 2] / (MHZ * MHZ)
    return g
