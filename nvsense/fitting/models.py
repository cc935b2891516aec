"""Line-shape models: names, parameter layout and evaluation.

By default a model describes a spectrum of dips on a baseline (``signal="dips"``)::

    signal(f) = baseline(f) · (1 − Σ_lines contrast · shape((f − center) / width))

with ``baseline(f) = offset + slope · (f − f_ref) + curvature · (f − f_ref)²`` (``f_ref`` the
middle of the sweep; slope and curvature 0 for a constant baseline, curvature 0 for a linear
one), ``width`` the full width at half maximum (FWHM) and ``contrast`` the fractional depth of
each line.  ``shape`` is a Lorentzian ``1 / (1 + 4u²)`` or a Gaussian ``exp(−4 ln2 · u²)``, both
1 at u = 0 and ½ at u = ±½.

Peaks and lock-in (dispersive) lines are *added* to the baseline instead::

    signal(f) = baseline(f) + Σ_lines amplitude · shape((f − center) / width)

``signal="peaks"``: the shape is the Lorentzian (or Gaussian) and ``amplitude`` ≥ 0 the peak
height in signal units.  ``signal="derivative"``: the shape is the Lorentzian's derivative
scaled to extrema of ±1, ``−(32/3√3)·u/(1 + 4u²)²`` (:func:`lorentzian_derivative`: the line
shape of frequency-modulated lock-in detection for small modulation), and ``amplitude`` (either
sign) is half the peak-to-peak of the dispersive line; its zero crossing is the line center and
the extrema are ``FWHM/√3`` apart.  For these signals the fitters report the amplitudes where
the dips models report contrasts.

Model names (case-insensitive), as the CLI's ``--model`` option passes them:

``"lorentzian"``, ``"gaussian"``
    ``n_lines`` independent lines, each with its own center, width and contrast.
``"14n"``, ``"15n"``
    ``n_lines`` resonances (electron-spin transitions), each a hyperfine multiplet of
    Lorentzian lines sharing one width and one contrast: three lines spaced by |A∥| = 2.16 MHz
    for 14N, two lines spaced by 3.03 MHz for 15N (``nvsense.physics.hyperfine_offsets``).
    ``contrast`` is the depth of each multiplet line.
``"hamiltonian"``
    Lines from the NV Hamiltonian of each axis: parameters are the field vector (T, crystal
    frame), D and E (Hz), one width and one contrast per axis.  Each transition can be a
    Lorentzian or Gaussian line and may carry a hyperfine multiplet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nvsense.physics import NV_AXES, ZFS_HZ, hyperfine_offsets, transition_frequencies

from .errors import FitInputError

__all__ = [
    "BASELINES",
    "LINESHAPES",
    "MODELS",
    "SIGNALS",
    "ModelSpec",
    "dip_spectrum",
    "gaussian",
    "hamiltonian_spectrum",
    "lorentzian",
    "lorentzian_derivative",
    "make_model",
]

#: Accepted model names.
MODELS = ("lorentzian", "gaussian", "14n", "15n", "hamiltonian")
#: Accepted line shapes (for the Hamiltonian model; the other models name their shape).
LINESHAPES = ("lorentzian", "gaussian")
#: Accepted baselines.
BASELINES = ("constant", "linear", "quadratic")
#: Accepted signal kinds: dips on a baseline, peaks added to it, or dispersive lock-in lines.
SIGNALS = ("dips", "peaks", "derivative")

_SHAPE_CODE = {"lorentzian": 0, "gaussian": 1}
#: Kernel code of the dispersive (Lorentzian-derivative) shape.
DISPERSIVE_CODE = 2
_N_BASE = {"constant": 1, "linear": 2, "quadratic": 3}
#: 32/(3√3): scales the Lorentzian's derivative to extrema of ±1.
_DISPERSIVE_SCALE = 32.0 / (3.0 * math.sqrt(3.0))
_FOUR_LN2 = 4.0 * math.log(2.0)
#: Upper limit on the number of lines one fit can have (keeps the normal matrix small).
MAX_LINES = 32


def lorentzian(u: ArrayLike) -> NDArray[np.float64]:
    """Unit Lorentzian dip shape ``1 / (1 + 4u²)``, u = detuning / FWHM."""
    u = np.asarray(u, dtype=float)
    return 1.0 / (1.0 + 4.0 * u * u)


def gaussian(u: ArrayLike) -> NDArray[np.float64]:
    """Unit Gaussian dip shape ``exp(−4 ln2 · u²)``, u = detuning / FWHM."""
    u = np.asarray(u, dtype=float)
    return np.exp(-_FOUR_LN2 * u * u)


def lorentzian_derivative(u: ArrayLike) -> NDArray[np.float64]:
    """Unit dispersive shape ``−(32/3√3) · u / (1 + 4u²)²``: the derivative of
    :func:`lorentzian` with respect to u, scaled to extrema of +1 at u = −1/(2√3) and −1 at
    u = +1/(2√3); u = detuning / FWHM."""
    u = np.asarray(u, dtype=float)
    lor = 1.0 / (1.0 + 4.0 * u * u)
    return -_DISPERSIVE_SCALE * u * lor * lor


@dataclass(frozen=True)
class ModelSpec:
    """Everything the fitters need to know about a model, resolved from the user's options.

    Attributes
    ----------
    name
        One of :data:`MODELS`.
    n_lines
        Number of resonances: independent lines for "lorentzian"/"gaussian", multiplets for
        "14n"/"15n", and ``2 · n_axes`` transitions for "hamiltonian".
    lineshape
        "lorentzian" or "gaussian".
    baseline
        "constant", "linear" or "quadratic".
    offsets
        Hyperfine offsets (Hz) of the lines of each resonance; ``[0]`` without structure.
    axes
        NV axes (Hamiltonian model only), shape (n_axes, 3).
    signal
        "dips" (on the baseline), "peaks" or "derivative" (added to it); see the module
        docstring.
    """

    name: str
    n_lines: int
    lineshape: str = "lorentzian"
    baseline: str = "constant"
    offsets: NDArray[np.float64] = field(default_factory=lambda: np.zeros(1))
    axes: NDArray[np.float64] = field(default_factory=lambda: np.asarray(NV_AXES))
    signal: str = "dips"

    @property
    def is_hamiltonian(self) -> bool:
        return self.name == "hamiltonian"

    @property
    def shape_code(self) -> int:
        """Kernel code of the line shape: 0 Lorentzian, 1 Gaussian, 2 dispersive."""
        return DISPERSIVE_CODE if self.signal == "derivative" else _SHAPE_CODE[self.lineshape]

    @property
    def additive(self) -> bool:
        """True when the lines are added to the baseline (peaks, derivative), False for dips on
        it."""
        return self.signal != "dips"

    @property
    def n_base(self) -> int:
        """Number of baseline parameters (1 constant, 2 linear, 3 quadratic)."""
        return _N_BASE[self.baseline]

    def shape_function(self):
        """The unit line shape of this model as a function of u (numpy)."""
        if self.signal == "derivative":
            return lorentzian_derivative
        return gaussian if self.lineshape == "gaussian" else lorentzian

    @property
    def n_axes(self) -> int:
        return int(self.axes.shape[0])

    @property
    def param_names(self) -> list[str]:
        """Parameter names in the order of the fitters' parameter vectors."""
        return list(self._param_names)

    @cached_property
    def _param_names(self) -> tuple[str, ...]:
        names = ["offset", "slope", "curvature"][: self.n_base]
        if self.is_hamiltonian:
            names += ["Bx", "By", "Bz", "D", "E", "width"]
            names += [f"contrast{a}" for a in range(self.n_axes)]
        else:
            for k in range(self.n_lines):
                names += [f"center{k}", f"width{k}", f"contrast{k}"]
        return tuple(names)

    @property
    def n_params(self) -> int:
        return len(self._param_names)


def make_model(
    model: str = "lorentzian",
    n_lines: int | None = 1,
    *,
    baseline: str = "constant",
    lineshape: str | None = None,
    nucleus: str | None = None,
    axes: ArrayLike | None = None,
    signal: str = "dips",
) -> ModelSpec:
    """Check the model options and resolve them into a :class:`ModelSpec`.

    Parameters
    ----------
    model
        One of :data:`MODELS` (case-insensitive).
    n_lines
        Number of lines (resonances for "14n"/"15n").  Ignored for "hamiltonian", where it
        is ``2 · n_axes``.
    baseline
        "constant", "linear" or "quadratic".
    lineshape
        Line shape of the "hamiltonian" model ("lorentzian" by default).  For the other models
        it must agree with the model name if given.
    nucleus
        Hyperfine multiplet of each transition of the "hamiltonian" model: None, "14N", "15N".
    axes
        NV axes of the "hamiltonian" model, shape (n_axes, 3); default the four NV axes.
    signal
        "dips" (default), "peaks" or "derivative" (Lorentzian lines only); see the module
        docstring.

    Raises
    ------
    FitInputError
        For an unknown name or an inconsistent option, saying what is accepted.
    """
    if not isinstance(model, str) or model.strip().lower() not in MODELS:
        raise FitInputError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    name = model.strip().lower()
    if not isinstance(baseline, str) or baseline.strip().lower() not in BASELINES:
        raise FitInputError(f"unknown baseline {baseline!r}; use one of {', '.join(BASELINES)}")
    baseline = baseline.strip().lower()
    if not isinstance(signal, str) or signal.strip().lower() not in SIGNALS:
        raise FitInputError(f"unknown signal {signal!r}; use one of {', '.join(SIGNALS)}")
    signal = signal.strip().lower()
    if signal == "derivative" and (name == "gaussian" or lineshape == "gaussian"):
        raise FitInputError("signal='derivative' is the derivative of a Lorentzian (the FM "
                            "lock-in line shape); use a Lorentzian model (lorentzian, 14n, 15n "
                            "or hamiltonian)")
    if lineshape is not None:
        if not isinstance(lineshape, str) or lineshape.strip().lower() not in LINESHAPES:
            raise FitInputError(f"unknown lineshape {lineshape!r}; use one of "
                                f"{', '.join(LINESHAPES)}")
        lineshape = lineshape.strip().lower()
    if nucleus is not None and name != "hamiltonian":
        raise FitInputError(f"nucleus= applies to the 'hamiltonian' model only; for model "
                            f"{name!r} use model='14n' or '15n' for hyperfine multiplets")

    if name == "hamiltonian":
        ax = np.atleast_2d(np.asarray(NV_AXES if axes is None else axes, dtype=float))
        if ax.ndim != 2 or ax.shape[1] != 3 or ax.shape[0] < 1 or not np.all(np.isfinite(ax)):
            raise FitInputError(f"axes must be an (n_axes, 3) array of NV axes, got shape "
                                f"{ax.shape}")
        ax = ax / np.linalg.norm(ax, axis=1, keepdims=True)
        try:
            offsets = hyperfine_offsets(nucleus)
        except ValueError as exc:
            raise FitInputError(str(exc)) from None
        return ModelSpec(name, 2 * ax.shape[0], lineshape or "lorentzian", baseline,
                         offsets, ax, signal)

    if axes is not None:
        raise FitInputError("axes= applies to the 'hamiltonian' model only")
    shape = "gaussian" if name == "gaussian" else "lorentzian"
    if lineshape is not None and lineshape != shape:
        raise FitInputError(f"model {name!r} has {shape} lines; for {lineshape} lines use "
                            f"model={lineshape!r}")
    if n_lines is None or isinstance(n_lines, bool) or not isinstance(n_lines, int | np.integer):
        raise FitInputError(f"n_lines must be a whole number from 1 to {MAX_LINES}, "
                            f"got {n_lines!r}")
    n = int(n_lines)
    offsets = hyperfine_offsets({"14n": "14N", "15n": "15N"}.get(name))
    if not 1 <= n or n * offsets.size > MAX_LINES:
        raise FitInputError(f"n_lines must be from 1 to {MAX_LINES // offsets.size} for model "
                            f"{name!r}, got {n}")
    return ModelSpec(name, n, shape, baseline, offsets, signal=signal)


def dip_spectrum(
    frequencies: ArrayLike,
    centers: ArrayLike,
    widths: ArrayLike,
    contrasts: ArrayLike,
    *,
    offset: float = 1.0,
    slope: float = 0.0,
    lineshape: str = "lorentzian",
    offsets: ArrayLike = (0.0,),
    f_ref: float | None = None,
    curvature: float = 0.0,
    signal: str = "dips",
) -> NDArray[np.float64]:
    """Evaluate the model (see the module docstring) on ``frequencies``.

    Parameters
    ----------
    frequencies
        Hz, shape (n_freq,).
    centers, widths, contrasts
        One value per resonance (Hz, Hz FWHM, fractional depth), broadcast together.
    offset, slope, curvature
        Baseline at the middle of the sweep, its slope (signal per Hz) and curvature (signal
        per Hz²).
    lineshape
        "lorentzian" or "gaussian".
    offsets
        Hyperfine offsets (Hz) of the lines of every resonance.
    f_ref
        Reference frequency of the baseline slope; default the middle of ``frequencies``.
    signal
        "dips" (``contrasts`` are fractional depths), "peaks" or "derivative" (``contrasts``
        are amplitudes in signal units, added to the baseline).

    Returns
    -------
    ndarray, shape (n_freq,)
    """
    f = np.asarray(frequencies, dtype=float)
    c, w, a = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float))
                                    for v in (centers, widths, contrasts)))
    shape = {"lorentzian": lorentzian, "gaussian": gaussian}.get(str(lineshape).lower())
    if shape is None:
        raise FitInputError(f"unknown lineshape {lineshape!r}; use one of {', '.join(LINESHAPES)}")
    if signal not in SIGNALS:
        raise FitInputError(f"unknown signal {signal!r}; use one of {', '.join(SIGNALS)}")
    if signal == "derivative":
        shape = lorentzian_derivative
    offs = np.asarray(offsets, dtype=float).ravel()
    line_c = (c[:, None] + offs[None, :]).ravel()
    line_w = np.repeat(w, offs.size)
    line_a = np.repeat(a, offs.size)
    depth = (line_a * shape((f[:, None] - line_c) / line_w)).sum(axis=1)
    if f_ref is None:
        f_ref = 0.5 * (f.min() + f.max()) if f.size else 0.0
    df = f - f_ref
    base = offset + (slope + curvature * df) * df
    if signal == "dips":
        return base * (1.0 - depth)
    return base + depth


def hamiltonian_spectrum(
    frequencies: ArrayLike,
    field: ArrayLike,
    width: float,
    contrasts: ArrayLike,
    *,
    D: float = ZFS_HZ,
    E: float = 0.0,
    offset: float = 1.0,
    slope: float = 0.0,
    lineshape: str = "lorentzian",
    nucleus: str | None = None,
    axes: ArrayLike = NV_AXES,
    offsets: ArrayLike | None = None,
    f_ref: float | None = None,
    curvature: float = 0.0,
    signal: str = "dips",
) -> NDArray[np.float64]:
    """Evaluate the Hamiltonian model: the lines of every axis for ``field`` (T).

    ``contrasts`` gives one contrast per axis (or one for all).  Lines come from
    ``nvsense.physics.transition_frequencies``; each carries the hyperfine multiplet of
    ``nucleus`` (or the explicit line ``offsets`` in Hz).
    """
    ax = np.atleast_2d(np.asarray(axes, dtype=float))
    t = transition_frequencies(np.asarray(field, dtype=float), D, E, ax)  # (n_axes, 2)
    a = np.broadcast_to(np.asarray(contrasts, dtype=float), (ax.shape[0],))
    offs = hyperfine_offsets(nucleus) if offsets is None else np.asarray(offsets, dtype=float)
    return dip_spectrum(frequencies, t.ravel(), width, np.repeat(a, 2), offset=offset,
                        slope=slope, lineshape=lineshape, offsets=offs, f_ref=f_ref,
                        curvature=curvature, signal=signal)
