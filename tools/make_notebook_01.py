"""Write notebooks/01_reanalyse_odmr_run.ipynb (outputs cleared; the test suite executes it)."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# 1. Reanalyse an ODMR run

Every ODMR run is one NetCDF4/HDF5 file holding the raw counts of every sweep, the fits made
live during the run, and metadata a program can read (bench, instruments, parameters, status).
This notebook

1. measures a short run on the simulated bench (so it needs no data from elsewhere),
2. opens the run file with `nvsense.open_run` and looks at the sweeps,
3. refits the averaged spectrum offline with other models (`fit_spectrum` with lmfit, and the
   Hamiltonian model that fits the field vector directly),
4. compares the fields, and the live per-sweep field with its reported errors."""),
    new_code_cell("""%matplotlib inline
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import nvsense
from nvsense.fitting import fit_spectrum
from nvsense.instruments import load_bench
from nvsense.measure import run_odmr
from nvsense.storage import Catalog, run_metadata

MHz, mT, uT = 1e6, 1e-3, 1e-6
data_dir = tempfile.mkdtemp(prefix="nvsense-nb01-")"""),
    new_markdown_cell("""## Measure a run

The built-in simulated bench is an NV ensemble (all four orientations) in a field of
(0.4, 1.1, 1.9) mT with 1 MHz lines: eight dips. A rough bias-field guess picks which of the
48 symmetry-equivalent field vectors is reported."""),
    new_code_cell("""with load_bench() as bench:
    result = run_odmr(bench, {"sweeps": 15, "n_lines": 8, "dwell": "1 ms",
                              "field_guess": ["0.5 mT", "1 mT", "2 mT"]},
                      data_dir=data_dir)
print(result.status, result.file)"""),
    new_markdown_cell("""## Open the run file

`open_run` returns an xarray Dataset (also for a run cut short by a crash). `run_metadata`
decodes the JSON attributes: parameters, results, instrument identities, the bench file."""),
    new_code_cell("""ds = nvsense.open_run(result.file)
info = run_metadata(ds)
print(ds)
print()
print("status:", info.status, "| sweeps:", ds.sizes["sweep"])
print("parameters:", info.parameters)
print("instruments:", info.instruments)"""),
    new_code_cell("""fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4))
f = ds["frequency"] / MHz
for k in (0, 5, 14):
    ax0.plot(f, ds["counts"].isel(sweep=k), lw=0.8, label=f"sweep {k}")
ax0.set_xlabel("frequency (MHz)")
ax0.set_ylabel("counts per point")
ax0.legend()
ax0.set_title("single sweeps")
ds["counts"].plot(ax=ax1, x="frequency", y="sweep", cmap="viridis")
ax1.set_title("all sweeps (waterfall)")
plt.tight_layout()"""),
    new_markdown_cell("""## The live fits, sweep by sweep

The file holds the fit of every single sweep (`field`, `field_error`) and of the running
average (`avg_field`). The scatter of the single-sweep fields should match their reported
errors: a check that the live fits are honest."""),
    new_code_cell("""single = ds["field"].values / uT          # (sweep, vector) in µT
errors = ds["field_error"].values / uT
scatter = single.std(axis=0, ddof=1)
print("scatter of the single-sweep field (µT):      ", np.round(scatter, 3))
print("median error reported per sweep (µT):        ", np.round(np.median(errors, axis=0), 3))
ratio = scatter / np.median(errors, axis=0)
print("ratio scatter / reported:                    ", np.round(ratio, 2))

fig, ax = plt.subplots(figsize=(8, 3.5))
for i, label in enumerate("xyz"):
    b = ds["avg_field"].values[:, i] / mT
    e = ds["avg_field_error"].values[:, i] / mT
    ax.errorbar(ds["sweep"], b - b[-1], e, fmt="o-", ms=3, label=f"B{label} − final")
ax.set_xlabel("sweep")
ax.set_ylabel("running-average field − final (mT)")
ax.legend()
ax.set_title("the running average converges as 1/√N");"""),
    new_markdown_cell("""## Refit the average offline with other models

`fit_spectrum` is the careful single-spectrum fit (lmfit, with a report). We refit the average
with Lorentzian and Gaussian line shapes, and with the Hamiltonian model whose parameters are
the field vector, D, one width and the per-axis contrasts (about 10 parameters instead of 25)."""),
    new_code_cell("""freq = ds["frequency"].values
average = ds["counts"].mean("sweep").values
n_sweeps = ds.sizes["sweep"]
sigma = np.sqrt(average / n_sweeps)        # Poisson error of the average

fits = {
    "lorentzian": fit_spectrum(freq, average, "lorentzian", 8, sigma=sigma),
    "gaussian": fit_spectrum(freq, average, "gaussian", 8, sigma=sigma),
    "hamiltonian": fit_spectrum(freq, average, "hamiltonian", sigma=sigma,
                                field_guess=[0.5e-3, 1e-3, 2e-3]),
}
for name, fit in fits.items():
    print(f"{name:12s} redchi = {fit.redchi:6.2f}  success = {fit.success}")
print()
print(fits["hamiltonian"].report()[:1500])"""),
    new_code_cell("""fig, (ax, res) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]})
ax.plot(freq / MHz, average, ".", ms=3, color="0.4", label="average")
for name in ("lorentzian", "gaussian"):
    ax.plot(freq / MHz, fits[name].best_fit, lw=1, label=name)
    res.plot(freq / MHz, (average - fits[name].best_fit) / sigma, ".", ms=2, label=name)
ax.set_ylabel("counts")
ax.legend()
res.set_ylabel("residual / σ")
res.set_xlabel("frequency (MHz)")
res.legend()
ax.set_title("the simulated lines are Lorentzian: a Gaussian leaves structured residuals");"""),
    new_markdown_cell("""## Compare the fields

From the Lorentzian fit's 8 lines we get the field with `nvsense.physics.field_from_transitions`
(lines assigned to axes through the bias-field guess); the Hamiltonian fit gives it directly.
Both agree with the live result stored in the file and with the bench's true field."""),
    new_code_cell("""from nvsense.physics import field_from_transitions

lor = fits["lorentzian"]
from_lines = field_from_transitions(lor.centers, sigma=lor.center_errors,
                                    guess=[0.5e-3, 1e-3, 2e-3])
ham = fits["hamiltonian"]
truth = np.array([0.4e-3, 1.1e-3, 1.9e-3])
rows = {
    "live (file, avg_field)": (ds["avg_field"].values[-1], ds["avg_field_error"].values[-1]),
    "lines -> field": (from_lines.field, from_lines.field_errors),
    "hamiltonian fit": (ham.field, ham.field_errors),
}
for name, (b, e) in rows.items():
    pulls = (b - truth) / e
    print(f"{name:24s} B = {np.round(b / mT, 5)} mT  ± {np.round(e / uT, 3)} µT  "
          f"(B − truth)/σ = {np.round(pulls, 2)}")
    assert np.all(np.abs(pulls) < 5), name"""),
    new_markdown_cell("""## The catalogue

Every run has a row in the SQLite catalogue of its data folder, searchable by kind, status,
date and parameter values."""),
    new_code_cell("""runs = Catalog(data_dir).runs(kind="odmr")
runs[["status", "field_x", "field_y", "field_z", "D"]]"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, "notebooks/01_reanalyse_odmr_run.ipynb")
