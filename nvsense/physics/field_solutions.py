"""Telling solutions of the field inversion apart: which fits are equally good, which fields are
symmetric images of each other (give the same lines), and which image to report.

A field and its images under the symmetries of the axes (:func:`axis_symmetries`) give the same
*ensemble* of lines (E = 0); lines assigned to their axes tell them apart except for ±B.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .line_problem import MHZ, LineProblem, Solution
from .symmetry import axis_symmetries

__all__ = [
    "choose_image",
    "equally_good",
    "equivalent_fields",
    "image_starts",
    "same_solution",
    "slack",
]


def slack(problem: LineProblem, sig) -> float:
    """Cost difference below which two fits are equally good: Δχ² = 1 with uncertainties,
    ~1 kHz rms without (the cost is then in MHz²)."""
    return 1.0 if sig is not None else 1e-6 * problem.y.size


def same_solution(problem: LineProblem, fit: Solution, other: Solution) -> bool:
    """Whether two fits are one solution: the same D (within 1 kHz) and fields equal up to a
    symmetry of the axes (within 1e-6 relative)."""
    field, d = problem.split(fit.x)
    other_field, other_d = problem.split(other.x)
    size = 1e-10 + 1e-6 * np.linalg.norm(field)
    return bool(abs(d - other_d) < 1e3 and np.min(np.linalg.norm(
        axis_symmetries(problem.axes) @ other_field - field, axis=1)) < size)


def equally_good(problem: LineProblem, fits: list[Solution], best: Solution, sig
                 ) -> list[Solution]:
    """Fits as good as ``best`` (Δχ² < 1 with uncertainties, ~1 kHz rms without), one per
    class of symmetric images, ``best`` first."""
    tolerance = slack(problem, sig)
    rest = sorted((f for f in fits if f is not best and f.cost <= best.cost + tolerance),
                  key=lambda f: f.cost)
    good = [best, *rest]
    kept: list[Solution] = []
    for f in good:
        if not any(same_solution(problem, f, k) for k in kept):
            kept.append(f)
    return kept


def image_starts(problem: LineProblem, fit: Solution) -> list[NDArray[np.float64]]:
    """One start per class of symmetric images of ``fit`` (images with the same lines before
    refinement are equivalent, so one of each class is enough)."""
    field, d = problem.split(fit.x)
    images = axis_symmetries(problem.axes) @ field
    x = problem.pack(images, np.full(len(images), d))
    cost = np.array([problem.cost(xi, problem.assign(problem.model(xi))) for xi in x])
    starts: list[NDArray[np.float64]] = []
    seen: list[float] = []
    for xi, c in zip(x, cost):
        if all(abs(c - s) > 1e-6 * (1.0 + abs(s)) for s in seen):
            seen.append(c)
            starts.append(xi)
    return starts[1:] if len(starts) > 1 else []  # the first class is the fit itself


def _comparable(problem: LineProblem, lines: NDArray[np.float64]) -> NDArray[np.float64]:
    """The lines of fields in the form in which images are compared (Hz): per model line for
    assigned lines (only the measured ones), sorted for unassigned ones (only those inside the
    window, the others as +inf so that a line leaving the window makes a difference)."""
    if problem.assigned:
        return lines[..., problem.fixed >= 0]
    if problem.window is not None:
        lines = np.where(problem.inside(lines / MHZ), lines, np.inf)
    return np.sort(lines, axis=-1)


def equivalent_fields(problem: LineProblem, field, d: float, sig) -> NDArray[np.float64]:
    """Every symmetric image of ``field`` that gives the same lines (within the smallest line
    uncertainty, or 1 Hz), ``field``'s own class first, without repeats."""
    # exact symmetries leave the lines equal to ~1e-6 Hz; with uncertainties, images closer
    # than the smallest one cannot be told apart either
    tol = 1.0 if sig is None else max(1.0, float(np.min(sig)))
    images = axis_symmetries(problem.axes) @ field  # (m, 3)
    both = np.concatenate([np.asarray(field, dtype=float)[None], images])
    lines = problem.model(problem.pack(both, np.full(len(both), d))) * MHZ  # (m + 1, 2n)
    lines = _comparable(problem, lines)
    own, image_lines = lines[0], lines[1:]
    with np.errstate(invalid="ignore"):
        gap = np.abs(image_lines - own)
    gap = np.where(np.isinf(image_lines) & np.isinf(own), 0.0, gap)
    diff = np.max(gap, axis=-1) if gap.shape[-1] else np.zeros(len(image_lines))
    keep = images[diff < tol]
    # drop repeats (a field on a symmetry element is its own image)
    gap = np.max(np.abs(keep[:, None, :] - keep[None, :, :]), axis=-1)
    same = gap <= 1e-12 + 1e-9 * np.linalg.norm(field)
    first = np.argmax(same, axis=1)  # index of the first copy of each image
    return keep[first == np.arange(len(keep))]


def choose_image(images: NDArray[np.float64], guess, axes: NDArray[np.float64]
                 ) -> NDArray[np.float64]:
    """The image nearest to ``guess``, or the one that maximises (B·n₀, B·n₁, …) in turn."""
    if guess is not None:
        return images[np.argmin(np.linalg.norm(images - guess, axis=1))]
    candidates = images
    tol = 1e-12 + 1e-9 * np.linalg.norm(images[0])
    for axis in axes:  # largest projection on axis 0, then axis 1, …
        proj = candidates @ axis
        candidates = candidates[proj >= proj.max() - tol]
        if len(candidates) == 1:
            break
    return candidates[0]
