"""Documents are plain data: they round-trip through JSON, the start document declares the
variables the file gets (one declaration), and a display receives curves, not fit objects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nvsense.instruments import load_bench
from nvsense.measure import run_odmr
from nvsense.measure.documents import (
    FitSummary,
    Record,
    RunFinished,
    RunStarted,
    SweepDone,
    TrackingBlock,
    VariablesAdded,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from nvsense.storage import Catalog, RunSchema, odmr_schema, open_run, tracking_schema


def same(a, b):
    """Two documents hold the same data (arrays compared by value and dtype)."""
    assert type(a) is type(b)
    da, db = to_dict(a), to_dict(b)
    assert json.dumps(da, sort_keys=True) == json.dumps(db, sort_keys=True)


@pytest.fixture(scope="module")
def odmr_documents(tmp_path_factory):
    seen: list = []
    catalog = Catalog(tmp_path_factory.mktemp("data"))
    with load_bench({"sample": {"seed": 5}}) as bench:
        result = run_odmr(bench, {"sweeps": 3, "ranges": ["2.80GHz:2.94GHz:281"]},
                          catalog=catalog, subscribers=[seen.append])
    return result, seen


def test_every_document_of_a_real_run_round_trips_through_json(odmr_documents):
    _result, seen = odmr_documents
    kinds = {type(d).__name__ for d in seen}
    assert {"RunStarted", "SweepDone", "VariablesAdded", "RunFinished"} <= kinds
    for doc in seen:
        back = from_json(to_json(doc))
        same(doc, back)
        json.loads(to_json(doc))  # plain JSON (NaN as the json module writes it)


def test_the_start_document_declares_exactly_the_variables_the_file_gets(odmr_documents):
    result, seen = odmr_documents
    ds = open_run(result.file)
    added = [d for d in seen if isinstance(d, VariablesAdded)][-1]
    declared = {v.name: v for v in RunSchema.from_dict(added.layout).variables}
    assert set(declared) == {n for n in ds.data_vars} | {"time"}
    for name, spec in declared.items():
        var = ds[name]
        assert var.attrs["units"] == spec.units and var.attrs["long_name"] == spec.long_name
        assert var.dims == spec.dims
    start = seen[0]
    assert [v["name"] for v in start.variables] == ["time", "counts"]  # lines not known yet


def test_a_display_gets_the_fit_as_numbers_and_a_curve(odmr_documents):
    _result, seen = odmr_documents
    sweep = [d for d in seen if isinstance(d, SweepDone)][-1]
    fit = sweep.average_fit
    assert isinstance(fit, FitSummary) and not sweep.lines_pending
    assert fit.curve_frequencies.shape == fit.curve_values.shape and fit.curve_values.size > 1000
    assert fit.best_fit.shape == sweep.frequencies.shape
    # the curve is the model: on the sweep's own points it is the best fit
    inside = np.interp(sweep.frequencies, fit.curve_frequencies, fit.curve_values)
    assert np.max(np.abs(inside - fit.best_fit)) < 0.01 * np.max(fit.best_fit)
    assert sweep.values["avg_line_center"] is not None


def test_documents_made_by_hand_round_trip():
    t = np.linspace(0, 1, 4)
    docs = [
        RunStarted(run_id="r", kind="track", file=None, parameters={"rate": 100.0},
                   layout=tracking_schema(2, field="parallel").as_dict(),
                   md={"campaign": "c", "campaign_point": 1}),
        TrackingBlock(run_id="r", time=t, field=t * 1e-3, frequencies=np.ones((4, 2)),
                      error_signal=np.zeros((4, 2)), locked=np.array([True, False, True, True]),
                      D=None, info={"state": "locked", "lines": ["a", "b"]},
                      values={"time": t, "locked": np.ones(4, bool)}),
        Record(run_id="r", index=3, values={"counts": np.arange(3, dtype=np.int64)},
               block=True),
        RunFinished(run_id="r", status="aborted", reason="lock lost", results={"x": np.nan},
                    safe_report=("mw: RF off",), result_units={"x": "T"}),
    ]
    for doc in docs:
        back = from_dict(json.loads(json.dumps(to_dict(doc))))
        same(doc, back)
    assert back.safe_report == ("mw: RF off",)
    assert from_dict(to_dict(docs[1])).locked.dtype == bool
    with pytest.raises(ValueError, match="not a document"):
        from_dict({"document": "Nope"})


def test_a_layout_round_trips_as_plain_data():
    schema = odmr_schema(np.linspace(2.8e9, 2.9e9, 5), 8, field="vector")
    again = RunSchema.from_dict(json.loads(json.dumps(schema.as_dict())))
    assert again.variable_names == schema.variable_names
    assert again.fixed_dims == schema.fixed_dims
    assert [c.values.tolist() for c in again.coords] == [c.values.tolist() for c in schema.coords]
