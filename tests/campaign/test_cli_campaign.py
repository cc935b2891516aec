"""``nvsense campaign``: a grid runs and lands in the catalogue; bad files exit 2 with nothing
run; reruns and edited files are refused; check and status."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from nvsense.campaign import load_campaign, run_campaign
from nvsense.campaign.history import POINT_KEY
from nvsense.cli import main
from nvsense.cli.campaign import _Progress
from nvsense.storage import Catalog, open_run, run_metadata

GRID = """\
    name: grid
    bench: {bench}
    measurement: odmr
    {fast}
    steps:
      coil_current: ["0 A", "0.5 A"]
      mw_power: ["-14 dBm", "-12 dBm", "-10 dBm"]
    """


def test_a_2x3_grid_runs_and_lands_in_the_catalogue(write_campaign, data_dir, campaign_rows,
                                                    capsys):
    path = write_campaign(GRID)
    assert main(["campaign", "run", str(path), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    # progress: each point by its index (counted from 0, as in the table and the catalogue),
    # how far the campaign is, and an ETA; then the summary table
    assert "point 0 (1 of 6; coil_current=0 A, mw_power=-14 dBm): completed" in out
    assert "point 5 (6 of 6; coil_current=500 mA, mw_power=-10 dBm): completed" in out
    assert "ETA 0:00:00" in out
    assert "campaign grid: 6 completed, 0 skipped, 0 failed, 0 stopped, 0 not run" in out
    for column in ("point", "coil_current", "mw_power", "status", "field", "linewidth (MHz)",
                   "contrast (%)"):
        assert column in out

    rows = campaign_rows("grid")
    assert len(rows) == 6 and {r["status"] for r in rows} == {"completed"}
    by_point = {r["campaign_point"]: r for r in rows}
    assert sorted(by_point) == list(range(6))
    for point, (current, power) in enumerate(
            [(0.0, -14.0), (0.0, -12.0), (0.0, -10.0), (0.5, -14.0), (0.5, -12.0),
             (0.5, -10.0)]):
        params = by_point[point]["parameters"]
        assert params["coil_current"] == current and params["mw_power"] == power
        assert params["sweeps"] == 2
    # the catalogue finds them by campaign and by coil current
    catalog = Catalog(data_dir)
    assert len(catalog.runs(campaign="grid", coil_current=0.5)) == 3
    # the run files themselves hold the campaign's metadata (a rescan keeps it)
    info = run_metadata(open_run(by_point[4]["file"]))
    assert (info.campaign, info.campaign_point) == ("grid", 4)
    assert info.parameters["coil_current"] == 0.5 and info.parameter_units["coil_current"] == "A"
    assert info.parameters[POINT_KEY] == by_point[4]["parameters"][POINT_KEY]
    # the coil was on during its points: 0.5 A adds 0.5 mT along z (1 mT/A) to 1.9 mT
    for point in range(3):
        off, on = by_point[point]["results"], by_point[point + 3]["results"]
        assert off["field_z"] == pytest.approx(1.9e-3, abs=5e-6)
        assert on["field_z"] - off["field_z"] == pytest.approx(0.5e-3, abs=1e-5)
        assert on["field_x"] == pytest.approx(off["field_x"], abs=1e-5)
    # more microwave power, deeper lines
    contrasts = [by_point[p]["contrast"] for p in range(3)]
    assert contrasts == sorted(contrasts)


@pytest.mark.parametrize(("body", "expected"), [
    ("steps:\n  mw_pwr: [-20, -10]\n", "line 4: steps.mw_pwr: not a parameter"),
    ('steps:\n  mw_power: ["-20 dBm", "-10 dBW"]\n', "line 4: steps.mw_power[1] = '-10 dBW'"),
    ('steps:\n  mw_power: ["-20 dBm", "-10 dBm", "3 dBm"]\n',
     "line 4: steps.mw_power[2] = '3 dBm': mw power 3 dBm is above 0 dBm"),
    ("steps:\n  coil_current: [0, 1, 2.5]\n",
     "line 4: steps.coil_current[2] = 2.5: coil current 2.5 A is above 2 A"),
])
def test_invalid_files_exit_2_and_nothing_runs(write_campaign, data_dir, capsys, body,
                                               expected):
    # the bad value is the last one: every point is checked before the first runs
    path = write_campaign("bench: {bench}\nmeasurement: odmr\n" + body)
    assert main(["campaign", "run", str(path), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, {expected}" in err and "Nothing was run." in err
    assert not data_dir.exists()


def test_missing_file_and_bad_bench_override_exit_2(write_campaign, data_dir, capsys):
    assert main(["campaign", "run", "nope.yaml", "--data-dir", str(data_dir)]) == 2
    assert "campaign file 'nope.yaml' not found" in capsys.readouterr().err
    path = write_campaign(GRID)
    assert main(["campaign", "run", str(path), "--bench", "nobench",
                 "--data-dir", str(data_dir)]) == 2
    assert "bench file 'nobench' not found" in capsys.readouterr().err
    assert not data_dir.exists()


ONE_POWER = """\
    name: again
    bench: {bench}
    measurement: odmr
    {fast}
    steps:
      mw_power: [-12, -10]
    """


def test_running_a_campaign_twice_needs_resume(write_campaign, data_dir, campaign_rows, capsys):
    path = write_campaign(ONE_POWER)
    args = ["campaign", "run", str(path), "--data-dir", str(data_dir)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "campaign 'again' already has 2 run(s)" in err and "--resume" in err
    assert main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    # one word for a point completed by an earlier session: skipped, in every output
    assert out.count(": skipped (run ") == 2 and "0 completed, 2 skipped" in out
    assert out.count(" skipped ") >= 2 and "done" not in out and "earlier (run" not in out
    capsys.readouterr()
    assert main(["campaign", "status", str(path), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped") >= 3 and "done" not in out
    assert len(campaign_rows("again")) == 2  # nothing measured twice


def test_resume_refuses_a_campaign_file_edited_since(write_campaign, data_dir, campaign_rows,
                                                     capsys):
    path = write_campaign(ONE_POWER)
    assert main(["campaign", "run", str(path), "--data-dir", str(data_dir)]) == 0
    path.write_text(path.read_text().replace("sweeps: 2", "sweeps: 3"))
    capsys.readouterr()
    assert main(["campaign", "run", str(path), "--resume", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert "the campaign changed since some of its points were measured" in err
    assert "point 0 (mw_power=-12 dBm): run " in err and "sweeps 2 (now 3)" in err
    assert "give the campaign a new name" in err
    assert len(campaign_rows("again")) == 2
    # under a new name it runs afresh
    assert main(["campaign", "run", str(path), "--name", "again-3", "--data-dir",
                 str(data_dir)]) == 0
    assert len(campaign_rows("again-3")) == 2


def test_json_output(write_campaign, data_dir, capsys):
    path = write_campaign(ONE_POWER)
    assert main(["campaign", "run", str(path), "--json", "--data-dir", str(data_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["campaign"] == "again" and report["counts"]["completed"] == 2
    assert [p["values"]["mw_power"] for p in report["points"]] == [-12.0, -10.0]
    assert all(p["run_id"] and p["results"]["field_z"] for p in report["points"])


def test_check_lists_points_and_runs_nothing(write_campaign, data_dir, capsys):
    path = write_campaign(GRID)
    assert main(["campaign", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "campaign grid: 6 point(s) of odmr" in out and "500 mA" in out
    assert "every point is within the bench's limits" in out
    assert not data_dir.exists()


def test_status_shows_completed_and_missing_points(write_campaign, data_dir, capsys):
    path = write_campaign(ONE_POWER)
    assert main(["campaign", "run", str(path), "--data-dir", str(data_dir)]) == 0
    path.write_text(path.read_text().replace("[-12, -10]", "[-12, -10]\n  dwell: [2 ms]"))
    capsys.readouterr()
    assert main(["campaign", "status", str(path), "--data-dir", str(data_dir)]) == 2
    assert "the campaign changed" in capsys.readouterr().err
    path.write_text(path.read_text().replace("\n  dwell: [2 ms]", "").replace(
        "[-12, -10]", "[-12, -10, -8]"))
    assert main(["campaign", "status", str(path), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 point(s) have a completed run" in out
    assert "2 completed, 0 skipped, 0 failed, 0 stopped, 1 not run" in out


def test_a_tracking_campaign_steps_the_coil_under_the_locked_axis(write_campaign, data_dir,
                                                                  campaign_rows, capsys):
    path = write_campaign("""\
        name: track-coil
        bench: {bench}
        measurement: track
        settings:
          duration: 0.3 s
          field_guess: "0.4 mT, 1.1 mT, 1.9 mT"
        steps:
          coil_current: ["0 A", "0.3 A"]
        """)
    assert main(["campaign", "run", str(path), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "noise (nT/√Hz)" in out and "B∥ " in out
    rows = sorted(campaign_rows("track-coil"), key=lambda r: r["campaign_point"])
    assert [(r["kind"], r["status"]) for r in rows] == [("track", "completed")] * 2
    # axis 0 is [1, 1, 1]/√3: the coil's 0.3 mT along z shows as 0.3/√3 mT of B∥
    step = rows[1]["field_parallel"] - rows[0]["field_parallel"]
    assert step == pytest.approx(0.3e-3 / 3 ** 0.5, abs=5e-6)
    assert rows[1]["parameters"]["coil_current"] == 0.3


def test_on_a_terminal_a_progress_bar_counts_points_with_an_eta(write_campaign, data_dir):
    campaign = load_campaign(write_campaign(ONE_POWER))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, highlight=False)
    catalog = Catalog(data_dir)
    with _Progress(console, campaign, catalog, redirect=False) as progress:
        assert progress.bar is not None
        run_campaign(campaign, catalog=catalog, subscribers=[progress])
        task = progress.bar.tasks[0]
        assert (task.completed, task.total) == (2, 2)
    text = screen.getvalue()
    assert "point 1 (2 of 2; mw_power=-10 dBm): completed" in text and "ETA 0:00:00" in text
