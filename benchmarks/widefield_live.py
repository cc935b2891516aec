"""Live widefield maps: update rate of the binned fit, and accuracy on a wire's field.

Records a 256×256-pixel run of the simulated camera over a current-carrying wire (20 sweeps of
101 points, exposure output stepping the list, frames assigned by their counters and summed
as the run file does), then fits the binned cube repeatedly with
:class:`nvsense.analysis.widefield_live.LiveMapper`, as the GUI will after every sweep.

Prints for each binning: the fit time and update rate on this machine's cores (target ≥ 1 Hz
on 2 cores), the success fraction, and the RMS error of |B∥| against the field the camera
saw (PSF- and light-weighted, :meth:`SimulatedCamera.observed_field`) as a ratio of the RMS
reported uncertainty (target ≤ 1.2), with the RMS of the per-pixel pulls.

With ``--figure PATH`` it also fits the cube at 2×2 binning the way ``nvsense widefield fit``
does and saves the recorded image, the live map, the full fit and its error against the
field the camera saw (the figure of ``docs/widefield_acquisition.md``).

Run: ``.venv/bin/python benchmarks/widefield_live.py [--sweeps 20] [--repeat 5]
[--figure docs/images/widefield_wire_map.png]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from nvsense.analysis.cube import bin_pixels
from nvsense.analysis.widefield_live import LiveMapper
from nvsense.instruments.frame_sync import SweepAssembler, SweepPlan, TriggerTiming
from nvsense.instruments.simulated.widefield import widefield_bench
from nvsense.storage.cube_writer import CubeAccumulator

SIZE = 256
FREQ = np.linspace(2.79e9, 2.95e9, 101)


def record(n_sweeps: int) -> tuple[object, np.ndarray, float]:
    bench = widefield_bench(sensor=(SIZE, SIZE), field_map="wire", seed=3)
    bench.laser.on = True
    cam = bench.camera
    cam.exposure = 5e-3
    cam.trigger_mode = "exposure_out"
    plan = SweepPlan(FREQ.size)
    bench.mw.load_list(plan.hardware_list(FREQ, lead=cam.mw_trigger_lead), -10)
    bench.mw.output = True
    bench.mw.start_list()
    assembler = SweepAssembler(plan, TriggerTiming("exposure_out", cam.frame_period),
                               cam.frame_shape)
    cal = cam.calibration
    acc = CubeAccumulator(cam.frame_shape, FREQ.size, electrons_per_adu=cal.electrons_per_adu,
                          offset=cal.offset)
    cam.start(4 * FREQ.size)
    start = time.perf_counter()
    while acc.n_sweeps < n_sweeps:
        for sweep in assembler.add(cam.read_frames(min_frames=FREQ.size, timeout=5)):
            if acc.n_sweeps < n_sweeps:
                acc.add(sweep.signal, sweep.valid)
    return cam, acc.cube(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--figure", default=None, metavar="PATH",
                        help="save the recorded and fitted maps there")
    args = parser.parse_args()
    cam, pl, elapsed = record(args.sweeps)
    print(f"recorded {args.sweeps} sweeps of {SIZE}×{SIZE} pixels × {FREQ.size} points in "
          f"{elapsed:.1f} s ({1e3 * elapsed / (args.sweeps * FREQ.size):.1f} ms a frame); "
          f"{os.cpu_count()} cores")
    light = cam.brightness()
    observed = cam.observed_field(0)
    for binning in (4, 8):
        mapper = LiveMapper(FREQ, binning=binning)
        mapper.update(pl)  # warm: compiled kernels, caches
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            live = mapper.update(pl, n_sweeps=args.sweeps)
            times.append(time.perf_counter() - start)
        truth = bin_pixels(light * observed, binning) / bin_pixels(light, binning)
        ok = live.success
        error = (live.field - truth)[ok]
        sigma = live.field_error[ok]
        ratio = np.sqrt(np.mean(error**2)) / np.sqrt(np.mean(sigma**2))
        pulls = np.sqrt(np.mean((error / sigma) ** 2))
        n = live.field.size
        print(f"bin {binning} ({live.field.shape[0]}×{live.field.shape[1]} = {n} fits): "
              f"{1e3 * np.median(times):.0f} ms an update = {1 / np.median(times):.1f} Hz; "
              f"{live.success_fraction:.1%} succeeded; RMS error / RMS uncertainty "
              f"{ratio:.2f} (pulls RMS {pulls:.2f}; σ median "
              f"{1e6 * np.median(sigma):.2f} µT, field range "
              f"{1e6 * np.ptp(truth):.1f} µT)")
    if args.figure:
        figure(args.figure, cam, pl, LiveMapper(FREQ, binning=4).update(pl), light, observed)


def figure(path: str, cam: object, pl: np.ndarray, live: object, light: np.ndarray,
           observed: np.ndarray) -> None:
    """Recorded image, live map (bin 4), full fit (bin 2) and its error, as a PNG."""
    import xarray as xr
    from matplotlib.figure import Figure

    from nvsense.analysis import fit_cube

    cube = xr.Dataset({"pl": (("y", "x", "frequency"), pl, {"units": "counts"})},
                      coords={"frequency": ("frequency", FREQ, {"units": "Hz"})})
    full = fit_cube(cube, binning=2, workers=0, progress=False)
    ok = full["success"].values
    field = np.where(ok, full["field_parallel"].values, np.nan)
    truth = bin_pixels(light * observed, 2) / bin_pixels(light, 2)
    bias = np.nanmedian(field)
    um = 1e6 * cam.pixel_size  # type: ignore[attr-defined]
    pulls = ((field - truth) / full["field_parallel_error"].values)[ok]
    wire = cam.field_map.sources[0]  # type: ignore[attr-defined]
    panels = [
        ("recorded PL, mean of all frames (e⁻)", np.nanmean(pl, axis=-1) / 20, "gray", None, 1),
        ("live map, bin 4: B∥ − median (µT)", 1e6 * (live.field - bias), "RdBu_r", 25, 4),
        ("full fit, bin 2: B∥ − median (µT)", 1e6 * (field - bias), "RdBu_r", 25, 2),
        (f"full fit − true (µT); RMS error/σ {np.sqrt(np.mean(pulls**2)):.2f}",
         1e6 * (field - truth), "PuOr", 3, 2),
    ]
    fig = Figure(figsize=(16, 4.2), layout="constrained")
    for ax, (title, image, cmap, limit, step) in zip(fig.subplots(1, 4), panels):
        extent = (0, image.shape[1] * step * um, image.shape[0] * step * um, 0)
        kwargs = {"vmin": -limit, "vmax": limit} if limit else {}
        im = ax.imshow(image, cmap=cmap, extent=extent, **kwargs)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x (µm)")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.axes[0].set_ylabel("y (µm)")
    fig.suptitle(f"Simulated widefield run over a wire ({1e3 * wire.current:.1f} mA, "
                 f"{1e6 * wire.start[2]:.0f} µm above the NV layer): camera → frame sync → "
                 "accumulated cube → fit", fontsize=11)
    fig.savefig(path, dpi=90)
    print(f"figure saved to {path}")


if __name__ == "__main__":
    main()
