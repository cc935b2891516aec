"""``nvsense widefield``: measure, simulate, fit and plot widefield ODMR cubes.

Examples::

    nvsense widefield measure --bench widefield.yaml --range 2.79GHz:2.95GHz:101 --sweeps 10 \
        --out wire.nc
    nvsense widefield simulate --size 256 --field-map dipole --out cube.zarr
    nvsense widefield fit cube.zarr --out map.nc --model lorentzian --lines 2
    nvsense widefield plot map.nc --cube cube.zarr --out field_map.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from ..measure.control import STOPPED_BY_USER, RunControl, stop_on_sigint
from ..units import QuantityError, format_quantity, parse_quantity
from . import EXIT_BAD_INPUT, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_OK

#: Models ``--model`` accepts (those of nvsense.fitting).
MODELS = ("lorentzian", "gaussian", "14n", "15n", "hamiltonian")


def register(subparsers: Any) -> None:
    """Add ``nvsense widefield {measure,simulate,fit,plot}``."""
    parser = subparsers.add_parser(
        "widefield", help="measure, simulate, fit and plot widefield ODMR cubes",
        description="Widefield ODMR cubes (image × frequency): record one with a camera, "
                    "simulate one with a known field map, fit every pixel on Dask, plot the "
                    "field map.")
    commands = parser.add_subparsers(dest="widefield_command", metavar="COMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))
    _register_measure(commands)
    _register_simulate(commands)
    _register_fit(commands)
    _register_plot(commands)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_BAD_INPUT


# --- measure ------------------------------------------------------------------------------


def _register_measure(commands: Any) -> None:
    p = commands.add_parser(
        "measure", help="record a widefield run: camera frames of frame-synchronised sweeps",
        description="Record widefield ODMR on a bench with a camera: the camera's exposure "
                    "output steps the microwave list, every frame is assigned to its frequency "
                    "from the frame counter, lost frames are measured again or marked, the "
                    "drift between sweeps is registered and undone, and the frames stream into "
                    "a run file (crash-safe per sweep) that `nvsense widefield fit` reads. A "
                    "binned live map is fitted after every sweep. Exit codes: 0 done, 1 run "
                    "aborted by an instrument fault, 2 bad input (nothing sent), 130 stopped "
                    "(every completed sweep is kept).")
    p.add_argument("--bench", metavar="FILE", help="bench file (YAML) or built-in bench name, "
                   "with a camera; default: the simulated bench")
    p.add_argument("--range", dest="range", metavar="START:STOP:POINTS",
                   help="the sweep, e.g. 2.79GHz:2.95GHz:101 (default; at least 8 points)")
    p.add_argument("--sweeps", type=int, metavar="N", help="number of sweeps (default 10)")
    p.add_argument("--exposure", metavar="TIME", help="camera exposure per frame (default 5ms)")
    p.add_argument("--frame-period", dest="frame_period", metavar="TIME",
                   help="time from one frame's start to the next, e.g. 10ms for 100 frames/s "
                        "(one list step each; at least the exposure; default: as fast as the "
                        "camera reads out)")
    p.add_argument("--bin", dest="binning", type=int, metavar="N",
                   help="camera binning, N×N pixels summed at readout (default 1)")
    p.add_argument("--reference", choices=("every", "none"),
                   help="a reference frame (RF far off resonance) after every point, to "
                        "normalise laser drifts, or none (default none)")
    p.add_argument("--power", metavar="DBM", help="microwave power (default -10dBm)")
    p.add_argument("--live-bin", dest="live_binning", type=int, metavar="N",
                   help="camera pixels per live-map pixel (default: a map of at most 64×64 "
                        "pixels; 0: no live map)")
    p.add_argument("--lines", type=int, metavar="N",
                   help="lines of the live map's fit (default: 2 per NV axis of the bench)")
    p.add_argument("--out", required=True, metavar="CUBE",
                   help="the run file to write (*.nc, must not exist); catalogued in the data "
                        "folder, read by `nvsense widefield fit`")
    p.add_argument("--data-dir", metavar="DIR", help="data folder of the catalogue (default "
                   "$NVSENSE_DATA_DIR or ./nvsense-data)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (run_id, file, status, frames, dropped_frames, "
                        "sweeps, drift_px, ...) instead of text")
    p.set_defaults(func=_measure)


#: The option of each widefield setting, for error messages.
MEASURE_OPTIONS = {"range": "--range", "sweeps": "--sweeps", "exposure": "--exposure",
                   "frame_period": "--frame-period",
                   "binning": "--bin", "reference": "--reference", "mw_power": "--power",
                   "live_binning": "--live-bin", "n_lines": "--lines"}


def _measure_settings(args: argparse.Namespace) -> Any:
    from ..measure.widefield import WidefieldSettings
    from .options import parse_settings

    values: dict[str, Any] = {}
    for key, value in (("range", args.range), ("sweeps", args.sweeps),
                       ("exposure", args.exposure), ("frame_period", args.frame_period),
                       ("binning", args.binning),
                       ("reference", args.reference), ("mw_power", args.power),
                       ("live_binning", args.live_binning), ("n_lines", args.lines)):
        if value is not None:
            values[key] = value
    values.setdefault("binning", 1)
    return parse_settings(WidefieldSettings, values, MEASURE_OPTIONS)


def _check_out(out: str) -> Any:
    """The run file ``--out`` names: a new ``.nc`` file in an existing or creatable folder."""
    from pathlib import Path

    from ..measure.settings import SettingsError

    path = Path(out)
    if path.suffix.lower() != ".nc" or not path.stem or path.name.startswith("."):
        raise SettingsError(f"--out {out!r}: name a new NetCDF run file, e.g. wire.nc")
    if path.exists() or path.is_symlink():
        raise SettingsError(f"--out {out}: the file exists; a run file is never overwritten "
                            "(choose a new file name)")
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise SettingsError(f"--out {out}: cannot write in {folder}")
    return path


def _measure(args: argparse.Namespace) -> int:
    from ..instruments import BenchConfigError, InstrumentError, LimitError, load_bench
    from ..measure.settings import SettingsError
    from ..measure.widefield import WidefieldMeasurement, run_widefield
    from ..storage import Catalog, StorageError, resolve_data_dir

    try:
        out = _check_out(args.out)
        settings = _measure_settings(args)
        bench = load_bench(args.bench)
        WidefieldMeasurement(settings, out=out).check(bench)  # before anything is sent
        catalog = Catalog(resolve_data_dir(args.data_dir))
    except (SettingsError, BenchConfigError, LimitError, QuantityError, StorageError,
            ValueError) as exc:
        return _bad_input("measure", exc)
    control = RunControl()
    subscribers = [] if args.json else [_measure_progress(settings.sweeps)]
    try:
        with stop_on_sigint(control), bench:
            result = run_widefield(bench, settings, out=out, catalog=catalog,
                                   subscribers=subscribers, control=control)
    except (SettingsError, LimitError) as exc:
        return _bad_input("measure", exc)
    except InstrumentError as exc:  # connecting failed: nothing was measured
        print(f"nvsense widefield measure: {exc}", file=sys.stderr)
        return EXIT_FAULT
    except KeyboardInterrupt:
        print("nvsense widefield measure: interrupted; the bench was left safe",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        _print_measure(summary)
    for warning in result.warnings:
        print(f"nvsense widefield measure: warning: {warning}", file=sys.stderr)
    if result.error is not None:
        print(f"nvsense widefield measure: run aborted: {result.reason}", file=sys.stderr)
        return EXIT_FAULT
    if result.status == "aborted" and (result.reason or "").startswith(STOPPED_BY_USER):
        return EXIT_INTERRUPTED
    if result.status == "aborted":
        print(f"nvsense widefield measure: run aborted: {result.reason}", file=sys.stderr)
        return EXIT_FAULT
    return EXIT_OK


def _measure_progress(planned: int) -> Any:
    from ..measure.documents import WidefieldMap, WidefieldSweep

    def show(event: Any) -> None:
        if isinstance(event, WidefieldSweep):
            notes = []
            if event.missing:
                notes.append(f"{event.missing} frame(s) missing: {event.remeasured} measured "
                             f"again, {event.marked} point(s) marked")
            dy, dx = event.drift
            drift = f"drift {dy:+.2f}, {dx:+.2f} px" if np.isfinite(dy) else "drift —"
            print(f"sweep {event.index + 1}/{planned}  t = {event.elapsed:7.2f} s  {drift}"
                  + (f"  ({'; '.join(notes)})" if notes else ""), flush=True)
        elif isinstance(event, WidefieldMap):
            if event.message:
                print(f"  live map: {event.message}", flush=True)
                return
            ok = event.success
            field = event.field_parallel[ok]
            text = (f"B∥ {format_quantity(float(field.min()), 'T', 3)} – "
                    f"{format_quantity(float(field.max()), 'T', 3)}" if field.size else "no fit")
            print(f"  live map ({ok.shape[0]}×{ok.shape[1]}, bin {event.binning}): {text}, "
                  f"{100 * ok.mean():.0f} % of pixels fitted, {event.fit_seconds:.2f} s",
                  flush=True)

    return show


def _print_measure(summary: dict[str, Any]) -> None:
    head = f"widefield run {summary['run_id']}: {summary['status']}"
    if summary.get("reason"):
        head += f" ({summary['reason']})"
    print(head)
    print(f"sweeps: {summary['sweeps']}, frames: {summary['frames']}, dropped: "
          f"{summary['dropped_frames']} ({summary['remeasured_frames']} measured again, "
          f"{summary['marked_points']} point(s) marked), duplicated: "
          f"{summary['duplicated_frames']}")
    drift = summary["drift_px"]
    if drift is not None:
        print(f"drift of the last sweep: {drift[0]:+.2f}, {drift[1]:+.2f} px (undone in pl)")
    print(f"file: {summary['file']}")
    if summary["file"]:
        print(f"fit it: nvsense widefield fit {summary['file']} --out map.nc")


# --- simulate -----------------------------------------------------------------------------


def _register_simulate(commands: Any) -> None:
    p = commands.add_parser(
        "simulate", help="write a simulated cube with a known field map",
        description="Simulate a widefield ODMR cube from the NV physics model with shot noise. "
                    "The true field map is stored in the cube (true_field, "
                    "true_field_parallel) so fits can be checked against it.")
    p.add_argument("--out", required=True, metavar="CUBE",
                   help="output file: *.zarr (zarr) or *.nc (NetCDF)")
    p.add_argument("--size", type=int, default=256, help="image width and height in pixels "
                   "(default 256)")
    p.add_argument("--field-map", default="dipole", choices=("dipole", "uniform", "gradient"),
                   help="field pattern added to the bias (default dipole)")
    p.add_argument("--amplitude", default="0.4 mT",
                   help="largest change of the field over the image (default 0.4 mT)")
    p.add_argument("--bias", default=None, metavar="BX,BY,BZ",
                   help="bias field, crystal frame, e.g. '0.4 mT, 1.1 mT, 1.9 mT' (default 2 mT "
                        "along [111] for one axis; 4, 1, 2 mT for four)")
    p.add_argument("--points", type=int, default=101, help="frequency points (default 101)")
    p.add_argument("--start", default=None, help="sweep start, e.g. '2.77 GHz' (default: "
                   "every line with a margin of four linewidths)")
    p.add_argument("--stop", default=None, help="sweep stop, e.g. '2.97 GHz'")
    p.add_argument("--photons", type=float, default=None,
                   help="photons per pixel and frequency point at the spot centre "
                        "(default 1e5)")
    p.add_argument("--count-rate", default=None,
                   help="photon rate per pixel, e.g. '1e8 /s' (with --exposure, instead of "
                        "--photons)")
    p.add_argument("--exposure", default="1 ms",
                   help="exposure per frequency point with --count-rate (default 1 ms)")
    p.add_argument("--linewidth", default="8 MHz", help="FWHM of each line (default 8 MHz)")
    p.add_argument("--contrast", type=float, default=0.03,
                   help="depth of each transition (default 0.03)")
    p.add_argument("--nucleus", default="none", choices=("none", "14N", "15N"),
                   help="hyperfine structure (default none)")
    p.add_argument("--axes", type=int, default=1, choices=(1, 2, 3, 4),
                   help="NV orientations in the sample: 1 ([111] only) or 4 (ensemble); "
                        "default 1")
    p.add_argument("--illumination", default="gaussian", choices=("gaussian", "flat"),
                   help="laser spot profile (default gaussian)")
    p.add_argument("--seed", type=int, default=None, help="seed of the shot noise")
    p.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from ..analysis import CubeError, simulate_cube, write_cube

    try:
        _check_cube_memory(args.size, args.points, CubeError)
        photons = _photons(args)
        cube = simulate_cube(
            args.size, args.field_map,
            points=args.points,
            start=None if args.start is None else parse_quantity(args.start, "Hz", name="--start"),
            stop=None if args.stop is None else parse_quantity(args.stop, "Hz", name="--stop"),
            photons=photons,
            linewidth=parse_quantity(args.linewidth, "Hz", name="--linewidth"),
            contrast=args.contrast,
            nucleus=args.nucleus,
            axes=args.axes,
            bias=None if args.bias is None else _vector(args.bias, "--bias"),
            amplitude=parse_quantity(args.amplitude, "T", name="--amplitude"),
            illumination=args.illumination,
            seed=args.seed,
        )
        write_cube(cube, args.out)
    except (QuantityError, CubeError, ValueError) as exc:
        return _bad_input("simulate", exc)
    f = cube["frequency"].values
    truth = cube["true_field_parallel"].values
    print(f"wrote {args.out}: {cube.sizes['y']}×{cube.sizes['x']} pixels × {f.size} points, "
          f"{format_quantity(f[0], 'Hz', 4)} – {format_quantity(f[-1], 'Hz', 4)}; "
          f"true B∥ {format_quantity(truth.min(), 'T', 4)} – "
          f"{format_quantity(truth.max(), 'T', 4)} ({args.field_map})")
    return EXIT_OK


def _physical_memory() -> int | None:
    """Bytes of memory of this computer (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_cube_memory(size: int, points: int, error: type[Exception]) -> None:
    """Refuse a cube that alone would take more than half this computer's memory (the
    simulation holds it and temporaries of its size): one clear error, not the OOM killer."""
    if size < 1 or points < 1:
        return  # simulate_cube reports it
    need = 8.0 * size * size * points
    total = _physical_memory()
    if total is not None and need > total / 2:
        raise error(f"a {size}×{size}-pixel cube of {points} points takes "
                    f"{format_quantity(need, 'B', 3)} of memory, more than half of this "
                    f"computer's {format_quantity(total, 'B', 3)}: use a smaller --size or "
                    "fewer --points")


def _photons(args: argparse.Namespace) -> float:
    if args.count_rate is not None:
        if args.photons is not None:
            raise ValueError("give --photons or --count-rate, not both")
        rate = parse_quantity(args.count_rate, "1/s", name="--count-rate")
        return rate * parse_quantity(args.exposure, "s", name="--exposure")
    return 1e5 if args.photons is None else args.photons


def _vector(text: str, name: str) -> np.ndarray:
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != 3:
        raise QuantityError(f"{name}: give three components, e.g. '0.4 mT, 1.1 mT, 1.9 mT', "
                            f"not {text!r}")
    return np.array([parse_quantity(p.strip(), "T", name=name) for p in parts])


# --- fit ----------------------------------------------------------------------------------


def _register_fit(commands: Any) -> None:
    p = commands.add_parser(
        "fit", help="fit every pixel of a cube on Dask and write a field map",
        description="Fit every pixel of a cube (zarr or NetCDF with pl (y, x, frequency)) with "
                    "the vectorised fitter, in chunks on Dask, each pixel seeded from the fit "
                    "of the image average. Writes a NetCDF map: centers, widths, contrasts, "
                    "field (B∥, or field_x/y/z for the hamiltonian model), D, χ², success.")
    p.add_argument("cube", metavar="CUBE", help="cube file (*.zarr or *.nc)")
    p.add_argument("--out", required=True, metavar="MAP", help="output map (*.nc)")
    p.add_argument("--model", default="lorentzian", choices=MODELS,
                   help="line model (default lorentzian)")
    p.add_argument("--lines", type=int, default=2,
                   help="lines (resonances for 14n/15n) per spectrum; ignored by hamiltonian "
                        "(default 2)")
    p.add_argument("--axes", type=int, default=None, choices=(1, 2, 3, 4),
                   help="NV axes of the hamiltonian model (default: the cube's, else 4)")
    p.add_argument("--nucleus", default=None, choices=("none", "14N", "15N"),
                   help="hyperfine multiplets of the hamiltonian model")
    p.add_argument("--bin", type=int, default=1, help="sum N×N pixels before fitting")
    p.add_argument("--window", default="25 MHz",
                   help="how far a line may move from its seed (default 25 MHz)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="worker processes of a local Dask cluster; 0 fits in this "
                            "process without Dask (default: chosen from the machine and the "
                            "cube, in this process on two cores or for small cubes; the "
                            "output says which)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(its workers must be able to import nvsense)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (pixels, success, timing, where the fit ran) "
                        "instead of text")
    p.set_defaults(func=_fit)


def _fit(args: argparse.Namespace) -> int:
    from ..analysis import CubeError, fit_cube, open_cube, write_cube
    from ..analysis.widefield import summarise_fit
    from ..fitting import FitInputError

    try:
        window = parse_quantity(args.window, "Hz", name="--window")
        if os.path.exists(args.out) and os.path.exists(args.cube) \
                and os.path.samefile(args.out, args.cube):
            raise CubeError(f"--out {args.out} is the cube itself: the map would overwrite "
                            "the data it is fitted from; name a new file, e.g. map.nc")
        cube = open_cube(args.cube)
        started = time.perf_counter()
        result = fit_cube(
            cube, model=args.model, n_lines=args.lines, binning=args.bin, window=window,
            axes=args.axes, nucleus=args.nucleus, workers=args.workers,
            scheduler=args.scheduler, progress=not (args.no_progress or args.json),
        )
        elapsed = time.perf_counter() - started
        result.attrs["source"] = str(args.cube)
        write_cube(result, args.out)
    except (QuantityError, CubeError, FitInputError, ValueError) as exc:
        return _bad_input("fit", exc)
    except OSError as exc:  # scheduler unreachable, disk full, ...
        print(f"nvsense widefield fit: error: {exc}", file=sys.stderr)
        return EXIT_FAULT
    if args.json:
        print(json.dumps(_fit_summary(result, cube, args, elapsed)))
        return EXIT_OK
    for line in summarise_fit(result, cube, elapsed):
        print(line)
    print(f"ran {_where(result)}")
    print(f"wrote {args.out}")
    return EXIT_OK


def _where(result: Any) -> str:
    from ..analysis import Executor

    return Executor(result.attrs["executor"], result.attrs.get("executor_workers"),
                    result.attrs["executor_reason"]).describe()


def _fit_summary(result: Any, cube: Any, args: argparse.Namespace,
                 elapsed: float) -> dict[str, Any]:
    """The JSON object of ``nvsense widefield fit --json``."""
    from ..analysis import field_rms_error

    n = int(result["success"].size)
    ok = result["success"].values
    out: dict[str, Any] = {
        "map": str(args.out), "cube": str(args.cube), "model": result.attrs.get("model"),
        "bin": int(result.attrs.get("bin", 1)), "shape": [result.sizes["y"], result.sizes["x"]],
        "pixels": n, "success_fraction": float(ok.mean()) if n else 0.0,
        "reseeded": int(result["reseeded"].sum()) if "reseeded" in result else 0,
        "elapsed_s": elapsed, "pixels_per_s": n / elapsed if elapsed > 0 else None,
        "executor": result.attrs["executor"],
        "workers": (int(result.attrs["executor_workers"])
                    if "executor_workers" in result.attrs else None),
        "executor_reason": result.attrs["executor_reason"],
    }
    if "field_parallel" in result and ok.any():
        field = result["field_parallel"].values
        field = field[..., 0] if field.ndim == 3 else field
        out["field_range_t"] = [float(np.nanmin(field[ok])), float(np.nanmax(field[ok]))]
    try:
        rms = float(field_rms_error(result, cube))
    except (ValueError, KeyError):  # no truth in the cube, or no field in the map
        rms = float("nan")
    out["field_rms_error_t"] = rms if np.isfinite(rms) else None
    return out


# --- plot ---------------------------------------------------------------------------------


def _register_plot(commands: Any) -> None:
    p = commands.add_parser(
        "plot", help="draw a fitted map (field, failed pixels, χ², error vs truth)",
        description="Draw a map written by `nvsense widefield fit`: the field, the failed-pixel "
                    "mask, the reduced χ², and with --cube of a simulated cube the error "
                    "against the true field.")
    p.add_argument("map", metavar="MAP", help="map file from `nvsense widefield fit`")
    p.add_argument("--out", required=True, metavar="IMAGE", help="image file (*.png, *.pdf)")
    p.add_argument("--cube", default=None, help="the cube, to compare with its true field")
    p.set_defaults(func=_plot)


def _plot(args: argparse.Namespace) -> int:
    import xarray as xr

    from ..analysis import CubeError, open_cube
    from ..analysis.widefield_plots import plot_field_map

    try:
        try:
            result = xr.open_dataset(args.map, engine="h5netcdf")
        except (OSError, ValueError) as exc:
            raise CubeError(f"cannot read map {args.map!r}: {exc}") from None
        if "success" not in result:
            raise CubeError(f"{args.map!r} is not a map from `nvsense widefield fit`")
        cube = None if args.cube is None else open_cube(args.cube)
        plot_field_map(result, cube, args.out)
    except (CubeError, ValueError) as exc:
        return _bad_input("plot", exc)
    print(f"wrote {args.out}")
    return EXIT_OK


def _bad_input(command: str, exc: Exception) -> int:
    print(f"nvsense widefield {command}: error: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT
