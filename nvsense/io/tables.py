"""Reading the files of a spectrum into named columns: text tables (CSV, TSV, TXT, Qudi
``.dat``), MATLAB ``.mat`` (v5 via scipy, v7.3 via h5py), NumPy ``.npy``/``.npz`` and nvsense
run files.  :mod:`nvsense.io.spectrum` then picks the frequency, signal and σ columns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import SpectrumFileError

__all__ = ["Table", "read_mat", "read_npy", "read_run", "read_text"]

_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf|infinity)$",
                     re.IGNORECASE)


@dataclass
class Table:
    """Columns of equal length by name (in file order), with what the file says of them."""

    columns: dict[str, NDArray[np.float64]]
    format: str
    notes: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)


# -- text -----------------------------------------------------------------------------------------
def _delimiter(line: str) -> str | None:
    for d in ("\t", ",", ";"):
        if d in line:
            return d
    return None  # whitespace


def _split(line: str, delimiter: str | None) -> list[str]:
    """Fields of a line; with a delimiter, empty fields are kept (missing values)."""
    if delimiter is None:
        return line.split()
    return [p.strip() for p in line.split(delimiter)]


def _is_data(tokens: list[str]) -> bool:
    """At least two numbers and nothing else (empty fields are missing values)."""
    filled = [t for t in tokens if t != ""]
    return len(filled) >= 2 and all(_NUMBER.match(t) for t in filled)


def _value(token: str) -> float:
    return float(token) if token else float("nan")


def read_text(path: Path, delimiter: str | None = None) -> Table:
    """A text table: the longest block of numeric rows with ≥ 2 columns; the names from the
    line above it (a ``#`` comment or not), e.g. Qudi's ``#Controlled variable(Hz)\\tSignal``."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SpectrumFileError(f"{path}: cannot read the file ({exc})") from None
    lines = text.splitlines()
    best: tuple[int, int] = (0, 0)  # (start, stop) of the longest numeric block
    i = 0
    delim = delimiter
    while i < len(lines):
        line = lines[i].strip()
        d = delim if delimiter is not None else _delimiter(line)
        if line and not line.startswith("#") and _is_data(_split(line, d)):
            width = len(_split(line, d))
            j = i
            while j < len(lines):
                row = lines[j].strip()
                tokens = _split(row, d)
                if not row or not _is_data(tokens) or len(tokens) != width:
                    break
                j += 1
            if j - i > best[1] - best[0]:
                best = (i, j)
                delim = d if delimiter is None else delimiter
            i = j
        else:
            i += 1
    start, stop = best
    if stop - start < 3:
        raise SpectrumFileError(f"{path}: no table of numbers (at least 3 rows of 2 or more "
                                f"numeric columns) found; is this a spectrum file? Give "
                                f"delimiter= if the columns are separated by something else")
    rows = [[_value(t) for t in _split(lines[k].strip(), delim)] for k in range(start, stop)]
    data = np.array(rows, dtype=float)
    names = [f"column {k}" for k in range(data.shape[1])]
    notes: list[str] = []
    for k in range(start - 1, -1, -1):  # the header: the nearest non-empty line above
        head = lines[k].strip().lstrip("#").strip()
        if not head or set(head) <= set("=-_ "):
            continue
        tokens = _split(head, delim)
        if delim is None and len(tokens) != data.shape[1]:
            tokens = [t for t in re.split(r"\s{2,}|\t", head) if t]
        if len(tokens) == data.shape[1] and not _is_data(tokens):
            names = tokens
        break
    first = lines[0] if lines else ""
    fmt = "text"
    if "Saved Data from the class" in first or first.startswith("# Saved Data"):
        fmt = "qudi-pulsed" if "pulsed" in first.lower() else "qudi"
    attrs = {}
    params = [ln.lstrip("#").strip() for ln in lines[:start] if ln.startswith("#") and ":" in ln]
    if params:
        attrs["file_header"] = "; ".join(params)[:2000]
    rest = [ln for ln in lines[stop:] if ln.strip()]
    if rest:
        notes.append(f"{len(rest)} line(s) after the table were not read")
    cols = {}
    for k, name in enumerate(names):
        key = name if name not in cols else f"{name} ({k})"
        cols[key] = data[:, k]
    return Table(cols, fmt, notes, attrs)


# -- NumPy ----------------------------------------------------------------------------------------
def _array_columns(name: str, a: NDArray[Any]) -> dict[str, NDArray[np.float64]]:
    """Columns from one array: a vector, or the rows/columns of a 2-D array."""
    a = np.asarray(a)
    if a.dtype.kind not in "iuf" or a.size == 0:
        return {}
    a = np.squeeze(a).astype(float)
    if a.ndim == 1:
        return {name: a}
    if a.ndim == 2:
        # the long dimension is the sweep: columns are the other one
        if a.shape[0] < a.shape[1]:
            a = a.T
        if a.shape[1] > 256:
            return {}
        return {f"{name}[{k}]": a[:, k] for k in range(a.shape[1])}
    return {}


def read_npy(path: Path) -> Table:
    """``.npy``: an (n, 2 or 3) or (2 or 3, n) array — frequency, signal (and σ); ``.npz``: its
    arrays by name (2-D arrays give one column per row or column)."""
    try:
        obj = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SpectrumFileError(f"{path}: not a NumPy file that can be read without pickle "
                                f"({exc})") from None
    if isinstance(obj, np.ndarray):
        a = np.squeeze(obj).astype(float)
        if a.ndim != 2 or min(a.shape) < 2:
            raise SpectrumFileError(f"{path}: expected an (n, 2) or (n, 3) array of frequency, "
                                    f"signal (and σ), got shape {obj.shape}")
        if a.shape[0] < a.shape[1]:
            a = a.T
        names = ["frequency", "signal", "sigma"][: a.shape[1]] + [
            f"column {k}" for k in range(3, a.shape[1])]
        return Table({n: a[:, k] for k, n in enumerate(names)}, "npy")
    with obj:
        cols: dict[str, NDArray[np.float64]] = {}
        for key in obj.files:
            cols.update(_array_columns(key, obj[key]))
    return Table(cols, "npz")


# -- MATLAB ---------------------------------------------------------------------------------------
def read_mat(path: Path) -> Table:
    """MATLAB files: v5 and older by scipy.io.loadmat, v7.3 (HDF5) by h5py.  Numeric variables
    become columns (struct fields as ``struct.field``)."""
    try:
        from scipy.io import loadmat

        data = loadmat(path, squeeze_me=True, struct_as_record=False)
        fmt = "mat-v5"
    except NotImplementedError:  # v7.3: HDF5
        return _read_mat73(path)
    except (OSError, ValueError, TypeError) as exc:
        raise SpectrumFileError(f"{path}: not a MATLAB file that can be read ({exc})") from None
    cols: dict[str, NDArray[np.float64]] = {}

    def visit(name: str, value: Any, depth: int = 0) -> None:
        if hasattr(value, "_fieldnames") and depth < 3:
            for f in value._fieldnames:
                visit(f"{name}.{f}", getattr(value, f), depth + 1)
        elif isinstance(value, np.ndarray) or np.isscalar(value):
            cols.update(_array_columns(name, np.asarray(value)))

    for key, value in data.items():
        if not key.startswith("__"):
            visit(key, value)
    return Table(cols, fmt)


def _read_mat73(path: Path) -> Table:
    import h5py

    cols: dict[str, NDArray[np.float64]] = {}
    try:
        with h5py.File(path, "r") as h5:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iuf":
                    # MATLAB stores column-major: h5py sees the transpose
                    cols.update(_array_columns(name.replace("/", "."), np.asarray(obj).T))

            h5.visititems(visit)
    except OSError as exc:
        raise SpectrumFileError(f"{path}: not a MATLAB v7.3 (HDF5) file ({exc})") from None
    return Table(cols, "mat-v7.3")


# -- nvsense run files ----------------------------------------------------------------------------
def read_run(path: Path, sweep: int | None = None) -> Table:
    """An nvsense ODMR run file: the average of its sweeps (or sweep ``sweep``) of ``counts``
    against ``frequency``; ``n_averages`` in the attributes."""
    from nvsense.storage import open_run

    ds = open_run(path)
    if "counts" not in ds or "frequency" not in ds.coords:
        raise SpectrumFileError(f"{path}: an nvsense run file without an ODMR spectrum "
                                f"(counts against frequency); tracking runs hold no spectrum")
    counts = np.asarray(ds["counts"].values, dtype=float)
    n = counts.shape[0]
    if n == 0:
        raise SpectrumFileError(f"{path}: the run holds no complete sweep")
    notes = []
    if sweep is None:
        signal = counts.mean(axis=0)
        n_avg = n
        notes.append(f"average of the run's {n} sweep(s)")
    else:
        if not -n <= int(sweep) < n:
            raise SpectrumFileError(f"{path}: sweep {sweep} does not exist (the run has {n})")
        signal = counts[int(sweep)]
        n_avg = 1
    attrs = {"n_averages": n_avg,
             "signal_units": str(ds["counts"].attrs.get("units", "")),
             "run_id": str(ds.attrs.get("run_id", ""))}
    return Table({"frequency": np.asarray(ds["frequency"].values, dtype=float),
                  "counts": signal}, "nvsense-run", notes, attrs)
