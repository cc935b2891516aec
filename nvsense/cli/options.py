"""Turning command-line options into validated measurement settings, with errors that name the
option the user typed.

The settings models (:class:`~nvsense.measure.OdmrSettings`,
:class:`~nvsense.measure.TrackSettings`) name their fields as the Python API and campaign files
do (``mw_power``, ``n_lines``); on the command line the user typed ``--power`` and
``--lines``, so the CLI reports those, once: ``nvsense odmr: --sweeps: Input should be greater
than or equal to 1``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..measure.settings import SettingsError

__all__ = ["defaults_from_bench", "parse_settings"]

M = TypeVar("M", bound=BaseModel)


def parse_settings(model: type[M], values: Mapping[str, Any], options: Mapping[str, str]) -> M:
    """Validate ``values`` with ``model``; raise :class:`SettingsError` naming the options.

    Parameters
    ----------
    model
        The settings class.
    values
        Field values from the command line.
    options
        Option of each field (``{"mw_power": "--power"}``); a dotted path (``"ranges.0.start"``)
        matches before its prefix (``"ranges"``).
    """
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise SettingsError(_message(exc, options)) from None


def defaults_from_bench(parser: argparse.ArgumentParser, options: Mapping[str, str]) -> None:
    """Let a bench file's ``defaults:`` fill the settings the command line does not give.

    The options of ``options`` (setting → option) get no argparse default (None: not
    given), so that a value typed on the command line always wins, even one equal to the
    default; the help of those that had a default says where it now comes from (``(default:
    the bench file's, else 10s)``).  The command merges the bench's values in
    (:func:`nvsense.measure.bench_defaults.merge_defaults`) and the settings model supplies
    the former defaults.
    """
    flags = set(options.values())
    for action in parser._actions:
        if not flags.intersection(action.option_strings):
            continue
        default, action.default = action.default, None
        if default is not None and not isinstance(default, bool):
            action.help = f"{action.help or ''} (default: the bench file's, else {default})"


def _message(exc: ValidationError, options: Mapping[str, str]) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        name = ""
        for size in range(len(loc), 0, -1):
            key = ".".join(loc[:size])
            if key in options:
                name = options[key]
                break
        if not name and loc:
            name = ".".join(loc)
        for field in (".".join(loc), loc[0] if loc else ""):
            if field and message.startswith(f"{field}: "):
                message = message[len(field) + 2:]
        parts.append(f"{name}: {message}" if name else message)
    return "; ".join(parts)
