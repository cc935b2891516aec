"""``nvsense nv``: the NV calculator.

``nvsense nv lines --field "1 mT, 2 mT, 3 mT"``
    The ODMR lines of every NV axis for a field (exact Hamiltonian), with hyperfine components
    on request.
``nvsense nv field LINE...``
    The field vector (and D) that produces measured lines, with errors when ``--sigma`` is
    given.
``nvsense nv temperature D`` / ``nvsense nv zfs T``
    Temperature from a zero-field splitting and back.
``nvsense nv sensitivity --linewidth 1MHz --contrast 1% --rate 1e12/s``
    Shot-noise-limited CW-ODMR sensitivity.

Every quantity is parsed by :func:`nvsense.units.parse_quantity`; bad input prints one message
on stderr and exits with code 2.  ``--json`` prints a machine-readable result instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..physics import (
    AXIS_LABELS,
    CUTS,
    GAMMA_NV_HZ_PER_T,
    NUCLEI,
    NV_AXES,
    ZFS_HZ,
    ZFS_MODELS,
    field_from_transitions,
    hyperfine_lines,
    lab_frame,
    shot_noise_sensitivity,
    temperature_from_zfs,
    transition_frequencies,
    zfs_at,
)
from ..units import QuantityError, parse_quantity
from . import EXIT_BAD_INPUT, EXIT_OK

__all__ = ["parse_axes", "parse_field", "parse_lines", "register"]

_BARE_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")
_UNIT_TAIL = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*(?P<unit>.*?)\s*$")


class _BadInput(ValueError):
    """Input the user must fix (exit code 2)."""


# -- parsing ------------------------------------------------------------------------------------
def parse_field(text: str, *, name: str = "--field") -> np.ndarray:
    """A field vector from text such as ``"1 mT, 2 mT, 3 mT"``, ``"1, 2, 3 mT"`` (the last unit
    applies to bare numbers) or ``"0.001, 0.002, 0.003"`` (tesla).  Returns (3,) in T."""
    parts = [p for p in re.split(r"[,;]", text.strip().strip("()[]")) if p.strip()]
    if len(parts) != 3:
        raise _BadInput(f'{name}: expected three components such as "1 mT, 2 mT, 3 mT", '
                        f"got {text!r}")
    unit = _UNIT_TAIL.match(parts[-1])
    tail = unit["unit"] if unit else ""
    values = []
    for axis, part in zip("xyz", parts):
        if tail and _BARE_NUMBER.match(part):
            part = f"{part} {tail}"
        values.append(parse_quantity(part, "T", name=f"{name} ({axis})"))
    return np.array(values)


def parse_lines(texts: list[str]) -> np.ndarray:
    """Line positions in Hz from arguments like ``2.77GHz``, ``"2808.8 MHz"`` or ``2.77e9``
    (bare numbers are Hz); an argument may hold several lines separated by commas."""
    parts = [p for text in texts for p in re.split(r"[,;]", text) if p.strip()]
    if not parts:
        raise _BadInput('give the measured lines, e.g. "2773.7 MHz" "2967.9 MHz"')
    lines = np.array([parse_quantity(p, "Hz", name="line") for p in parts])
    small = lines[lines < 1e6]
    if small.size:
        raise _BadInput(f"line {small[0]:g} Hz is far below any NV transition: write the unit, "
                        f'e.g. "{small[0]:g} MHz" (bare numbers are Hz)')
    return lines


def parse_axes(text: str | None) -> np.ndarray:
    """Axis indices from ``"all"``, ``"0,2"`` or Miller labels such as ``"111,1-1-1"``.

    NV axes are numbered from 0, everywhere in nvsense: ``nvsense nv``, ``nvsense track
    --axis``, ``axes: [0]`` in bench files and the ``axis`` dimension of run files (axis 0 is
    [111], then [1-1-1], [-11-1], [-1-11]: :data:`nvsense.physics.AXIS_LABELS`)."""
    if text is None or text.strip().lower() == "all":
        return np.arange(len(NV_AXES))
    labels = {lab.strip("[]"): i for i, lab in enumerate(AXIS_LABELS)}
    chosen: list[int] = []
    for part in (p.strip().strip("[]") for p in text.split(",") if p.strip()):
        if part in labels:
            index = labels[part]
        elif part.isdigit() and 0 <= int(part) < len(NV_AXES):
            index = int(part)
        else:
            hint = " (axes are numbered from 0)" if part == str(len(NV_AXES)) else ""
            raise _BadInput(f"--axes: unknown axis {part!r}{hint}; use 0-{len(NV_AXES) - 1} or "
                            f"{', '.join(AXIS_LABELS)} (comma-separated), or 'all'")
        if index in chosen:
            raise _BadInput(f"--axes: axis {part!r} is given twice")
        chosen.append(index)
    if not chosen:
        raise _BadInput("--axes: give at least one axis, e.g. 0,1 or 'all'")
    return np.array(chosen)


def _zfs_from_args(args: argparse.Namespace) -> tuple[float | None, str | None]:
    """D in Hz from --D or --temperature (None when neither), and a note on its origin."""
    if args.D is not None and args.temperature is not None:
        raise _BadInput("give either --D or --temperature, not both")
    if args.D is not None:
        return parse_quantity(args.D, "Hz", name="--D"), None
    if args.temperature is not None:
        t = parse_quantity(args.temperature, "K", name="--temperature")
        model = _model_for_temperature(t)
        return zfs_at(t, model=model), f"at {t:g} K (D(T) model {model})"
    return None, None


#: D(T) models in order of preference: the linear room-temperature model first.
_MODEL_ORDER = ("acosta2010", "chen2011", "toyli2012")


def _model_for_temperature(t: float) -> str:
    for name in _MODEL_ORDER:
        m = ZFS_MODELS[name]
        if m.t_min <= t <= m.t_max:
            return name
    raise _BadInput(f"temperature {t:g} K is outside every D(T) model (5-700 K)")


def _model_for_zfs(d: float) -> str:
    for name in _MODEL_ORDER:
        m = ZFS_MODELS[name]
        if m(m.t_max) <= d <= m(m.t_min):
            return name
    raise _BadInput(f"D = {d / 1e6:.4f} MHz is outside every D(T) model "
                    f"({ZFS_MODELS['toyli2012'](700.0) / 1e6:.2f}-"
                    f"{ZFS_MODELS['chen2011'](5.0) / 1e6:.2f} MHz, 5-700 K)")


def _temperature_estimate(
    d: float, d_error: float | None
) -> tuple[float, float | None, str] | None:
    """(T, its error, model) for a fitted D, or None when D is outside every model."""
    try:
        model = _model_for_zfs(d)
    except _BadInput:
        return None
    t = float(temperature_from_zfs(d, model=model))
    error = None if d_error is None else d_error / abs(float(ZFS_MODELS[model].slope(t)))
    return t, error, model


def _pm(value: float, error: float | None, scale: float, digits: int = 4) -> str:
    """``value ± error`` scaled, with the decimals set by the error's two significant digits."""
    if error is None or not np.isfinite(error) or error <= 0:
        return _num(value * scale, digits, sign=False)
    decimals = int(min(max(1 - np.floor(np.log10(error * scale)), 0), 9))
    return f"{_num(value * scale, decimals)} ± {error * scale:.{decimals}f}"


def _frame(args: argparse.Namespace) -> np.ndarray | None:
    if args.cut is None:
        return None
    try:
        return lab_frame(args.cut)
    except ValueError as exc:
        raise _BadInput(f"--cut: {exc}") from None


# -- output helpers ------------------------------------------------------------------------------
def _console() -> Console:
    # soft_wrap: free text is never broken at the terminal width (tables still fit it)
    return Console(highlight=False, soft_wrap=True)


def _num(value: float, digits: int, sign: bool = False) -> str:
    """Fixed-point text without a negative zero."""
    value = round(float(value), digits) + 0.0
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _vec(v: np.ndarray, scale: float = 1e3, digits: int = 4) -> str:
    return "(" + ", ".join(_num(x * scale, digits) for x in v) + ")"


def _run(body: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return body(args)
        except (QuantityError, _BadInput, ValueError) as exc:
            print(f"nvsense nv: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    return wrapper


# -- nv lines ------------------------------------------------------------------------------------
@_run
def run_lines(args: argparse.Namespace) -> int:
    """``nvsense nv lines``: the lines of every axis for a field."""
    field = parse_field(args.field)
    d, d_note = _zfs_from_args(args)
    d = ZFS_HZ if d is None else d
    e = 0.0 if args.E is None else parse_quantity(args.E, "Hz", name="--E")
    indices = parse_axes(args.axes)
    nucleus = args.nucleus
    frame = _frame(args)
    crystal_field = field if frame is None else frame.T @ field
    axes = NV_AXES[indices]
    lines = transition_frequencies(crystal_field, d, e, axes)  # (n, 2)
    hf = hyperfine_lines(lines, nucleus)  # (n, 2, m)
    directions = axes if frame is None else axes @ frame.T
    proj = directions @ field
    perp = np.sqrt(np.maximum(field @ field - proj**2, 0.0))
    magnitude = float(np.linalg.norm(field))
    angles = np.degrees(np.arccos(np.clip(proj / magnitude, -1, 1))) if magnitude else proj * 0
    frame_name = ("crystal frame" if frame is None
                  else f"lab frame of a ({args.cut.strip('()')}) plate")

    if args.json:
        doc = {
            "field_T": field.tolist(),
            "frame": "crystal" if frame is None else f"lab ({args.cut.strip('()')})",
            "field_crystal_T": crystal_field.tolist(),
            "magnitude_T": magnitude,
            "D_Hz": d,
            "E_Hz": e,
            "nucleus": nucleus,
            "axes": [
                {
                    "axis": int(i),  # numbered from 0, as everywhere in nvsense
                    "number": int(i) + 1,  # deprecated (1-based), kept for old scripts
                    "label": AXIS_LABELS[i],
                    "direction": directions[k].tolist(),
                    "B_parallel_T": float(proj[k]),
                    "B_perp_T": float(perp[k]),
                    "angle_deg": float(angles[k]),
                    "lines_Hz": lines[k].tolist(),
                    "hyperfine_lines_Hz": hf[k].tolist(),
                }
                for k, i in enumerate(indices)
            ],
            "lines_Hz": np.sort(hf.ravel()).tolist(),
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK

    out = _console()
    out.print(f"B = {_vec(field)} mT in the {frame_name}, |B| = {magnitude * 1e3:.4f} mT")
    d_text = f"D = {d / 1e6:.4f} MHz" + (f" {d_note}" if d_note else "")
    out.print(f"{d_text}, E = {e / 1e6:.4f} MHz, γ = {GAMMA_NV_HZ_PER_T / 1e9:.4f} GHz/T")
    table = Table()
    table.add_column("axis", no_wrap=True)
    table.add_column("B∥ mT", justify="right", no_wrap=True)
    table.add_column("B⊥ mT", justify="right", no_wrap=True)
    table.add_column("angle°", justify="right", no_wrap=True)
    table.add_column("f₋ MHz", justify="right", no_wrap=True)
    table.add_column("f₊ MHz", justify="right", no_wrap=True)
    table.add_column("f₊−f₋ MHz", justify="right", no_wrap=True)
    for k, i in enumerate(indices):
        table.add_row(
            f"{i} {AXIS_LABELS[i]}",
            _num(proj[k] * 1e3, 4, sign=True),
            _num(perp[k] * 1e3, 4),
            f"{angles[k]:.1f}",
            f"{lines[k, 0] / 1e6:.3f}",
            f"{lines[k, 1] / 1e6:.3f}",
            f"{(lines[k, 1] - lines[k, 0]) / 1e6:.3f}",
        )
    out.print(table)
    if hf.shape[-1] > 1:
        out.print(f"{nucleus} hyperfine components (MHz, equal weights):")
        for k, i in enumerate(indices):
            low = " ".join(f"{f / 1e6:.3f}" for f in hf[k, 0])
            high = " ".join(f"{f / 1e6:.3f}" for f in hf[k, 1])
            out.print(f"  {i} {AXIS_LABELS[i]:<8}  f₋: {low}   f₊: {high}")
    else:
        out.print("All lines (MHz): " + ", ".join(f"{f / 1e6:.3f}" for f in np.sort(lines.ravel())))
    return EXIT_OK


# -- nv field ------------------------------------------------------------------------------------
@_run
def run_field(args: argparse.Namespace) -> int:
    """``nvsense nv field``: the field vector from measured lines."""
    lines = parse_lines(args.lines)
    d, _ = _zfs_from_args(args)
    e = 0.0 if args.E is None else parse_quantity(args.E, "Hz", name="--E")
    sigma = None if args.sigma is None else parse_quantity(args.sigma, "Hz", name="--sigma")
    indices = parse_axes(args.axes)
    frame = _frame(args)
    guess = None if args.guess is None else parse_field(args.guess, name="--guess")
    if guess is not None and frame is not None:
        guess = frame.T @ guess
    if args.assigned:
        if lines.size != 2 * len(indices):
            raise _BadInput(f"--assigned needs two lines per axis in axis order "
                            f"({2 * len(indices)} lines for {len(indices)} axes), "
                            f"got {lines.size}")
        lines = lines.reshape(len(indices), 2)
    est = field_from_transitions(lines, D=d, E=e, axes=NV_AXES[indices], guess=guess,
                                 sigma=sigma)
    rot = np.eye(3) if frame is None else frame
    field = rot @ est.field
    cov = None if est.covariance is None else rot @ est.covariance @ rot.T
    errors = None if cov is None else np.sqrt(np.diag(cov))
    thermo = _temperature_estimate(est.D, est.D_error) if est.D_fitted else None
    flat = lines.ravel()
    # which axis/branch each measured line was matched to
    matched: list[list[str]] = [[] for _ in flat]
    for k, i in enumerate(indices):
        for branch, name in enumerate(("f₋", "f₊")):
            matched[est.assignment[k, branch]].append(f"{i}{name}")
    model_per_line = flat - est.residuals.ravel()
    frame_name = "crystal" if frame is None else f"lab ({args.cut.strip('()')})"

    if args.json:
        doc: dict[str, Any] = {
            "field_T": field.tolist(),
            "field_errors_T": None if errors is None else errors.tolist(),
            "covariance_T2": None if cov is None else cov.tolist(),
            "magnitude_T": est.magnitude,
            "magnitude_error_T": est.magnitude_error,
            "frame": frame_name,
            "D_Hz": est.D,
            "D_error_Hz": est.D_error,
            "D_fitted": est.D_fitted,
            "temperature_K": None if thermo is None else thermo[0],
            "temperature_error_K": None if thermo is None else thermo[1],
            "temperature_model": None if thermo is None else thermo[2],
            "E_Hz": est.E,
            "lines_Hz": flat.tolist(),
            "residuals_Hz": est.residuals.ravel().tolist(),
            "matched_to": matched,
            "model_lines_Hz": est.model_lines.tolist(),
            "chi2": est.chi2,
            "equivalent_fields_T": (est.equivalent_fields @ rot.T).tolist(),
            "alternatives": [{"field_T": (rot @ f).tolist(), "D_Hz": dd}
                             for f, dd in est.alternatives],
            "assigned": est.assigned,
            "success": est.success,
            "message": est.message,
        }
        print(json.dumps(doc, indent=2))
        return EXIT_OK

    out = _console()
    kind = "assigned to axes" if est.assigned else "unassigned"
    out.print(f"Field from {flat.size} lines ({kind}), {frame_name} frame:")
    for k, name in enumerate(("Bx", "By", "Bz")):
        out.print(f"  {name} = {_pm(field[k], None if errors is None else errors[k], 1e3)} mT")
    out.print(f"  |B| = {_pm(est.magnitude, est.magnitude_error, 1e3)} mT")
    if est.D_fitted:
        t_text = "" if thermo is None else (
            f"  (T ≈ {_pm(thermo[0], thermo[1], 1.0, 1)} K, D(T) model {thermo[2]})")
        out.print(f"  D = {_pm(est.D, est.D_error, 1e-6)} MHz{t_text}")
    else:
        out.print(f"  D = {est.D / 1e6:.4f} MHz (fixed)")
    table = Table()
    table.add_column("line MHz", justify="right", no_wrap=True)
    table.add_column("axis", no_wrap=True)
    table.add_column("model MHz", justify="right", no_wrap=True)
    table.add_column("residual kHz", justify="right", no_wrap=True)
    for f, m, r, who in zip(flat, model_per_line, est.residuals.ravel(), matched):
        table.add_row(f"{f / 1e6:.4f}", " ".join(who), f"{m / 1e6:.4f}", f"{r / 1e3:+.2f}")
    out.print(table)
    n_eq = len(est.equivalent_fields)
    if n_eq > 1:
        why = "nearest to --guess" if guess is not None else (
            "Bx ≥ By ≥ Bz ≥ 0" if not est.assigned and n_eq == 48 and frame is None
            else "largest projection on the first axis")
        out.print(f"{n_eq} fields give these lines (B and −B"
                  f"{'' if est.assigned else ', and the cubic symmetry of the axes'}); "
                  f"shown: {why}.")
    for f, dd in est.alternatives:
        out.print(f"[bold]Also consistent[/bold]: B = {_vec(rot @ f)} mT with D = "
                  f"{dd / 1e6:.4f} MHz; pass --guess to choose.")
    if not est.success:
        out.print(f"Warning: {est.message}")
    return EXIT_OK


# -- nv temperature / zfs / sensitivity -----------------------------------------------------------
def _emit(args: argparse.Namespace, doc: dict[str, Any], text: str) -> int:
    """Print ``doc`` as JSON with ``--json``, else ``text``."""
    print(json.dumps(doc) if args.json else text)
    return EXIT_OK


@_run
def run_temperature(args: argparse.Namespace) -> int:
    """``nvsense nv temperature D``: temperature from a zero-field splitting."""
    d = parse_quantity(args.zfs, "Hz", name="D")
    model = _model_for_zfs(d) if args.model == "auto" else args.model
    t = temperature_from_zfs(d, model=model)
    return _emit(args, {"D_Hz": d, "temperature_K": t, "model": model},
                 f"T = {t:.2f} K for D = {d / 1e6:.4f} MHz ({ZFS_MODELS[model].source})")


@_run
def run_zfs(args: argparse.Namespace) -> int:
    """``nvsense nv zfs T``: zero-field splitting at a temperature."""
    t = parse_quantity(args.temperature_value, "K", name="temperature")
    model = _model_for_temperature(t) if args.model == "auto" else args.model
    d = zfs_at(t, model=model)
    return _emit(args, {"temperature_K": t, "D_Hz": d, "model": model},
                 f"D = {d / 1e6:.4f} MHz at {t:g} K ({ZFS_MODELS[model].source})")


@_run
def run_sensitivity(args: argparse.Namespace) -> int:
    """``nvsense nv sensitivity``: shot-noise-limited CW-ODMR sensitivity."""
    width = parse_quantity(args.linewidth, "Hz", name="--linewidth")
    contrast = parse_quantity(args.contrast, "1", name="--contrast")
    rate = parse_quantity(args.rate, "1/s", name="--rate")
    eta = shot_noise_sensitivity(width, contrast, rate)
    return _emit(args, {"linewidth_Hz": width, "contrast": contrast, "count_rate_per_s": rate,
                        "sensitivity_T_per_rtHz": eta},
                 f"η = {eta * 1e9:.4g} nT/√Hz (shot-noise limit, CW-ODMR, linewidth "
                 f"{width / 1e6:g} MHz, contrast {contrast * 100:g} %, {rate:.3g} counts/s)")


# -- registration --------------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--D", metavar="FREQ", help='zero-field splitting, e.g. "2.8701 GHz"')
    parser.add_argument("--temperature", metavar="T",
                        help='temperature for D(T), e.g. "300 K" (instead of --D)')
    parser.add_argument("--E", metavar="FREQ", help='strain splitting E, e.g. "3 MHz" (default 0)')
    parser.add_argument("--axes", metavar="LIST",
                        help="NV axes: 'all' (default), numbers 0-3 (counted from 0, as in "
                             "bench files and track --axis) or labels like 111,1-1-1")
    parser.add_argument("--cut", metavar="CUT", help=f"fields in the lab frame of a plate of "
                        f"this cut ({', '.join(CUTS)}) instead of the crystal frame")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def register(subparsers: Any) -> None:
    """Add ``nvsense nv`` and its sub-commands."""
    parser = subparsers.add_parser(
        "nv", help="NV calculator: lines for a field, field from lines, D(T), sensitivity",
        description="NV ground-state calculator (exact Hamiltonian).")
    actions = parser.add_subparsers(dest="nv_action", metavar="ACTION")

    lines = actions.add_parser(
        "lines", help="ODMR lines of every NV axis for a field",
        description="The two ms=0→±1 lines of every NV axis for a field (exact Hamiltonian).")
    lines.add_argument("--field", required=True, metavar="B",
                       help='field vector, e.g. "1 mT, 2 mT, 3 mT" or "1, 2, 3 G"')
    lines.add_argument("--nucleus", default="none", type=_nucleus, metavar="{none,14N,15N}",
                       help="show nitrogen hyperfine components (14N triplets, 15N doublets)")
    _common(lines)
    lines.set_defaults(func=run_lines)

    field = actions.add_parser(
        "field", help="field vector from measured lines",
        description="Field vector and D from measured ODMR lines (least squares on the exact "
                    "Hamiltonian).  Unassigned lines give the field up to the cubic symmetry "
                    "of the axes; --guess picks the image nearest to it.")
    field.add_argument("lines", nargs="+", metavar="LINE",
                       help='measured lines, e.g. 2773.7MHz "2.8088 GHz" (bare numbers are Hz)')
    field.add_argument("--guess", metavar="B", help='approximate field, e.g. "1 mT, 2 mT, 3 mT"')
    field.add_argument("--sigma", metavar="FREQ",
                       help='line uncertainty, e.g. "20 kHz": gives errors on B and D')
    field.add_argument("--assigned", action="store_true",
                       help="lines are given per axis in axis order: f₋, f₊ of axis 0, ...")
    _common(field)
    field.set_defaults(func=run_field)

    temp = actions.add_parser("temperature", help="temperature from a zero-field splitting D")
    temp.add_argument("zfs", metavar="D", help='e.g. "2869.3 MHz"')
    temp.add_argument("--model", default="auto", choices=["auto", *ZFS_MODELS],
                      help="D(T) model; auto: the linear 280-330 K model where it applies, "
                           "else the one whose range holds D")
    temp.add_argument("--json", action="store_true", help="print JSON for scripts")
    temp.set_defaults(func=run_temperature)

    zfs = actions.add_parser("zfs", help="zero-field splitting D at a temperature")
    zfs.add_argument("temperature_value", metavar="T", help='e.g. "300 K"')
    zfs.add_argument("--model", default="auto", choices=["auto", *ZFS_MODELS],
                     help="D(T) model; auto: the linear 280-330 K model where it applies, "
                          "else the one whose range holds T")
    zfs.add_argument("--json", action="store_true", help="print JSON for scripts")
    zfs.set_defaults(func=run_zfs)

    sens = actions.add_parser("sensitivity", help="shot-noise-limited CW-ODMR sensitivity")
    sens.add_argument("--linewidth", required=True, metavar="FREQ", help='FWHM, e.g. "1 MHz"')
    sens.add_argument("--contrast", required=True, metavar="C", help='e.g. "1 %%" or 0.01')
    sens.add_argument("--rate", required=True, metavar="R", help='photon rate, e.g. "1e12 /s"')
    sens.add_argument("--json", action="store_true", help="print JSON for scripts")
    sens.set_defaults(func=run_sensitivity)

    parser.set_defaults(func=lambda args: _usage(parser))


def _nucleus(text: str) -> str:
    for name in NUCLEI:
        if text.strip().lower() == name.lower():
            return name
    raise argparse.ArgumentTypeError(f"use one of {', '.join(NUCLEI)}")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_BAD_INPUT
