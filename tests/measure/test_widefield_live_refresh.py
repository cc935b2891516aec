"""The live map keeps moving during a slow sweep: every LIVE_MAP_PERIOD a map including the
sweep's frames so far is published (``partial_points``), averaged point by point with the
sweeps before; while the first sweep is under way no pixel claims a fit; the camera's reader
never waits for it."""

from __future__ import annotations

import numpy as np

from nvsense.instruments import load_bench
from nvsense.measure.documents import WidefieldMap, WidefieldSweep
from nvsense.measure.widefield import run_widefield
from nvsense.measure.widefield.live_map import LIVE_MAP_PERIOD
from nvsense.storage import Catalog
from nvsense.storage.cube_writer import open_widefield_run

from .test_widefield_measure import widefield_bench

RANGE = "2.79GHz:2.95GHz:81"
PERIOD = 0.02   # 81 points × 20 ms: a sweep of ~1.6 s, several refreshes in each
BIN = 4


def _record(tmp_path, pace: str = "fast", sweeps: int = 2):
    config = widefield_bench()
    config["sample"]["pace"] = pace
    docs: list = []
    with load_bench(config) as bench:
        result = run_widefield(bench, {"range": RANGE, "sweeps": sweeps, "live_binning": BIN,
                                       "frame_period": f"{PERIOD * 1e3:g} ms",
                                       "drift_correction": False},
                               out=tmp_path / "run.nc", catalog=Catalog(tmp_path / "data"),
                               subscribers=[docs.append])
    return result, docs


def _binned_electrons(ds, sweep: int) -> np.ndarray:
    """(rows, columns, points) one stored sweep's frames in photo-electrons, binned — from
    the file, independently of the live map's code."""
    gain, offset = float(ds.attrs["electrons_per_adu"]), float(ds.attrs["offset_adu"])
    frames = ds["frames"].values[sweep].astype(np.float64)          # (points, y, x)
    e = (frames - offset) * gain * ds["norm"].values[sweep][:, None, None]
    n, ny, nx = e.shape
    e = e[:, :ny // BIN * BIN, :nx // BIN * BIN]
    return e.reshape(n, ny // BIN, BIN, nx // BIN, BIN).sum(axis=(2, 4)).transpose(1, 2, 0)


def test_partial_maps_average_the_sweep_so_far_with_the_sweeps_before(tmp_path):
    result, docs = _record(tmp_path)
    assert result.status == "completed" and result.sweeps == 2
    maps = [d for d in docs if isinstance(d, WidefieldMap)]
    partial = [m for m in maps if m.partial_points]
    complete = [m for m in maps if not m.partial_points]
    # a 1.6 s sweep refreshed every 0.5 s: maps during both sweeps, and one after each
    assert {m.index for m in partial} == {0, 1}
    assert [(m.index, m.n_sweeps) for m in complete] == [(0, 1), (1, 2)]
    assert LIVE_MAP_PERIOD < 81 * PERIOD
    ds = open_widefield_run(result.file, sweeps=True)
    assert ds["point_valid"].values.all()
    e0, e1 = _binned_electrons(ds, 0), _binned_electrons(ds, 1)
    for m in partial:
        k = m.partial_points
        assert 0 < k < 81 and m.n_sweeps == m.index + 1
        if m.index == 0:
            # measured points: this sweep alone; the rest never measured: NaN, no fit
            np.testing.assert_allclose(m.spectra[..., :k], e0[..., :k], rtol=1e-5)
            assert np.isnan(m.spectra[..., k:]).all()
            assert not m.success.any() and np.isnan(m.field_parallel).all()
        else:
            # (sum of the sweeps before + this sweep's frame) where it has the point; the
            # average of the sweeps before, scaled to n + 1 sweeps, elsewhere
            expected = np.concatenate([e0[..., :k] + e1[..., :k], 2 * e0[..., k:]], axis=-1)
            np.testing.assert_allclose(m.spectra, expected, rtol=1e-5)
            assert m.success.mean() > 0.9  # every point has a sweep: the lines are there
    # each partial map comes before its sweep's record, after the sweep before it
    order = [(type(d).__name__, d.index, getattr(d, "partial_points", 0)) for d in docs
             if isinstance(d, WidefieldMap | WidefieldSweep)]
    for position, (name, index, points) in enumerate(order):
        if name == "WidefieldMap" and points:
            before = [i for n, i, _ in order[:position] if n == "WidefieldSweep"]
            assert before == list(range(index))
    # the run's result is the last complete map
    assert result.live_map is complete[-1]


def test_fit_of_spectra_with_unmeasured_points_is_never_a_success():
    """fit_batch flags a spectrum with NaN points; the live map says no fit whatever."""
    from nvsense.analysis.widefield_live import LiveMapper
    from nvsense.fitting import FitStatus
    from nvsense.measure.widefield.live_map import fitted_curves

    f = np.linspace(2.79e9, 2.95e9, 81)
    centres = (2841.968e6, 2898.032e6)  # 1 mT on axis (REFERENCES.md reference lines)
    dips = sum(0.03 / (1 + ((f - c) / 3e6) ** 2) for c in centres)
    rng = np.random.default_rng(17)
    spectra = rng.poisson(1e6 * (1 - dips), size=(3, 3, f.size)).astype(float)
    spectra[0, 0, 50:] = np.nan            # the upper line not measured yet
    spectra[1, 1, 3] = np.nan              # one point missing
    live = LiveMapper(f, binning=1).fit_spectra(spectra)
    ok = np.ones((3, 3), bool)
    ok[0, 0] = ok[1, 1] = False
    np.testing.assert_array_equal(live.success, ok)
    assert np.isnan(live.field[0, 0]) and np.isnan(live.field[1, 1])
    assert live.result["status"].values[0, 0] == FitStatus.BAD_INPUT
    curves = fitted_curves(live.result, f)
    assert np.isnan(curves[~ok]).all() and np.isfinite(curves[ok]).all()
    # the complete spectra give 1 mT (σ ≈ 0.3 µT at 10⁶ counts a point: 30 µT is > 50 σ)
    np.testing.assert_allclose(live.field[ok], 1e-3, atol=3e-5)


def test_in_real_time_refreshes_never_hold_up_the_camera(tmp_path):
    """Real time, slow sweeps: maps during the sweeps, no frame lost or misassigned."""
    result, docs = _record(tmp_path, pace="realtime")
    assert result.status == "completed" and result.sweeps == 2
    assert result.dropped_frames == 0 and result.duplicated_frames == 0
    assert result.marked_points == 0 and result.remeasured_frames == 0
    ds = open_widefield_run(result.file, sweeps=True)
    numbers = ds["frame_number"].values
    assert (numbers >= 0).all() and np.all(np.diff(numbers.ravel()) == 1)  # every frame, in place
    maps = [d for d in docs if isinstance(d, WidefieldMap)]
    assert any(m.partial_points and m.index == 0 for m in maps)
    assert [m.n_sweeps for m in maps if not m.partial_points][-1] == 2
    for m in maps:
        if m.partial_points and m.index == 0:
            assert not m.success.any()


def test_a_partial_sweep_is_shifted_and_normalised_as_the_cube_adds_it():
    """partial_spectra against a numpy computation: gain and offset, the whole-pixel drift
    shift (map pixels partly outside keep the sweeps before only), the reference levels."""
    from nvsense.instruments.frame_sync import SweepFrames
    from nvsense.measure.widefield.live_map import LiveMapProcessor, PartialSweep

    rng = np.random.default_rng(5)
    n_points, ny, nx, b = 6, 12, 16, 4
    f = np.linspace(2.8e9, 2.9e9, n_points)
    processor = LiveMapProcessor(f, binning=b, model="lorentzian", n_lines=2)
    base_cube = rng.uniform(1e3, 2e3, (ny, nx, n_points)).astype(np.float32)  # 2 sweeps
    processor.base = (1, processor.mapper.bin(base_cube))
    sweep = SweepFrames.empty(7, n_points, (ny, nx), reference=True)
    measured = [0, 1, 2]
    for p in measured:
        sweep.put(p, rng.integers(100, 4000, (ny, nx)).astype(np.uint16), frame_number=p)
        sweep.put(p, np.full((ny, nx), 500 + 100 * p, np.uint16), reference=True)
    gain, offset, shift = 2.0, 100.0, (1.0, -2.0)
    part = PartialSweep.take(2, sweep, shift, gain, offset)
    sweep.put(3, np.full((ny, nx), 9999, np.uint16))   # arrives after the snapshot
    got = processor.partial_spectra(part)
    # numpy: electrons, normalised to the sweep's mean reference level, the references not
    # measured yet taking their neighbour's level (as a missing reference does)
    levels = (np.array([500.0, 600.0, 700.0, 700.0, 700.0, 700.0]) - offset) * gain
    norm = (levels.mean() / levels)[:3]
    frames = sweep.signal[measured].astype(np.float64)
    e = (frames - offset) * gain * norm[:, None, None]
    shifted = np.zeros_like(e)
    shifted[:, :ny - 1, 2:] = e[:, 1:, :nx - 2]          # out[i] = data[i + shift]
    binned = shifted.reshape(3, ny // b, b, nx // b, b).sum(axis=(2, 4)).transpose(1, 2, 0)
    base = base_cube.astype(np.float64).reshape(ny // b, b, nx // b, b, n_points).sum(
        axis=(1, 3))
    expected = base * 3 / 2                               # 2 sweeps scaled to 3
    whole = np.ones((ny // b, nx // b), bool)
    whole[-1, :] = False                                  # last row of map pixels: row 11 empty
    whole[:, 0] = False                                   # first column: columns 0-1 empty
    expected[..., :3] = np.where(whole[..., None], base[..., :3] + binned, expected[..., :3])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # a refresh for a sweep whose predecessor is not in the cube yet is not made
    assert processor.partial_spectra(PartialSweep.take(3, sweep, shift, gain, offset)) is None
