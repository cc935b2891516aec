"""``load_spectrum``: one ODMR spectrum from a file, as an xarray DataArray in Hz.

The file's columns (:mod:`nvsense.io.tables`) are searched for

* the **frequency**: a column named like one (frequency, freq, "controlled variable", f, x),
  else the first strictly monotonic column; its unit from the name ("(Hz)", "MHz", "_GHz"),
  else from the values (an NV sweep lies between 10 MHz and 100 GHz: 2870 is MHz, 2.87 is GHz,
  2.87e9 is Hz);
* the **signal**: a column named like one (signal, counts, PL, fluorescence, intensity,
  voltage, data, ...), else the first other column;
* **σ**: a column named like an uncertainty (error, err, sigma, std), if any.

Every choice can be given instead (``frequency=``, ``signal=``, ``sigma=`` by name or index;
``frequency_unit=``).  Repeated frequencies (several sweeps in one table) are averaged, and the
result is sorted by frequency, with a note in ``attrs["notes"]``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import SpectrumFileError
from .tables import Table, read_mat, read_npy, read_run, read_text

__all__ = ["FORMATS", "FREQUENCY_UNITS", "load_spectrum"]

#: File kinds by suffix (anything else is read as a text table).
FORMATS = {".csv": "text", ".tsv": "text", ".txt": "text", ".dat": "text", ".mat": "mat",
           ".npy": "npy", ".npz": "npy", ".nc": "run", ".h5": "run"}
#: Accepted frequency units and their factors to Hz.
FREQUENCY_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}

_FREQ_NAME = re.compile(r"freq|controlled variable|^f$|^x$|^mw|frequency", re.IGNORECASE)
_SIGMA_NAME = re.compile(r"err|sigma|std|uncert", re.IGNORECASE)
_SIGNAL_NAME = re.compile(r"signal|count|^pl|fluor|intens|volt|experiment|data|odmr|lock|ch0|"
                          r"^y$|contrast|norm|spectrum|rate|c/s", re.IGNORECASE)
_UNIT_IN_NAME = re.compile(r"(?<![a-z])(ghz|mhz|khz|hz)(?![a-z])", re.IGNORECASE)
#: A sweep of NV lines in Hz lies in this range.
_HZ_RANGE = (1e7, 1e11)


def load_spectrum(
    path: str | os.PathLike[str],
    *,
    frequency: str | int | None = None,
    signal: str | int | None = None,
    sigma: str | int | None = None,
    frequency_unit: str | None = None,
    delimiter: str | None = None,
    sweep: int | None = None,
) -> Any:
    """Read one spectrum from a file.

    Parameters
    ----------
    path
        CSV/TSV/TXT table (with or without a header), Qudi ODMR or pulsed ``.dat`` file,
        MATLAB ``.mat`` (v5 or v7.3), NumPy ``.npy``/``.npz``, or an nvsense run file
        (``.nc``: the average of its sweeps).
    frequency, signal, sigma
        The column (or variable) to use, by name or 0-based index; detected when not given
        (see the module docstring).  ``sigma=False`` ignores a σ column.
    frequency_unit
        "Hz", "kHz", "MHz" or "GHz"; detected from the column name or the values when not
        given.
    delimiter
        Column separator of a text table; detected (tab, comma, semicolon or spaces) when not
        given.
    sweep
        For nvsense run files: one sweep (index) instead of the average of all.

    Returns
    -------
    xarray.DataArray
        1-D over ``frequency`` (Hz, in increasing order), named after the signal column, with
        a ``sigma`` coordinate when the file gives uncertainties, and ``attrs``: ``source``,
        ``format``, ``signal_column``, ``frequency_column``, ``frequency_unit`` (as read),
        ``n_averages`` (sweeps averaged: run files, repeated frequencies) and ``notes``.

    Raises
    ------
    SpectrumFileError
        The file is missing or no spectrum can be read from it; the message says which
        option fixes it.
    """
    import xarray as xr

    p = Path(path)
    if not p.is_file():
        raise SpectrumFileError(f"{p}: no such file")
    kind = FORMATS.get(p.suffix.lower(), "text")
    table = _read(p, kind, delimiter, sweep)
    if not table.columns:
        raise SpectrumFileError(f"{p}: no numeric columns found")
    f_name = _pick(table, frequency, "frequency", _FREQ_NAME, exclude=())
    if f_name is None:
        f_name = _monotonic_column(table)
    if f_name is None:
        raise SpectrumFileError(f"{p}: no frequency column found (none is named like one or "
                                f"increases steadily); give frequency= (a column name or "
                                f"index): {', '.join(table.columns)}")
    length = table.columns[f_name].size
    same = {k: v for k, v in table.columns.items() if v.size == length}
    table = Table(same, table.format, table.notes, table.attrs)
    s_name = _pick(table, signal, "signal", _SIGNAL_NAME, exclude=(f_name,))
    if s_name is None:
        others = [k for k in table.columns if k != f_name and not _SIGMA_NAME.search(k)]
        if not others:
            raise SpectrumFileError(f"{p}: no signal column besides the frequency "
                                    f"{f_name!r}; give signal=")
        s_name = others[0]
    e_name = None
    if sigma is not False:
        e_name = _pick(table, sigma, "sigma", _SIGMA_NAME, exclude=(f_name, s_name))
    others = [k for k in table.columns if k not in (f_name, s_name, e_name)]
    notes = list(table.notes)
    if others and signal is None:
        notes.append(f"signal from column {s_name!r}; other columns: {', '.join(others[:8])}"
                     + (" ..." if len(others) > 8 else ""))
    unit = _frequency_unit(p, f_name, table.columns[f_name], frequency_unit)
    f_hz = table.columns[f_name] * FREQUENCY_UNITS[unit.lower()]
    y = table.columns[s_name]
    e = table.columns[e_name] if e_name is not None else None
    ok = np.isfinite(f_hz) & np.isfinite(y)
    if e is not None:
        ok &= np.isfinite(e)
    if not np.all(ok):
        notes.append(f"{int(np.count_nonzero(~ok))} point(s) with NaN/inf dropped")
        f_hz, y = f_hz[ok], y[ok]
        e = e[ok] if e is not None else None
    if f_hz.size < 4:
        raise SpectrumFileError(f"{p}: only {f_hz.size} usable point(s)")
    f_hz, y, e, n_rep = _merge_repeats(f_hz, y, e, notes)
    n_averages = int(table.attrs.get("n_averages", 1)) * n_rep
    coords: dict[str, Any] = {"frequency": ("frequency", f_hz, {"units": "Hz"})}
    if e is not None:
        coords["sigma"] = ("frequency", e, {"long_name": f"uncertainty ({e_name})"})
    attrs = {k: v for k, v in table.attrs.items() if k != "n_averages"}
    attrs.update({
        "source": str(p), "format": table.format, "frequency_column": f_name,
        "signal_column": s_name, "sigma_column": e_name or "", "frequency_unit": unit,
        "n_averages": n_averages, "notes": "; ".join(notes),
    })
    return xr.DataArray(y, dims=("frequency",), coords=coords, name=_clean_name(s_name),
                        attrs=attrs)


def _read(p: Path, kind: str, delimiter: str | None, sweep: int | None) -> Table:
    if kind == "mat":
        return read_mat(p)
    if kind == "npy":
        return read_npy(p)
    if kind == "run":
        return read_run(p, sweep)
    return read_text(p, delimiter)


def _clean_name(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip()) or "signal"


def _pick(table: Table, given: str | int | None, what: str, pattern: re.Pattern[str],
          exclude: tuple[str | None, ...]) -> str | None:
    names = list(table.columns)
    if given is not None and given is not False:
        if isinstance(given, int | np.integer) and not isinstance(given, bool):
            if not -len(names) <= int(given) < len(names):
                raise SpectrumFileError(f"{what}={given}: the file has {len(names)} columns "
                                        f"({', '.join(names)})")
            return names[int(given)]
        if str(given) in table.columns:
            return str(given)
        matches = [n for n in names if n.lower() == str(given).lower()]
        if matches:
            return matches[0]
        raise SpectrumFileError(f"{what}={given!r}: no such column; the file has "
                                f"{', '.join(names)}")
    for name in names:
        if name not in exclude and pattern.search(name) and not (
                what != "sigma" and _SIGMA_NAME.search(name)):
            return name
    return None


def _monotonic_column(table: Table) -> str | None:
    for name, values in table.columns.items():
        d = np.diff(values[np.isfinite(values)])
        if d.size >= 3 and (np.all(d > 0) or np.all(d < 0)):
            return name
    for name, values in table.columns.items():  # several sweeps: non-decreasing blocks
        v = values[np.isfinite(values)]
        if v.size >= 4 and np.unique(v).size < v.size and np.all(np.diff(np.sort(v)) >= 0):
            uniq = np.unique(v)
            if uniq.size >= 4 and v.size % uniq.size == 0:
                return name
    return None


def _frequency_unit(p: Path, name: str, values: NDArray[np.float64], given: str | None) -> str:
    if given is not None:
        if str(given).lower() not in FREQUENCY_UNITS:
            raise SpectrumFileError(f"frequency_unit={given!r}: use one of Hz, kHz, MHz, GHz")
        unit = {"hz": "Hz", "khz": "kHz", "mhz": "MHz", "ghz": "GHz"}[str(given).lower()]
    else:
        m = _UNIT_IN_NAME.search(name)
        if m:
            unit = {"hz": "Hz", "khz": "kHz", "mhz": "MHz", "ghz": "GHz"}[m.group(1).lower()]
        else:
            level = float(np.nanmedian(np.abs(values)))
            unit = ("Hz" if level >= 1e7 else "kHz" if level >= 1e4 else "MHz" if level >= 50
                    else "GHz")
    f = np.abs(values) * FREQUENCY_UNITS[unit.lower()]
    if not (_HZ_RANGE[0] <= np.nanmin(f) and np.nanmax(f) <= _HZ_RANGE[1]):
        raise SpectrumFileError(
            f"{p}: column {name!r} read as {unit} gives {np.nanmin(f):.4g}–{np.nanmax(f):.4g} "
            f"Hz, outside any NV sweep (10 MHz–100 GHz); give frequency_unit= (Hz, kHz, MHz, "
            f"GHz) or frequency= (the right column)")
    return unit


def _merge_repeats(f: NDArray[np.float64], y: NDArray[np.float64], e: NDArray[np.float64] | None,
                   notes: list[str]) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                              NDArray[np.float64] | None, int]:
    """Sort by frequency; average repeated frequencies (σ of the mean from the given σ)."""
    uniq, inverse, counts = np.unique(f, return_inverse=True, return_counts=True)
    if uniq.size == f.size:
        if np.all(np.diff(f) > 0):
            return f, y, e, 1
        if not np.all(np.diff(f) < 0):
            notes.append("points sorted by frequency")
        order = np.argsort(f)
        return f[order], y[order], (e[order] if e is not None else None), 1
    mean = np.bincount(inverse, weights=y) / counts
    err = None
    if e is not None:
        err = np.sqrt(np.bincount(inverse, weights=e * e)) / counts
    rep = int(counts.min()) if np.all(counts == counts[0]) else 1
    notes.append(f"{f.size - uniq.size} repeated frequency point(s) averaged "
                 f"({int(counts.min())}–{int(counts.max())} values per frequency)")
    return uniq, mean, err, rep
