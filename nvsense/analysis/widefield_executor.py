"""Where a widefield fit runs: in this process, on a local Dask cluster, or on a scheduler.

:func:`nvsense.fitting.fit_batch` already spreads one process's fits over every core (numba
threads), so a ``LocalCluster`` on the same machine only pays when its start-up (≈ 3 s) and
the cost of moving pixel blocks between processes are small against the fit, and the machine
has cores to spare for overlapping the cube reading with the fitting.  Measured with
``benchmarks/widefield_fit.py`` on a 2-core machine (one run): a 256 × 256 × 101 cube took
1.0 s in one process and 7.7 s on a freshly started 2-worker cluster (64 × 64: 0.03 s against
3.4 s), and even once started the cluster fitted 71,000 pixels/s against 123,000 in one
process, so the default there is always one process.  :func:`choose_executor`
picks the default from the machine and the cube; ``workers=N`` or a scheduler address
overrides it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = [
    "LOCAL_CLUSTER_MIN_CORES",
    "LOCAL_CLUSTER_MIN_SAMPLES",
    "Executor",
    "available_cores",
    "choose_executor",
]

#: Fewest cores for which the default may be a local cluster: on two cores one process whose
#: numba kernel uses both is faster at every cube size (``benchmarks/widefield_fit.py``).
LOCAL_CLUSTER_MIN_CORES = 3
#: Fit work (fitted pixels × frequency points) from which the default is a local cluster on a
#: machine with enough cores: 10⁸ samples, about 1000 × 1000 pixels of 101 points, take ≈ 7 s
#: in one process on 2 cores (1.4·10⁷ samples/s measured), so a cluster's ≈ 3 s start-up can
#: pay back only above it.
LOCAL_CLUSTER_MIN_SAMPLES = 100_000_000

ExecutorKind = Literal["in-process", "local-cluster", "scheduler", "client"]


@dataclass(frozen=True)
class Executor:
    """Where :func:`nvsense.analysis.fit_cube` runs the fits, and why.

    Attributes
    ----------
    kind
        ``"in-process"`` (no Dask), ``"local-cluster"`` (a ``LocalCluster`` started for the
        fit), ``"scheduler"`` (a running scheduler, by address) or ``"client"`` (a
        ``distributed.Client`` passed in).
    workers
        Worker processes of the local cluster; 0 in process; ``None`` when the scheduler
        decides.
    reason
        Why: the option given, or the machine and the cube size behind the default.
    """

    kind: ExecutorKind
    workers: int | None
    reason: str

    def describe(self) -> str:
        """One line for people, e.g. ``"in this process (2 cores: ...)"``."""
        where = {
            "in-process": "in this process",
            "local-cluster": f"on a local Dask cluster of {self.workers} workers",
            "scheduler": "on the Dask scheduler",
            "client": "on the given Dask client",
        }[self.kind]
        return f"{where} ({self.reason})"

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and file attributes."""
        return asdict(self)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on every system (macOS, Windows)
        return os.cpu_count() or 1


def choose_executor(
    n_pixels: int,
    n_points: int,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    cores: int | None = None,
) -> Executor:
    """Where to fit ``n_pixels`` spectra of ``n_points`` points.

    Parameters
    ----------
    n_pixels, n_points
        Fitted pixels (after binning) and frequency points of each spectrum.
    workers, scheduler, client
        As given to :func:`nvsense.analysis.fit_cube`: any of them decides.
    cores
        Cores of this machine; default :func:`available_cores`.

    Returns
    -------
    Executor
        With ``workers=None`` and no scheduler or client: in this process on machines with
        fewer than :data:`LOCAL_CLUSTER_MIN_CORES` cores or for less work than
        :data:`LOCAL_CLUSTER_MIN_SAMPLES`; else a local cluster of one worker per core.
    """
    if client is not None:
        return Executor("client", None, "client given")
    if scheduler is not None:
        return Executor("scheduler", None, f"scheduler {scheduler}")
    if workers is not None:
        if workers == 0:
            return Executor("in-process", 0, "workers=0 given")
        return Executor("local-cluster", int(workers), f"workers={workers} given")
    cores = available_cores() if cores is None else int(cores)
    samples = int(n_pixels) * int(n_points)
    if cores < LOCAL_CLUSTER_MIN_CORES:
        return Executor("in-process", 0, f"{cores} core{'s' if cores != 1 else ''}: one "
                        "process using every core is faster than a Dask cluster here")
    if samples < LOCAL_CLUSTER_MIN_SAMPLES:
        return Executor("in-process", 0, f"{n_pixels} pixels × {n_points} points is below "
                        f"{LOCAL_CLUSTER_MIN_SAMPLES:.0e} samples, too little to pay for "
                        "starting a Dask cluster")
    return Executor("local-cluster", cores, f"{cores} cores and {n_pixels} pixels × "
                    f"{n_points} points, at least {LOCAL_CLUSTER_MIN_SAMPLES:.0e} samples")
