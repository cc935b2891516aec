"""The compiled engine behind fit_batch: one compiled signature per kernel, the on-disk cache,
lazy per-model compilation, threads, and the pieces the speed work replaced."""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from nvsense.fitting import fit_batch, guess_kernel, lm_kernel
from nvsense.fitting.jit import ready
from nvsense.fitting.nv_transitions import crystal_transitions, transitions_closed_form

F = np.linspace(2.82e9, 2.92e9, 101)


def dips(n, seed=0, counts=1e5):
    rng = np.random.default_rng(seed)
    c = rng.uniform(2.85e9, 2.89e9, (n, 1))
    w = rng.uniform(6e6, 10e6, (n, 1))
    clean = counts * (1 - 0.03 / (1 + 4 * ((F - c) / w) ** 2))
    return rng.poisson(clean).astype(float)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 10, 11, 50, 101, 201])
def test_quantile_is_the_nearest_rank_order_statistic(m):
    rng = np.random.default_rng(m)
    for trial in range(50):
        v = rng.integers(0, 6, m).astype(float) if trial % 2 else rng.normal(size=m)
        for q in (0.0, 0.5, 0.9, 1.0):
            k = min(int(q * (m - 1) + 0.5), m - 1)
            expected = np.partition(v.copy(), k)[k]
            assert guess_kernel._quantile.py_func(v, 0, m, q, np.empty(m)) == expected
    v = rng.normal(size=m + 7)
    k = min(int(0.9 * (m - 1) + 0.5), m - 1)
    assert guess_kernel._quantile.py_func(v, 7, m + 7, 0.9, np.empty(m)) == np.partition(
        v[7:].copy(), k)[k]


def test_each_kernel_has_one_signature_and_refuses_other_types(monkeypatch):
    monkeypatch.setenv("NVSENSE_AOT", "0")  # numba's build of every kernel, also for few rows
    Y = dips(5)
    fit_batch(F, Y, sigma="poisson")
    fit_batch(F, Y, "14n", sigma=np.full(F.size, 300.0), baseline="linear")
    fit_batch(F, Y.astype(np.float32), "gaussian")  # float32 input is converted, not compiled
    f8 = np.linspace(2.70e9, 3.05e9, 201)
    fit_batch(f8, np.tile(Y[:, :1], (1, 201)), "hamiltonian", guess={"field": [1e-3, 2e-3, 3e-3]})
    # (the fits take line positions from nvsense.physics; the compiled closed form is called
    # from Python only through transitions_closed_form)
    transitions_closed_form([1e-3, 2e-3, 3e-3])
    kernels = (guess_kernel.guess_rows, lm_kernel.fit_rows_lines, lm_kernel.fit_rows_hamiltonian,
               crystal_transitions)
    for kernel in kernels:
        assert len(kernel.signatures) == 1, kernel
    # closed: a call with other types is an error, not a silent second compilation
    t = np.empty((4, 2), dtype=np.float32)
    with pytest.raises(TypeError):
        ready(crystal_transitions)(1.0, 2.0, 3.0, 2870.0, 0.0, np.zeros((4, 3, 3)), 28.0, t,
                                   np.empty((4, 2, 5)))
    assert len(crystal_transitions.signatures) == 1


def test_a_new_process_loads_the_kernels_from_the_cache_and_only_its_model():
    ready(guess_kernel.guess_rows)
    ready(lm_kernel.fit_rows_lines)
    if lm_kernel.fit_rows_lines.stats.cache_path is None:
        pytest.skip("numba has no writable cache directory here")
    code = textwrap.dedent("""
        import json
        import numpy as np
        from nvsense.fitting import fit_batch, guess_kernel, lm_kernel
        f = np.linspace(2.82e9, 2.92e9, 101)
        y = 1e5 * (1 - 0.03 / (1 + 4 * ((f - 2.87e9) / 7e6) ** 2))
        r = fit_batch(f, np.tile(y, (3, 1)), sigma="poisson")
        out = {"success": bool(r.success.all())}
        for k in (guess_kernel.guess_rows, lm_kernel.fit_rows_lines):
            out[k.__name__] = [sum(k.stats.cache_hits.values()),
                               sum(k.stats.cache_misses.values())]
        out["hamiltonian_compiled"] = len(lm_kernel.fit_rows_hamiltonian.overloads)
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "NVSENSE_AOT": "0"}, timeout=300, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["success"]
    assert out["guess_rows"] == [1, 0]  # one hit, no miss: nothing recompiled
    assert out["fit_rows_lines"] == [1, 0]
    assert out["hamiltonian_compiled"] == 0  # a Lorentzian fit leaves the other model alone


def test_threads_and_chunks_give_identical_results():
    Y = dips(300, seed=4)
    one = fit_batch(F, Y, sigma="poisson", n_threads=1)
    two = fit_batch(F, Y, sigma="poisson", n_threads=2)
    chunked = fit_batch(F, Y, sigma="poisson", chunk_size=37)
    for r in (two, chunked):
        assert np.array_equal(r.params, one.params)
        assert np.array_equal(r.param_errors, one.param_errors)
        assert np.array_equal(r.status, one.status)
        assert np.array_equal(r.n_iter, one.n_iter)
    assert one.success.mean() >= 0.995
    with pytest.raises(ValueError, match="n_threads"):
        fit_batch(F, Y[:100], sigma="poisson", n_threads=0)


def test_concurrent_calls_from_several_threads():
    # Dask's threaded scheduler calls fit_batch from several workers at once.
    blocks = [dips(150, seed=s) for s in range(4)]
    expected = [fit_batch(F, b, sigma="poisson") for b in blocks]
    results = [None] * len(blocks)

    def work(i):
        results[i] = fit_batch(F, blocks[i], sigma="poisson")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(blocks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, e in zip(results, expected):
        assert np.array_equal(r.centers, e.centers)
        assert np.array_equal(r.status, e.status)


def test_weight_modes_agree():
    Y = dips(80, seed=5)
    poisson = fit_batch(F, Y, sigma="poisson")
    explicit = fit_batch(F, Y, sigma=np.sqrt(np.maximum(Y, 1.0)))  # per-spectrum rows
    assert np.allclose(explicit.centers, poisson.centers, rtol=0, atol=1e-3)
    assert np.allclose(explicit.center_errors, poisson.center_errors, rtol=1e-9)
    assert np.allclose(explicit.redchi, poisson.redchi, rtol=1e-9)
    number = fit_batch(F, Y, sigma=300.0)
    row = fit_batch(F, Y, sigma=np.full(F.size, 300.0))
    rows = fit_batch(F, Y, sigma=np.full(Y.shape, 300.0))
    assert np.array_equal(row.params, number.params)
    assert np.array_equal(rows.params, number.params)
    assert np.array_equal(rows.redchi, number.redchi)

