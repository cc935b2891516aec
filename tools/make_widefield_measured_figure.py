"""Draw docs/images/widefield_measured_map.png: a widefield run recorded and fitted by the
pipeline (``nvsense widefield measure`` then ``nvsense widefield fit``) on the simulated bench
of examples/benches/widefield.yaml, with a 128×128-pixel camera.

Panels: the live map after the last sweep (as the GUI shows it), the full-resolution fit of
the recorded file, the field the camera saw (the simulation's truth), and the fit's error in
units of the uncertainty it reports.

Run: ``.venv/bin/python tools/make_widefield_measured_figure.py [--out PATH]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs/images/widefield_measured_map.png"))
    parser.add_argument("--sweeps", type=int, default=10)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nvsense.analysis import fit_cube
    from nvsense.instruments import load_bench
    from nvsense.measure.documents import WidefieldMap
    from nvsense.measure.widefield import run_widefield
    from nvsense.storage import Catalog

    config = yaml.safe_load((ROOT / "examples/benches/widefield.yaml").read_text())
    config["instruments"]["camera"]["sensor"] = [128, 128]
    config["sample"]["seed"] = 3
    maps: list[WidefieldMap] = []
    with tempfile.TemporaryDirectory() as tmp, load_bench(config) as bench:
        result = run_widefield(
            bench, {"range": "2.79GHz:2.95GHz:101", "sweeps": args.sweeps, "live_binning": 4},
            out=Path(tmp) / "wire.nc", catalog=Catalog(Path(tmp) / "data"),
            subscribers=[lambda d: maps.append(d) if isinstance(d, WidefieldMap) else None])
        truth = bench.camera.observed_field(0)
        fit = fit_cube(result.file, binning=1, workers=0, progress=False)
    live = maps[-1]
    ok = fit["success"].values
    name = "field_parallel"
    field, error = fit[name].values, fit[f"{name}_error"].values
    z = np.where(ok, (field - truth) / error, np.nan)
    rms_ratio = np.sqrt(np.mean((field - truth)[ok] ** 2)) / np.sqrt(np.mean(error[ok] ** 2))
    lo, hi = 1e3 * np.nanpercentile(truth, [0.5, 99.5])

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.9), constrained_layout=True)
    panels = [
        (1e3 * live.field_parallel, f"live map after sweep {live.n_sweeps} (4×4 binned)",
         "B∥ (mT)"),
        (1e3 * np.where(ok, field, np.nan), "full fit of the recorded file", "B∥ (mT)"),
        (1e3 * truth, "field the camera saw (simulation)", "B∥ (mT)"),
    ]
    for ax, (image, title, label) in zip(axes, panels, strict=False):
        im = ax.imshow(image, vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.85, label=label)
    im = axes[3].imshow(z, vmin=-3, vmax=3, cmap="RdBu_r")
    axes[3].set_title(f"(fit − truth) / reported σ: RMS error {rms_ratio:.2f} σ", fontsize=10)
    fig.colorbar(im, ax=axes[3], shrink=0.85, label="σ")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"nvsense widefield measure: {result.sweeps} sweeps × 101 points on a "
                 f"128×128 simulated camera over a wire; {result.frames} frames, "
                 f"{result.dropped_frames} dropped; fitted with nvsense widefield fit",
                 fontsize=10)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}: {100 * ok.mean():.1f} % of pixels fitted, RMS error "
          f"{rms_ratio:.3f} × the reported uncertainty")


if __name__ == "__main__":
    main()
