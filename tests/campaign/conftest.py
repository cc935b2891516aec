"""Fixtures of the campaign tests: a seeded simulated bench file, campaign files, the catalogue."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from nvsense.instruments.config import builtin_bench_path
from nvsense.storage import Catalog

#: Fast ODMR settings that still fit all 8 lines of the simulated ensemble: 281 points, two
#: sweeps; with n_lines given no sweep is spent finding the dips, and the field guess keeps the
#: vector in the bench's frame (so the coil's field shows up on z).
FAST_SETTINGS = """\
settings:
  ranges: "2.80GHz:2.94GHz:281"
  sweeps: 2
  n_lines: 8
  field_guess: "0.4 mT, 1.1 mT, 1.9 mT"
"""


@pytest.fixture
def bench_file(tmp_path: Path) -> Path:
    """The built-in simulated bench (limits: 0 dBm, 0.5 W, 2 A) with a fixed noise seed."""
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    config["sample"]["seed"] = 11
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def write_campaign(tmp_path: Path, bench_file: Path) -> Callable[..., Path]:
    """``write_campaign(body, name="scan.yaml")``: a campaign file in the test folder.

    ``body`` is dedented; ``{bench}`` and ``{fast}`` are replaced by the seeded bench file and
    :data:`FAST_SETTINGS`."""

    def write(body: str, name: str = "scan.yaml") -> Path:
        text = textwrap.dedent(body).replace("{bench}", bench_file.name)
        text = text.replace("{fast}\n", FAST_SETTINGS)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def campaign_rows(data_dir: Path) -> Callable[[str], list[dict]]:
    """``campaign_rows(name)``: catalogue rows of a campaign (none if nothing was recorded)."""

    def rows(name: str) -> list[dict]:
        catalog = Catalog(data_dir)
        if not catalog.path.exists():
            return []
        return catalog.records(campaign=name)

    return rows
