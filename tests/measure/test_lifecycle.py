"""The run lifecycle: one check before anything is sent, the run created with its metadata and
snapshot, the writer first, the bench safe and the file closed with status and reason on
every exit — for any measurement kind, shown with a minimal one."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
from pydantic import BaseModel

from nvsense.instruments import LimitError, load_bench
from nvsense.measure import STOPPED_BY_USER, RunControl
from nvsense.measure.documents import Record, RunFinished, RunStarted
from nvsense.measure.lifecycle import Conclusion, Measurement, RunAborted, execute
from nvsense.measure.preflight import check_acquisition
from nvsense.storage import (
    Catalog,
    RunNotClosedWarning,
    RunSchema,
    VariableSpec,
    open_run,
    run_metadata,
)


class TraceSettings(BaseModel):
    points: int = 20
    dwell: float = 1e-3
    laser_power: float | None = None


class Trace(Measurement):
    """Counts against time, laser on: a minimal kind (settings, check, variables, loop)."""

    kind = "pl_trace"
    parameter_units: ClassVar[dict[str, str]] = {"dwell": "s", "laser_power": "W"}

    def __init__(self, settings, fail_at=None, exc=None):
        super().__init__(settings)
        self.fail_at, self.exc = fail_at, exc

    def check(self, bench):
        bench.check_settings(laser_power=self.settings.laser_power)
        check_acquisition(bench.counter, 1, self.settings.dwell, "dwell")

    def variables(self, bench):
        return RunSchema(append_dim="time", append_units="s", append_long_name="time",
                         append_dtype="float64", append_is_index=False,
                         variables=[VariableSpec("counts", ("time",), "1", "photon counts")])

    def loop(self, run):
        s, bench = self.settings, run.bench
        bench.laser.on = True
        bench.counter.configure(1, s.dwell)
        t0 = run.clock()
        for k in range(s.points):
            if run.stop_requested:
                return
            if k == self.fail_at:
                raise self.exc
            run.record(time=run.clock() - t0, counts=bench.counter.acquire()[0])

    def conclude(self, run, status, reason):
        return Conclusion(results={"points": run.records}, result_units={"points": "1"})


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "data")


def bench(**sample):
    return load_bench({"sample": {"seed": 3, **sample}})


def test_a_minimal_kind_runs_to_completion_with_its_file_and_documents(catalog):
    seen = []
    with bench() as b:
        outcome = execute(Trace(TraceSettings()), b, catalog=catalog, subscribers=[seen.append],
                          md={"campaign": "c1", "campaign_point": 4, "operator": "ada",
                              "units": {"operator": "1"}})
        assert (b.laser.on, b.mw.output) == (False, False)
    assert outcome.status == "completed" and outcome.reason is None
    start, *records, end = seen
    assert isinstance(start, RunStarted) and isinstance(end, RunFinished)
    assert [r.index for r in records] == list(range(20))
    assert all(isinstance(r, Record) for r in records)
    ds = open_run(outcome.file)
    assert ds.sizes["time"] == 20
    np.testing.assert_array_equal(ds.counts.values, [r.values["counts"] for r in records])
    info = run_metadata(ds)
    assert info.parameters["operator"] == "ada" and info.parameters["dwell"] == 1e-3
    assert ds.attrs["campaign"] == "c1" and int(ds.attrs["campaign_point"]) == 4
    assert info.results == {"points": 20}
    assert "laser: off" in ds.attrs["safe_state_report"]
    # the instruments' state at the start, as Bench.snapshot gives it
    snapshot = json.loads(ds.attrs["instrument_snapshot"])
    assert snapshot["instruments"]["mw"]["driver"] == "simulated"
    assert snapshot == json.loads(json.dumps(start.snapshot))
    row = catalog.get(outcome.run_id)
    assert row["status"] == "completed" and row["campaign"] == "c1"


def test_the_check_refuses_before_anything_is_sent_and_no_run_is_made(catalog):
    with bench() as b:
        b.laser.power = 0.01
        with pytest.raises(LimitError) as info:
            execute(Trace(TraceSettings(dwell=1e-12)), b, catalog=catalog)
        assert info.value.quantity == "bin_time" and info.value.bound == "lower"
        assert b.laser.on is False and b.laser.power == 0.01
    assert catalog.runs().empty


def test_the_writer_is_first_every_record_is_on_disk_before_others_see_it(catalog):
    in_file = []

    def look(doc):
        if isinstance(doc, Record):
            with pytest.warns(RunNotClosedWarning, match="still being written"):
                in_file.append(open_run(doc_file[0]).sizes["time"])
        elif isinstance(doc, RunStarted):
            doc_file.append(doc.file)

    doc_file: list = []
    with bench() as b:
        execute(Trace(TraceSettings(points=3)), b, catalog=catalog, subscribers=[look])
    assert in_file == [1, 2, 3]


@pytest.mark.parametrize("exc, reason, raised", [
    (RunAborted("lock lost"), "lock lost", None),
    (RuntimeError("a bug"), "RuntimeError: a bug", RuntimeError),
    (KeyboardInterrupt(), f"{STOPPED_BY_USER} (interrupted)", KeyboardInterrupt),
])
def test_every_exit_leaves_the_bench_safe_and_the_file_closed_with_its_reason(
        catalog, exc, reason, raised):
    with bench() as b:
        kind = Trace(TraceSettings(), fail_at=5, exc=exc)
        if raised is None:
            outcome = execute(kind, b, catalog=catalog)
            assert outcome.status == "aborted" and outcome.reason == reason
        else:
            with pytest.raises(raised):
                execute(kind, b, catalog=catalog)
        assert (b.laser.on, b.mw.output) == (False, False)
    row = catalog.runs().iloc[0]
    assert row.status == "aborted" and row.abort_reason == reason
    ds = open_run(row.file)
    assert ds.sizes["time"] == 5 and ds.attrs["status"] == "aborted"


def test_an_instrument_fault_aborts_with_the_fault_and_keeps_the_records(catalog):
    with bench(faults={"counter_timeout_at_time": "8.5 ms"}) as b:
        outcome = execute(Trace(TraceSettings()), b, catalog=catalog)
        assert b.laser.on is False
    assert outcome.status == "aborted" and "timed out" in outcome.reason
    assert outcome.error is not None and outcome.error.instrument == "counter"
    assert open_run(outcome.file).sizes["time"] == 8


def test_a_stop_request_ends_the_run_as_stopped_by_the_user(catalog):
    control = RunControl()

    def stop_at_3(doc):
        if isinstance(doc, Record) and doc.index == 2:
            control.stop()

    with bench() as b:
        outcome = execute(Trace(TraceSettings()), b, catalog=catalog, control=control,
                          subscribers=[stop_at_3])
    assert outcome.status == "aborted" and outcome.reason == STOPPED_BY_USER
    assert open_run(outcome.file).sizes["time"] == 3


def test_a_bench_connected_here_is_closed_again(catalog):
    b = bench()
    execute(Trace(TraceSettings(points=2)), b, catalog=catalog)
    assert not b.connected
