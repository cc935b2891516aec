"""The fitting kernels by name, and which build of them a call runs.

Every entry kernel exists in two builds of the same source:

- numba's (:mod:`nvsense.fitting.lm_kernel`, :mod:`nvsense.fitting.guess_kernel`), compiled
  for this CPU and cached on disk, releasing the GIL so that
  :func:`nvsense.fitting.parallel.run_rows` runs blocks of rows on threads; loading it costs
  numba's one-time set-up (≈ 0.6 s of CPU per process);
- the ahead-of-time module (:mod:`nvsense.fitting.aot`), built at install, which loads in a
  millisecond without numba but holds the GIL.

A call with at most :data:`AOT_MAX_ROWS` rows on one thread runs the ahead-of-time build, as
long as numba's build of that kernel is not loaded already: a one-sweep ODMR run, the line
count of a first sweep, a live fit per sweep never import numba.  Everything else (batches,
threads, a process that has loaded numba's build) runs numba's.  Both builds compile the same
functions with the same options for the same CPU: their results agree to rounding
(``tests/fitting/test_aot.py``).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["AOT_MAX_ROWS", "FIT_ROWS_HAMILTONIAN", "FIT_ROWS_LINES", "GUESS_ROWS", "KERNELS",
           "KernelRef", "resolve"]

#: Largest number of rows a call runs on the ahead-of-time build (it holds the GIL: a large
#: batch on one thread would stall a GUI or the other workers of a threaded scheduler).
AOT_MAX_ROWS = 16


@dataclass(frozen=True)
class KernelRef:
    """An entry kernel by name: ``module`` (in :mod:`nvsense.fitting`) and function name."""

    module: str
    name: str

    @property
    def module_path(self) -> str:
        return f"nvsense.fitting.{self.module}"

    def jit(self) -> Any:
        """numba's dispatcher of this kernel (imports numba)."""
        return getattr(importlib.import_module(self.module_path), self.name)

    def jit_loaded(self) -> bool:
        """Whether numba's build is compiled (or loaded from the cache) in this process."""
        module = sys.modules.get(self.module_path)
        dispatcher = getattr(module, self.name, None) if module is not None else None
        return dispatcher is not None and not getattr(dispatcher, "_can_compile", True)


GUESS_ROWS = KernelRef("guess_kernel", "guess_rows")
FIT_ROWS_LINES = KernelRef("lm_kernel", "fit_rows_lines")
FIT_ROWS_HAMILTONIAN = KernelRef("lm_kernel", "fit_rows_hamiltonian")
#: Every entry kernel the fits call, by name (what :mod:`nvsense.fitting.aot` builds).
KERNELS = {k.name: k for k in (GUESS_ROWS, FIT_ROWS_LINES, FIT_ROWS_HAMILTONIAN)}


def resolve(kernel: Any, n_rows: int, threads: int) -> Any:
    """The callable that runs ``kernel`` (a :class:`KernelRef` or numba dispatcher) for a call
    of ``n_rows`` rows on ``threads`` threads (see the module's docstring)."""
    from .jit import ready

    if not isinstance(kernel, KernelRef):
        return ready(kernel)
    if threads == 1 and n_rows <= AOT_MAX_ROWS and not kernel.jit_loaded():
        from .aot import function

        built = function(kernel.name)
        if built is not None:
            return built
    return ready(kernel.jit())
