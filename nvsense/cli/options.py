"""Turning command-line options into validated measurement settings, with errors that name the
option the user typed.

The settings models (:class:`~nvsense.measure.OdmrSettings`,
:class:`~nvsense.measure.TrackSettings`) name their fields as the Python API and campaign files
do (``mw_power``, ``n_lines``); on the command line the user typed ``--power`` and
``--lines``, so the CLI reports those, once: ``nvsense odmr: --sweeps: Input should be greater
than or equal to 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..measure.settings import SettingsError

__all__ = ["parse_settings"]

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
