"""Bad input anywhere on the command line: the property, for every command and option.

Hypothesis feeds every command random arguments - numbers of every size and sign, NaN and
infinities, wrong and unknown units, empty strings, unknown option names, missing and
unreadable files - and checks what a user at the bench relies on:

- ``nvsense`` never ends in a traceback; its exit code is 0 (the input was valid and the
  command did its work), 2 (bad input) or 130 (a valid measurement, stopped by the test
  after its first sweep, see below);
- exit 2 comes with a message on stderr that starts with ``nvsense`` and names the command
  once, and then nothing was sent to an instrument (no bench was connected) and no run file
  was written;
- a measurement that starts runs: no value that passed the checks makes it fail on an
  instrument's limit later (exit 1, an aborted run), as ``--dwell 1ns`` and ``track --rate
  1e-30`` once did.

Valid measurements would run for as long as their settings say; the test stops them after
their first sweep (or tracking block) through the run's stop request, as Ctrl-C would.  Three
commands do work that is not this test's subject, and are replaced after their input was
checked: ``gui`` (the window), ``serve`` (the server) and ``widefield simulate`` (the cube
is simulated at 8x8 pixels and at most 2001 points, every other argument as given: a valid
but large cube is slow, not wrong; one larger than the memory is refused by the command).
The examples are derandomized (tests/conftest.py), so CI sees the same ones every run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from nvsense.cli import build_parser, main
from nvsense.instruments.config import builtin_bench_path

#: Examples per command in CI; NVSENSE_PROPERTY_EXAMPLES=500 searches harder (and
#: NVSENSE_PROPERTY_SEED=N draws other examples than CI's derandomized ones).
EXAMPLES = int(os.environ.get("NVSENSE_PROPERTY_EXAMPLES", "20"))
SEED = os.environ.get("NVSENSE_PROPERTY_SEED")

#: Option destinations that name files or folders; their values come from FILES (or garbage).
PATHS = {"bench", "data_dir", "file", "out", "cube", "map", "run", "settings", "screenshot"}

UNITS = ["", " ", "Hz", "kHz", "MHz", "GHz", "dBm", "mW", "W", "s", "ms", "ns", "T", "mT", "G",
         "K", "/s", "V", "A", "%", "furlong", "dB", "mT/A", "Hz/s", "xyz", "°"]
SPECIAL = ["", " ", "nan", "NaN", "-nan", "inf", "-inf", "1e999", "-1e999", "0", "-0", "0.0",
           "1e-300", "-1e-300", "1e300", "1e-30", "abc", "--", "-", "+", ".", "e3", "1,2",
           "1, 2, 3", "1 mT, 2 mT", "nan mT, 0 mT, 0 mT", "0,1,2,3", "0:1:2", "2.8GHz:2.9GHz:11",
           "2.9GHz:2.8GHz:11", "x:y:z", "1e9:2e9:1", "\u00b5", "NONE", "lorentzian", "14N"]


def _numbers() -> st.SearchStrategy[str]:
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    ints = st.integers(min_value=-10**15, max_value=10**15)
    return st.one_of(floats.map(repr), ints.map(str), floats.map(lambda v: f"{v:g}"))


def _quantities() -> st.SearchStrategy[str]:
    return st.tuples(_numbers(), st.sampled_from(UNITS)).map(lambda t: f"{t[0]}{t[1]}")


# random text stays a relative path inside the example's folder (no "/", "~" or "..")
GARBAGE = st.one_of(st.sampled_from(SPECIAL), _numbers(), _quantities(),
                    st.text(max_size=6).filter(
                        lambda t: not t.startswith(("/", "~")) and ".." not in t))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Files a user might name: valid ones and broken ones."""
    root = tmp_path_factory.mktemp("inputs")
    config = yaml.safe_load(builtin_bench_path("simulated").read_text())
    bench = root / "bench.yaml"
    bench.write_text(yaml.safe_dump(config))
    campaign = root / "campaign.yaml"
    campaign.write_text(yaml.safe_dump({
        "name": "prop", "bench": str(bench), "measurement": "odmr",
        "settings": {"sweeps": 1, "n_lines": 8},
        "steps": {"mw_power": ["-12 dBm", "-10 dBm"]}}))
    broken = root / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    empty = root / "empty.nc"
    empty.write_bytes(b"")
    text = root / "notes.txt"
    text.write_text("not a run")
    from nvsense.analysis import simulate_cube, write_cube

    cube = root / "cube.nc"
    write_cube(simulate_cube(6, "uniform", points=41, seed=0), cube)
    return {"bench": str(bench), "campaign": str(campaign), "broken": str(broken),
            "empty": str(empty), "text": str(text), "cube": str(cube), "dir": str(root),
            "builtin": "simulated", "missing": str(root / "no" / "such.yaml")}


def _leaves(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _leaves(child, (*words, name))
            return
    yield words, parser


LEAVES = {" ".join(words): parser for words, parser in _leaves(build_parser())}


def _value(action: argparse.Action, files: dict[str, str]) -> st.SearchStrategy[str]:
    options = [GARBAGE]
    if action.choices:
        options.append(st.sampled_from([str(c) for c in action.choices]))
    if action.dest in PATHS:
        paths = [*files.values(), "{tmp}/out.nc", "{tmp}/out.png", "{tmp}/out.zarr",
                 "{tmp}/data", "{tmp}"]
        options.append(st.sampled_from(paths))
    return st.one_of(*options)


@st.composite
def _argv(draw, command: str, files: dict[str, str]) -> list[str]:
    parser = LEAVES[command]
    args: list[str] = []
    optional = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if not action.option_strings:
            count = {None: 1, "?": draw(st.integers(0, 1)), "+": draw(st.integers(1, 3)),
                     "*": draw(st.integers(0, 3))}.get(action.nargs, 1)
            args += [draw(_value(action, files)) for _ in range(count)]
        elif action.required:
            args += [action.option_strings[0], draw(_value(action, files))]
        else:
            optional.append(action)
    chosen = draw(st.lists(st.sampled_from(optional), max_size=4, unique_by=id)) \
        if optional else []
    for action in chosen:
        name = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            args.append(name)
        elif draw(st.booleans()):
            args += [name, draw(_value(action, files))]
        else:
            args.append(f"{name}={draw(_value(action, files))}")
    if draw(st.integers(0, 9)) == 0:
        args += draw(st.sampled_from([["--no-such-option", "1"], ["--powr", "-10dBm"],
                                      ["-x"], ["stray"]]))
    return [*command.split(), *args]


class _Stop(Exception):
    pass


@pytest.fixture
def harness(monkeypatch):
    """Count bench connections, stop measurements after their first sweep, replace the
    window and the cube simulation (see the module docstring)."""
    from nvsense.instruments import bench as bench_module
    from nvsense.measure import control

    connects: list[str] = []
    real_connect = bench_module.Bench.connect

    def connect(self, *args, **kwargs):
        connects.append(self.label)
        return real_connect(self, *args, **kwargs)

    monkeypatch.setattr(bench_module.Bench, "connect", connect)

    class StopAfterFirstSweep(control.RunControl):
        """A stop request raised as soon as the run first asks."""

        @property
        def stop_requested(self) -> bool:
            self.stop()  # as Ctrl-C: "stopped by user"
            return True

    for module in ("odmr", "track", "campaign", "pulsed", "widefield"):
        monkeypatch.setattr(f"nvsense.cli.{module}.RunControl", StopAfterFirstSweep)

    import nvsense.analysis as analysis
    real_simulate = analysis.simulate_cube

    def small_simulate(size=256, *args, **kwargs):
        small = size if not isinstance(size, int) else min(size, 8)
        points = kwargs.get("points")
        if isinstance(points, int) and points > 2001:  # valid, only slow: spare the test
            kwargs["points"] = 2001
        return real_simulate(small, *args, **kwargs)

    monkeypatch.setattr(analysis, "simulate_cube", small_simulate)
    try:
        import nvsense.gui.app as gui_app

        monkeypatch.setattr(gui_app, "run_gui", lambda options: 0)
    except ImportError:  # no Qt here: `nvsense gui` reports that itself
        pass
    try:  # `nvsense serve` would serve until Ctrl-C: its input is checked, then it returns
        import uvicorn

        monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    except ImportError:
        pass
    return connects


def _check(argv: list[str], connects: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.replace("{tmp}", tmp) for a in argv]
        before = len(connects)
        out, err = io.StringIO(), io.StringIO()
        env = {"NVSENSE_DATA_DIR": os.path.join(tmp, "data")}
        # relative paths ("", ".", "out.nc") land in the example's own folder, never in the
        # repository (`widefield simulate --out .` once emptied the working folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                _environ(env), contextlib.chdir(tmp):
            try:
                code = main(argv)
            except BaseException:
                pytest.fail(f"nvsense {' '.join(argv)!r} raised:\n{traceback.format_exc()}")
        message = err.getvalue()
        assert "Traceback" not in message, (argv, message)
        assert code in (0, 2, 130), (argv, code, message, out.getvalue()[-2000:])
        if code == 2:
            assert message.startswith("nvsense"), (argv, message, out.getvalue()[-500:])
            first = message.splitlines()[0]
            head = first.split(":", 1)[0]
            assert first.count(f"{head}:") == 1, (argv, message)  # the command once
            assert len(connects) == before, (argv, message)  # nothing was sent
            assert not list(Path(tmp).rglob("*.nc")) or any("out.nc" in a for a in argv), \
                (argv, message)


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_no_input_ends_in_a_traceback_or_reaches_an_instrument(command, files, harness):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(argv=_argv(command, files))
    def check(argv):
        _check(argv, harness)

    if SEED is not None:
        check = seed(int(SEED))(check)
    check()


def test_the_examples_include_bad_and_valid_input(files, harness):
    """The property is not vacuous: the named bad values exit 2, valid ones run."""
    bad = [["odmr", "--dwell", "1ns"], ["odmr", "--power", "nan"], ["odmr", "--sweeps", "-1"],
           ["track", "--rate", "1e-30"], ["track", "--sweep-dwell", "1ns"],
           ["track", "--duration", ""], ["odmr", "--points", "1e3"], ["nv", "zfs", "-5 K"],
           ["runs", "--since", "soon"], ["campaign", "check", files["broken"]],
           ["odmr", "--bench", files["text"]], ["odmr", "--powr", "-10dBm"],
           # found by the search: a unit pint divided by zero on, an age before the year 1
           ["track", "--duration", "0/0"], ["runs", "--since", "1e12"],
           # a cube larger than the memory (the OOM killer ended the test process), a .nc
           # file that is not a run
           ["widefield", "simulate", "--points", "1000000000", "--out", "x.nc"],
           ["fit", files["empty"]], ["fit", files["cube"]],
           # the map written over the cube it is fitted from
           ["widefield", "fit", files["cube"], "--out", files["cube"], "--workers", "0"],
           # argparse passed "--" as an option's value on as an empty list
           ["serve", "--port=--"], ["odmr", "--dwell=--"]]
    for argv in bad:
        n = len(harness)
        quiet = (contextlib.redirect_stderr(io.StringIO()),
                 contextlib.redirect_stdout(io.StringIO()))
        with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp), quiet[0], quiet[1]:
            assert main(argv) == 2, argv
        assert len(harness) == n
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp), \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["widefield", "simulate", "--size", "4", "--points", "11", "--out", "."]) == 2
        assert main(["odmr", "--power", "-12dBm", "--data-dir", tmp]) == 130
        assert len(list(Path(tmp).rglob("*.nc"))) == 1
        assert main(["track", "--data-dir", tmp]) == 130
    assert np.size(harness) >= 2
