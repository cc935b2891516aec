"""Assemble README.md from docs/readme/*.md (``make readme``).

The README's sections are kept as one Markdown file per topic in docs/readme/, written next to
the code they describe; this script puts them together in reading order, after the
introduction and the Quick start below.  Run it after editing a section.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs"

#: Reading order; files in docs/readme/ not listed here are appended at the end.
ORDER = [
    "install", "layout", "odmr", "bench", "drivers", "nidaq", "tracking", "campaigns", "gui",
    "storage", "physics", "fitting", "analysis", "development",
]

HEAD = """\
# nvsense

nvsense is a Python toolkit for NV-centre quantum sensing by optically detected magnetic
resonance (ODMR). It drives the microwave source, laser and DAQ of an ODMR bench, sweeps and
tracks the NV spin resonances, fits every sweep as it arrives, turns resonance positions into
magnetic field (vector, and temperature through D), plots it live in a Qt window, runs scripted
measurement campaigns, and reanalyses stored runs in Jupyter or on a Dask cluster.

What it gives you that hand-written lab scripts, Qudi and MATLAB QDM pipelines do not:

- a **simulated bench that behaves like a real NV bench**: counts follow the microwave
  frequency and power, the laser, the field (static and AC), temperature, strain, hyperfine
  structure and shot noise — so everything here runs without hardware;
- **every sweep fitted and turned into field at once**, with uncertainties, including 14N/15N
  hyperfine multiplets and a full-Hamiltonian vector fit;
- **one self-describing file per run** that xarray opens, written as the run goes and intact
  after a crash or `kill -9`; metadata a program reads back (no `eval` of text headers);
- a **closed-loop tracking magnetometer**, not only a spectrometer;
- drivers for the instruments NV labs own (SG384, SMB100A, MXG, SynthHD, OBIS, Cobolt, NI
  X-series DAQ, DP800), each checked against limits before anything is sent and leaving the
  bench safe (RF off, laser off) on every exit path;
- installation with one command, no vendor driver needed to try it.

## Quick start

```sh
make demo
make test
```

`make demo` creates `.venv` (with `python3`), installs nvsense with all its extras and runs the
main job — an ODMR measurement on the simulated bench (`nvsense odmr`), which prints the fitted
lines, the field vector and D with their errors, and saves the run file and a plot in
`./nvsense-data/`. `make test` does the same set-up and runs the whole test suite (unit tests,
instrument protocol tests, crash tests, GUI tests offscreen, and the notebooks). Both need
only `python3` (3.11 or newer) and `make`; they are quick when nothing changed. On a bare
Debian/Ubuntu machine the Qt tests also need `libegl1 libgl1 libxkbcommon0 libfontconfig1
libdbus-1-3` (`.ci/run` installs them when missing).

"""


def _slug(title: str) -> str:
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


def build() -> str:
    """The README text."""
    files = {p.stem: p for p in SECTIONS.glob("*.md")}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    bodies = [files[n].read_text().strip() + "\n" for n in names]
    titles = [re.search(r"^## (.+)$", b, re.M) for b in bodies]
    toc = "\n".join(f"- [{m.group(1)}](#{_slug(m.group(1))})" for m in titles if m)
    return HEAD + "## Contents\n\n" + toc + "\n\n" + "\n".join(bodies)


def main() -> int:
    text = build()
    target = ROOT / "README.md"
    if "--check" in sys.argv:
        if target.read_text() != text:
            print("README.md is out of date: run `make readme`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
