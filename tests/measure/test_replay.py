"""A stored run replays as the documents it published: the same sweeps, running averages,
stored fits and verdicts, with the curve a display draws; tracking runs as blocks of samples."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nvsense.instruments import load_bench
from nvsense.instruments.config import builtin_bench_path
from nvsense.measure import RunControl, run_odmr
from nvsense.measure.documents import RunFinished, RunStarted, SweepDone, TrackingBlock
from nvsense.measure.replay import (
    ReplayError,
    fit_curve,
    replay_documents,
    replay_run,
    replay_source,
)
from nvsense.measure.tracking import run_track
from nvsense.storage import Catalog, RunFileError


def seeded_bench(**sample):
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"].update({"seed": 5, **sample})
    return config


@pytest.fixture(scope="module")
def live_odmr(tmp_path_factory):
    """A short 8-line run and every document it published."""
    seen: list = []
    catalog = Catalog(tmp_path_factory.mktemp("data"))
    with load_bench(seeded_bench()) as bench:
        result = run_odmr(bench, {"sweeps": 4, "n_lines": 8,
                                  "ranges": ["2.80GHz:2.94GHz:281"]},
                          catalog=catalog, subscribers=[seen.append])
    return result, seen


def test_a_stored_odmr_run_replays_as_the_documents_it_published(live_odmr):
    result, live = live_odmr
    replayed = [doc for _t, doc in replay_documents(replay_source(result.file))]
    assert [type(d) for d in replayed] == [type(d) for d in live]
    start = replayed[0]
    assert isinstance(start, RunStarted)
    assert (start.run_id, start.kind, start.parameters) == \
        (live[0].run_id, live[0].kind, live[0].parameters)
    assert set(start.schema().variable_names) == set(live[1].values)  # every variable declared
    for old, new in zip(live[1:-1], replayed[1:-1], strict=True):
        assert isinstance(new, SweepDone) and new.index == old.index
        np.testing.assert_array_equal(new.counts, old.counts)
        np.testing.assert_allclose(new.average, old.average, rtol=1e-12)
        assert new.elapsed == pytest.approx(old.elapsed)
        assert new.sweeps_planned == old.sweeps_planned == 4
        for name, value in old.values.items():  # what the file got, record by record
            np.testing.assert_allclose(np.asarray(new.values[name], float),
                                       np.asarray(value, float), rtol=1e-12, equal_nan=True)
        for fit_old, fit_new in ((old.fit, new.fit), (old.average_fit, new.average_fit)):
            np.testing.assert_array_equal(fit_new.centers, fit_old.centers)
            np.testing.assert_array_equal(fit_new.field, fit_old.field)
            assert (fit_new.success, fit_new.D) == (fit_old.success, fit_old.D)
            # the drawn model: the stored lines on their best baseline, as the live fit had it
            scale = float(np.max(fit_old.best_fit))
            assert np.max(np.abs(fit_new.best_fit - fit_old.best_fit)) < 1e-4 * scale
        avg_old, avg_new = old.average_fit, new.average_fit
        assert avg_new.resonance_found is avg_old.resonance_found is True
        np.testing.assert_array_equal(avg_new.curve_frequencies, avg_old.curve_frequencies)
        finite = np.isfinite(avg_old.curve_values)
        assert np.max(np.abs(avg_new.curve_values[finite] - avg_old.curve_values[finite])) \
            < 1e-4 * float(np.max(avg_old.curve_values[finite]))
    end = replayed[-1]
    assert isinstance(end, RunFinished)
    assert (end.status, end.reason) == ("completed", None)
    assert end.safe_report == live[-1].safe_report  # what leaving the bench safe did
    assert end.results["sweeps"] == 4 and end.results["fit_success"] is True
    assert end.results["field_x"] == pytest.approx(live[-1].results["field_x"])


def test_a_run_whose_lines_were_found_later_replays_with_every_fit(tmp_path):
    """Without n_lines the first sweeps are written raw and fitted once the lines are known:
    the file, hence the replay, has the fits of every sweep."""
    with load_bench(seeded_bench()) as bench:
        result = run_odmr(bench, {"sweeps": 3, "ranges": ["2.80GHz:2.94GHz:281"]},
                          data_dir=tmp_path)
    sweeps = [d for _t, d in replay_documents(replay_source(result.file))
              if isinstance(d, SweepDone)]
    assert len(sweeps) == 3
    assert all(s.average_fit is not None and s.average_fit.centers.size == 8 for s in sweeps)


def test_a_run_without_a_resonance_replays_with_its_verdict(tmp_path):
    with load_bench(seeded_bench()) as bench:  # the laser off: dark counts only
        result = run_odmr(bench, {"sweeps": 2, "n_lines": 2, "laser_power": "0 W",
                                  "ranges": ["2.80GHz:2.94GHz:281"]}, data_dir=tmp_path)
    assert result.resonance_found is False
    docs = [d for _t, d in replay_documents(replay_source(result.file))]
    last = [d for d in docs if isinstance(d, SweepDone)][-1]
    assert last.average_fit.resonance_found is False  # never a success, whatever it fitted
    assert last.average_fit.success is False
    assert "no resonance measured" in last.average_fit.message
    assert docs[-1].results["resonance_found"] is False
    assert "no resonance measured" in docs[-1].attrs["warnings"]


def test_replay_publishes_to_subscribers_and_stops_on_request(live_odmr):
    result, _live = live_odmr
    seen: list = []
    assert isinstance(replay_run(result.file, [seen.append]), RunFinished)
    assert [type(d).__name__ for d in seen] == \
        ["RunStarted", "SweepDone", "SweepDone", "SweepDone", "SweepDone", "RunFinished"]

    control, stopped = RunControl(), []

    def stop_after_first_sweep(doc):
        stopped.append(doc)
        if isinstance(doc, SweepDone):
            control.stop()

    assert replay_run(result.file, [stop_after_first_sweep], control=control) is None
    assert [type(d).__name__ for d in stopped] == ["RunStarted", "SweepDone"]
    with pytest.raises(ValueError, match="speed"):
        replay_run(result.file, [], speed=0)


def test_a_stored_tracking_run_replays_as_blocks_of_its_samples(tmp_path):
    with load_bench(seeded_bench()) as bench:
        result = run_track(bench, {"duration": "0.5 s", "rate": "100 Hz"}, data_dir=tmp_path)
    stored = replay_source(result.file)
    docs = [d for _t, d in replay_documents(stored)]
    blocks = [d for d in docs if isinstance(d, TrackingBlock)]
    assert isinstance(docs[0], RunStarted) and docs[0].kind == "track"
    assert isinstance(docs[-1], RunFinished) and docs[-1].status == result.status
    time = np.concatenate([b.time for b in blocks])
    np.testing.assert_array_equal(time, stored.data["time"].values.astype(float))
    field = np.concatenate([b.field for b in blocks])
    stored_field = stored.data["field_parallel"].values
    np.testing.assert_array_equal(field, stored_field)
    assert all(b.time.size <= 10 for b in blocks)  # 0.1 s of samples at 100 Hz
    assert blocks[-1].info["samples"] == time.size


def test_what_cannot_be_replayed_is_named(tmp_path):
    with pytest.raises(RunFileError):
        replay_source(tmp_path / "missing.nc")
    from nvsense.storage import RunSchema, VariableSpec

    schema = RunSchema("sweep", "1", "index", [VariableSpec("x", ("sweep",), "1", "x")])
    with Catalog(tmp_path).new_run("pulsed", schema) as writer:
        writer.append(x=1.0)
    with pytest.raises(ReplayError, match="a pulsed run does not replay"):
        replay_source(writer.path)


def test_the_curve_of_stored_lines_takes_the_baseline_of_the_data():
    f = np.linspace(2.80e9, 2.94e9, 281)
    centers, widths, contrasts = np.array([2.85e9, 2.89e9]), np.array([1e6, 1.2e6]), \
        np.array([0.02, 0.03])
    from nvsense.fitting import dip_spectrum

    truth = dip_spectrum(f, centers, widths, contrasts, offset=12345.0)
    curve = fit_curve(f, truth, centers, widths, contrasts, model="lorentzian")
    np.testing.assert_allclose(curve, truth, rtol=1e-12)
    fine = np.linspace(2.80e9, 2.94e9, 1001)
    on_grid = fit_curve(fine, truth, centers, widths, contrasts, model="lorentzian",
                        data_frequencies=f)
    np.testing.assert_allclose(on_grid, dip_spectrum(fine, centers, widths, contrasts,
                                                     offset=12345.0), rtol=1e-12)
    assert fit_curve(f, truth, [np.nan], [np.nan], [np.nan], model="lorentzian").size == 0
