"""Run files for the data-sharing tests (exports, the Tiled server, Bluesky).

They are written through nvsense's own storage layer (the catalogue and RunWriter), with the
metadata a real run carries: the simulated bench's configuration, instrument identities,
parameters with units, results, a campaign and its journal.  Values are seeded, so every test
sees the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml

from nvsense.campaign.journal import CampaignJournal
from nvsense.instruments import load_bench
from nvsense.storage import Catalog, RunSchema, VariableSpec, odmr_schema, tracking_schema

START = datetime(2026, 11, 28, 14, 4, 55, tzinfo=timezone(timedelta(hours=1)))
IDENTITIES = {"mw": "nvsense,simulated-mw,0,0.1.0", "laser": "nvsense,simulated-laser,0,0.1.0",
              "counter": "nvsense,simulated-counter,0,0.1.0"}

#: What Bench.snapshot() gives (hinst's lifecycle will write it as ``instrument_snapshot``).
SNAPSHOT = {
    "bench": {"name": "simulated", "label": "simulated", "source": "simulated.yaml"},
    "limits": {"frequency": [{"value": 2.5e9, "unit": "Hz"}, {"value": 3.3e9, "unit": "Hz"}],
               "max_mw_power": {"value": 0.0, "unit": "dBm"},
               "max_laser_power": {"value": 0.5, "unit": "W"}, "max_coil_current": None},
    "safe_state": {"laser": "off"},
    "sample": {"name": "NV ensemble, simulated", "nitrogen": "14N"},
    "capabilities": {"list_sweep": True, "frequency_modulation": True},
    "warnings": [],
    "instruments": {
        "mw": {"driver": "simulated", "name": "mw", "identity": IDENTITIES["mw"],
               "frequency": {"value": 2.87e9, "unit": "Hz"},
               "power": {"value": -10.0, "unit": "dBm"}, "output": False,
               "limits": {"frequency_min": {"value": 9.5e3, "unit": "Hz"},
                          "frequency_max": {"value": 6.0e9, "unit": "Hz"}}},
        "laser": {"driver": "simulated", "name": "laser", "identity": IDENTITIES["laser"],
                  "power": {"value": 0.1, "unit": "W"}, "on": False},
        "counter": {"driver": "simulated", "name": "counter",
                    "identity": IDENTITIES["counter"], "kind": "counts"},
    },
}


@dataclass
class Runs:
    """The runs of one data folder."""

    data_dir: Path
    odmr: Path            # completed ODMR run, vector field, fits and averages
    snapshot: Path        # ODMR run carrying the instrument_snapshot attribute
    track: Path           # completed tracking run along one NV axis, 1 kHz
    trigger: Path         # tracking run with a trigger line (MEG-style)
    campaign: str         # campaign holding `odmr` and `snapshot`

    def ids(self) -> dict[str, str]:
        return {name: getattr(self, name).stem for name in ("odmr", "snapshot", "track",
                                                             "trigger")}


def _bench_yaml() -> str:
    return yaml.safe_dump(load_bench().config.model_dump(mode="json"), sort_keys=False)


def _odmr_run(catalog: Catalog, rng: np.random.Generator, *, start: datetime,
              point: int, attrs: dict | None = None) -> Path:
    freqs = np.linspace(2.80e9, 2.94e9, 41)
    params = {"frequency_start": 2.80e9, "frequency_stop": 2.94e9, "points": 41,
              "power_dbm": -10.0, "dwell": 1e-3, "mw": {"power": -10.0}, "mode": "cw"}
    units = {"frequency_start": "Hz", "frequency_stop": "Hz", "power_dbm": "dBm", "dwell": "s",
             "mw.power": "dBm"}
    with catalog.new_run("odmr", odmr_schema(freqs, n_lines=8), parameters=params,
                         parameter_units=units, bench_config=_bench_yaml(),
                         bench_source="built-in", instruments=IDENTITIES, start_time=start,
                         campaign="field-map", campaign_point=point, attrs=attrs) as run:
        for sweep in range(3):
            fit_ok = sweep != 1  # a failed fit: NaN fit values, False flag
            values = {"time": 0.5 * (sweep + 1),
                      "counts": 1e5 * (1 - 0.02 * np.exp(-((freqs - 2.87e9) / 5e6) ** 2))
                      + rng.normal(0, 300, freqs.size),
                      "fit_success": fit_ok}
            if fit_ok:
                values.update(
                    line_center=np.linspace(2.82e9, 2.92e9, 8) + rng.normal(0, 1e4, 8),
                    line_center_error=np.full(8, 2e4), line_width=np.full(8, 1e6),
                    line_width_error=np.full(8, 3e4), line_contrast=np.full(8, 0.02),
                    line_contrast_error=np.full(8, 1e-3), redchi=1.02,
                    field=np.array([4e-4, 1.1e-3, 1.9e-3]) + rng.normal(0, 1e-7, 3),
                    field_error=np.full(3, 2e-7), D=2.8703e9, D_error=1e4)
            values.update(avg_fit_success=True, avg_D=2.8702e9, avg_D_error=8e3,
                          avg_field=np.array([4e-4, 1.1e-3, 1.9e-3]))
            run.append(**values)
        run.close("completed", results={"field_x": 4e-4, "field_x_error": 2e-7,
                                        "field_y": 1.1e-3, "field_z": 1.9e-3, "D": 2.8702e9,
                                        "linewidth": 1e6, "contrast": 0.02})
    return run.path


def _track_run(catalog: Catalog, rng: np.random.Generator, *, start: datetime,
               trigger: bool) -> Path:
    schema = tracking_schema(2, field="parallel")
    if trigger:
        schema = RunSchema(append_dim="time", append_units="s",
                           append_long_name="time since the run start",
                           append_dtype="float64", append_is_index=False,
                           dim_sizes=dict(schema.dim_sizes),
                           variables=[*schema.variables,
                                      VariableSpec("trigger", ("time",), "V",
                                                   "stimulus trigger line")])
    n = 400
    t = np.arange(n) / 1000.0
    with catalog.new_run("track", schema, parameters={"sample_rate": 1000.0},
                         parameter_units={"sample_rate": "Hz"}, bench_config=_bench_yaml(),
                         bench_source="built-in", instruments=IDENTITIES,
                         start_time=start) as run:
        block = {"time": t, "field_parallel": 2e-6 + 1e-11 * rng.standard_normal(n),
                 "D": np.full(n, 2.8702e9),
                 "frequency_locked": np.column_stack([np.full(n, 2.81e9), np.full(n, 2.93e9)]),
                 "error_signal": rng.standard_normal((n, 2)),
                 "locked": np.ones(n, dtype=bool)}
        if trigger:
            line = np.zeros(n)
            for onset in (50, 180, 310):
                line[onset:onset + 5] = 5.0
            block["trigger"] = line
        run.append_block(**block)
        run.close("completed", results={"field_parallel": 2e-6})
    return run.path


def make_runs(data_dir: Path) -> Runs:
    """Four runs and a campaign journal in ``data_dir``."""
    rng = np.random.default_rng(18)
    catalog = Catalog(data_dir)
    odmr = _odmr_run(catalog, rng, start=START, point=0)
    snapshot = _odmr_run(catalog, rng, start=START + timedelta(seconds=10), point=1,
                         attrs={"instrument_snapshot": json.dumps(SNAPSHOT)})
    track = _track_run(catalog, rng, start=START + timedelta(seconds=20), trigger=False)
    trig = _track_run(catalog, rng, start=START + timedelta(seconds=30), trigger=True)
    journal = CampaignJournal(data_dir, "field-map")
    journal.append("start", points=2, resume=False)
    for index, path in enumerate((odmr, snapshot)):
        journal.append("point", index=index, key=f"p{index}", status="completed",
                       run_id=path.stem)
    journal.append("end", reason="completed")
    return Runs(data_dir=data_dir, odmr=odmr, snapshot=snapshot, track=track, trigger=trig,
                campaign="field-map")


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Runs written once per test session; tests only read them."""
    return make_runs(tmp_path_factory.mktemp("sharing") / "nvsense-data")


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    """Runs of a fresh data folder (for tests that add or change files)."""
    return make_runs(tmp_path / "nvsense-data")
