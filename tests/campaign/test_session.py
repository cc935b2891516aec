"""The runner from Python: custom loops, resume, failed points, stops, Ctrl-C, the bench safe."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nvsense.campaign import (
    CampaignError,
    CampaignJournal,
    CampaignLockedError,
    CampaignMismatchError,
    CampaignSession,
    PointFinished,
    PointStarted,
    load_campaign,
    run_campaign,
)
from nvsense.instruments import MicrowaveLimits, load_bench
from nvsense.measure import STOPPED_BY_USER, RunControl, SweepDone
from nvsense.storage import Catalog

FAST = {"ranges": "2.80GHz:2.94GHz:281", "sweeps": 2, "n_lines": 8,
        "field_guess": "0.4 mT, 1.1 mT, 1.9 mT"}


def bench_with(bench_file, **faults):
    """The seeded simulated bench, with simulated faults."""
    config = yaml.safe_load(bench_file.read_text())
    config["sample"]["faults"] = faults
    return load_bench(config)


def assert_safe(bench):
    """RF off, laser off, coil off (read back from the connected instruments)."""
    assert bench.mw.output is False
    assert bench.laser.on is False
    assert bench.coil.output is False


def test_custom_loop_steps_the_coil_and_the_catalogue_gives_its_constant(bench_file, data_dir):
    currents = [0.0, 0.1, 0.2, 0.3, 0.4]
    with CampaignSession("coil-cal", bench=load_bench(bench_file), settings=FAST,
                         data_dir=data_dir) as session:
        outcomes = [session.measure(coil_current=f"{i * 1e3:g} mA") for i in currents]
    assert [o.status for o in outcomes] == ["completed"] * 5
    assert [o.point.index for o in outcomes] == list(range(5))
    runs = Catalog(data_dir).runs(campaign="coil-cal", status="completed")
    current = np.array([p["coil_current"] for p in runs["parameters"]])
    np.testing.assert_allclose(current, currents)
    slope, offset = np.polyfit(current, runs["field_z"], 1)
    assert slope == pytest.approx(1e-3, rel=0.01)  # the simulated coil: 1 mT/A along z
    assert offset == pytest.approx(1.9e-3, abs=5e-6)


def test_a_resumed_custom_loop_skips_the_points_it_has(bench_file, data_dir):
    bench = load_bench(bench_file)
    with CampaignSession("loop", bench=bench, settings=FAST, data_dir=data_dir) as session:
        first = session.measure(mw_power=-12)
    with pytest.raises(CampaignError, match="already has 1 run"):
        CampaignSession("loop", bench=bench, settings=FAST, data_dir=data_dir).start()
    with CampaignSession("loop", bench=bench, settings=FAST, data_dir=data_dir,
                         resume=True) as session:
        again = session.measure(mw_power=-12)
        new = session.measure(mw_power=-10)
        with pytest.raises(CampaignError, match=r"point 2 \(mw_power=5 dBm\): .*above 0 dBm"):
            session.point(mw_power=5)
    assert again.status == "skipped" and again.run_id == first.run_id
    assert again.results["field_z"] == pytest.approx(first.results["field_z"])
    assert new.status == "completed" and new.point.index == 1
    assert len(Catalog(data_dir).runs(campaign="loop")) == 2


def test_subscribers_see_points_and_sweeps(bench_file, data_dir):
    campaign = load_campaign({"name": "ev", "bench": str(bench_file), "measurement": "odmr",
                              "settings": FAST, "steps": {"mw_power": [-12, -10]}})
    seen = []
    run_campaign(campaign, data_dir=data_dir, subscribers=[lambda e: seen.append(e)])
    kinds = [type(e).__name__ for e in seen if not type(e).__name__.startswith("Run")]
    assert kinds == ["CampaignStarted", "PointStarted", "SweepDone", "SweepDone",
                     "PointFinished", "PointStarted", "SweepDone", "SweepDone",
                     "PointFinished", "CampaignFinished"]


def test_a_failed_point_is_recorded_with_its_reason_and_the_campaign_goes_on(bench_file,
                                                                             data_dir):
    # two sweeps a point: sweep 4 is point 1's second sweep; the counter times out there
    bench = bench_with(bench_file, counter_timeout_at_sweep=4)
    campaign = load_campaign({"name": "faulty", "measurement": "odmr", "settings": FAST,
                              "steps": {"mw_power": [-14, -12, -10]}}, bench=bench)
    result = run_campaign(campaign, data_dir=data_dir)
    assert [o.status for o in result.outcomes] == ["completed", "failed", "completed"]
    failed = result.outcomes[1]
    assert "counter_timeout_at_sweep" in failed.reason and failed.run_id
    runs = Catalog(data_dir).runs(campaign="faulty")
    row = runs.loc[failed.run_id]
    assert row["status"] == "aborted" and "counter_timeout_at_sweep" in row["abort_reason"]
    assert row["n_records"] == 1  # the sweep before the fault is kept
    journal = CampaignJournal(data_dir, "faulty").last_outcomes()
    assert journal[1]["status"] == "failed" and "counter_timeout" in journal[1]["reason"]
    # --resume measures only the failed point again
    again = run_campaign(load_campaign({"name": "faulty", "measurement": "odmr",
                                        "settings": FAST, "steps": {"mw_power": [-14, -12, -10]}},
                                       bench=load_bench(bench_file)),
                         data_dir=data_dir, resume=True)
    assert [o.status for o in again.outcomes] == ["skipped", "completed", "skipped"]
    assert again.complete


def test_a_point_failing_at_its_first_sweep_is_in_the_journal(bench_file, data_dir):
    # without n_lines too, the run file exists from the start; the first sweep of point 1 fails
    settings = {k: v for k, v in FAST.items() if k != "n_lines"}
    bench = bench_with(bench_file, counter_disconnect_at_sweep=3)
    campaign = load_campaign({"name": "lost", "measurement": "odmr", "settings": settings,
                              "steps": {"mw_power": [-12, -11, -10]}}, bench=bench)
    result = run_campaign(campaign, data_dir=data_dir)
    # the lost counter is connected again after the failed point, so the campaign goes on
    assert [o.status for o in result.outcomes] == ["completed", "failed", "completed"]
    failed = result.outcomes[1]
    assert failed.run_id is not None and "counter_disconnect_at_sweep" in failed.reason
    rows = Catalog(data_dir).records(campaign="lost")
    assert [r["status"] for r in rows] == ["completed", "aborted", "completed"]
    assert rows[1]["id"] == failed.run_id and rows[1]["n_records"] == 0
    entry = CampaignJournal(data_dir, "lost").last_outcomes()[1]
    assert entry["status"] == "failed" and entry["run_id"] == failed.run_id
    assert "counter_disconnect_at_sweep" in entry["reason"]


def test_on_error_stop_ends_the_campaign_at_the_failed_point(bench_file, data_dir):
    bench = bench_with(bench_file, counter_timeout_at_sweep=2)
    campaign = load_campaign({"name": "strict", "measurement": "odmr", "settings": FAST,
                              "on_error": "stop", "steps": {"mw_power": [-14, -12, -10]}},
                             bench=bench)
    result = run_campaign(campaign, data_dir=data_dir)
    assert [o.status for o in result.outcomes] == ["failed", "not run", "not run"]
    assert "on_error: stop" in result.stopped_reason
    assert len(Catalog(data_dir).runs(campaign="strict")) == 1


def test_a_stop_request_ends_the_point_after_its_sweep_and_leaves_the_bench_safe(bench_file,
                                                                                  data_dir):
    campaign = load_campaign({"name": "stopme", "bench": str(bench_file), "measurement": "odmr",
                              "settings": {**FAST, "sweeps": 5},
                              "steps": {"coil_current": [0.1, 0.2, 0.3]}})
    control = RunControl()
    coil_during_point = []

    def stop_in_point_1(event):
        if isinstance(event, SweepDone) and campaign.bench.coil.output:
            coil_during_point.append(campaign.bench.coil.current)
        if isinstance(event, PointStarted) and event.point.index == 1:
            control.stop()

    with campaign.bench:
        result = run_campaign(campaign, data_dir=data_dir, control=control,
                              subscribers=[stop_in_point_1])
        assert_safe(campaign.bench)  # the session leaves a bench it did not open connected
    assert [o.status for o in result.outcomes] == ["completed", "stopped", "not run"]
    assert result.stopped_reason == STOPPED_BY_USER
    assert coil_during_point == [0.1] * 5 + [0.2]  # the coil was on, at its current
    row = Catalog(data_dir).get(result.outcomes[1].run_id)
    assert row["status"] == "aborted" and row["abort_reason"] == STOPPED_BY_USER
    assert row["n_records"] == 1


def test_ctrl_c_in_a_point_leaves_the_bench_safe_and_the_point_recorded(bench_file, data_dir):
    bench = load_bench(bench_file)

    def interrupt(event):
        if isinstance(event, SweepDone) and event.index == 0:
            raise KeyboardInterrupt

    finished = []
    with bench:
        session = CampaignSession("ctrlc", bench=bench, settings={**FAST, "sweeps": 3},
                                  data_dir=data_dir, subscribers=[interrupt, finished.append])
        with pytest.raises(KeyboardInterrupt), session:
            session.measure(coil_current=0.3)
        assert_safe(bench)
    assert [o.status for o in session.outcomes] == ["stopped"]
    assert any(isinstance(e, PointFinished) for e in finished) is False  # it never finished
    entries = CampaignJournal(data_dir, "ctrlc").entries()
    assert [e["event"] for e in entries] == ["start", "point_start", "point", "end"]
    assert entries[2]["status"] == "stopped"
    run = Catalog(data_dir).runs(campaign="ctrlc").iloc[0]
    assert run["status"] == "aborted" and run["abort_reason"].startswith(STOPPED_BY_USER)
    # the lock was released: the campaign can be resumed
    with CampaignSession("ctrlc", bench=bench, settings={**FAST, "sweeps": 3},
                         data_dir=data_dir, resume=True) as session:
        assert session.measure(coil_current=0.3).status == "completed"


def test_one_campaign_runs_in_one_process_at_a_time(bench_file, data_dir):
    with CampaignSession("busy", bench=load_bench(bench_file), settings=FAST,
                         data_dir=data_dir):
        other = CampaignSession("busy", bench=load_bench(bench_file), settings=FAST,
                                data_dir=data_dir, resume=True)
        with pytest.raises(CampaignLockedError, match=r"already running .*pid \d+"):
            other.start()
        # another campaign in the same data folder is fine
        with CampaignSession("other", bench=load_bench(bench_file), data_dir=data_dir):
            pass


def test_session_arguments_are_checked(bench_file, data_dir):
    with pytest.raises(CampaignError, match="campaign name 'my scan' is not valid"):
        CampaignSession("my scan", data_dir=data_dir)
    with pytest.raises(CampaignError, match="on_error: 'ignore' is not allowed"):
        CampaignSession("s", on_error="ignore", data_dir=data_dir)
    with pytest.raises(CampaignError, match=r"bench: bench file 'x\.yaml' not found"):
        CampaignSession("s", bench="x.yaml", data_dir=data_dir)
    session = CampaignSession("s", bench=load_bench(bench_file), data_dir=data_dir)
    with pytest.raises(CampaignError, match=r"point 0: dwel: not a parameter .*'dwell'"):
        session.point(dwel="1 ms")
    with pytest.raises(RuntimeError, match="start the session first"):
        session.run(session.point(mw_power=-10))


def test_limits_known_only_once_connected_are_checked_before_the_first_point(bench_file,
                                                                             data_dir,
                                                                             monkeypatch):
    campaign = load_campaign({"name": "late", "bench": str(bench_file), "measurement": "odmr",
                              "settings": FAST, "steps": {"mw_power": [-14, -12, -10]}})
    bench = campaign.bench
    offline = bench._instrument_limits

    def limits(slot):  # like a VISA source that reports its range only when connected
        if slot == "mw" and bench.connected:
            return MicrowaveLimits(2.5e9, 3.3e9, -30.0, -11.0)
        return offline(slot)

    monkeypatch.setattr(bench, "_instrument_limits", limits)
    with pytest.raises(CampaignError, match=r"connected instruments refuse some points:\n  "
                       r"points 2: mw_power: mw power -10 dBm is above -11 dBm"):
        run_campaign(campaign, data_dir=data_dir)
    assert not bench.connected
    assert not Catalog(data_dir).path.exists()  # nothing was measured


def test_values_added_to_the_outer_step_are_measured_on_resume(bench_file, data_dir):
    def grid(currents):
        return load_campaign({"name": "grow", "bench": str(bench_file), "measurement": "odmr",
                              "settings": FAST,
                              "steps": {"coil_current": currents, "mw_power": [-12, -10]}})

    first = run_campaign(grid([0.0, 0.1]), data_dir=data_dir)
    grown = run_campaign(grid([0.0, 0.1, 0.2]), data_dir=data_dir, resume=True)
    assert [o.status for o in grown.outcomes] == ["skipped"] * 4 + ["completed"] * 2
    assert [o.run_id for o in grown.outcomes[:4]] == [o.run_id for o in first.outcomes]
    # a value inserted elsewhere renumbers the points: refused, nothing run
    with pytest.raises(CampaignMismatchError, match=r"point 2 .*coil_current 0.1 \(now 0.05\)"):
        run_campaign(grid([0.0, 0.05, 0.1, 0.2]), data_dir=data_dir, resume=True)
    assert len(Catalog(data_dir).runs(campaign="grow")) == 6
