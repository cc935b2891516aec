"""The ``nvsense`` command line as a whole: the command table, negative quantities in every
command, one-line errors, and what start-up imports."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import subprocess
import sys

import pytest

from nvsense.cli import COMMANDS, ArgumentParser, build_parser, command_modules, main


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) of every command that runs something."""
    sub = _subparsers(parser)
    if sub is None:
        yield path, parser
        return
    for name, child in sub.choices.items():
        yield from _leaves(child, (*path, name))


def test_the_command_table_is_what_the_modules_register():
    """`nvsense --help` prints COMMANDS without importing the modules: it must list exactly
    the commands they register, in order, with their help lines."""
    full = _subparsers(build_parser())
    registered = [(a.dest, a.help) for a in full._choices_actions]
    assert registered == [(name, help_line) for name, (_, help_line) in COMMANDS.items()]
    for name, parser in full.choices.items():
        assert parser._defaults.get("func") is not None or _subparsers(parser), name
    # every module of nvsense.cli that registers commands is in the table
    import nvsense.cli

    modules = []
    for info in pkgutil.iter_modules(nvsense.cli.__path__):
        if info.name.startswith("_"):  # __main__ runs the command; _help is a helper
            continue
        module = importlib.import_module(f"nvsense.cli.{info.name}")
        if callable(getattr(module, "register", None)):
            modules.append(info.name)
    assert sorted(modules) == sorted(command_modules()), (
        "a command module is missing from nvsense.cli.COMMANDS: add its commands there")
    for module in modules:  # and each registers exactly its rows of the table
        parser = ArgumentParser(prog="nvsense")
        sub = parser.add_subparsers()
        importlib.import_module(f"nvsense.cli.{module}").register(sub)
        assert sorted(sub.choices) == sorted(n for n, (m, _) in COMMANDS.items() if m == module)


def test_help_lists_every_command_with_its_help_line(capsys):
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, (_, help_line) in COMMANDS.items():
        assert name in out and " ".join(help_line.split()) in out


@pytest.mark.parametrize("argv", [["--help"], ["runs", "--help"], ["show", "--help"],
                                  ["nv", "lines", "--help"], ["no-such-command"]])
def test_start_up_imports_only_the_command_it_runs(argv):
    """The heavy stacks (numpy, the measurement, fitting and instrument layers, pandas,
    xarray, numba) stay out of help, `runs` and `show` start-up."""
    code = ("import sys\nfrom nvsense.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "finally:\n    print('MODULES', ' '.join(sorted(sys.modules)))\n")
    # without tests/fakeclock's date injection (it pre-imports pandas): imports, not dates
    env = {k: v for k, v in os.environ.items() if not k.startswith("NVSENSE_FAKE")}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=120, env=env)
    modules = set(proc.stdout.rsplit("MODULES", 1)[1].split())
    heavy = {"numba", "pandas", "xarray", "nvsense.measure", "nvsense.fitting",
             "nvsense.instruments", "matplotlib", "PySide6"}
    if argv[0] != "nv":  # the NV calculator needs numpy and the physics (scipy)
        heavy |= {"numpy", "scipy", "h5py", "pint", "pydantic"}
    assert not heavy & modules, sorted(heavy & modules)


def _value_options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if action.option_strings and action.nargs not in (0,) and not isinstance(
                action, argparse._HelpAction | argparse._VersionAction):
            yield action


def _required(parser: argparse.ArgumentParser, skip: argparse.Action) -> list[str]:
    """Placeholder values for the required arguments of a command."""
    args: list[str] = []
    for action in parser._actions:
        if action is skip or isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings and action.nargs != "?" and action.nargs != "*":
            args.append("x")
        elif action.option_strings and action.required:
            args += [action.option_strings[0], "x"]
    return args


def test_negative_quantities_are_values_in_every_command():
    """`--power -10dBm` (issue 12): argparse took "-10dBm" for an option and failed with
    "expected one argument".  Every option of every command must take it as its value."""
    checked = 0
    for words, parser in _leaves(build_parser()):
        for action in _value_options(parser):
            for value in ("-10dBm", "-1.5e-3 T", "-.5", "-2mT,1mT,0mT"):
                argv = [*_required(parser, action), action.option_strings[0], value]
                try:
                    namespace, _ = parser.parse_known_args(argv)
                except SystemExit:
                    # a typed option (int, choices) may refuse the value: not for lack of it
                    continue
                got = getattr(namespace, action.dest)
                got = got[-1] if isinstance(got, list) else got
                if action.type is None:
                    assert got == value, (words, action.option_strings, got)
                checked += 1
    assert checked > 100  # every command and option was reached


def test_typed_option_refuses_a_negative_value_for_what_it_is(capsys):
    assert main(["odmr", "--points", "-5dBm"]) == 2
    err = capsys.readouterr().err
    assert "invalid int value: '-5dBm'" in err and "expected one argument" not in err


def test_odmr_and_track_take_negative_powers_with_units(tmp_path, capsys):
    code = main(["odmr", "--power", "-12dBm", "--sweeps", "1", "--no-plot", "--json",
                 "--data-dir", str(tmp_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    from nvsense.storage import open_run, run_metadata

    assert run_metadata(open_run(summary["file"])).parameters["mw_power"] == -12.0
    code = main(["track", "--power", "-12dBm", "--duration", "0.5s", "--calibration-time",
                 "0.2s", "--json", "--data-dir", str(tmp_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert run_metadata(open_run(summary["file"])).parameters["mw_power"] == -12.0


@pytest.mark.parametrize(("argv", "expected"), [
    (["odmr", "--sweeps", "0"], "nvsense odmr: --sweeps: "),
    (["odmr", "--power", "-10 dBm", "--lines", "9"], "nvsense odmr: --lines: "),
    (["odmr", "--start", "2.9GHz", "--stop", "2.8GHz", "--points", "11"],
     "nvsense odmr: --start/--stop/--points: stop"),
    (["track", "--dither-periods", "0"], "nvsense track: --dither-periods: "),
    (["track", "--sweeps", "0"], "nvsense track: --sweeps: "),
])
def test_errors_name_the_option_once_on_one_line(tmp_path, capsys, argv, expected):
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("nvsense ") == 1 and err.count("\n") == 1, err
    assert not list(tmp_path.rglob("*.nc"))


def test_an_odmr_run_imports_none_of_the_stacks_it_does_not_use(tmp_path):
    """Start-up time (issue 11): the line count without lmfit (and pandas), the detector's
    and the field's statistics without scipy.stats/special/optimize/signal/ndimage, the fits
    on the ahead-of-time kernels without numba (and the scipy.linalg numba imports),
    matplotlib only for the plot."""
    code = ("import sys\nfrom nvsense.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "finally:\n    print('MODULES', ' '.join(sorted(sys.modules)))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NVSENSE_FAKE")}
    proc = subprocess.run([sys.executable, "-c", code, "odmr", "--sweeps", "1", "--no-plot",
                           "--json", "--data-dir", str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stdout.rsplit("MODULES", 1)[1].split())
    assert "nvsense.fitting.batch" in modules  # it did fit
    assert any(m.startswith("_nvsense_aot_fit_rows_lines") for m in modules), (
        "the fits did not run the ahead-of-time kernels: python -m nvsense.fitting.aot")
    unused = {"lmfit", "pandas", "scipy", "scipy.stats", "scipy.special", "scipy.optimize",
              "scipy.signal", "scipy.ndimage", "matplotlib", "awkward", "numba", "llvmlite"}
    assert not unused & modules, sorted(unused & modules)
