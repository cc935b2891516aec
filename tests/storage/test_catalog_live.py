"""The catalogue while a run is being written: `nvsense runs`, `Catalog.records` and the GUI's
recent-runs table (which reads `records`) show the records written so far."""

from __future__ import annotations

import json

import pytest

from nvsense.cli import main
from nvsense.storage import Catalog, CatalogWarning


def test_records_so_far_of_a_running_run(tmp_path, schema, sweep_values, capsys):
    catalog = Catalog(tmp_path)
    run = catalog.new_run("odmr", schema)
    assert catalog.get(run.run_id)["n_records"] == 0
    for i in range(3):
        run.append(**sweep_values(i))
        (row,) = catalog.records()
        assert row["status"] == "running" and row["n_records"] == i + 1
    assert catalog.get(run.run_id)["n_records"] == 3
    assert catalog.runs().loc[run.run_id, "n_records"] == 3
    assert main(["runs", "--data-dir", str(tmp_path), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["n_records"] == 3 and listed["status"] == "running"
    assert main(["runs", "--data-dir", str(tmp_path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if run.run_id in ln)
    assert "running" in line and " 3 " in line
    run.append(**sweep_values(3))
    run.close("completed")
    (row,) = catalog.records()
    assert row["status"] == "completed" and row["n_records"] == 4


def test_a_running_run_whose_file_is_gone_keeps_its_row(tmp_path, schema, sweep_values):
    catalog = Catalog(tmp_path)
    run = catalog.new_run("odmr", schema)
    run.append(**sweep_values(0))
    run.path.unlink()  # deleted by hand while running (Linux keeps the open file)
    (row,) = catalog.records()
    assert row["status"] == "running" and row["n_records"] == 0
    with pytest.warns(CatalogWarning, match="not \\(yet\\) in the catalogue"):
        run.close("aborted", "file deleted")
