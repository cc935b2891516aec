"""Line-shape models: names, parameter layout and evaluation.

Every model describes a spectrum of dips on a baseline::

    signal(f) = baseline(f) · (1 − Σ_lines contrast · shape((f − center) / width))

with ``baseline(f) = offset + slope · (f − f_ref)`` (``f_ref`` the middle of the sweep, slope 0
for a constant baseline), ``width`` the full width at half maximum (FWHM) and ``contrast`` the
fractional depth of each line.  ``shape`` is a Lorentzian ``1 / (1 + 4u²)`` or a Gaussian
``exp(−4 ln2 · u²)``, both 1 at u = 0 and ½ at u = ±½.

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
    "ModelSpec",
    "dip_spectrum",
    "gaussian",
    "hamiltonian_spectrum",
    "lorentzian",
    "make_model",
]

#: Accepted model names.
MODELS = ("lorentzian", "gaussian", "14n", "15n", "hamiltonian")
#: Accepted line shapes (for the Hamiltonian model; the other models name their shape).
LINESHAPES = ("lorentzian", "gaussian")
#: Accepted baselines.
BASELINES = ("constant", "linear")

_SHAPE_CODE = {"lorentzian": 0, "gaussian": 1}
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
        "constant" or "linear".
    offsets
        Hyperfine offsets (Hz) of the lines of each resonance; ``[0]`` without structure.
    axes
        NV axes (Hamiltonian model only), shape (n_axes, 3).
    """

    name: str
    n_lines: int
    lineshape: str = "lorentzian"
    baseline: str = "constant"
    offsets: NDArray[np.float64] = field(default_factory=lambda: np.zeros(1))
    axes: NDArray[np.float64] = field(default_factory=lambda: np.asarray(NV_AXES))

    @property
    def is_hamiltonian(self) -> bool:
        return self.name == "hamiltonian"

    @property
    def shape_code(self) -> int:
        return _SHAPE_CODE[self.lineshape]

    @property
    def n_base(self) -> int:
        """Number of baseline parameters (1 constant, 2 linear)."""
        return 2 if self.baseline == "linear" else 1

    @property
    def n_axes(self) -> int:
        return int(self.axes.shape[0])

    @property
    def param_names(self) -> list[str]:
        """Parameter names in the order of the fitters' parameter vectors."""
        return list(self._param_names)

    @cached_property
    def _param_names(self) -> tuple[str, ...]:
        names = ["offset"] + (["slope"] if self.n_base == 2 else [])
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
        "constant" or "linear".
    lineshape
        Line shape of the "hamiltonian" model ("lorentzian" by default).  For the other models
        it must agree with the model name if given.
    nucleus
        Hyperfine multiplet of each transition of the "hamiltonian" model: None, "14N", "15N".
    axes
        NV axes of the "hamiltonian" model, shape (n_axes, 3); default the four NV axes.

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
                         offsets, ax)

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
    return ModelSpec(name, n, shape, baseline, offsets)


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
) -> NDArray[np.float64]:
    """Evaluate the dip model (see the module docstring) on ``frequencies``.

    Parameters
    ----------
    frequencies
        Hz, shape (n_freq,).
    centers, widths, contrasts
        One value per resonance (Hz, Hz FWHM, fractional depth), broadcast together.
    offset, slope
        Baseline at the middle of the sweep and its slope (signal per Hz).
    lineshape
        "lorentzian" or "gaussian".
    offsets
        Hyperfine offsets (Hz) of the lines of every resonance.
    f_ref
        Reference frequency of the baseline slope; default the middle of ``frequencies``.

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
    offs = np.asarray(offsets, dtype=float).ravel()
    line_c = (c[:, None] + offs[None, :]).ravel()
    line_w = np.repeat(w, offs.size)
    line_a = np.repeat(a, offs.size)
    depth = (line_a * shape((f[:, None] - line_c) / line_w)).sum(axis=1)
    if f_ref is None:
        f_ref = 0.5 * (f.min() + f.max()) if f.size else 0.0
    return (offset + slope * (f - f_ref)) * (1.0 - depth)


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
                        slope=slope, lineshape=lineshape, offsets=offs, f_ref=f_ref)
