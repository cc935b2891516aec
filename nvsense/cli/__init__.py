"""The ``nvsense`` command.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its sub-command(s) and sets ``func`` (a callable taking the
parsed arguments and returning the exit code) on each.  Exit codes: 0 done, 1 run aborted by an
instrument fault, 2 bad input (nothing was sent to an instrument), 3 the run completed but
measured no resonance, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from .. import __version__
from ._help import apply_help_format

#: Command groups shown first by ``nvsense --help``; any other module of this package with a
#: ``register`` function follows in alphabetical order.
FIRST_COMMANDS: tuple[str, ...] = ("odmr", "track", "gui", "campaign", "runs")

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: The run completed but measured no resonance (its fit is not a measurement).
EXIT_NO_RESONANCE = 3


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="nvsense",
        description="NV-centre quantum sensing: ODMR, magnetometry and reanalysis.",
    )
    parser.add_argument("--version", action="version", version=f"nvsense {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(subparsers)
    apply_help_format(parser)  # every command: "(default: X)" only where there is one
    return parser


def command_modules() -> list[str]:
    """Names of the modules in this package that register commands."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__)
                   if not m.name.startswith("_") and not m.ispkg)
    return sorted(names, key=lambda n: (FIRST_COMMANDS.index(n) if n in FIRST_COMMANDS
                                        else len(FIRST_COMMANDS)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nvsense`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
