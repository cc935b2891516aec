"""The linear assignment problem (which measured line is which transition), for
:mod:`nvsense.physics.line_problem`.

:func:`linear_sum_assignment` is ``scipy.optimize.linear_sum_assignment``: the same
shortest-augmenting-path algorithm (D. F. Crouse, "On implementing 2D rectangular assignment
algorithms", IEEE Trans. Aerosp. Electron. Syst. 52, 1679 (2016)), with SciPy's choices
between equal costs, so it returns the same assignment — the tests compare the two on random
matrices, with ties.  Why not SciPy: ``import scipy.optimize`` takes about 0.3 s, paid by
every ODMR run that turns eight lines into a field, for matrices of at most 8 × 8.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["linear_sum_assignment"]


def linear_sum_assignment(cost: ArrayLike) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The rows and columns of a minimum-cost complete assignment of a rectangular cost
    matrix (each row to at most one column, each column to at most one row, as many pairs as
    the smaller dimension): ``(rows, cols)``, ``rows`` increasing.

    Raises
    ------
    ValueError
        A NaN or -inf cost, a matrix that is not 2-D, or no feasible assignment (+inf costs
        that leave some row or column without a finite partner).
    """
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"expected a matrix, got shape {c.shape}")
    if c.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    transpose = c.shape[1] < c.shape[0]
    if transpose:
        c = c.T
    if np.any(np.isnan(c)) or np.any(c == -np.inf):
        raise ValueError("the cost matrix has NaN or -inf entries")
    nr, nc = c.shape
    rows = c.tolist()
    u = [0.0] * nr
    v = [0.0] * nc
    col4row = [-1] * nr
    row4col = [-1] * nc
    path = [-1] * nc
    for current in range(nr):
        sink, min_val, shortest, sr, sc = _augmenting_path(rows, u, v, path, row4col, current)
        if sink < 0:
            raise ValueError("the cost matrix is infeasible")
        # update the dual variables
        u[current] += min_val
        for i in range(nr):
            if sr[i] and i != current:
                u[i] += min_val - shortest[col4row[i]]
        for j in range(nc):
            if sc[j]:
                v[j] -= min_val - shortest[j]
        # augment the previous solution along the path
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == current:
                break
    if transpose:
        order = sorted(range(nr), key=lambda i: col4row[i])
        return (np.asarray([col4row[i] for i in order], dtype=np.intp),
                np.asarray(order, dtype=np.intp))
    return np.arange(nr, dtype=np.intp), np.asarray(col4row, dtype=np.intp)


def _augmenting_path(rows: list[list[float]], u: list[float], v: list[float], path: list[int],
                     row4col: list[int], start: int
                     ) -> tuple[int, float, list[float], list[bool], list[bool]]:
    """The shortest augmenting path from row ``start``: (sink column or -1 if none, its
    length, the shortest path lengths, the rows and columns visited)."""
    nr, nc = len(rows), len(v)
    min_val = 0.0
    remaining = list(range(nc - 1, -1, -1))  # SciPy's scan order, for the same ties
    sr = [False] * nr
    sc = [False] * nc
    shortest = [math.inf] * nc
    i = start
    sink = -1
    while sink == -1:
        index = -1
        lowest = math.inf
        sr[i] = True
        row, ui = rows[i], u[i]
        for it, j in enumerate(remaining):
            r = min_val + row[j] - ui - v[j]
            if r < shortest[j]:
                path[j] = i
                shortest[j] = r
            # among equal lengths, prefer a column that is still free (a new sink)
            if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                lowest = shortest[j]
                index = it
        min_val = lowest
        if min_val == math.inf:  # infeasible
            return -1, min_val, shortest, sr, sc
        j = remaining[index]
        if row4col[j] == -1:
            sink = j
        else:
            i = row4col[j]
        sc[j] = True
        remaining[index] = remaining[-1]
        remaining.pop()
    return sink, min_val, shortest, sr, sc
