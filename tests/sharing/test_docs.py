"""The data-sharing page's Bluesky example runs as written (simulated bench)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data_sharing.md"


def test_bluesky_example_runs_and_leaves_the_bench_safe(capsys):
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    example = next(b for b in blocks if "RunEngine" in b)
    namespace: dict = {}
    exec(compile(example, str(PAGE), "exec"), namespace)  # it prints each document's name
    printed = capsys.readouterr().out.split()
    assert printed[0] == "start" and printed[-1] == "stop"
    assert printed.count("event") == 71
    bench = namespace["dev"].bench
    assert not bench.connected and "mw: RF off, list stopped" in bench.safe_report


def test_every_export_command_is_on_the_page():
    text = PAGE.read_text()
    for command in ("nvsense export nexus", "nvsense export rocrate", "nvsense export rde",
                    "nvsense export mne", "nvsense serve"):
        assert command in text
