"""The fit of each pulsed protocol's normalised signal, and its results under the JSON keys.

:func:`fit_signal` picks the fit of :mod:`nvsense.fitting.pulsed` for the protocol and
returns a :class:`ProtocolFit`: the values and 1σ errors under the keys of ``nvsense pulsed
--json`` (``rabi_frequency_hz``, ``pi_pulse_s``, ``t2star_s``, ``t2_s``, ``t1_s``,
``detuning_hz``, each with ``_error``), whether it can be trusted, and the best-fit curve.
A fit that raises, or does not succeed, never costs data: the run keeps its counts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["AC_KEYS", "RESULT_KEYS", "ProtocolFit", "fit_quadratures", "fit_signal",
           "result_keys"]

log = logging.getLogger(__name__)

#: The result keys each protocol reports (each also with ``_error``).
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "rabi": ("rabi_frequency_hz", "pi_pulse_s"),
    "ramsey": ("t2star_s", "detuning_hz"),
    "echo": ("t2_s",),
    "xy8": ("t2_s",),
    "t1": ("t1_s",),
    "podmr": ("mw_frequency_hz",),
}

#: The result of AC magnetometry (XY8 with ``ac_frequency``).
AC_KEYS = ("ac_field_t",)


def result_keys(settings: Any) -> tuple[str, ...]:
    """The result keys of a run with these :class:`~.settings.PulsedSettings`."""
    if getattr(settings, "ac_frequency", None) is not None:
        return AC_KEYS
    return RESULT_KEYS[settings.protocol]


#: Units of the results (catalogue and run file).
RESULT_UNITS = {"rabi_frequency_hz": "Hz", "pi_pulse_s": "s", "pi_half_pulse_s": "s",
                "t2star_s": "s", "t2_s": "s", "t1_s": "s", "detuning_hz": "Hz",
                "mw_frequency_hz": "Hz", "ac_field_t": "T"}


@dataclass
class ProtocolFit:
    """A protocol's fit of the normalised signal.

    Attributes
    ----------
    values
        Results under their JSON keys (and ``<key>_error``); every key the fit gives.
    success, message
        Whether the fit can be trusted, and why not.
    curve
        The best fit at the sweep points (NaN where unknown).
    report
        Readable lines (for logs and the run file).
    """

    protocol: str
    values: dict[str, float] = field(default_factory=dict)
    success: bool = False
    message: str = ""
    curve: NDArray[np.float64] | None = None
    report: str = ""
    model: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = field(
        default=None, repr=False, compare=False)
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys = RESULT_KEYS[self.protocol]

    def evaluate(self, x: Any) -> NDArray[np.float64] | None:
        """The fitted model at sweep values ``x`` (τ or Hz), or ``None`` if unknown."""
        if self.model is None:
            return None
        return np.asarray(self.model(np.asarray(x, dtype=float)), dtype=float)

    def results(self) -> dict[str, Any]:
        """The protocol's key results (:data:`RESULT_KEYS`) with errors, and the fit status;
        values of an untrusted fit are kept (the status says it), never presented as a
        measurement by the front ends."""
        out: dict[str, Any] = {"fit_success": self.success, "fit_message": self.message}
        for key in self.keys:
            for k in (key, f"{key}_error"):
                value = self.values.get(k, math.nan)
                out[k] = float(value)
        if "pi_half_pulse_s" in self.values:
            out["pi_half_pulse_s"] = float(self.values["pi_half_pulse_s"])
            out["pi_half_pulse_s_error"] = float(self.values.get("pi_half_pulse_s_error",
                                                                 math.nan))
        return out


def fit_signal(protocol: str, x: NDArray[np.float64], signal: NDArray[np.float64],
               error: NDArray[np.float64] | None, *, method: str, n_pulses: int = 8,
               nucleus: str | None = None) -> ProtocolFit | None:
    """Fit the normalised ``signal`` of ``protocol`` at sweep values ``x``.

    Parameters
    ----------
    method
        The normalisation (:func:`nvsense.pulses.signals.normalisation_method`):
        ``phase_cycled`` signals decay to 0, so their offset is fixed there.
    nucleus
        The sample's nucleus (Ramsey beats); ``None`` or ``"none"``: one line.

    Returns
    -------
    ProtocolFit or None
        ``None`` if the fit raised (logged).
    """
    from ...fitting import pulsed as fits

    ok = np.isfinite(signal)
    if error is not None:
        ok &= np.isfinite(error) & (error > 0)
    if ok.sum() < 5:
        return None
    xs, ys = x[ok], signal[ok]
    es = None if error is None else error[ok]
    offset = 0.0 if method == "phase_cycled" else None
    try:
        if protocol == "podmr":
            return _fit_podmr(x, signal, ok, nucleus)
        if protocol == "rabi":
            fit = fits.fit_rabi(xs, ys, sigma=es)
            if fit.status == fits.PulsedStatus.WRONG_MODEL:
                # a real pulse starts late or rises slowly: the phase is free, the π pulse
                # (π − φ)/(2π f) includes it
                fit = fits.fit_rabi(xs, ys, sigma=es, free_phase=True)
        elif protocol == "ramsey":
            fit = fits.fit_ramsey(xs, ys, sigma=es, nucleus=nucleus or "none")
        elif protocol == "echo":
            fit = fits.fit_hahn_echo(xs, ys, sigma=es, offset=offset)
        elif protocol == "xy8":
            fit = fits.fit_decoupling(xs, ys, n_pulses, sigma=es, offset=offset)
        elif protocol == "t1":
            fit = fits.fit_t1(xs, ys, sigma=es, offset=offset)
        else:
            raise ValueError(f"unknown protocol {protocol!r}")
    except Exception:  # a fit problem must never cost data
        log.exception("%s fit failed", protocol)
        return None
    values = {k: float(v) for k, v in fit.as_dict().items()
              if isinstance(v, int | float) and not isinstance(v, bool)}
    curve = np.full(x.shape, np.nan)
    # the echo's and XY8's model abscissa is the total evolution: evaluate at the fit's own x
    curve[ok] = fit.best_fit
    # the model's abscissa: the total evolution for an echo (2τ) and XY8 (N·τ)
    factor = {"echo": 2.0, "xy8": float(n_pulses)}.get(protocol, 1.0)
    return ProtocolFit(protocol, values, bool(fit.success), fit.message, curve, fit.report(),
                       model=lambda t: fit.model(t * factor))


def _fit_podmr(x: NDArray[np.float64], signal: NDArray[np.float64],
               ok: NDArray[np.bool_], nucleus: str | None) -> ProtocolFit:
    """One resonance: a Lorentzian dip, or the hyperfine multiplet of the sample's nucleus
    (whose centre is the resonance the other protocols drive)."""
    from ...fitting.pulsed import fit_pulsed_odmr

    model = {"14n": "14n", "15n": "15n"}.get((nucleus or "none").lower(), "lorentzian")
    fit = fit_pulsed_odmr(x[ok], signal[ok], model, 1)
    centres, errors = np.asarray(fit.centers), np.asarray(fit.center_errors)
    values = {"mw_frequency_hz": float(centres.mean()),
              # the multiplet's lines share one centre parameter: their errors are one error
              "mw_frequency_hz_error": float(errors.max())}
    curve = np.full(x.shape, np.nan)
    curve[ok] = fit.best_fit
    return ProtocolFit("podmr", values, bool(fit.success), fit.message, curve, fit.report())


def fit_quadratures(x: NDArray[np.float64], in_phase: NDArray[np.float64],
                    in_phase_error: NDArray[np.float64], quadrature: NDArray[np.float64],
                    quadrature_error: NDArray[np.float64], n_pulses: int) -> ProtocolFit:
    """AC field amplitude from the two quadratures of XY8-N at one τ (the first point):
    φ = atan2(Y, X), B = φ/(4γ·N·τ) (:func:`nvsense.fitting.pulsed.ac_field_from_quadratures`).

    Trusted when the coherence K = √(X² + Y²) stands out of its noise (3σ): with no coherence
    left the phase is noise.
    """
    from ...fitting.pulsed import ac_field_from_quadratures

    tau = float(x[0])
    X, eX, Y, eY = (float(v[0]) for v in (in_phase, in_phase_error, quadrature,
                                          quadrature_error))
    if not all(math.isfinite(v) for v in (X, eX, Y, eY)) or not (X or Y):
        return ProtocolFit("xy8", {}, False, "no signal in either quadrature", keys=AC_KEYS)
    out = ac_field_from_quadratures(X, eX, Y, eY, n_pulses * tau)
    k = out["coherence"]
    k_error = math.hypot(X * eX, Y * eY) / k
    ok = k > 3 * k_error
    values = {"ac_field_t": out["ac_field"], "ac_field_t_error": out["ac_field_error"],
              "phase": out["phase"], "phase_error": out["phase_error"], "coherence": k,
              "coherence_error": k_error}
    message = ("ok" if ok else f"no coherence left to read a phase from (K = {k:.3g} ± "
               f"{k_error:.2g})")
    report = (f"AC field from quadratures X = {X:.4g} ± {eX:.2g}, Y = {Y:.4g} ± {eY:.2g} at "
              f"τ = {tau * 1e9:g} ns, N = {n_pulses}: φ = {out['phase']:.4g} ± "
              f"{out['phase_error']:.2g} rad, B = {out['ac_field']:.4g} ± "
              f"{out['ac_field_error']:.2g} T ({message})")
    return ProtocolFit("xy8", values, ok, message, None, report, keys=AC_KEYS)
