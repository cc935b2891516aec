"""The ahead-of-time build of the fitting kernels (``nvsense.fitting.aot``): built at install,
used for short fits without loading numba, in agreement with numba's build, and never loaded
when it was built from other sources."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nvsense.fitting import aot
from nvsense.fitting.kernels import (
    AOT_MAX_ROWS,
    FIT_ROWS_LINES,
    GUESS_ROWS,
    KernelRef,
    resolve,
)

# Fits of a few spectra of every model, printed with whether numba was loaded: run in a fresh
# process with and without the ahead-of-time build.
FITS = textwrap.dedent("""
    import json, sys
    import numpy as np
    from nvsense.fitting import fit_batch
    from nvsense.physics import transition_frequencies
    rng = np.random.default_rng(3)
    f = np.linspace(2.80e9, 2.94e9, 141)
    out = []
    for i in range(6):
        c = rng.uniform(2.82e9, 2.92e9, 2)
        y = rng.poisson(1e5 * (1 - sum(0.02 / (1 + ((f - cc) / 0.6e6) ** 2) for cc in c)))
        for model in ("lorentzian", "gaussian", "14n", "15n"):
            r = fit_batch(f, y[None, :].astype(float), model=model, n_lines=2, sigma="poisson")
            out.append([r.params[0].tolist(), r.param_errors[0].tolist(), int(r.status[0])])
    f8 = np.linspace(2.70e9, 3.05e9, 201)
    lines = np.ravel(transition_frequencies(np.array([0.4e-3, 1.1e-3, 1.9e-3])))
    y = rng.poisson(1e5 * (1 - sum(0.02 / (1 + ((f8 - c) / 0.8e6) ** 2) for c in lines)))
    r = fit_batch(f8, y[None, :].astype(float), model="hamiltonian", sigma="poisson")
    out.append([r.params[0].tolist(), r.param_errors[0].tolist(), int(r.status[0])])
    print(json.dumps({"numba": "numba" in sys.modules, "fits": out}))
""")


def run_fits(aot_on: bool) -> dict:
    env = {**os.environ, "NVSENSE_AOT": "1" if aot_on else "0"}
    proc = subprocess.run([sys.executable, "-c", FITS], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def require_built() -> None:
    missing = [name for name in ("guess_rows", "fit_rows_lines", "fit_rows_hamiltonian")
               if aot.function(name) is None]
    assert not missing, (
        f"no ahead-of-time build of {', '.join(missing)} for the current sources: `make "
        "install` builds it (python -m nvsense.fitting.precompile); after editing a kernel run "
        "`python -m nvsense.fitting.aot`")


def test_short_fits_need_no_numba_and_agree_with_numbas_build():
    require_built()
    built, jit = run_fits(True), run_fits(False)
    assert built["numba"] is False  # the whole process never imported numba
    assert jit["numba"] is True
    assert len(built["fits"]) == len(jit["fits"]) == 25
    for (p1, e1, s1), (p2, e2, s2) in zip(built["fits"], jit["fits"], strict=True):
        assert s1 == s2
        p1, e1, p2, e2 = map(np.asarray, (p1, e1, p2, e2))
        assert np.array_equal(np.isnan(p1), np.isnan(p2))
        ok = np.isfinite(p2)
        # same functions, same options, same CPU: equal to rounding (a converged fit may take
        # its covariance one step apart, ~1e-6 relative in the errors)
        assert np.all(np.abs(p1[ok] - p2[ok]) <= 1e-6 * e2[ok] + 1e-12 * np.abs(p2[ok]))
        assert np.allclose(e1[ok], e2[ok], rtol=1e-4, atol=0)


def test_one_sweep_odmr_run_loads_no_numba(tmp_path):
    require_built()
    code = textwrap.dedent(f"""
        import json, sys, contextlib, io
        from nvsense.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main(["odmr", "--sweeps", "1", "--no-plot", "--json",
                      "--data-dir", {str(tmp_path)!r}])
            except SystemExit as stop:
                assert not stop.code, stop.code
        result = json.loads(out.getvalue())
        print(json.dumps({{"numba": "numba" in sys.modules, "lines": len(result["lines_hz"]),
                          "status": result["status"], "fit": result["fit_success"]}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"numba": False, "lines": 8, "status": "completed", "fit": True}


def test_batches_threads_and_loaded_numba_use_numbas_build(monkeypatch):
    require_built()
    dispatcher = FIT_ROWS_LINES.jit()
    # as in a process where numba's build is not loaded (another test may have loaded it)
    monkeypatch.setattr(KernelRef, "jit_loaded", lambda self: False)
    assert resolve(FIT_ROWS_LINES, AOT_MAX_ROWS, 1) is aot.function("fit_rows_lines")
    # many rows, or several threads: numba's build, which releases the GIL
    assert resolve(FIT_ROWS_LINES, AOT_MAX_ROWS + 1, 1) is dispatcher
    assert resolve(FIT_ROWS_LINES, 4, 2) is dispatcher
    monkeypatch.undo()
    # once numba's build is loaded in the process it is used for every call
    assert FIT_ROWS_LINES.jit_loaded()
    assert resolve(FIT_ROWS_LINES, 1, 1) is dispatcher
    monkeypatch.setenv("NVSENSE_AOT", "0")
    assert resolve(GUESS_ROWS, 1, 1) is GUESS_ROWS.jit()


def test_a_module_built_from_other_sources_or_broken_is_never_loaded(monkeypatch, tmp_path):
    require_built()
    # other sources: another fingerprint names another module, which does not exist
    monkeypatch.setattr(aot, "fingerprint", lambda: "0123456789abcdef")
    assert aot.function("guess_rows") is None
    # a file under the current name that is not a loadable module: skipped, not a crash
    monkeypatch.setattr(aot, "directories", lambda: [tmp_path])
    monkeypatch.setattr(aot, "fingerprint", lambda: "fedcba9876543210")
    (tmp_path / f"{aot.module_name('guess_rows')}.cpython-311-x86_64-linux-gnu.so").write_bytes(
        b"not an ELF file")
    assert aot.function("guess_rows") is None
    assert resolve(GUESS_ROWS, 1, 1) is GUESS_ROWS.jit()


def test_the_fingerprint_follows_the_kernels_sources(monkeypatch, tmp_path):
    for name in aot.SOURCES:
        (tmp_path / name).write_bytes((aot._HERE / name).read_bytes())
    monkeypatch.setattr(aot, "_HERE", tmp_path)
    aot.fingerprint.cache_clear()
    try:
        before = aot.fingerprint()
        aot.fingerprint.cache_clear()
        assert aot.fingerprint() == before  # same content, same name
        with open(tmp_path / "lm_kernel.py", "a") as f:
            f.write("\n# an edit\n")
        aot.fingerprint.cache_clear()
        assert aot.fingerprint() != before
    finally:
        monkeypatch.undo()
        aot.fingerprint.cache_clear()


@pytest.mark.parametrize("value", ["0", "off", "false", "no"])
def test_nvsense_aot_0_turns_it_off(monkeypatch, value):
    monkeypatch.setenv("NVSENSE_AOT", value)
    assert aot.function("fit_rows_lines") is None
