"""The results table of a campaign without its bench: ``campaign_table`` /
``campaign_status`` and ``nvsense campaign status [--json]`` read the catalogue and the journal,
and agree with what running the campaign reported."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pandas as pd
import yaml

from nvsense.campaign import (
    CampaignJournal,
    campaign_status,
    campaign_table,
    load_campaign,
    run_campaign,
)
from nvsense.cli import main
from nvsense.instruments import Bench

THREE_POWERS = """\
    name: powers
    bench: {bench}
    measurement: odmr
    {fast}
    steps:
      mw_power: [-14, -12, -10]
    """


@contextmanager
def read_only(monkeypatch):
    """Any attempt to connect a bench in this block fails the test."""
    def refuse(self):
        raise AssertionError("the campaign status connected the bench")
    with monkeypatch.context() as patch:
        patch.setattr(Bench, "connect", refuse)
        yield


def test_the_table_without_a_bench_is_the_table_of_the_run(write_campaign, data_dir,
                                                          monkeypatch):
    path = write_campaign(THREE_POWERS)
    measured = run_campaign(load_campaign(path), data_dir=data_dir).table()
    journal = CampaignJournal(data_dir, "powers")
    lines = len(journal.entries())
    with read_only(monkeypatch):
        table = campaign_table(path, data_dir=data_dir)
    pd.testing.assert_frame_equal(table, measured)
    assert list(table["status"]) == ["completed"] * 3
    assert table["field_z"].between(1.89e-3, 1.91e-3).all()
    assert len(journal.entries()) == lines  # nothing written


def test_status_after_a_failed_point_and_a_resume(write_campaign, data_dir, bench_file,
                                                  monkeypatch):
    """A point that failed keeps its reason; after --resume the points the session did not
    measure again are 'skipped', as the session itself said."""
    config = yaml.safe_load(bench_file.read_text())
    config["sample"]["faults"] = {"counter_timeout_at_sweep": 3}  # point 1's first sweep
    bench_file.write_text(yaml.safe_dump(config))
    path = write_campaign(THREE_POWERS)
    first = run_campaign(load_campaign(path), data_dir=data_dir)
    assert [o.status for o in first.outcomes] == ["completed", "failed", "completed"]
    with read_only(monkeypatch):
        status = campaign_status(path, data_dir=data_dir)
    assert [o.status for o in status.outcomes] == ["completed", "failed", "completed"]
    assert "timed out" in status.outcomes[1].reason
    assert status.outcomes[1].run_id == first.outcomes[1].run_id

    again = run_campaign(load_campaign(path), data_dir=data_dir, resume=True)
    assert [o.status for o in again.outcomes] == ["skipped", "completed", "skipped"]
    with read_only(monkeypatch):
        status = campaign_status(path, data_dir=data_dir)
    assert [o.status for o in status.outcomes] == ["skipped", "completed", "skipped"]
    pd.testing.assert_frame_equal(status.table(), again.table())


def test_points_not_run_yet(write_campaign, data_dir, monkeypatch):
    path = write_campaign(THREE_POWERS)
    with read_only(monkeypatch):
        status = campaign_status(path, data_dir=data_dir)  # no catalogue yet
    assert [o.status for o in status.outcomes] == ["not run"] * 3
    assert status.table()["status"].tolist() == ["not run"] * 3
    assert not data_dir.exists()


def test_cli_status_json_is_the_run_json(write_campaign, data_dir, capsys):
    path = write_campaign(THREE_POWERS)
    assert main(["campaign", "run", str(path), "--json", "--data-dir", str(data_dir)]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert main(["campaign", "status", str(path), "--json", "--data-dir", str(data_dir)]) == 0
    status = json.loads(capsys.readouterr().out)
    for point in ran["points"]:
        point["elapsed_s"] = None
    for point in status["points"]:
        point["elapsed_s"] = None
    assert status == ran
    assert status["counts"] == {"completed": 3, "skipped": 0, "failed": 0, "stopped": 0,
                                "not run": 0}


def test_status_after_a_stop_is_the_table_the_session_printed(write_campaign, data_dir,
                                                              monkeypatch):
    from nvsense.measure import RunControl, SweepDone

    path = write_campaign(THREE_POWERS)
    control = RunControl()

    def stop_in_point_1(event):
        if isinstance(event, SweepDone) and event.run_id and len(stopped) == 0:
            seen.add(event.run_id)
            if len(seen) == 2:  # the first sweep of point 1
                stopped.append(event.run_id)
                control.stop()

    seen: set[str] = set()
    stopped: list[str] = []
    result = run_campaign(load_campaign(path), data_dir=data_dir, control=control,
                          subscribers=[stop_in_point_1])
    assert [o.status for o in result.outcomes] == ["completed", "stopped", "not run"]
    with read_only(monkeypatch):
        status = campaign_status(path, data_dir=data_dir)
    assert status.stopped_reason == result.stopped_reason == "stopped by user"
    pd.testing.assert_frame_equal(status.table(), result.table())
