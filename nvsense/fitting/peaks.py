"""Peaks of a 1-D profile by prominence, and their widths: what ``scipy.signal.find_peaks``
(``prominence=``, ``width=``) and ``peak_widths`` compute, for the line finder of
:mod:`nvsense.fitting.robust`.

The same algorithms as SciPy's (local maxima with flat tops reported at their middle; the
prominence as the height above the higher of the two lowest points reached before a higher
sample on either side; the width at a fraction of the prominence, interpolated between
samples, between those bases), so the same results — the tests compare them with SciPy on
random profiles.  Why not SciPy: ``import scipy.signal`` also imports ``scipy.stats`` and
takes about 0.5 s, a third of a short ODMR run's start-up, for a few loops over at most a few
thousand points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["PeakSet", "find_prominent_peaks", "local_maxima"]


class PeakSet:
    """Peaks (indices) with their prominences, bases and widths (in samples).

    Attributes
    ----------
    peaks
        Indices of the peaks, in increasing order.
    prominences, left_bases, right_bases
        As ``scipy.signal.peak_prominences`` returns them.
    widths, width_heights, left_ips, right_ips
        As ``scipy.signal.peak_widths`` returns them (at the ``rel_height`` asked for).
    """

    __slots__ = ("left_bases", "left_ips", "peaks", "prominences", "right_bases", "right_ips",
                 "width_heights", "widths")

    def __init__(self, peaks: NDArray[np.intp], prominences: NDArray[np.float64],
                 left_bases: NDArray[np.intp], right_bases: NDArray[np.intp],
                 widths: NDArray[np.float64], width_heights: NDArray[np.float64],
                 left_ips: NDArray[np.float64], right_ips: NDArray[np.float64]) -> None:
        self.peaks = peaks
        self.prominences = prominences
        self.left_bases = left_bases
        self.right_bases = right_bases
        self.widths = widths
        self.width_heights = width_heights
        self.left_ips = left_ips
        self.right_ips = right_ips

    def select(self, keep: NDArray[np.bool_]) -> PeakSet:
        """The peaks where ``keep`` is true."""
        return PeakSet(*(getattr(self, name)[keep] for name in (
            "peaks", "prominences", "left_bases", "right_bases", "widths", "width_heights",
            "left_ips", "right_ips")))


def local_maxima(x: ArrayLike) -> NDArray[np.intp]:
    """Indices of the local maxima of ``x``: samples higher than both neighbours, a flat top
    (equal samples) counted once, at its middle (the left one of two middles); the first and
    last samples are never maxima (``scipy.signal.find_peaks`` without conditions)."""
    v = np.asarray(x, dtype=float)
    if v.size < 3:
        return np.zeros(0, dtype=np.intp)
    # runs of equal samples (NaN never equals anything: each NaN is a run of its own)
    starts = np.concatenate([[0], np.flatnonzero(v[1:] != v[:-1]) + 1])
    ends = np.concatenate([starts[1:] - 1, [v.size - 1]])
    level = v[starts]
    inner = np.arange(1, starts.size - 1)  # neither the first run nor the last one
    top = (level[inner - 1] < level[inner]) & (level[inner + 1] < level[inner])
    k = inner[top]
    return ((starts[k] + ends[k]) // 2).astype(np.intp)


def _prominences(v: list[float], peaks: list[int]) -> tuple[list[float], list[int], list[int]]:
    """Prominence and bases of each peak (SciPy's ``_peak_prominences`` without ``wlen``)."""
    last = len(v) - 1
    prom, lefts, rights = [], [], []
    for peak in peaks:
        top = v[peak]
        i = left = peak
        left_min = top
        while i >= 0 and v[i] <= top:  # down to the first higher sample on the left
            if v[i] < left_min:
                left_min, left = v[i], i
            i -= 1
        i = right = peak
        right_min = top
        while i <= last and v[i] <= top:
            if v[i] < right_min:
                right_min, right = v[i], i
            i += 1
        prom.append(top - max(left_min, right_min))
        lefts.append(left)
        rights.append(right)
    return prom, lefts, rights


def _widths(v: list[float], peaks: list[int], prominences: list[float], lefts: list[int],
            rights: list[int], rel_height: float
            ) -> tuple[list[float], list[float], list[float], list[float]]:
    """Width of each peak at ``rel_height`` of its prominence (SciPy's ``_peak_widths``)."""
    widths, heights, left_ips, right_ips = [], [], [], []
    for peak, prom, i_min, i_max in zip(peaks, prominences, lefts, rights, strict=True):
        height = v[peak] - prom * rel_height
        i = peak
        while i_min < i and height < v[i]:
            i -= 1
        left_ip = float(i)
        if v[i] < height:  # the crossing lies between samples
            left_ip += (height - v[i]) / (v[i + 1] - v[i])
        i = peak
        while i < i_max and height < v[i]:
            i += 1
        right_ip = float(i)
        if v[i] < height:
            right_ip -= (height - v[i]) / (v[i - 1] - v[i])
        widths.append(right_ip - left_ip)
        heights.append(height)
        left_ips.append(left_ip)
        right_ips.append(right_ip)
    return widths, heights, left_ips, right_ips


def find_prominent_peaks(x: ArrayLike, prominence: float, width: float = 0.0,
                         rel_height: float = 0.5) -> PeakSet:
    """The local maxima of ``x`` at least ``prominence`` prominent and ``width`` samples wide
    at ``rel_height`` of their prominence: ``scipy.signal.find_peaks(x,
    prominence=prominence, width=width, rel_height=rel_height)``, with the properties of the
    peaks kept.

    Parameters
    ----------
    x
        The profile (1-D).
    prominence
        Least prominence of a peak.
    width
        Least width in samples (0: any).
    rel_height
        Where the width is measured, as a fraction of the prominence below the peak.
    """
    v = np.ascontiguousarray(x, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"the profile must be 1-D, got shape {v.shape}")
    peaks = local_maxima(v)
    values = v.tolist()
    found = peaks.tolist()
    prom, lefts, rights = _prominences(values, found)
    keep = [p >= prominence for p in prom]
    found = [p for p, k in zip(found, keep, strict=True) if k]
    prom = [p for p, k in zip(prom, keep, strict=True) if k]
    lefts = [b for b, k in zip(lefts, keep, strict=True) if k]
    rights = [b for b, k in zip(rights, keep, strict=True) if k]
    widths, heights, left_ips, right_ips = _widths(values, found, prom, lefts, rights,
                                                   rel_height)
    out = PeakSet(np.asarray(found, dtype=np.intp), np.asarray(prom, dtype=float),
                  np.asarray(lefts, dtype=np.intp), np.asarray(rights, dtype=np.intp),
                  np.asarray(widths, dtype=float), np.asarray(heights, dtype=float),
                  np.asarray(left_ips, dtype=float), np.asarray(right_ips, dtype=float))
    return out.select(out.widths >= width) if width > 0 else out
