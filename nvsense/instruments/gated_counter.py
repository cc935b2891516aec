"""Gated photon counting: counts in each readout window of a pulse program.

The pulser opens the counter's gate once per readout window (the ``gate`` channel of a
:class:`~nvsense.pulses.PulseProgram`); one pass of the program has
``program.windows_per_pass`` windows (every sweep point's signal and reference windows, in play
order).  A gated counter counts photons in each window and sums them over a number of passes:

1. ``configure(windows_per_pass, passes)`` — before anything plays;
2. ``arm()`` — start counting at the next gate edge;
3. start the pulser for (at least) ``passes`` passes;
4. ``read(timeout)`` — block until ``passes`` passes are counted and return the
   ``windows_per_pass`` sums (float64 counts); :meth:`PulseProgram.by_point` arranges them as
   points × readouts.

The counter must be armed before the pulser starts so that window 0 is the first window of a
pass.  Implementations: the Swabian Time Tagger (:mod:`.drivers.timetagger`) and the simulated
counter (:mod:`.simulated.gated_counter`); an NI counter gated by the pulser belongs to the NI
driver family.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .errors import LimitError
from .protocols import Instrument

__all__ = ["GatedCounter", "check_gated_configuration"]


@runtime_checkable
class GatedCounter(Instrument, Protocol):
    """Counts per readout window, several windows per pass, summed over passes."""

    def configure(self, windows_per_pass: int, passes: int) -> None:
        """Prepare counting ``windows_per_pass`` gate windows per pass, ``passes`` passes."""

    def arm(self) -> None:
        """Start counting at the next gate window (call before starting the pulser)."""

    def read(self, timeout: float | None = None) -> NDArray[np.float64]:
        """Block until every pass is counted; the per-window sums, shape (windows_per_pass,).

        Raises ``InstrumentError`` on timeout (naming how many windows arrived) or a lost
        device.
        """

    def safe(self) -> None:
        """Stop counting."""


def check_gated_configuration(name: str, windows_per_pass: int, passes: int,
                              max_values: int | None = None) -> None:
    """Raise :class:`LimitError` for a bad gated-counting configuration (nothing is sent)."""
    for what, v in (("windows_per_pass", windows_per_pass), ("passes", passes)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise LimitError(f"{name}: {what} must be a whole number >= 1, not {v!r}")
    if max_values is not None and windows_per_pass * passes > max_values:
        most = max(1, max_values // windows_per_pass)
        raise LimitError(f"{name}: {windows_per_pass} windows × {passes} passes = "
                         f"{windows_per_pass * passes} values exceed its buffer of {max_values}; "
                         f"read at most {most} passes at a time (nothing was sent)")
