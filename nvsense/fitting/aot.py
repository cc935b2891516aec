"""The fitting kernels compiled ahead of time into an extension module (numba's AOT compiler).

``python -m nvsense.fitting.aot`` (run by ``python -m nvsense.fitting.precompile``, which
``make install`` runs) compiles each entry kernel of :data:`nvsense.fitting.kernels.KERNELS`
from its numba source into an extension module of its own (numba's AOT compiler mistypes a
helper inlined into two kernels of one module), for this machine's CPU.  The modules import
no numba when loaded, so a process whose fits are few and small (see
:mod:`nvsense.fitting.kernels`) skips numba's set-up altogether.

Each module is named after its kernel and a fingerprint of the kernels' sources, of NumPy's
and Python's versions and of the CPU: a module built from other sources (an edited kernel, a
checkout of another commit) is never loaded, and the fits fall back to numba's build until the next
``python -m nvsense.fitting.precompile``.  It is written beside this file (``_aot/``) when the
package folder is writable, else into the user's cache folder (``$XDG_CACHE_HOME/nvsense``).
``NVSENSE_AOT_DIR`` names another folder; ``NVSENSE_AOT=0`` in the environment turns the
modules off.

If numba's AOT compiler or a C compiler is missing, the build says so and nothing else
changes: every fit runs numba's build, as before.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["build", "directories", "fingerprint", "function", "main", "module_name"]

_HERE = Path(__file__).resolve().parent
#: The files whose content the compiled kernels depend on.
SOURCES = ("jit.py", "kernel_layout.py", "lm_kernel.py", "guess_kernel.py", "nv_transitions.py")

_PREFIX = "_nvsense_aot_"
_loaded: dict[str, ModuleType | None] = {}


def _host_cpu() -> str:
    """This machine's CPU model name as LLVM knows it (what numba compiles its own build for)."""
    from llvmlite import binding

    return str(binding.get_host_cpu_name())


def _cpu_identity() -> str:
    """This machine's CPU, cheaply: its model and instruction-set flags (Linux), else what
    the platform says.  A module compiled for one CPU may use instructions another lacks, so a
    module built on another machine sharing this folder is not loaded."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            wanted = {}
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "Features", "CPU part") and key not in wanted:
                    wanted[key] = value.strip()
                if not line.strip() and wanted:
                    break
        if wanted:
            return "|".join(f"{k}={v}" for k, v in sorted(wanted.items()))
    except OSError:
        pass
    return f"{platform.machine()}|{platform.processor()}"


@functools.cache
def fingerprint() -> str:
    """16 hex digits naming the build: the kernels' sources, NumPy, Python and the CPU
    (computed once per process)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode())
        digest.update((_HERE / name).read_bytes())
    digest.update(f"{np.__version__}|{sys.version}|{platform.machine()}".encode())
    digest.update(_cpu_identity().encode())
    return digest.hexdigest()[:16]


def module_name(kernel: str) -> str:
    """The extension module's name of ``kernel`` for the current sources (see
    :func:`fingerprint`)."""
    return f"{_PREFIX}{kernel}_{fingerprint()}"


def directories() -> list[Path]:
    """Where the modules are looked for (and built), in order: the package's ``_aot/``
    folder, then the user's cache folder; only ``NVSENSE_AOT_DIR`` when that is set."""
    chosen = os.environ.get("NVSENSE_AOT_DIR", "").strip()
    if chosen:
        return [Path(chosen)]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [_HERE / "_aot", Path(cache) / "nvsense" / "aot"]


def _disabled() -> bool:
    return os.environ.get("NVSENSE_AOT", "1").strip().lower() in ("0", "no", "false", "off")


def _load(name: str) -> ModuleType | None:
    """The extension module ``name`` from the first folder that has it, or None."""
    for folder in directories():
        for path in sorted(folder.glob(f"{name}.*")) if folder.is_dir() else ():
            if not path.name.endswith((".so", ".pyd")):
                continue
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                continue
            try:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            except (ImportError, OSError):  # a broken or foreign file: use numba's build
                continue
            return module
    return None


def function(kernel: str) -> Any:
    """The compiled ``kernel``, or None: not built, built from other sources, turned off with
    ``NVSENSE_AOT=0``, or failing to load (the caller then uses numba's build)."""
    if _disabled():
        return None
    name = module_name(kernel)
    if name not in _loaded:
        _loaded[name] = _load(name)
    module = _loaded[name]
    return getattr(module, kernel, None) if module is not None else None


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _trampoline(dispatcher: Any) -> Any:
    """A function with the kernel's arguments that calls numba's dispatcher of the kernel.

    numba's AOT compiler compiles an exported function with its default options (Python's
    error model, which turns a division by zero into an exception); the call compiles the
    kernel itself with the options of its decorator (:data:`nvsense.fitting.jit.JIT_OPTIONS`:
    IEEE division, no reference counting), as numba's own build is.
    """
    import inspect

    names = ", ".join(inspect.signature(dispatcher.py_func).parameters)
    namespace = {"kernel": dispatcher}
    exec(f"def {dispatcher.__name__}({names}):\n    kernel({names})\n", namespace)
    return namespace[dispatcher.__name__]


def build(folder: Path | str | None = None) -> list[Path]:
    """Compile the entry kernels into their extension modules for the current sources.

    Writes into ``folder`` (default: the first writable of :func:`directories`), removes
    modules of earlier sources there, and returns the modules' paths.  Takes 20-60 s.

    Raises
    ------
    RuntimeError
        numba's AOT compiler or a C compiler is not available.
    """
    try:
        with warnings.catch_warnings():  # numba marks its AOT compiler as pending deprecation
            warnings.simplefilter("ignore")
            from numba.pycc import CC
    except ImportError as exc:
        raise RuntimeError(f"numba's AOT compiler (numba.pycc) is not available: {exc}") from exc
    from .kernels import KERNELS

    if folder is None:
        folder = next((d for d in directories() if _writable(d)), None)
        if folder is None:
            raise RuntimeError("no writable folder for the compiled kernels: "
                               + ", ".join(str(d) for d in directories()))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    current = fingerprint()
    written = []
    with tempfile.TemporaryDirectory(prefix="nvsense-aot-") as tmp:
        for kernel in KERNELS.values():
            name = module_name(kernel.name)
            cc = CC(name)
            cc.output_dir = tmp
            cc.verbose = False
            cc.use_nrt = False  # the kernels allocate nothing
            cc.target_cpu = _host_cpu()  # as numba's own build: this CPU, not a generic one
            dispatcher = kernel.jit()
            cc.export(kernel.name, dispatcher.nvsense_signature)(_trampoline(dispatcher))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cc.compile()
            except Exception as exc:  # distutils/compiler errors have no common base
                raise RuntimeError(f"compiling {kernel.name} ahead of time failed ({exc}); the "
                                   "fits use numba's build instead") from exc
            built = next(Path(tmp).glob(f"{name}.*"))
            target = folder / built.name
            partial = folder / (built.name + ".partial")
            shutil.copyfile(built, partial)
            os.replace(partial, target)  # never a half-written module under its name
            written.append(target)
            _loaded.pop(name, None)
    for old in folder.glob(f"{_PREFIX}*"):
        if not old.name.split(".")[0].endswith(current):
            old.unlink(missing_ok=True)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m nvsense.fitting.aot [--dir DIR]``: build the module; exit code 0, or 1 with
    the reason when it cannot be built (the fits then use numba's build)."""
    parser = argparse.ArgumentParser(
        prog="python -m nvsense.fitting.aot",
        description="Compile nvsense's fitting kernels ahead of time into an extension "
                    "module, so that short fits need no numba at run time.")
    parser.add_argument("--dir", default=None, help="folder for the module (default: the "
                        "package's _aot/ folder, or the user's cache folder)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        paths = build(args.dir)
    except RuntimeError as exc:
        print(f"ahead-of-time kernels not built: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"ahead-of-time kernels: {len(paths)} modules in {paths[0].parent} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
