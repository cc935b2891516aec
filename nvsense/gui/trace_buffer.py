"""The samples of a tracking run the window keeps for its live plots (no Qt)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["TraceBuffer", "trailing_true"]

#: Samples kept for the display (the run file has them all): 10.9 min at 100 Hz.
DEFAULT_CAPACITY = 2 ** 16


def trailing_true(flags: NDArray[np.bool_]) -> int:
    """How many of the last values of ``flags`` are True in a row."""
    flags = np.asarray(flags, bool)
    false = np.flatnonzero(~flags)
    return int(flags.size if false.size == 0 else flags.size - 1 - false[-1])


class TraceBuffer:
    """The latest ``capacity`` samples: time (s), field (T; one value or x, y, z per sample)
    and lock flags, oldest first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = int(capacity)
        self.clear()

    def clear(self) -> None:
        self._time = np.empty(0)
        self._field = np.empty(0)
        self._locked = np.empty(0, bool)
        self.total = 0  # samples ever appended, including those that scrolled out

    def append(self, time: NDArray[np.float64], field: NDArray[np.float64],
               locked: NDArray[np.bool_]) -> None:
        time = np.asarray(time, float)
        field = np.asarray(field, float)
        locked = np.asarray(locked, bool)
        if self._time.size == 0:
            self._field = np.empty((0, *field.shape[1:]))
        keep = self.capacity
        self._time = np.concatenate([self._time, time])[-keep:]
        self._field = np.concatenate([self._field, field])[-keep:]
        self._locked = np.concatenate([self._locked, locked])[-keep:]
        self.total += time.size

    @property
    def time(self) -> NDArray[np.float64]:
        return self._time

    @property
    def field(self) -> NDArray[np.float64]:
        return self._field

    @property
    def locked(self) -> NDArray[np.bool_]:
        return self._locked

    def __len__(self) -> int:
        return int(self._time.size)

    def window(self, seconds: float) -> slice:
        """The samples of the last ``seconds`` of time."""
        if self._time.size == 0:
            return slice(0, 0)
        start = int(np.searchsorted(self._time, self._time[-1] - seconds, side="left"))
        return slice(start, self._time.size)

    def locked_tail(self, max_samples: int) -> NDArray[np.float64]:
        """The field of the latest uninterrupted stretch in lock (at most ``max_samples``):
        what the live spectral density is computed from."""
        n = min(trailing_true(self._locked), int(max_samples))
        return self._field[self._field.shape[0] - n:]
