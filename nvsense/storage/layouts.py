"""The standard run layouts: ODMR sweeps and tracking-magnetometer samples.

These build :class:`~nvsense.storage.schema.RunSchema` objects; the file layout they give is
documented in ``docs/storage.md`` (the tables there must match this module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from .errors import SchemaError
from .schema import CoordSpec, RunSchema, VariableSpec

__all__ = ["VECTOR_LABELS", "FieldKind", "odmr_fit_variables", "odmr_schema",
           "tracking_schema"]

#: Labels of the ``vector`` coordinate: field components in the crystal (lab) frame.
VECTOR_LABELS = ("x", "y", "z")

FieldKind = Literal["vector", "parallel", "none"]


def _field_variables(
    dim: str, field: FieldKind, prefix: str = "", errors: bool = True
) -> list[VariableSpec]:
    what = "running-average fit: " if prefix else ""
    if field == "vector":
        out = [VariableSpec(f"{prefix}field", (dim, "vector"), "T", f"{what}magnetic field")]
        if errors:
            out.append(
                VariableSpec(
                    f"{prefix}field_error",
                    (dim, "vector"),
                    "T",
                    f"{what}magnetic field standard error",
                )
            )
        return out
    if field == "parallel":
        out = [
            VariableSpec(
                f"{prefix}field_parallel", (dim,), "T", f"{what}magnetic field along the NV axis"
            )
        ]
        if errors:
            out.append(
                VariableSpec(
                    f"{prefix}field_parallel_error",
                    (dim,),
                    "T",
                    f"{what}standard error of field_parallel",
                )
            )
        return out
    if field == "none":
        return []
    raise SchemaError(f"field must be 'vector', 'parallel' or 'none', not {field!r}")


def odmr_fit_variables(field: FieldKind, prefix: str = "") -> list[VariableSpec]:
    """The variables one fit of an ODMR spectrum gives each sweep: the one declaration of their
    names, dimensions and units (:meth:`nvsense.measure.SweepAnalysis.record` takes its values
    by these names).

    Parameters
    ----------
    field
        ``"vector"``, ``"parallel"`` or ``"none"``: which field variables the fit gives.
    prefix
        ``""`` for the fit of each sweep, ``"avg_"`` for the fit of the running average.
    """
    what = "running-average fit: " if prefix else "fit: "
    dims_l = ("sweep", "line")
    p = prefix
    return [
        VariableSpec(f"{p}line_center", dims_l, "Hz", f"{what}line center frequency"),
        VariableSpec(f"{p}line_center_error", dims_l, "Hz", f"{what}line center standard error"),
        VariableSpec(f"{p}line_width", dims_l, "Hz", f"{what}line width (FWHM)"),
        VariableSpec(f"{p}line_width_error", dims_l, "Hz", f"{what}line width standard error"),
        VariableSpec(f"{p}line_contrast", dims_l, "1", f"{what}line contrast (dip depth)"),
        VariableSpec(f"{p}line_contrast_error", dims_l, "1", f"{what}line contrast standard error"),
        VariableSpec(f"{p}fit_success", ("sweep",), "1", f"{what}converged", dtype="bool"),
        VariableSpec(f"{p}redchi", ("sweep",), "1", f"{what}reduced chi-square"),
        *_field_variables("sweep", field, prefix),
        VariableSpec(f"{p}D", ("sweep",), "Hz", f"{what}zero-field splitting D"),
        VariableSpec(f"{p}D_error", ("sweep",), "Hz", f"{what}standard error of D"),
    ]


def odmr_schema(
    frequency: Sequence[float] | np.ndarray,
    n_lines: int | None,
    *,
    field: FieldKind = "vector",
    average: bool = True,
    signal_units: str = "1",
    signal_long_name: str = "photon counts",
) -> RunSchema:
    """Layout of a CW-ODMR run: one record per sweep.

    Parameters
    ----------
    frequency
        Microwave frequencies of one sweep, in Hz (several ranges may be concatenated).
    n_lines
        Number of resonance lines fitted per spectrum (size of the ``line`` dimension);
        ``None``: the raw sweeps only (``time`` and ``counts``), the layout of a run whose
        number of lines is not known yet (the fits are added later).
    field
        ``"vector"``: ``field (sweep, vector)`` in T; ``"parallel"``: ``field_parallel
        (sweep)`` for single-axis runs; ``"none"``: no field variables.
    average
        Also store the fits of the running-average spectrum (variables prefixed ``avg_``).
    signal_units, signal_long_name
        Unit and description of ``counts``: ``"1"`` for photon counts, ``"V"`` for a
        photodiode.

    Returns
    -------
    RunSchema
        Dimensions ``sweep`` (appended), ``frequency``, ``line`` and ``vector``.
    """
    freq = np.asarray(frequency, dtype=float)
    if freq.ndim != 1 or freq.size < 1:
        raise SchemaError("frequency must be a 1-D list of at least one frequency in Hz")
    raw = [
        VariableSpec(
            "time", ("sweep",), "s", "sweep end time since the run start", coordinate=True
        ),
        VariableSpec("counts", ("sweep", "frequency"), signal_units, signal_long_name),
    ]
    coords = [CoordSpec("frequency", freq, "Hz", "microwave frequency")]
    common = {"append_dim": "sweep", "append_units": "1", "append_long_name": "sweep index"}
    if n_lines is None:
        return RunSchema(coords=coords, variables=raw, **common)
    if int(n_lines) < 1:
        raise SchemaError(f"n_lines must be >= 1, not {n_lines}")
    if field == "vector":
        coords.append(CoordSpec("vector", list(VECTOR_LABELS), "1", "field component"))
    variables = [*raw, *odmr_fit_variables(field)]
    if average:
        variables += odmr_fit_variables(field, "avg_")
    return RunSchema(coords=coords, dim_sizes={"line": int(n_lines)}, variables=variables,
                     **common)


def tracking_schema(
    n_lines: int,
    *,
    field: FieldKind = "vector",
    error_units: str = "1",
) -> RunSchema:
    """Layout of a tracking-magnetometer run: one record per lock-loop sample.

    Parameters
    ----------
    n_lines
        Number of locked resonance lines (size of the ``line`` dimension).
    field
        ``"vector"``: ``field (time, vector)``; ``"parallel"``: ``field_parallel (time)``;
        ``"none"``: no field variables.
    error_units
        Unit of the lock error signal: ``"1"`` (count difference) or ``"V"``.

    Returns
    -------
    RunSchema
        Dimension ``time`` (appended, s since the run start) and ``line`` (and ``vector``).
    """
    if int(n_lines) < 1:
        raise SchemaError(f"n_lines must be >= 1, not {n_lines}")
    coords = []
    if field == "vector":
        coords.append(CoordSpec("vector", list(VECTOR_LABELS), "1", "field component"))
    variables = [
        *_field_variables("time", field, errors=False),
        VariableSpec(
            "D",
            ("time",),
            "Hz",
            "zero-field splitting D (NaN unless both lines of an axis are locked)",
        ),
        VariableSpec("frequency_locked", ("time", "line"), "Hz", "locked resonance frequency"),
        VariableSpec("error_signal", ("time", "line"), error_units, "lock error signal"),
        VariableSpec("locked", ("time",), "1", "all lines in lock", dtype="bool"),
    ]
    return RunSchema(
        append_dim="time",
        append_units="s",
        append_long_name="time since the run start",
        append_dtype="float64",
        append_is_index=False,
        coords=coords,
        dim_sizes={"line": int(n_lines)},
        variables=variables,
    )
