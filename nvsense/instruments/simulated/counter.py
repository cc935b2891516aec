"""Simulated photon counter (APD) or photodiode digitiser reading the simulated sample."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from ...units import parse_quantity
from ..errors import InstrumentError
from ..limits import out_of_range
from ..snapshot import quantity_value
from .base import SimulatedInstrument
from .sample import SimulatedSample

__all__ = ["SimulatedCounter"]

#: Shortest and longest bin, s.
MIN_BIN_TIME = 1e-6
MAX_BIN_TIME = 100.0
#: Most bins in one acquisition.
MAX_BINS = 100_000_000


class SimulatedCounter(SimulatedInstrument):
    """Counts (or photodiode volts) per bin, computed from the sample's physics.

    Parameters
    ----------
    name
        Bench key.
    sample
        The shared sample.
    kind
        ``"counts"`` (APD edge counting) or ``"volts"`` (photodiode: mean voltage per bin,
        ``volts_at_count_rate`` at the sample's off-resonance ``count_rate``, with the
        photon shot noise of that rate).
    volts_at_count_rate
        Photodiode voltage at ``count_rate`` (default 1 V).

    Notes
    -----
    One :meth:`acquire` of more than one bin is one *sweep* for the fault counters
    (``counter_timeout_at_sweep``).  With ``trigger_mw`` each bin steps a running microwave
    list, so bin k of an acquisition sees list entry ``(i0 + k) % len``, ``i0`` being the
    entry the list had reached.
    """

    model: ClassVar[str] = "SimulatedCounter"
    slot: ClassVar[str] = "counter"

    def __init__(self, name: str = "counter", sample: SimulatedSample | None = None, *,
                 kind: Literal["counts", "volts"] = "counts",
                 volts_at_count_rate: Any = "1 V", mw_trigger_lead: int = 1) -> None:
        super().__init__(name, sample)
        if mw_trigger_lead not in (0, 1):
            raise ValueError(f"instruments.{name}.mw_trigger_lead must be 0 or 1, "
                             f"not {mw_trigger_lead!r}")
        #: Trigger edges sent to the MW list before the first bin (1, like an NI card).
        self.mw_trigger_lead = int(mw_trigger_lead)
        if kind not in ("counts", "volts"):
            raise ValueError(f"instruments.{name}.kind must be counts or volts, not {kind!r}")
        self.kind: Literal["counts", "volts"] = kind
        self._volts = parse_quantity(volts_at_count_rate, "V",
                                     name=f"instruments.{name}.volts_at_count_rate")
        self._n_bins: int | None = None
        self._bin_time = 0.0
        self._trigger_mw = False

    def configure(self, n_bins: int, bin_time: float, *, trigger_mw: bool = False) -> None:
        """Prepare ``n_bins`` bins of ``bin_time`` s; ``trigger_mw`` steps the MW list."""
        if isinstance(n_bins, bool) or int(n_bins) != n_bins or not 1 <= n_bins <= MAX_BINS:
            raise out_of_range(f"{self.name}: n_bins must be a whole number from 1 to "
                               f"{MAX_BINS}, not {n_bins!r}; nothing was sent",
                               quantity="n_bins", value=n_bins, low=1, high=MAX_BINS, unit="",
                               instrument=self.name)
        bin_time = float(bin_time)
        if not (math.isfinite(bin_time) and MIN_BIN_TIME <= bin_time <= MAX_BIN_TIME):
            raise out_of_range(f"{self.name}: bin_time must be from {MIN_BIN_TIME:g} s to "
                               f"{MAX_BIN_TIME:g} s, not {bin_time!r}; nothing was sent",
                               quantity="bin_time", value=bin_time, low=MIN_BIN_TIME,
                               high=MAX_BIN_TIME, unit="s", instrument=self.name)
        self._require("configure")
        self._n_bins, self._bin_time, self._trigger_mw = int(n_bins), bin_time, bool(trigger_mw)

    @property
    def configuration(self) -> tuple[int, float, bool] | None:
        """(n_bins, bin_time, trigger_mw) or ``None`` before :meth:`configure`."""
        if self._n_bins is None:
            return None
        return self._n_bins, self._bin_time, self._trigger_mw

    def _snapshot_state(self) -> dict[str, Any]:
        setup = self.configuration
        return {"kind": self.kind, "mw_trigger_lead": self.mw_trigger_lead,
                "volts_at_count_rate": quantity_value(self._volts, "V"),
                "configuration": None if setup is None else {
                    "n_bins": setup[0], "bin_time": quantity_value(setup[1], "s"),
                    "trigger_mw": setup[2]}}

    def acquire(self, timeout: float | None = None) -> NDArray[np.float64]:
        """Run the configured acquisition: ``n_bins`` counts (or volts), advancing the clock.

        Raises
        ------
        InstrumentError
            Not connected or configured; ``timeout`` shorter than the acquisition; an injected
            timeout or lost connection.
        """
        n, dt = self._n_bins, self._bin_time
        command = f"acquire {n} bins"
        if not self.connected or n is None:
            self._require(command)
            raise InstrumentError(self.name, "acquire",
                                  "not configured; call configure(n_bins, bin_time) first")
        sample = self.sample
        duration = n * dt
        if timeout is not None and duration > timeout:
            sample.advance(timeout)
            raise InstrumentError(self.name, command,
                                  f"timed out after {timeout:g} s (the acquisition takes "
                                  f"{duration:g} s; give a longer timeout)")
        with sample.lock:
            end = sample.now() + duration
            sweep = None
            if n > 1:
                sample.sweep_count += 1
                sweep = sample.sweep_count
            self._require(command, at=end)
            reason = sample.faults.counter_timeout(sweep, end)
            if reason:
                sample.advance(duration)  # time passed waiting; the list did not step
                raise InstrumentError(self.name, command, f"timed out waiting for samples "
                                                          f"({reason})")
            counts = sample.acquire(n, dt, trigger_mw=self._trigger_mw,
                                    lead=self.mw_trigger_lead)
        if self.kind == "volts":
            return counts * (self._volts / (dt * sample.config.count_rate))
        return counts

    def safe(self) -> None:
        """Stop any acquisition (acquisitions here are synchronous: nothing runs)."""
        self._require("stop")
