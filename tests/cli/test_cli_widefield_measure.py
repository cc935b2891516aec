"""``nvsense widefield measure``: a run on the simulated camera, its JSON, and bad input
refused with exit 2 before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from nvsense.cli import main
from nvsense.storage.cube_writer import open_widefield_run

BENCH = {
    "name": "widefield_cli",
    "sample": {"field": ["1.1547 mT"] * 3, "axes": [0], "linewidth": "6 MHz", "contrast": 0.03},
    "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                    "counter": {"driver": "simulated"},
                    "camera": {"driver": "simulated", "sensor": [32, 32], "field_map": "wire"}},
}


@pytest.fixture
def bench_file(tmp_path: Path) -> str:
    path = tmp_path / "widefield.yaml"
    path.write_text(yaml.safe_dump(BENCH))
    return str(path)


@pytest.fixture
def connects(monkeypatch) -> list[str]:
    from nvsense.instruments import bench as bench_module

    seen: list[str] = []
    real = bench_module.Bench.connect

    def connect(self, *args, **kwargs):
        seen.append(self.label)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(bench_module.Bench, "connect", connect)
    return seen


def test_measure_prints_the_issue_json_keys(tmp_path, bench_file, capsys):
    out = tmp_path / "wire.nc"
    code = main(["widefield", "measure", "--bench", bench_file, "--range",
                 "2.79GHz:2.95GHz:41", "--sweeps", "2", "--exposure", "5ms", "--bin", "2",
                 "--reference", "every", "--out", str(out), "--json",
                 "--data-dir", str(tmp_path / "data")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    for key in ("run_id", "file", "status", "frames", "dropped_frames", "sweeps", "drift_px"):
        assert key in summary
    assert summary["status"] == "completed" and summary["sweeps"] == 2
    assert summary["frames"] == 2 * 2 * 41 and summary["dropped_frames"] == 0
    assert Path(summary["file"]).resolve() == out.resolve()
    assert len(summary["drift_px"]) == 2
    ds = open_widefield_run(out)
    assert ds.sizes == {"sweep": 2, "frequency": 41, "y": 16, "x": 16}
    assert ds.attrs["param_exposure"] == pytest.approx(5e-3)
    assert ds.attrs["reference_frames"] == "every"


def test_measure_prints_progress_and_the_fit_command(tmp_path, bench_file, capsys):
    out = tmp_path / "wire.nc"
    assert main(["widefield", "measure", "--bench", bench_file, "--range",
                 "2.79GHz:2.95GHz:41", "--sweeps", "2", "--live-bin", "4", "--out", str(out),
                 "--data-dir", str(tmp_path / "data")]) == 0
    text = capsys.readouterr().out
    assert "sweep 2/2" in text and "live map (8×8, bin 4)" in text
    assert f"nvsense widefield fit {out.absolute()}" in text


@pytest.mark.parametrize("argv, message", [
    (["--range", "2.79GHz:2.95GHz:5"], "--range"),
    (["--range", "2.95GHz:2.79GHz:41"], "stop"),
    (["--range", "2.79GHz:50GHz:41"], "4.05 GHz, the upper limit"),
    (["--sweeps", "0"], "--sweeps"),
    (["--exposure", "100 s"], "exposure"),
    (["--exposure", "5 furlong"], "exposure"),
    (["--bin", "3"], "binning"),
    (["--power", "20dBm"], "power"),
    (["--lines", "3"], "--lines"),
    (["--live-bin", "64"], "live_binning"),
    (["--reference", "sometimes"], "--reference"),
])
def test_bad_input_exits_2_before_anything_is_sent(tmp_path, bench_file, connects, capsys,
                                                   argv, message):
    out = tmp_path / "wire.nc"
    code = main(["widefield", "measure", "--bench", bench_file, "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.startswith("nvsense widefield measure")
    assert len(err.strip().splitlines()) == 1
    assert not connects and not out.exists()


@pytest.mark.parametrize("name", ["exists", "folder", "png"])
def test_out_must_be_a_new_run_file(tmp_path, bench_file, connects, capsys, name):
    existing = tmp_path / "old.nc"
    existing.write_bytes(b"keep me")
    out = {"exists": existing, "folder": tmp_path, "png": tmp_path / "map.png"}[name]
    code = main(["widefield", "measure", "--bench", bench_file, "--out", str(out)])
    assert code == 2 and "--out" in capsys.readouterr().err
    assert existing.read_bytes() == b"keep me" and not connects


def test_a_bench_without_a_camera_exits_2(tmp_path, connects, capsys):
    code = main(["widefield", "measure", "--bench", "single_nv", "--out",
                 str(tmp_path / "x.nc")])
    err = capsys.readouterr().err
    assert code == 2 and "camera" in err and not connects


def test_frame_period_sets_the_frame_rate(tmp_path, bench_file, capsys):
    out = tmp_path / "wire.nc"
    code = main(["widefield", "measure", "--bench", bench_file, "--range",
                 "2.79GHz:2.95GHz:41", "--sweeps", "1", "--exposure", "2ms",
                 "--frame-period", "7ms", "--live-bin", "0", "--out", str(out), "--json",
                 "--data-dir", str(tmp_path / "data")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["frame_period"] == pytest.approx(7e-3)
    ds = open_widefield_run(out, sweeps=True)
    assert ds.attrs["param_frame_period"] == pytest.approx(7e-3)
    assert ds.attrs["result_frame_period"] == pytest.approx(7e-3)
    # the camera's timestamps: one frame every 7 ms
    assert np.allclose(np.diff(ds["frame_time"].values[0]), 7e-3, atol=2e-6)
    assert "frame period" not in captured.err


def test_a_frame_period_the_camera_cannot_reach_is_reported(tmp_path, bench_file, capsys):
    # 5 ms exposure + the readout of 32 rows (4.87 µs each): the camera needs 5.16 ms
    code = main(["widefield", "measure", "--bench", bench_file, "--range",
                 "2.79GHz:2.95GHz:41", "--sweeps", "1", "--exposure", "5ms",
                 "--frame-period", "5ms", "--live-bin", "0", "--out", str(tmp_path / "w.nc"),
                 "--json", "--data-dir", str(tmp_path / "data")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["frame_period"] == pytest.approx(5e-3 + 32 * 4.87e-6)
    assert "frame period of 5.156 ms, longer than the 5 ms asked" in captured.err


@pytest.mark.parametrize(("value", "message"), [
    ("2ms", "--frame-period: 2 ms is shorter than the exposure (5 ms)"),
    ("0s", "--frame-period: 0 s must be above 0 and at most 10 s"),
    ("11s", "--frame-period: 11 s must be above 0"),
    ("10Hz", "--frame-period: '10Hz'"),
])
def test_a_bad_frame_period_is_refused_before_anything_is_sent(tmp_path, bench_file, capsys,
                                                               connects, value, message):
    code = main(["widefield", "measure", "--bench", bench_file, "--exposure", "5ms",
                 "--frame-period", value, "--out", str(tmp_path / "w.nc")])
    err = capsys.readouterr().err
    assert code == 2 and connects == []
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "w.nc").exists()
