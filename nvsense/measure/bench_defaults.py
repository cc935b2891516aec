"""Settings a bench file recommends for its sample, used where a run does not give them.

A bench file may say which settings suit its sample (``defaults:``), e.g. the built-in
``single_nv`` bench::

    defaults:
      odmr: {mw_power: "-20 dBm", ranges: "2.80GHz:2.94GHz:1401", dwell: "10 ms",
             sweeps: 10, model: 14n}

and ``track:`` does the same for tracking runs (``nvsense track``, :func:`track_settings_for`).

A setting given to the run (command line, GUI, campaign file, Python) always wins; the
bench's value comes next, the measurement's own default last.  Settings that belong together
are taken together: giving ``sweeps`` or ``duration`` drops both of the bench's (its sweep count
must not cut a run given a duration short), giving ``model`` drops its ``n_lines`` (lines of
one model are not resonances of another); for tracking, giving ``both_lines`` or ``line`` drops
both of the bench's (a line asked for is one line locked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .settings import OdmrSettings, SettingsError

__all__ = [
    "TOGETHER",
    "bench_defaults",
    "check_bench_defaults",
    "defaults_for",
    "merge_defaults",
    "odmr_settings_for",
    "track_settings_for",
]

#: Settings that are given or dropped together, per measurement kind.
TOGETHER: dict[str, tuple[frozenset[str], ...]] = {
    "odmr": (frozenset({"sweeps", "duration"}), frozenset({"model", "n_lines"})),
    "track": (frozenset({"both_lines", "line"}),),
}


def bench_defaults(bench: Any, kind: str) -> dict[str, Any]:
    """The settings the bench file recommends for ``kind`` (``"odmr"``, ``"track"``); empty
    for a bench without them (or anything that is not a bench)."""
    config = getattr(bench, "config", None)
    section = getattr(getattr(config, "defaults", None), kind, None)
    return dict(section or {})


def merge_defaults(kind: str, defaults: Mapping[str, Any],
                   given: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` overridden by ``given``, dropping whole groups of :data:`TOGETHER`."""
    merged = dict(defaults)
    for group in TOGETHER.get(kind, ()):
        if group & set(given):
            for key in group:
                merged.pop(key, None)
    merged.update(given)
    return merged


def _where(bench: Any) -> str:
    source = getattr(bench, "source", None)
    return f"bench file {source}" if source else "the bench"


def defaults_for(bench: Any, kind: str, given: set[str] | frozenset[str]) -> dict[str, Any]:
    """The bench file's settings for ``kind`` that apply when ``given`` settings are given:
    those not given, without the groups of :data:`TOGETHER` that ``given`` touches."""
    return {k: v for k, v in merge_defaults(kind, bench_defaults(bench, kind),
                                            dict.fromkeys(given)).items() if k not in given}


def check_bench_defaults(bench: Any, kind: str) -> None:
    """Validate the bench file's ``defaults.<kind>`` on their own, so that a mistake there
    is reported as the bench file's.

    Raises
    ------
    SettingsError
        Naming the bench file, the section and the setting.
    """
    defaults = bench_defaults(bench, kind)
    if not defaults or kind not in _SETTINGS:
        return
    try:
        _SETTINGS[kind]().parse(defaults, context=f"{_where(bench)}, defaults.{kind}")
    except SettingsError as exc:
        raise SettingsError(f"{exc}; fix the bench file's defaults: section") from None


def _track_settings() -> Any:
    from . import TrackSettings  # (lazily: the tracking stack is not needed for ODMR)

    return TrackSettings


#: The settings class of each kind whose defaults a bench file may give.
_SETTINGS = {"odmr": lambda: OdmrSettings, "track": _track_settings}


def odmr_settings_for(bench: Any, given: Mapping[str, Any] | None = None,
                      context: str = "settings") -> OdmrSettings:
    """ODMR settings for a run on ``bench``: ``given``, then the bench file's
    ``defaults.odmr``, then :class:`OdmrSettings`' defaults.

    Raises
    ------
    SettingsError
        Naming the bench file when its ``defaults.odmr`` are invalid, else ``context``.
    """
    check_bench_defaults(bench, "odmr")
    return OdmrSettings.parse(merge_defaults("odmr", bench_defaults(bench, "odmr"),
                                             dict(given or {})), context=context)


def track_settings_for(bench: Any, given: Mapping[str, Any] | None = None,
                       context: str = "settings") -> Any:
    """Tracking settings (:class:`~nvsense.measure.TrackSettings`) for a run on ``bench``:
    ``given``, then the bench file's ``defaults.track``, then ``TrackSettings``' defaults.

    Raises
    ------
    SettingsError
        Naming the bench file when its ``defaults.track`` are invalid, else ``context``.
    """
    check_bench_defaults(bench, "track")
    return _track_settings().parse(merge_defaults("track", bench_defaults(bench, "track"),
                                                  dict(given or {})), context=context)
