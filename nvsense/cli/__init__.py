"""The ``nvsense`` command.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its sub-command(s) and sets ``func`` (a callable taking the
parsed arguments and returning the exit code) on each.  Exit codes: 0 done, 1 run aborted by an
instrument fault, 2 bad input (nothing was sent to an instrument), 3 the run completed but
measured no resonance, 130 interrupted.

Start-up is kept short: ``nvsense --help`` is printed from :data:`COMMANDS` (a static table of
the commands and their help lines, checked against the modules by a test) without importing
any command's module, and ``nvsense CMD ...`` imports the module of CMD only.

Negative quantities are values in every command: ``--power -10dBm`` parses like
``--power=-10dBm`` (see :class:`ArgumentParser`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from .. import __version__
from ._help import apply_help_format

__all__ = ["COMMANDS", "FIRST_COMMANDS", "ArgumentParser", "build_parser", "command_modules",
           "main"]

#: Every command in the order ``nvsense --help`` lists them: name -> (module of this package
#: that registers it, its help line).  Modules may register several commands (``runs`` adds
#: ``runs`` and ``show``).  tests/cli/test_cli_parsing.py checks this table against every
#: module of this package that has a ``register`` function, so it cannot drift: a new command
#: module is added here.
COMMANDS: dict[str, tuple[str, str]] = {
    "odmr": ("odmr", "measure CW-ODMR, fit every sweep, report field and D"),
    "track": ("track", "tracking magnetometer: lock onto NV lines, record B(t), noise floor"),
    "pulsed": ("pulsed", "pulsed protocols: Rabi, Ramsey, echo, XY8, T1, pulsed ODMR"),
    "gui": ("gui", "the live window: bench, ODMR, tracking magnetometer, data"),
    "campaign": ("campaign", "run measurement campaigns from a campaign file"),
    "runs": ("runs", "list the runs in the catalogue"),
    "show": ("runs", "summary of one run"),
    "export": ("export", "export runs: NeXus, RO-Crate, RDE dataset, MNE (FIF)"),
    "fit": ("fit", "fit an ODMR spectrum from a file (CSV, Qudi, MATLAB, NumPy, run files)"),
    "instruments": ("instruments", "list instrument drivers; check a bench"),
    "nv": ("nv", "NV calculator: lines for a field, field from lines, D(T), sensitivity"),
    "serve": ("serve", "serve the runs read-only (Tiled API and web pages)"),
    "widefield": ("widefield", "measure, simulate, fit and plot widefield ODMR cubes"),
}

#: Command groups shown first by ``nvsense --help`` (kept for scripts that read it).
FIRST_COMMANDS: tuple[str, ...] = ("odmr", "track", "gui", "campaign", "runs")

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: The run completed but measured no resonance (its fit is not a measurement).
EXIT_NO_RESONANCE = 3

#: An argument that starts like a negative number is a value, whatever follows: "-10dBm",
#: "-1.5e-3 T", "-.5", "-2 mT, 1 mT, 0 mT".  No option of nvsense starts with a digit.
NEGATIVE_VALUE = re.compile(r"^-\.?\d")


class ArgumentParser(argparse.ArgumentParser):
    """The parser of every nvsense command.

    - A negative quantity with a unit is a value: argparse itself takes only bare negative
      numbers (``-10``) as values and reads ``-10dBm`` as an unknown option ("expected one
      argument").  Sub-parsers are of this class too (``add_subparsers`` uses the parent's
      class), so this holds in every command.
    - An error is one line on stderr naming the command, the argument and where the options
      are listed, and exits with 2 (also for ``--port=--``, which argparse would pass on as
      an empty list).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_VALUE

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # argparse (3.11) drops a "--" given as an option's value (`--port=--`) and hands the
        # option an empty list instead of a value: that is a missing value
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected one argument")
        return super()._get_values(action, arg_strings)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (`{self.prog} --help` lists the "
                                  "options)\n")


def build_parser(commands: Iterable[str] | None = None) -> ArgumentParser:
    """The argument parser of ``nvsense``.

    Parameters
    ----------
    commands
        The commands whose modules are imported and registered in full; the others get a
        placeholder with their help line (enough for ``nvsense --help`` and for "invalid
        choice" errors).  ``None`` registers every command.
    """
    wanted = set(COMMANDS) if commands is None else set(commands)
    modules = {COMMANDS[name][0] for name in wanted if name in COMMANDS}
    parser = ArgumentParser(
        prog="nvsense",
        description="NV-centre quantum sensing: ODMR, magnetometry and reanalysis.",
    )
    parser.add_argument("--version", action="version", version=f"nvsense {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for name, (module, help_line) in COMMANDS.items():
        if module in registered:
            continue
        if module in modules:
            importlib.import_module(f"{__name__}.{module}").register(subparsers)
            registered.add(module)
        else:
            subparsers.add_parser(name, help=help_line)
    apply_help_format(parser)  # every command: "(default: X)" only where there is one
    return parser


def command_modules() -> list[str]:
    """Names of the modules in this package that register commands, in help order."""
    return list(dict.fromkeys(module for module, _ in COMMANDS.values()))


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first argument that is not an option:
    ``nvsense`` itself has only ``--help`` and ``--version``, which take no value)."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


#: Commands that draw a figure in a second process: the console script starts it first.
_DRAWING_COMMANDS = {"odmr"}
_NO_DRAWING = {"--no-plot", "-h", "--help"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nvsense`` console script; returns the exit code."""
    console_script = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    if console_script and command in _DRAWING_COMMANDS and not _NO_DRAWING & set(argv):
        # (only from the console script: in-process callers, such as tests, draw in-process
        # or start the figure process when the run starts)
        from ..measure.figures import start_early

        start_early()
    try:
        return _main(argv, command)
    finally:
        figures = sys.modules.get("nvsense.measure.figures")
        if figures is not None:  # a figure process started early that no command took
            figures.cancel_early()


def _main(argv: list[str], command: str | None) -> int:
    parser = build_parser([command] if command in COMMANDS else [])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad argument (already reported)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("nvsense: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `nvsense runs | head`: the reader left, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
