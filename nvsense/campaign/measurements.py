"""The measurements a campaign can step: their settings, limits to check, and how to run them.

A campaign point is one run of one measurement (``odmr`` or ``track``) with its settings.  This
module is the one place that knows each measurement's settings model and units, so the rest of
the campaign code treats them alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COIL_CURRENT", "MEASUREMENTS", "Measurement", "get_measurement"]

#: The campaign parameter that sets the bias-coil current (not a setting of a measurement).
COIL_CURRENT = "coil_current"


@dataclass(frozen=True)
class Measurement:
    """How a campaign runs one kind of measurement.

    Attributes
    ----------
    name
        ``"odmr"`` or ``"track"`` (the run kind in the catalogue).
    module, settings_name, run_name
        Where the settings model and the run function live (imported when first used, so
        that a campaign of ODMR runs does not need the tracking code).
    units
        Unit of each quantity setting (``"1"`` for a plain number): ranges (``{start, stop,
        steps}``) are read in it and values are shown in it.
    frequency_setting, frequencies
        The setting that sets the microwave frequencies, and the frequencies a run plans to
        use (``frequencies(settings, bench)``), for the limit checks.
    integers
        Settings that take whole numbers (a range of them gives whole numbers).
    """

    name: str
    module: str
    settings_name: str
    run_name: str
    frequency_setting: str
    frequencies: Callable[[Any, Any], Any]
    units: Mapping[str, str] = field(default_factory=dict)
    integers: frozenset[str] = frozenset()

    @property
    def settings_model(self) -> Any:
        """The pydantic settings class (``OdmrSettings``, ``TrackSettings``)."""
        return getattr(importlib.import_module(self.module), self.settings_name)

    @property
    def run(self) -> Callable[..., Any]:
        """``run_odmr`` / ``run_track``."""
        return getattr(importlib.import_module(self.module), self.run_name)

    def setting_names(self) -> list[str]:
        """Names of the measurement's settings, in the model's order."""
        return list(self.settings_model.model_fields)

    def unit_of(self, name: str) -> str | None:
        """Unit of a setting or of ``coil_current``; ``None`` if it is not a quantity."""
        if name == COIL_CURRENT:
            return "A"
        if name in self.integers:
            return "1"
        return self.units.get(name)

    def is_integer(self, name: str) -> bool:
        """Whether a setting takes whole numbers."""
        return name in self.integers

    def record(self, settings: Any) -> dict[str, Any]:
        """The settings as plain JSON-ready values (what the run file records)."""
        if hasattr(settings, "as_record"):
            return dict(settings.as_record())
        return dict(settings.model_dump(mode="json"))

    def limit_checks(self, settings: Any, bench: Any) -> list[tuple[str, dict[str, Any]]]:
        """What ``bench.check_settings`` must accept for these settings, one check per
        setting so that an error can name the setting (and its line)."""
        checks = [(self.frequency_setting, {"frequencies": self.frequencies(settings, bench)})]
        for name in ("mw_power", "laser_power"):
            value = getattr(settings, name, None)
            if value is not None:
                checks.append((name, {name: value}))
        return checks


def _odmr_frequencies(settings: Any, bench: Any) -> Any:
    return settings.frequencies()


def _track_frequencies(settings: Any, bench: Any) -> Any:
    # the initial sweep, clipped to the bench's frequency limits as run_track does
    limits = getattr(getattr(bench, "limits", None), "frequency", None)
    return settings.sweep_range(limits).frequencies()


ODMR = Measurement(
    name="odmr",
    module="nvsense.measure.odmr",
    settings_name="OdmrSettings",
    run_name="run_odmr",
    frequency_setting="ranges",
    frequencies=_odmr_frequencies,
    units={"duration": "s", "dwell": "s", "mw_power": "dBm", "laser_power": "W"},
    integers=frozenset({"sweeps", "n_lines"}),
)

TRACK = Measurement(
    name="track",
    module="nvsense.measure.tracking",
    settings_name="TrackSettings",
    run_name="run_track",
    frequency_setting="sweep",
    frequencies=_track_frequencies,
    units={"duration": "s", "rate": "Hz", "mw_power": "dBm", "laser_power": "W",
           "capture_range": "Hz", "sweep_dwell": "s", "calibration_time": "s", "ki": "1",
           "kp": "1"},
    integers=frozenset({"dither_periods", "reacquire_attempts", "sweeps", "n_lines"}),
)

#: Measurements by name.
MEASUREMENTS: dict[str, Measurement] = {m.name: m for m in (ODMR, TRACK)}



def _pulsed_frequencies(settings: Any, bench: Any) -> Any:
    # pulsed ODMR sweeps; the others use the resonance (+ detuning), when the campaign gives
    # it (else the bench's latest calibration, checked by the run itself)
    if settings.protocol == "podmr":
        return settings.sweep_values()
    if settings.mw_frequency is None:
        return None
    return [settings.mw_frequency + settings.detuning]


PULSED = Measurement(
    name="pulsed",
    module="nvsense.measure.pulsed",
    settings_name="PulsedSettings",
    run_name="run_pulsed",
    frequency_setting="mw_frequency",
    frequencies=_pulsed_frequencies,
    units={"mw_frequency": "Hz", "detuning": "Hz", "mw_power": "dBm", "laser_power": "W",
           "pi_pulse": "s", "pi_half": "s", "retrack_span": "Hz", "retrack_dwell": "s",
           "laser_time": "s", "readout_time": "s", "gate_delay": "s", "wait_time": "s"},
    integers=frozenset({"averages", "repetitions", "n_pulses", "seed", "retrack_every",
                        "retrack_points"}),
)
MEASUREMENTS[PULSED.name] = PULSED

def get_measurement(name: str) -> Measurement:
    """The measurement called ``name``.

    Raises
    ------
    ValueError
        Unknown name, or the measurement's code is not available.
    """
    try:
        measurement = MEASUREMENTS[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown measurement {name!r}; use one of "
                         f"{', '.join(MEASUREMENTS)}") from None
    try:
        measurement.settings_model  # noqa: B018 - imports the module
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"measurement {measurement.name!r} is not available in this "
                         f"installation ({exc})") from None
    return measurement
