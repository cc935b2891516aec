"""A campaign killed at a random moment (kill -9) or stopped with Ctrl-C continues with
``--resume``: completed points are skipped, the others measured, nothing measured twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nvsense.campaign import CampaignJournal
from nvsense.cli import main
from nvsense.measure import STOPPED_BY_USER
from nvsense.storage import Catalog

CAMPAIGN = """\
    name: {name}
    bench: realtime.yaml
    measurement: odmr
    {fast}
    steps:
      coil_current: ["0 A", "0.1 A", "0.2 A"]
      mw_power: [-12, -10]
    """
POINTS = 6


@pytest.fixture(autouse=True)
def realtime_bench(bench_file: Path) -> Path:
    """The seeded simulated bench paced in real time: a 281-point sweep at 0.25 ms dwell
    takes 70 ms on any machine, so a kill lands inside the campaign, not after it."""
    config = yaml.safe_load(bench_file.read_text())
    config["sample"]["pace"] = "realtime"
    path = bench_file.with_name("realtime.yaml")
    path.write_text(yaml.safe_dump(config))
    return path


def start(path: Path, data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nvsense", "campaign", "run", str(path), "--data-dir",
         str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def completed_runs(data_dir: Path, name: str) -> list[dict]:
    catalog = Catalog(data_dir)
    if not catalog.path.exists():
        return []
    return [r for r in catalog.records(campaign=name) if r["status"] == "completed"]


def wait_for_completed(proc: subprocess.Popen, data_dir: Path, name: str, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(completed_runs(data_dir, name)) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the campaign made no progress"
        time.sleep(0.02)


def test_resume_after_kill_9_skips_completed_points(write_campaign, data_dir, capsys):
    path = write_campaign(CAMPAIGN.replace("{name}", "killed").replace(
        "sweeps: 2", "sweeps: 2\n  dwell: 0.25 ms"))
    proc = start(path, data_dir)
    try:
        wait_for_completed(proc, data_dir, "killed", 2)
        delay = random.uniform(0.0, 0.3)  # anywhere in a point (about 0.3 s) or between two
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"campaign ended before the kill ({delay=:.2f})"
    before = {r["campaign_point"]: r["id"] for r in completed_runs(data_dir, "killed")}
    assert 2 <= len(before) < POINTS

    assert main(["campaign", "run", str(path), "--resume", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out

    rows = Catalog(data_dir).records(campaign="killed")
    done = [r for r in rows if r["status"] == "completed"]
    # every point has exactly one completed run, and those from before the kill are kept
    assert sorted(r["campaign_point"] for r in done) == list(range(POINTS)), (delay, rows)
    assert {r["campaign_point"]: r["id"] for r in done if r["campaign_point"] in before} == before
    # a run cut by the kill stays in the catalogue as interrupted; its point was measured again
    assert {r["status"] for r in rows} <= {"completed", "interrupted"}
    for point, run_id in before.items():
        assert f"point {point} ({point + 1} of {POINTS}" in out
        assert f": skipped (run {run_id} of an earlier session)" in out
    assert f"{POINTS - len(before)} completed, {len(before)} skipped" in out


def test_ctrl_c_stops_after_the_current_sweep_and_resume_finishes(write_campaign, data_dir,
                                                                   capsys):
    path = write_campaign(CAMPAIGN.replace("{name}", "ctrl-c").replace(
        "sweeps: 2", "sweeps: 3\n  dwell: 0.25 ms"))
    proc = start(path, data_dir)
    try:
        wait_for_completed(proc, data_dir, "ctrl-c", 1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "stopped: stopped by user" in err and "--resume" in err
    rows = Catalog(data_dir).records(campaign="ctrl-c")
    stopped = [r for r in rows if r["status"] != "completed"]
    # the point in progress ended cleanly (aborted, its sweeps kept), and no later one started
    assert [r["abort_reason"] for r in stopped] in ([], [STOPPED_BY_USER])
    assert max(r["campaign_point"] for r in rows) == len(rows) - 1
    assert CampaignJournal(data_dir, "ctrl-c").entries()[-1]["event"] == "end"

    assert main(["campaign", "run", str(path), "--resume", "--data-dir", str(data_dir)]) == 0
    done = completed_runs(data_dir, "ctrl-c")
    assert sorted(r["campaign_point"] for r in done) == list(range(POINTS))
    assert " skipped" in capsys.readouterr().out
