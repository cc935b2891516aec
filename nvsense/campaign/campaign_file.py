"""Campaign files: read, validate every point against the bench, before anything runs.

A campaign file (YAML)::

    name: power-scan                  # name in the catalogue (default: the file's name)
    bench: simulated                  # bench file (relative to this file) or built-in bench
    measurement: odmr                 # odmr or track
    settings:                         # the same for every point
      ranges: "2.80GHz:2.94GHz:281"
      sweeps: 3
    steps:                            # what changes from point to point
      coil_current: ["0 A", "0.5 A"]
      mw_power: {start: "-20 dBm", stop: "-10 dBm", steps: 3}
    combine: grid                     # grid: every combination (first step = outer loop); zip
    on_error: continue                # continue or stop at a failed point

:func:`load_campaign` builds every point's settings and checks each against the bench's
limits; any problem raises one :class:`~nvsense.campaign.errors.CampaignError` naming the file,
the line and the fix for each problem found.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..instruments import Bench, BenchConfigError, load_bench
from ..measure.bench_defaults import check_bench_defaults, defaults_for
from ..measure.settings import SettingsError
from .errors import CampaignError
from .measurements import COIL_CURRENT, MEASUREMENTS, Measurement, get_measurement
from .points import (
    CampaignPoint,
    PointInvalid,
    Problem,
    build_point,
    check_limits,
    format_value,
    unknown_parameter_message,
)
from .steps import COMBINE_MODES, StepError, combine, step_values
from .yaml_source import YamlDocument, read_yaml

__all__ = ["ON_ERROR", "TOP_LEVEL_KEYS", "Campaign", "check_name", "load_campaign"]

#: Keys of a campaign file.
TOP_LEVEL_KEYS = ("name", "description", "bench", "measurement", "settings", "steps",
                  "combine", "on_error")

#: What a campaign does when a point fails.
ON_ERROR = ("continue", "stop")

#: Campaign names: they name a file of the data folder (the campaign journal).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

#: Most problems listed in one error message.
_MAX_LISTED = 12


@dataclass
class Campaign:
    """A validated campaign: every point's settings passed the measurement's validation and
    the bench's limits.

    Attributes
    ----------
    name
        The campaign's name in the catalogue (``Catalog.runs(campaign=name)``).
    measurement
        What each point measures.
    bench
        The bench (built, not connected).
    points
        The points in the order they run.
    on_error
        ``"continue"`` (record the failed point, go on) or ``"stop"``.
    steps
        The values of each stepped parameter, as the file gives them (ranges expanded).
    fixed
        The settings common to every point.
    """

    name: str
    measurement: Measurement
    bench: Bench
    points: list[CampaignPoint]
    on_error: str = "continue"
    combine: str = "grid"
    steps: dict[str, list[Any]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.points)

    @property
    def stepped(self) -> list[str]:
        """Names of the stepped parameters, in file order."""
        return list(self.steps)


def check_name(name: Any, where: str = "name") -> str:
    """A campaign name: letters, digits, ``.``, ``_``, ``-`` (it names a file)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CampaignError(f"{where}: campaign name {name!r} is not valid; use letters, "
                            "digits, '.', '_' and '-' (up to 100), e.g. name: coil-scan")
    return name


def load_campaign(source: str | Path | Mapping[str, Any], *,
                  bench: str | Path | Mapping[str, Any] | Bench | None = None,
                  name: str | None = None) -> Campaign:
    """Read a campaign file (or mapping) and validate every point before anything runs.

    Parameters
    ----------
    source
        A campaign file (YAML) or a mapping with its content.
    bench
        Use this bench instead of the file's ``bench:`` (a bench file, a built-in bench name,
        a mapping or a :class:`~nvsense.instruments.Bench`).
    name
        Use this campaign name instead of the file's ``name:``.

    Raises
    ------
    CampaignError
        The file is not valid: names the line, the key and the fix of every problem found,
        including settings outside the bench's limits.
    """
    if isinstance(source, Mapping):
        doc = YamlDocument(data=dict(source), root=None, label="campaign")
    else:
        doc = read_yaml(source)
    return _Loader(doc, bench_override=bench, name_override=name).load()


class _Loader:
    def __init__(self, doc: YamlDocument, *, bench_override: Any, name_override: str | None
                 ) -> None:
        self.doc = doc
        self.bench_override = bench_override
        self.name_override = name_override
        self.measurement: Measurement | None = None

    def fail(self, keys: tuple[str | int, ...], message: str) -> CampaignError:
        return CampaignError(f"{self.doc.where(*keys)}: {message}")

    def load(self) -> Campaign:
        data = self.doc.data
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.fail((), "a campaign file is a mapping (name:, bench:, measurement:, "
                            f"settings:, steps:), not a {type(data).__name__}")
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail((key,), f"{key}: unknown key; {hint}keys of a campaign file: "
                                f"{', '.join(TOP_LEVEL_KEYS)}")
        name = self._name(data)
        measurement = self.measurement = self._measurement(data)
        fixed = self._mapping(data, "settings")
        on_error = self._choice(data, "on_error", ON_ERROR, "continue")
        mode = self._choice(data, "combine", COMBINE_MODES, "grid")
        for key in fixed:
            if key != COIL_CURRENT and key not in measurement.setting_names():
                raise self.fail(("settings", key),
                                f"settings.{key}: {unknown_parameter_message(key, measurement)}")
        steps = self._steps(data, measurement)
        try:
            combos = combine({k: len(v) for k, v in steps.items()}, mode)
        except StepError as exc:
            raise self.fail(("combine",) if "combine" in data else ("steps",), str(exc)) from None
        bench = self._bench(data)
        try:
            check_bench_defaults(bench, measurement.name)
        except SettingsError as exc:
            raise self.fail(("bench",) if "bench" in data else (), f"bench: {exc}") from None
        # what neither settings: nor steps: give comes from the bench file's defaults:
        fixed_here = {**defaults_for(bench, measurement.name, set(fixed) | set(steps)), **fixed}
        points, problems = [], []
        for index, combo in enumerate(combos):
            values = {k: steps[k][i] for k, i in combo.items()}
            try:
                point = build_point(measurement, index, fixed_here, values)
            except PointInvalid as exc:
                problems += [self._locate(p, combo, steps, fixed) for p in exc.problems]
                continue
            problems += [self._locate(p, combo, steps, fixed) for p in check_limits(bench, point)]
            points.append(point)
        if problems:
            raise CampaignError(self._report(problems))
        description = data.get("description") or ""
        return Campaign(name=name, measurement=measurement, bench=bench, points=points,
                        on_error=on_error, combine=mode, steps=steps, fixed=dict(fixed),
                        description=str(description), source=self.doc.path)

    # -- top-level keys ---------------------------------------------------------------------

    def _name(self, data: Mapping[str, Any]) -> str:
        if self.name_override is not None:
            return check_name(self.name_override, "--name")
        if "name" in data:
            try:
                return check_name(data["name"], "name")
            except CampaignError as exc:
                raise self.fail(("name",), str(exc)) from None
        if self.doc.path is None:
            raise self.fail((), "name: missing; give the campaign a name, e.g. name: coil-scan")
        stem = self.doc.path.stem
        try:
            return check_name(stem, "name")
        except CampaignError:
            raise self.fail((), f"the file name {stem!r} cannot be the campaign's name; add "
                            "name: (letters, digits, '.', '_', '-')") from None

    def _measurement(self, data: Mapping[str, Any]) -> Measurement:
        if "measurement" not in data:
            raise self.fail((), f"measurement: missing; add measurement: "
                            f"{' or measurement: '.join(MEASUREMENTS)}")
        try:
            return get_measurement(data["measurement"])
        except ValueError as exc:
            raise self.fail(("measurement",), f"measurement: {exc}") from None

    def _mapping(self, data: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail((key,), f"{key}: expected a mapping of names to values (indented "
                            f"'name: value' lines under {key}:), not {value!r}")
        return dict(value)

    def _choice(self, data: Mapping[str, Any], key: str, allowed: tuple[str, ...],
                default: str) -> str:
        value = data.get(key, default)
        text = str(value).strip().lower()
        if text not in allowed:
            raise self.fail((key,), f"{key}: {value!r} is not allowed; use "
                            f"{' or '.join(allowed)}")
        return text

    def _steps(self, data: Mapping[str, Any], measurement: Measurement) -> dict[str, list[Any]]:
        steps: dict[str, list[Any]] = {}
        fixed = data.get("settings") or {}
        for name, spec in self._mapping(data, "steps").items():
            name = str(name)
            if name != COIL_CURRENT and name not in measurement.setting_names():
                raise self.fail(("steps", name),
                                f"steps.{name}: {unknown_parameter_message(name, measurement)}")
            if name in fixed:
                raise self.fail(("steps", name), f"steps.{name}: {name} is also under "
                                f"settings: (line {self.doc.line('settings', name)}); give it "
                                "in one place")
            try:
                steps[name] = step_values(name, spec, measurement.unit_of(name),
                                          integer=measurement.is_integer(name))
            except StepError as exc:
                keys: tuple[str | int, ...] = ("steps", name)
                if exc.key is not None:
                    keys += (exc.key,)
                raise self.fail(keys, str(exc)) from None
        return steps

    def _bench(self, data: Mapping[str, Any]) -> Bench:
        if isinstance(self.bench_override, Bench):
            return self.bench_override
        spec = self.bench_override
        keys: tuple[str, ...] = ()
        if spec is None:
            if "bench" not in data:
                raise self.fail((), "bench: missing; name the bench this campaign runs on: a "
                                "bench file (bench: lab-bench.yaml, relative to the campaign "
                                "file) or a built-in bench (bench: simulated)")
            spec, keys = data["bench"], ("bench",)
            if isinstance(spec, str) and self.doc.path is not None:
                beside = self.doc.path.parent / spec
                if beside.is_file():
                    spec = beside
        if not isinstance(spec, str | Path | Mapping):
            raise self.fail(keys, f"bench: give a bench file or a built-in bench name, not "
                            f"{spec!r}")
        try:
            return load_bench(spec)
        except BenchConfigError as exc:
            raise self.fail(keys, f"bench: {exc}") from None

    # -- problems of points -----------------------------------------------------------------

    def _locate(self, problem: Problem, combo: Mapping[str, int],
                steps: Mapping[str, list[Any]], fixed: Mapping[str, Any]) -> tuple[int, str]:
        """(line or 0, message) of a point's problem, pointing at the value in the file."""
        name = problem.parameter
        raw_steps = (self.doc.data or {}).get("steps") or {}
        detail = problem.text()
        if name is not None and name in combo and problem.about_parameter:
            return self.doc.line("steps", name) or 0, f"steps.{detail}"
        if name is not None and name in combo:
            i = combo[name]
            value = steps[name][i]
            if isinstance(raw_steps.get(name), list):
                keys: tuple[str | int, ...] = ("steps", name, i)
                label = f"steps.{name}[{i}] = {value!r}"
            else:
                keys = ("steps", name)
                unit = self.measurement.unit_of(name) if self.measurement else None
                label = f"steps.{name} (range value {format_value(value, unit)})"
            inner = problem.message if problem.path is None else detail
            return self.doc.line(*keys) or 0, f"{label}: {inner}"
        if name is not None and name in fixed:
            parts = (problem.path or name).split(".")
            keys = ("settings", *(int(k) if k.isdigit() else k for k in parts))
            return self.doc.line(*keys) or 0, f"settings.{detail}"
        keys = ("settings",) if "settings" in (self.doc.data or {}) else ("measurement",)
        return self.doc.line(*keys) or 0, f"settings: {detail}"

    def _report(self, problems: list[tuple[int, str]]) -> str:
        unique = sorted(set(problems))
        label = self.doc.label
        if len(unique) == 1:
            line, text = unique[0]
            return f"{label}{f', line {line}' if line else ''}: {text}"
        lines = [f"line {line}: {text}" if line else text for line, text in unique[:_MAX_LISTED]]
        if len(unique) > _MAX_LISTED:
            lines.append(f"... and {len(unique) - _MAX_LISTED} more")
        return f"{label}: {len(unique)} problems:\n  " + "\n  ".join(lines)
