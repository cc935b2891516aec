"""What a pulsed run produced (:class:`PulsedResult`), and the JSON of ``nvsense pulsed --json``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .fits import ProtocolFit, result_keys
from .settings import PulsedSettings

__all__ = ["PulsedResult"]


@dataclass
class PulsedResult:
    """What a pulsed run produced.

    Attributes
    ----------
    status, reason
        ``"completed"`` or ``"aborted"`` (``reason`` says why).
    averages
        Completed averages (sweeps of every point), all in the run file.
    x, signal, signal_error
        Sweep values (τ in s; Hz for pulsed ODMR) and the final normalised signal.
    fit
        The fit of the final signal (``None`` if no average completed or the fit raised).
    program, compiled
        The pulse program as given and as compiled for the device (``None`` before upload).
    error
        The instrument error that aborted the run, if any (the CLI exits 1 for it).
    """

    run_id: str | None
    file: Path | None
    status: str
    reason: str | None
    settings: PulsedSettings
    averages: int
    x: NDArray[np.float64]
    signal: NDArray[np.float64] | None
    signal_error: NDArray[np.float64] | None
    fit: ProtocolFit | None
    program: Any = None
    compiled: Any = None
    safe_report: list[str] = field(default_factory=list)
    error: Exception | None = None
    retracks: list[tuple[int, float, bool]] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        return self.settings.protocol

    @property
    def success(self) -> bool:
        """Whether the final fit can be trusted."""
        return self.fit is not None and self.fit.success

    @property
    def warnings(self) -> list[str]:
        """What the person at the bench must know about the result."""
        if self.averages == 0:
            return ["no average completed: nothing to fit"]
        if not self.settings.fit:
            return []
        if self.fit is None:
            return ["the fit failed (see the log); the counts are in the run file"]
        if not self.fit.success:
            return [f"the fit is not trusted ({self.fit.message}); its values are not "
                    f"reported"]
        return []

    def value(self, key: str) -> float | None:
        """A result under its JSON key (``t2_s``, ``t2_s_error``) if the fit is trusted."""
        if not self.success:
            return None
        assert self.fit is not None
        v = self.fit.values.get(key)
        return float(v) if v is not None and math.isfinite(v) else None

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``nvsense pulsed --json``: ``run_id``, ``file``, ``status``,
        ``protocol`` and the protocol's results with ``_error`` (``null`` unless the fit is
        trusted)."""
        out: dict[str, Any] = {"run_id": self.run_id,
                               "file": str(self.file) if self.file else None,
                               "status": self.status, "protocol": self.protocol}
        for key in result_keys(self.settings):
            out[key] = self.value(key)
            out[f"{key}_error"] = self.value(f"{key}_error")
        return out
