"""``nvsense fit FILE``: fit a spectrum from a file — yours, another lab's, or a run file.

``nvsense fit spectrum.csv``
    Reads the file (:func:`nvsense.load_spectrum`: CSV/TSV/TXT, Qudi ``.dat``, MATLAB, NumPy,
    nvsense run files), decides the kind of signal (dips, peaks, lock-in derivative), counts
    the lines, fits them carefully (several starts, the best kept) and prints the lines, the
    field and D where the lines give them, and whether the fit is a success.

Options: ``--model``, ``--lines N|auto``, ``--baseline constant|linear|quadratic``,
``--signal dips|peaks|derivative|auto``, ``--json`` (one object with the keys ``lines_hz,
line_errors_hz, widths_hz, contrasts, chi2_reduced, n_lines, status, success, field_t,
field_errors_t, d_hz``), ``--plot PNG``; and for reading: ``--frequency-column``,
``--signal-column``, ``--sigma-column``, ``--frequency-unit``; for the weights: ``--sigma``,
``--n-averages``.

Exit codes: 0 the fit is a success; 1 it ran but is not (status says why); 2 bad input (the
file cannot be read, an option is wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_OK

__all__ = ["register", "run"]

MODELS = ("lorentzian", "gaussian", "14n", "15n", "hamiltonian")
BASELINES = ("constant", "linear", "quadratic")
SIGNALS = ("dips", "peaks", "derivative", "auto")
JSON_KEYS = ("lines_hz", "line_errors_hz", "widths_hz", "contrasts", "chi2_reduced", "n_lines",
             "status", "success", "field_t", "field_errors_t", "d_hz")


def register(subparsers: Any) -> None:
    """Add ``nvsense fit``."""
    p = subparsers.add_parser(
        "fit", help="fit an ODMR spectrum from a file (CSV, Qudi, MATLAB, NumPy, run files)",
        description="Read a spectrum from a file, fit its lines carefully (the kind of signal "
                    "and the number of lines found from the data unless given) and report the "
                    "lines, the field and D where the lines give them. Exit code 0 when the "
                    "fit is a success, 1 when it is not, 2 for bad input.",
    )
    p.add_argument("file", metavar="FILE", help="the spectrum: .csv/.tsv/.txt/.dat (Qudi), "
                   ".mat, .npy/.npz, or an nvsense run file (.nc)")
    p.add_argument("--model", default="lorentzian", type=str.lower, choices=MODELS,
                   help="line model")
    p.add_argument("--lines", default="auto", metavar="N|auto",
                   help="number of lines (resonances for 14n/15n), or auto to count them")
    p.add_argument("--baseline", default="constant", type=str.lower, choices=BASELINES,
                   help="baseline under the lines (quadratic for a wandering photodiode "
                        "baseline)")
    p.add_argument("--signal", default="auto", type=str.lower, choices=SIGNALS,
                   help="dips (fluorescence), peaks, or derivative (FM lock-in); auto decides "
                        "from the data")
    p.add_argument("--sigma", metavar="none|poisson|column|VALUE",
                   help="noise: column (the file's uncertainty column), poisson (photon "
                        "counts), none (from the scatter) or one value in signal units; "
                        "default: the column when the file has one, poisson for nvsense run "
                        "files, else none")
    p.add_argument("--n-averages", type=int, metavar="N",
                   help="with --sigma poisson: the spectrum averages N sweeps (default: 1, or "
                        "what the file says)")
    p.add_argument("--frequency-column", metavar="NAME|INDEX", help="the frequency column")
    p.add_argument("--signal-column", metavar="NAME|INDEX", help="the signal column")
    p.add_argument("--sigma-column", metavar="NAME|INDEX", help="the uncertainty column")
    p.add_argument("--frequency-unit", metavar="UNIT", help="Hz, kHz, MHz or GHz (default: "
                   "from the column name or the values)")
    p.add_argument("--field-guess", metavar="BX,BY,BZ", help="approximate field vector, e.g. "
                   "'0.4 mT, 1.1 mT, 1.9 mT' (picks among symmetry-equivalent vectors)")
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    p.add_argument("--plot", metavar="PNG", help="save the data, the fit and the residuals")
    p.set_defaults(func=run)


class _BadInput(ValueError):
    """Input the user must fix (exit code 2)."""


def _column(text: str | None) -> str | int | None:
    if text is None:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else text


def _lines(text: str) -> int | None:
    if str(text).strip().lower() == "auto":
        return None
    try:
        n = int(text)
    except ValueError:
        raise _BadInput(f"--lines: expected a whole number or auto, got {text!r}") from None
    if n < 1:
        raise _BadInput(f"--lines: must be at least 1, got {n}")
    return n


def _sigma(args: argparse.Namespace, da: Any) -> Any:
    """The sigma= of the fit from --sigma and the file."""
    import numpy as np

    choice = (args.sigma or "").strip().lower()
    has_column = "sigma" in da.coords
    if not choice:
        if has_column:
            return np.asarray(da.coords["sigma"].values, dtype=float)
        if da.attrs.get("format") == "nvsense-run" and da.attrs.get("signal_units") == "1":
            return "poisson"
        return None
    if choice == "none":
        return None
    if choice == "poisson":
        return "poisson"
    if choice == "column":
        if not has_column:
            raise _BadInput("--sigma column: the file has no uncertainty column; give "
                            "--sigma-column")
        return np.asarray(da.coords["sigma"].values, dtype=float)
    from ..units import QuantityError, parse_quantity

    try:
        value = parse_quantity(args.sigma, "1", name="--sigma")
    except QuantityError:
        raise _BadInput(f"--sigma: expected none, poisson, column or a positive number, got "
                        f"{args.sigma!r}") from None
    if not value > 0:
        raise _BadInput(f"--sigma: must be positive, got {args.sigma!r}")
    return float(value)


def run(args: argparse.Namespace) -> int:
    """Run ``nvsense fit``; returns the exit code."""
    import warnings

    import numpy as np

    from ..fitting import FitInputError, NoDipFoundError, fit_spectrum
    from ..io import SpectrumFileError, load_spectrum
    from ..storage.errors import StorageError
    from ..units import QuantityError

    try:
        n_lines = _lines(args.lines)
        da = load_spectrum(args.file, frequency=_column(args.frequency_column),
                           signal=_column(args.signal_column),
                           sigma=_column(args.sigma_column), frequency_unit=args.frequency_unit)
        sigma = _sigma(args, da)
        if args.n_averages is not None and args.n_averages < 1:
            raise _BadInput(f"--n-averages: must be at least 1, got {args.n_averages}")
        n_averages = args.n_averages or int(da.attrs.get("n_averages", 1))
        field_guess = None
        if args.field_guess:
            from .nv import parse_field

            field_guess = parse_field(args.field_guess, name="--field-guess")
        f = np.asarray(da.frequency.values, dtype=float)
        y = np.asarray(da.values, dtype=float)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = fit_spectrum(f, y, args.model, n_lines, sigma=sigma, baseline=args.baseline,
                               signal_kind=args.signal, field_guess=field_guess,
                               n_averages=n_averages if isinstance(sigma, str) else 1)
    except NoDipFoundError as exc:
        return _no_lines(args, str(exc))
    except (SpectrumFileError, FitInputError, QuantityError, _BadInput, ValueError,
            StorageError) as exc:  # StorageError: a .nc that is not a readable run file
        print(f"nvsense fit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    summary = summarize(fit)
    summary["file"] = str(args.file)
    summary["notes"] = da.attrs.get("notes", "")
    summary["warnings"] = [str(w.message) for w in caught]
    if args.plot:
        try:
            summary["plot"] = str(save_fit_figure(args.plot, f, y, fit, title=str(args.file)))
        except OSError as exc:
            print(f"nvsense fit: cannot write {args.plot}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(summary))
    else:
        _print(summary, fit)
    return EXIT_OK if summary["success"] else EXIT_FAULT


def _no_lines(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print(json.dumps({"lines_hz": [], "line_errors_hz": [], "widths_hz": [],
                          "contrasts": [], "chi2_reduced": None, "n_lines": 0,
                          "status": "NO_LINE", "success": False, "field_t": None,
                          "field_errors_t": None, "d_hz": None, "message": message,
                          "file": str(args.file)}))
    else:
        print(f"nvsense fit: {message}", file=sys.stderr)
    return EXIT_FAULT


def summarize(fit: Any) -> dict[str, Any]:
    """The result as the JSON of ``nvsense fit``: the lines, χ², the status and, where the
    lines give them, the field (a vector for 8 lines or the Hamiltonian model, B∥ for 2) and
    D with their errors."""
    import numpy as np

    from ..physics import GAMMA_NV_HZ_PER_T, STRAIN_E_MAX_HZ, axial_field, field_from_transitions

    def floats(a: Any) -> list[float | None]:
        return [float(v) if np.isfinite(v) else None for v in np.asarray(a, dtype=float)]

    out: dict[str, Any] = {
        "lines_hz": floats(fit.centers), "line_errors_hz": floats(fit.center_errors),
        "widths_hz": floats(fit.widths), "contrasts": floats(fit.contrasts),
        "chi2_reduced": float(fit.redchi) if np.isfinite(fit.redchi) else None,
        "n_lines": int(fit.n_lines), "status": fit.status.name, "success": bool(fit.success),
        "message": fit.message, "model": fit.model.name, "signal": fit.model.signal,
        "baseline": fit.model.baseline, "field_kind": "none", "field_t": None,
        "field_errors_t": None, "d_hz": None, "d_error_hz": None,
    }
    if fit.field is not None:
        out.update(field_kind="vector", field_t=floats(fit.field),
                   field_errors_t=floats(fit.field_errors), d_hz=float(fit.D),
                   d_error_hz=float(fit.D_error))
    elif fit.model.name != "hamiltonian" and fit.n_lines == 8 and fit.success:
        try:
            est = field_from_transitions(fit.centers, sigma=fit.center_errors)
        except ValueError as exc:
            out["field_message"] = str(exc)
        else:
            errors = est.field_errors
            out.update(field_kind="vector", field_t=floats(est.field),
                       field_errors_t=floats(errors) if errors is not None else None,
                       d_hz=float(est.D), d_error_hz=est.D_error, field_message=est.message)
            if not est.success:
                out["success"] = False
    elif fit.n_lines == 2 and fit.model.name != "hamiltonian":
        lo, hi = fit.centers
        b_par, d = axial_field(lo, hi)
        err = float(np.hypot(*fit.center_errors))
        out.update(field_kind="parallel", field_t=float(b_par),
                   field_errors_t=err / (2 * GAMMA_NV_HZ_PER_T), d_hz=float(d),
                   d_error_hz=err / 2)
        if 0.5 * (hi - lo) <= STRAIN_E_MAX_HZ:
            out["field_message"] = (
                f"the pair is also explained at zero field by strain E = "
                f"{0.5 * (hi - lo) / 1e6:.4g} MHz (lines at D ± E): B∥ assumes E = 0")
    return out


def _print(summary: dict[str, Any], fit: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    out.print(f"{summary['file']}: {fit.model.name} model, {summary['n_lines']} line(s), "
              f"{fit.model.signal}, {fit.model.baseline} baseline")
    table = Table(box=None)
    amp = "contrast" if fit.model.signal == "dips" else "amplitude"
    for col in ("line", "center (MHz)", "± (kHz)", "FWHM (MHz)", amp):
        table.add_column(col, justify="right")
    for k in range(fit.n_lines):
        table.add_row(str(k), f"{fit.centers[k] / 1e6:.4f}", f"{fit.center_errors[k] / 1e3:.1f}",
                      f"{fit.widths[k] / 1e6:.3f}", f"{fit.contrasts[k]:.4g}")
    out.print(table)
    if summary["field_kind"] == "vector" and summary["field_t"] is not None:
        b = ", ".join(f"{v * 1e3:.4f}" for v in summary["field_t"])
        out.print(f"field (mT, crystal frame): {b}; D = {summary['d_hz'] / 1e6:.4f} MHz")
    elif summary["field_kind"] == "parallel":
        out.print(f"B∥ = {summary['field_t'] * 1e3:.5f} ± {summary['field_errors_t'] * 1e3:.5f} "
                  f"mT; D = {summary['d_hz'] / 1e6:.4f} MHz")
    if summary.get("field_message") and summary["field_message"] != "field determined":
        out.print(f"field: {summary['field_message']}")
    verdict = "success" if summary["success"] else "NOT a success"
    out.print(f"status: {summary['status']} ({summary['message']}); reduced χ² "
              f"{summary['chi2_reduced']:.4g}; {verdict}")
    for note in filter(None, [summary.get("notes"), *summary.get("warnings", [])]):
        out.print(f"note: {note}")
    if summary.get("plot"):
        out.print(f"plot: {summary['plot']}")


def save_fit_figure(path: str, frequencies: Any, signal: Any, fit: Any, title: str = "") -> Any:
    """The data, the fitted model and the residuals as a PNG."""
    from pathlib import Path

    import matplotlib
    import numpy as np

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax, res = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    f_mhz = np.asarray(frequencies) / 1e6
    ax.plot(f_mhz, signal, ".", ms=3, color="0.35", label="data")
    ax.plot(f_mhz, fit.best_fit, "-", lw=1.0, color="C3",
            label="fit" + ("" if fit.success else f" ({fit.status.name})"))
    for c in fit.centers:
        ax.axvline(c / 1e6, color="C3", lw=0.5, alpha=0.4)
    res.plot(f_mhz, np.asarray(signal) - fit.best_fit, ".", ms=2, color="C0")
    res.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel("signal")
    res.set_ylabel("residual")
    res.set_xlabel("microwave frequency (MHz)")
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(f"{title}\n{fit.n_lines} line(s), {fit.model.signal}, status "
                 f"{fit.status.name}", fontsize=10)
    fig.savefig(path, dpi=110)
    return path
