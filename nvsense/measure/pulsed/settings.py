"""Settings of a pulsed measurement, and the pulse program they describe.

:class:`PulsedSettings` validates the Python API, the command line (``nvsense pulsed ...``)
and campaign files alike: times and frequencies may carry units (``"50 ns"``, ``"2.87 GHz"``),
a sweep is ``"START:STOP:N"``.  :func:`build_program` turns settings into the protocol's
:class:`~nvsense.pulses.PulseProgram` (:mod:`nvsense.pulses.builders`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..settings import (
    FrequencyRange,
    SettingsError,
    format_validation_error,
    parse_range,
    quantity_parser,
)

__all__ = [
    "DEFAULT_TAUS",
    "PROTOCOL_ALIASES",
    "PULSED_PROTOCOLS",
    "PulsedSettings",
    "TauRange",
    "build_program",
    "parse_tau_range",
]

#: Protocols of ``nvsense pulsed``: the command names.
PULSED_PROTOCOLS = ("rabi", "ramsey", "echo", "xy8", "t1", "podmr")
#: Other names accepted for them (the builders' names).
PROTOCOL_ALIASES = {"hahn_echo": "echo", "pulsed_odmr": "podmr"}
#: Default τ sweep of each protocol, (start s, stop s, points): a single NV or small ensemble
#: at room temperature (Rabi ≈ 10 MHz, T2* ≈ 1–2 µs, T2 ≈ 50–100 µs, T1 ≈ 5 ms).
DEFAULT_TAUS: dict[str, tuple[float, float, int]] = {
    "rabi": (0.0, 400e-9, 41),
    "ramsey": (0.0, 4e-6, 81),
    "echo": (1e-6, 150e-6, 31),
    "xy8": (200e-9, 40e-6, 31),
    "t1": (1e-6, 15e-3, 31),
}
#: Most sweep points of one program (a pass is played for every point).
MAX_POINTS = 10_000


class TauRange(BaseModel):
    """A linear sweep of τ from ``start`` to ``stop`` (s, inclusive) in ``points``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float
    stop: float
    points: int = Field(ge=2, le=MAX_POINTS)

    _start = field_validator("start", mode="before")(quantity_parser("s", "start"))
    _stop = field_validator("stop", mode="before")(quantity_parser("s", "stop"))

    @model_validator(mode="after")
    def _ordered(self) -> TauRange:
        if not (np.isfinite(self.start) and np.isfinite(self.stop)):
            raise ValueError("start and stop must be finite times")
        if self.start < 0:
            raise ValueError(f"start ({self.start:g} s) must not be negative")
        if not self.stop > self.start:
            raise ValueError(f"stop ({self.stop:g} s) must be above start ({self.start:g} s)")
        if self.stop > 1.0:
            raise ValueError(f"stop ({self.stop:g} s) is above 1 s; give τ in s or with a "
                             f"unit, e.g. 0:400ns:41")
        return self

    def values(self) -> NDArray[np.float64]:
        """The τ values, s, rounded to whole ns."""
        return np.round(np.linspace(self.start, self.stop, self.points) * 1e9) / 1e9


def parse_tau_range(text: str) -> TauRange:
    """Read ``"START:STOP:N"`` (e.g. ``"0:400ns:41"``) as a τ sweep."""
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) != 3:
        raise SettingsError(f"tau {text!r}: write START:STOP:N, e.g. 0:400ns:41")
    start, stop, points = parts
    try:
        n = int(points)
    except ValueError:
        raise SettingsError(f"tau {text!r}: N must be a whole number, e.g. 0:400ns:41") from None
    try:
        return TauRange(start=start, stop=stop, points=n)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, f"tau {text!r}")) from None


class PulsedSettings(BaseModel):
    """Settings of a pulsed measurement (SI units, RF power in dBm).

    Attributes
    ----------
    protocol
        ``rabi``, ``ramsey``, ``echo`` (Hahn echo), ``xy8``, ``t1`` or ``podmr`` (pulsed ODMR).
    tau
        The τ sweep (see :mod:`nvsense.pulses.builders` for what τ is in each protocol);
        default :data:`DEFAULT_TAUS`.  Not for ``podmr``.
    frequencies
        The microwave sweep of ``podmr`` (required there).
    averages
        Sweeps of τ; they accumulate, and a stop keeps every completed one.
    repetitions
        Shots of every point in one average (passes of the program).
    mw_frequency
        The resonance (Hz) the pulses drive; ``None``: the latest calibration
        (:mod:`.calibration`), else an error.
    detuning
        The microwave is set ``detuning`` above ``mw_frequency`` (Ramsey fringes at Δ).
    mw_power, laser_power
        dBm; W (``None`` keeps the laser's set point).
    pi_pulse, pi_half
        π and π/2 pulse lengths (s); ``None``: the latest Rabi run's (scaled to this power),
        π/2 half the π pulse.
    n_pulses
        π pulses of ``xy8`` (a multiple of 8).
    ac_frequency
        AC magnetometry with ``xy8`` (Hz): τ = 1/(2f) and both quadratures of the phase are
        read (the last π/2 pulse about −x and about −y, each phase-cycled), giving the field
        amplitude ``ac_field_t`` (:func:`nvsense.fitting.pulsed.ac_field_from_quadratures`)
        instead of T2; no τ sweep.
    phase_cycle
        Read the phase-cycled twin (``signal_pc``) for normalisation (Ramsey, echo, XY8).
    references
        Reference readouts (``ref0``, ``ref1``); default ``ref0`` for Rabi and pulsed ODMR.
    randomise, seed
        Play the points in one random order drawn from ``seed`` (default 0), kept in the run
        file's program; the data stay in sweep order.
    retrack_every, retrack_span, retrack_points, retrack_dwell
        Re-track the resonance by a short CW-ODMR sweep (``retrack_points`` over
        ``retrack_span`` around the current frequency, ``retrack_dwell`` per point) before
        every ``retrack_every``-th average; ``None``: never.
    laser_time, readout_time, gate_delay, wait_time
        The optical readout of every shot (:func:`nvsense.pulses.readout_blocks`).
    fit
        Fit the running average as it grows and at the end.
    """

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["rabi", "ramsey", "echo", "xy8", "t1", "podmr"]
    tau: TauRange | None = None
    frequencies: FrequencyRange | None = None
    averages: int = Field(default=10, ge=1, le=1_000_000)
    repetitions: int = Field(default=2000, ge=1, le=100_000_000)
    mw_frequency: float | None = None
    detuning: float = 0.0
    mw_power: float = -10.0
    laser_power: float | None = None
    pi_pulse: float | None = None
    pi_half: float | None = None
    n_pulses: int = Field(default=8, ge=8, le=100_000)
    ac_frequency: float | None = None
    phase_cycle: bool = True
    references: tuple[str, ...] | None = None
    randomise: bool = False
    seed: int | None = Field(default=None, ge=0)
    retrack_every: int | None = Field(default=None, ge=1)
    retrack_span: float = 6e6
    retrack_points: int = Field(default=31, ge=5, le=2001)
    retrack_dwell: float = 2e-3
    laser_time: float = 3e-6
    readout_time: float = 300e-9
    gate_delay: float = 0.0
    wait_time: float = 1e-6
    fit: bool = True

    _mw_frequency = field_validator("mw_frequency", mode="before")(
        quantity_parser("Hz", "mw_frequency"))
    _detuning = field_validator("detuning", mode="before")(quantity_parser("Hz", "detuning"))
    _ac = field_validator("ac_frequency", mode="before")(quantity_parser("Hz", "ac_frequency"))
    _mw_power = field_validator("mw_power", mode="before")(quantity_parser("dBm", "mw_power"))
    _laser = field_validator("laser_power", mode="before")(quantity_parser("W", "laser_power"))
    _pi = field_validator("pi_pulse", mode="before")(quantity_parser("s", "pi_pulse"))
    _pi_half = field_validator("pi_half", mode="before")(quantity_parser("s", "pi_half"))
    _span = field_validator("retrack_span", mode="before")(quantity_parser("Hz", "retrack_span"))
    _rdwell = field_validator("retrack_dwell", mode="before")(quantity_parser("s", "retrack_dwell"))
    _times = field_validator("laser_time", "readout_time", "gate_delay", "wait_time",
                             mode="before")(quantity_parser("s", "readout timing"))

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: Any) -> Any:
        text = str(value).strip().lower()
        text = PROTOCOL_ALIASES.get(text, text)
        if text not in PULSED_PROTOCOLS:
            raise ValueError(f"unknown protocol {value!r}; use one of "
                             f"{', '.join(PULSED_PROTOCOLS)}")
        return text

    @field_validator("tau", mode="before")
    @classmethod
    def _tau(cls, value: Any) -> Any:
        return parse_tau_range(value) if isinstance(value, str) else value

    @field_validator("frequencies", mode="before")
    @classmethod
    def _frequencies(cls, value: Any) -> Any:
        return parse_range(value) if isinstance(value, str) else value

    @field_validator("references", mode="before")
    @classmethod
    def _references(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        refs = tuple(str(v) for v in value)
        bad = [r for r in refs if r not in ("ref0", "ref1")]
        if bad:
            raise ValueError(f"unknown reference {bad[0]!r}; use ref0 and/or ref1")
        return refs

    @model_validator(mode="after")
    def _checks(self) -> PulsedSettings:
        finite = {"detuning": self.detuning, "mw_power": self.mw_power}
        for name, v in finite.items():
            if not np.isfinite(v):
                raise ValueError(f"{name} must be finite")
        for name in ("mw_frequency", "pi_pulse", "pi_half", "laser_power"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive, not {v:g}")
        for name in ("pi_pulse", "pi_half"):
            v = getattr(self, name)
            if v is not None and v > 1e-3:
                raise ValueError(f"{name} = {v:g} s is longer than 1 ms; give it in s or with "
                                 f"a unit, e.g. 50ns")
        for name in ("laser_time", "readout_time", "gate_delay", "wait_time"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 <= v <= 1e-2):
                raise ValueError(f"{name} must be between 0 and 10 ms, not {v:g} s")
        if not (np.isfinite(self.retrack_span) and self.retrack_span > 0):
            raise ValueError("retrack_span must be a positive frequency span")
        if not (np.isfinite(self.retrack_dwell) and 0 < self.retrack_dwell <= 1):
            raise ValueError("retrack_dwell must be above 0 and at most 1 s")
        if self.n_pulses % 8:
            raise ValueError(f"n_pulses of XY8 must be a multiple of 8, not {self.n_pulses}")
        if self.ac_frequency is not None:
            if self.protocol != "xy8":
                raise ValueError("ac_frequency is for xy8 (AC magnetometry)")
            if not (np.isfinite(self.ac_frequency) and 1e2 <= self.ac_frequency <= 1e8):
                raise ValueError(f"ac_frequency must be between 100 Hz and 100 MHz, not "
                                 f"{self.ac_frequency:g} Hz")
            if self.tau is not None:
                raise ValueError("ac_frequency sets τ = 1/(2f): give no tau")
            spacing = round(0.5e9 / self.ac_frequency) / 1e9
            self.tau = TauRange.model_construct(start=spacing, stop=spacing, points=1)
        if self.protocol == "podmr":
            if self.retrack_every is not None:
                raise ValueError("podmr measures the resonance itself: re-tracking "
                                 "(retrack_every) is for the other protocols")
            if self.tau is not None:
                raise ValueError("podmr sweeps the microwave frequency: give frequencies "
                                 "(--frequencies START:STOP:N), not tau")
            if self.frequencies is None:
                raise ValueError("podmr needs frequencies (--frequencies START:STOP:N, e.g. "
                                 "2.86GHz:2.88GHz:41)")
            if self.frequencies.points > MAX_POINTS:
                raise ValueError(f"frequencies: at most {MAX_POINTS} points, not "
                                 f"{self.frequencies.points}")
        elif self.frequencies is not None:
            raise ValueError(f"{self.protocol} sweeps τ (--tau); frequencies are for podmr")
        elif self.tau is None:
            start, stop, n = DEFAULT_TAUS[self.protocol]
            self.tau = TauRange(start=start, stop=stop, points=n)
        return self

    @classmethod
    def parse(cls, values: dict[str, Any], context: str = "settings") -> PulsedSettings:
        """Validate ``values``; raise :class:`SettingsError` with one readable message."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(format_validation_error(exc, context)) from None

    @property
    def needs_pi_pulse(self) -> bool:
        """Whether the protocol needs the π pulse (all but Rabi and T1 without references)."""
        if self.protocol == "rabi":
            return "ref1" in (self.references or ())
        return self.protocol != "t1"

    @property
    def ac_mode(self) -> bool:
        """AC magnetometry (XY8 at τ = 1/(2f), both quadratures)."""
        return self.ac_frequency is not None

    def sweep_values(self) -> NDArray[np.float64]:
        """τ (s) or, for ``podmr``, the microwave frequencies (Hz)."""
        if self.protocol == "podmr":
            assert self.frequencies is not None
            return self.frequencies.frequencies()
        assert self.tau is not None
        return self.tau.values()

    def as_record(self) -> dict[str, Any]:
        """Plain, JSON-ready parameters for run files and the catalogue."""
        record = self.model_dump()
        record["tau"] = None if self.tau is None else [self.tau.start, self.tau.stop,
                                                      self.tau.points]
        record["frequencies"] = (None if self.frequencies is None else
                                 [self.frequencies.start, self.frequencies.stop,
                                  self.frequencies.points])
        record["references"] = None if self.references is None else list(self.references)
        return record


def _pi_half(settings: PulsedSettings) -> float:
    if settings.pi_half is not None:
        return settings.pi_half
    assert settings.pi_pulse is not None
    return max(round(settings.pi_pulse * 1e9 / 2), 1) * 1e-9


def build_program(settings: PulsedSettings) -> Any:
    """The protocol's pulse program (:class:`~nvsense.pulses.PulseProgram`), points in order.

    ``settings`` must hold the π pulse when the protocol needs it (see
    :func:`nvsense.measure.pulsed.resolve_settings`).

    Raises
    ------
    SettingsError
        The program cannot be built (a π pulse missing, τ shorter than the π pulse of XY8,
        a readout window longer than the laser pulse), naming the setting.
    """
    from ...pulses import PulseProgramError, builders

    s = settings
    ro = {"laser_time": s.laser_time, "readout_time": s.readout_time,
          "gate_delay": s.gate_delay, "wait_time": s.wait_time}
    values = s.sweep_values()
    if s.needs_pi_pulse and s.pi_pulse is None:
        raise SettingsError(f"{s.protocol} needs the π pulse: give pi_pulse (--pi-pulse, e.g. "
                            f"60ns) or run a Rabi measurement first (nvsense pulsed rabi), "
                            f"whose π pulse is then used")
    try:
        if s.protocol == "rabi":
            return builders.rabi(values, pi_pulse=s.pi_pulse,
                                 references=s.references or ("ref0",), **ro)
        if s.protocol == "podmr":
            return builders.pulsed_odmr(values, s.pi_pulse,
                                        references=s.references or ("ref0",), **ro)
        if s.protocol == "ramsey":
            return builders.ramsey(values, _pi_half(s), phase_cycle=s.phase_cycle,
                                   pi_pulse=s.pi_pulse, references=s.references or (), **ro)
        if s.protocol == "echo":
            return builders.hahn_echo(values, _pi_half(s), s.pi_pulse,
                                      phase_cycle=s.phase_cycle,
                                      references=s.references or (), **ro)
        if s.protocol == "xy8":
            if s.ac_mode:
                return _xy8_quadratures(s, values, ro)
            return builders.xy8(values, _pi_half(s), s.pi_pulse, s.n_pulses // 8,
                                phase_cycle=s.phase_cycle, references=s.references or (),
                                **ro)
        return builders.t1(values, pi_pulse=s.pi_pulse if s.phase_cycle else None, **ro)
    except PulseProgramError as exc:
        raise SettingsError(f"{s.protocol}: {exc}") from None


#: Readout labels of the second quadrature of AC magnetometry (last π/2 pulse about −y).
QUADRATURE_LABELS = {"signal": "signal_q", "signal_pc": "signal_q_pc"}


def _xy8_quadratures(s: PulsedSettings, values: Any, ro: dict[str, Any]) -> Any:
    """XY8-N at one τ read in both quadratures: the builder's shot with its last π/2 pulse
    about −x (``signal``, ``signal_pc``: K cos φ), then the same about −y (``signal_q``,
    ``signal_q_pc``: K sin φ)."""
    from ...pulses import PulseProgram, builders

    x = builders.xy8(values, _pi_half(s), s.pi_pulse, s.n_pulses // 8, phase_cycle=True,
                     final_phase=180.0, **ro)
    y = builders.xy8(values, _pi_half(s), s.pi_pulse, s.n_pulses // 8, phase_cycle=True,
                     final_phase=270.0, **ro)
    sequence = [*x.sequence, *_relabelled(y.sequence)]
    parameters = {**x.parameters, "final_phase": [180.0, 270.0],
                  "ac_frequency": s.ac_frequency}
    return PulseProgram(sequence, sweep=x.sweep, name="xy8_ac", protocol="xy8",
                        parameters=parameters)


def _relabelled(elements: Any) -> list[Any]:
    from ...pulses import Block, Repeat

    out: list[Any] = []
    for el in elements:
        if isinstance(el, Repeat):
            out.append(Repeat(f"q_{el.name}", el.count, tuple(_relabelled(el.body))))
        else:
            label = QUADRATURE_LABELS.get(el.readout, el.readout) if el.readout else None
            out.append(Block(f"q_{el.name}", el.duration, el.on, el.phase, label))
    return out
