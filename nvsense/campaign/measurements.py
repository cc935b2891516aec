"""The measurements a campaign can step: their settings, their check, and how to run them.

A campaign point is one run of one measurement (``odmr`` or ``track``) with its settings.  This
module is the one place that knows each measurement's settings model and units, so the rest of
the campaign code treats them alike.  A point is checked against the bench by the measurement
kind's own :meth:`~nvsense.measure.lifecycle.Measurement.check`, the one the CLI, the GUI and
the run itself use.
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
    checker
        ``checker(bench, settings)``: the measurement kind's own check
        (:meth:`nvsense.measure.lifecycle.Measurement.check`, as ``check_odmr``,
        ``check_track``, ``check_pulsed``), imported when first called.
    units
        Unit of each quantity setting (``"1"`` for a plain number): ranges (``{start, stop,
        steps}``) are read in it and values are shown in it.
    frequency_setting
        The setting that sets the microwave frequencies (what a frequency limit names).
    integers
        Settings that take whole numbers (a range of them gives whole numbers).
    """

    name: str
    module: str
    settings_name: str
    run_name: str
    checker: Callable[[Any, Any], None]
    frequency_setting: str
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

    def check(self, settings: Any, bench: Any) -> None:
        """Check ``settings`` against the bench with the measurement kind's own check
        (every limit the run will meet; sends nothing).

        Raises
        ------
        LimitError, SettingsError
        """
        self.checker(bench, settings)

    def setting_of(self, quantity: str | None) -> str | None:
        """The setting a :class:`~nvsense.instruments.LimitError`'s ``quantity`` is about
        (``None`` for a derived quantity, such as a counter's bin time)."""
        if quantity == "frequency":
            return self.frequency_setting
        if quantity == COIL_CURRENT or quantity in self.settings_model.model_fields:
            return quantity
        return None


def _check_odmr(bench: Any, settings: Any) -> None:
    from ..measure.odmr import check_odmr

    check_odmr(bench, settings)


def _check_track(bench: Any, settings: Any) -> None:
    from ..measure.tracking import check_track

    check_track(bench, settings)


def _check_pulsed(bench: Any, settings: Any) -> None:
    """The pulsed kind's check; a point that leaves its microwave frequency or π pulse to the
    bench's latest calibration (resolved when it runs, from the data folder) has its powers
    checked here and the rest by the run itself, once resolved."""
    from ..measure.pulsed import check_pulsed
    from ..measure.settings import SettingsError

    resolved_later = ((settings.mw_frequency is None and settings.protocol != "podmr")
                      or (settings.needs_pi_pulse and settings.pi_pulse is None))
    try:
        check_pulsed(bench, settings)
    except SettingsError:
        if not resolved_later:
            raise
        bench.check_settings(mw_power=settings.mw_power, laser_power=settings.laser_power)


ODMR = Measurement(
    name="odmr",
    module="nvsense.measure.odmr",
    settings_name="OdmrSettings",
    run_name="run_odmr",
    checker=_check_odmr,
    frequency_setting="ranges",
    units={"duration": "s", "dwell": "s", "mw_power": "dBm", "laser_power": "W"},
    integers=frozenset({"sweeps", "n_lines"}),
)

TRACK = Measurement(
    name="track",
    module="nvsense.measure.tracking",
    settings_name="TrackSettings",
    run_name="run_track",
    checker=_check_track,
    frequency_setting="sweep",
    units={"duration": "s", "rate": "Hz", "mw_power": "dBm", "laser_power": "W",
           "capture_range": "Hz", "sweep_dwell": "s", "calibration_time": "s", "ki": "1",
           "kp": "1"},
    integers=frozenset({"dither_periods", "reacquire_attempts", "sweeps", "n_lines"}),
)

PULSED = Measurement(
    name="pulsed",
    module="nvsense.measure.pulsed",
    settings_name="PulsedSettings",
    run_name="run_pulsed",
    checker=_check_pulsed,
    frequency_setting="mw_frequency",
    units={"mw_frequency": "Hz", "detuning": "Hz", "mw_power": "dBm", "laser_power": "W",
           "pi_pulse": "s", "pi_half": "s", "retrack_span": "Hz", "retrack_dwell": "s",
           "laser_time": "s", "readout_time": "s", "gate_delay": "s", "wait_time": "s"},
    integers=frozenset({"averages", "repetitions", "n_pulses", "seed", "retrack_every",
                        "retrack_points"}),
)

#: Measurements by name.
MEASUREMENTS: dict[str, Measurement] = {m.name: m for m in (ODMR, TRACK, PULSED)}


def get_measurement(name: str) -> Measurement:
    """The measurement called ``name``.

    Raises
    ------
    ValueError
        Unknown name.
    """
    try:
        return MEASUREMENTS[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown measurement {name!r}; use one of "
                         f"{', '.join(MEASUREMENTS)}") from None
