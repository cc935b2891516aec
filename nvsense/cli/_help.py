"""How every ``nvsense`` command prints ``--help``.

argparse's ``ArgumentDefaultsHelpFormatter`` appends ``(default: …)`` to every option, also
where there is none (``(default: None)``, ``(default: False)`` after a flag) and where the help
already says what the default is (``… (default: keep the set point) (default: None)``).  This
formatter appends it only when an option has a real default that its help does not state.
:func:`apply_help_format` gives it to a parser and all its sub-commands, so that no command
can forget it.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["HelpFormatter", "apply_help_format"]


def _has_default(action: argparse.Action) -> bool:
    default = action.default
    if default is None or default is argparse.SUPPRESS or isinstance(default, bool):
        return False
    if isinstance(default, list | tuple | dict | set) and not default:
        return False
    return not isinstance(action, argparse._HelpAction | argparse._VersionAction)


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` only to options that have a default their help does not
    already give; never ``(default: None)`` nor ``(default: False)``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or not _has_default(action):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL,
                                                     argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found.append(sub)
    return found


def apply_help_format(parser: argparse.ArgumentParser,
                      formatter: Any = HelpFormatter) -> list[argparse.ArgumentParser]:
    """Give ``parser`` and every sub-command under it ``formatter``; returns every parser
    reached (the parser first), e.g. for a test that reads every ``--help``."""
    parsers = [parser]
    parser.formatter_class = formatter
    for sub in _subparsers(parser):
        parsers += apply_help_format(sub, formatter)
    return parsers
