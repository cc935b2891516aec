"""What a run file holds: its dimensions, fixed coordinates and appended variables.

A run grows along one *append dimension* (``sweep`` for ODMR, ``time`` for tracking).  Every
variable has that dimension first; the other dimensions are fixed when the run starts and are
given by coordinates (``frequency``) or by a size alone (``line``).  The schema is plain data,
so that the ODMR and tracking layouts (see :mod:`nvsense.storage.layouts`) are configuration of
one general writer, not code of their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import SchemaError

__all__ = ["CoordSpec", "RunSchema", "VariableSpec"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# numpy kinds a run variable may have: bool, signed and unsigned integers, floats.
_KINDS = {"b", "i", "u", "f"}
# Global attributes and names the writer uses itself.
_RESERVED = {"status", "kind", "run_id"}


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SchemaError(
            f"{what} name {name!r} is not valid: use letters, digits and '_', "
            "starting with a letter"
        )


@dataclass(frozen=True)
class VariableSpec:
    """A variable that grows by one entry per record.

    Parameters
    ----------
    name
        Variable name in the file (``"counts"``).
    dims
        Dimension names, the append dimension first (``("sweep", "frequency")``).
    units
        Unit of the values (``"Hz"``, ``"T"``, ``"s"``, ``"1"`` for plain numbers).
    long_name
        Human-readable description shown by xarray and the CLI.
    dtype
        numpy dtype: a float, integer or ``bool`` type.  Booleans are stored as ``int8`` with a
        ``dtype = "bool"`` attribute, which xarray decodes back to ``bool``.
    attrs
        Further attributes (e.g. ``{"comment": ...}``).
    coordinate
        An auxiliary coordinate of the append dimension (ODMR ``time``): xarray shows it
        among the coordinates (the other variables name it in their ``coordinates``
        attribute, as CF does).
    """

    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    dtype: str = "float64"
    attrs: Mapping[str, Any] = field(default_factory=dict)
    coordinate: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name, "variable")
        object.__setattr__(self, "dims", tuple(self.dims))
        for dim in self.dims:
            _check_name(dim, "dimension")
        if not isinstance(self.units, str):
            raise SchemaError(f"variable {self.name!r}: units must be a string such as 'Hz'")
        try:
            kind = np.dtype(self.dtype).kind
        except TypeError:
            raise SchemaError(f"variable {self.name!r}: unknown dtype {self.dtype!r}") from None
        if kind not in _KINDS:
            raise SchemaError(
                f"variable {self.name!r}: dtype {self.dtype!r} is not a number or bool type"
            )

    @property
    def numpy_dtype(self) -> np.dtype:
        """The dtype of the values the caller appends."""
        return np.dtype(self.dtype)

    @property
    def is_float(self) -> bool:
        """Float variables may be left out of an append; they are then NaN for that record."""
        return self.numpy_dtype.kind == "f"

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data (a start document's declaration of the variable)."""
        return {"name": self.name, "dims": list(self.dims), "units": self.units,
                "long_name": self.long_name, "dtype": self.dtype,
                "attrs": _plain(dict(self.attrs)), "coordinate": self.coordinate}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariableSpec:
        """The inverse of :meth:`as_dict`."""
        return cls(name=data["name"], dims=tuple(data["dims"]), units=data["units"],
                   long_name=data["long_name"], dtype=data.get("dtype", "float64"),
                   attrs=dict(data.get("attrs") or {}),
                   coordinate=bool(data.get("coordinate", False)))


@dataclass(frozen=True)
class CoordSpec:
    """A coordinate fixed when the run starts (``frequency`` in Hz, ``vector`` = x, y, z).

    A coordinate whose name is also its only dimension defines that dimension's size.

    Parameters
    ----------
    name
        Coordinate name.
    values
        The values: numbers, or strings for labels such as ``["x", "y", "z"]``.
    units
        Unit of the values (``"1"`` for labels and indices).
    long_name
        Human-readable description.
    dims
        Dimension names; defaults to ``(name,)``.
    attrs
        Further attributes.
    """

    name: str
    values: Any
    units: str
    long_name: str
    dims: tuple[str, ...] | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name, "coordinate")
        dims = (self.name,) if self.dims is None else tuple(self.dims)
        object.__setattr__(self, "dims", dims)
        values = np.asarray(self.values)
        if values.dtype.kind in "US":
            values = values.astype(str).astype(object)  # netCDF4 variable-length strings
        elif values.dtype.kind not in _KINDS:
            raise SchemaError(f"coordinate {self.name!r}: values must be numbers or strings")
        if values.ndim != len(dims):
            raise SchemaError(f"coordinate {self.name!r}: {values.ndim}-D values for dims {dims}")
        object.__setattr__(self, "values", values)

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data (values as a list)."""
        return {"name": self.name, "values": self.values.tolist(), "units": self.units,
                "long_name": self.long_name, "dims": list(self.dims or ()),
                "attrs": _plain(dict(self.attrs))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoordSpec:
        """The inverse of :meth:`as_dict`."""
        return cls(name=data["name"], values=data["values"], units=data["units"],
                   long_name=data["long_name"], dims=tuple(data.get("dims") or ()) or None,
                   attrs=dict(data.get("attrs") or {}))


@dataclass(frozen=True)
class RunSchema:
    """The layout of one run file.

    Parameters
    ----------
    append_dim
        The dimension that grows (``"sweep"``, ``"time"``).  It always has a coordinate of the
        same name, written last in every append: its length is the number of complete records.
    append_units, append_long_name, append_dtype
        Unit, description and dtype of that coordinate.
    append_is_index
        ``True``: the writer numbers the records 0, 1, 2, ... (ODMR sweeps).  ``False``: every
        append gives the coordinate's values (tracking: ``time`` in s since the start).
    coords
        Fixed coordinates.
    dim_sizes
        Sizes of fixed dimensions that have no coordinate (``{"line": 8}``).
    variables
        The appended variables.
    """

    append_dim: str
    append_units: str
    append_long_name: str
    variables: Sequence[VariableSpec]
    coords: Sequence[CoordSpec] = ()
    dim_sizes: Mapping[str, int] = field(default_factory=dict)
    append_dtype: str = "int64"
    append_is_index: bool = True

    def __post_init__(self) -> None:
        _check_name(self.append_dim, "append dimension")
        object.__setattr__(self, "variables", tuple(self.variables))
        object.__setattr__(self, "coords", tuple(self.coords))
        object.__setattr__(self, "dim_sizes", dict(self.dim_sizes))
        if not self.variables:
            raise SchemaError("a run schema needs at least one variable")
        if np.dtype(self.append_dtype).kind not in "iuf":
            raise SchemaError(f"append coordinate dtype {self.append_dtype!r} is not numeric")
        names = [self.append_dim, *(c.name for c in self.coords)]
        names += [v.name for v in self.variables]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(f"names used twice in the run schema: {', '.join(duplicates)}")
        reserved = sorted(_RESERVED.intersection(names))
        if reserved:
            raise SchemaError(f"names reserved for run attributes: {', '.join(reserved)}")
        sizes = self.fixed_dims  # validates coordinate/size consistency
        for var in self.variables:
            if not var.dims or var.dims[0] != self.append_dim:
                raise SchemaError(
                    f"variable {var.name!r} must have {self.append_dim!r} as first dimension, "
                    f"has {var.dims}"
                )
            unknown = [d for d in var.dims[1:] if d not in sizes]
            if unknown:
                raise SchemaError(
                    f"variable {var.name!r} uses dimension(s) {unknown} that have neither a "
                    "coordinate nor an entry in dim_sizes"
                )

    @property
    def fixed_dims(self) -> dict[str, int]:
        """Sizes of the fixed (non-append) dimensions, in order of first appearance."""
        sizes: dict[str, int] = {}
        for name, size in self.dim_sizes.items():
            _check_name(name, "dimension")
            if int(size) < 1:
                raise SchemaError(f"dimension {name!r} must have a size >= 1, not {size}")
            sizes[name] = int(size)
        for coord in self.coords:
            for dim, size in zip(coord.dims, coord.values.shape):
                if dim == self.append_dim:
                    raise SchemaError(
                        f"coordinate {coord.name!r} cannot use the append dimension {dim!r}"
                    )
                if sizes.setdefault(dim, size) != size:
                    raise SchemaError(
                        f"dimension {dim!r} has size {sizes[dim]} but coordinate "
                        f"{coord.name!r} has {size} values along it"
                    )
        return sizes

    def variable(self, name: str) -> VariableSpec:
        """The variable called ``name``."""
        for var in self.variables:
            if var.name == name:
                return var
        raise SchemaError(f"no variable {name!r} in this run; it has: {self.variable_names}")

    @property
    def variable_names(self) -> list[str]:
        """Names of the appended variables."""
        return [v.name for v in self.variables]

    def record_shape(self, var: VariableSpec) -> tuple[int, ...]:
        """Shape of one record of ``var`` (its dims without the append dim)."""
        sizes = self.fixed_dims
        return tuple(sizes[d] for d in var.dims[1:])

    def as_dict(self) -> dict[str, Any]:
        """The layout as plain, JSON-ready data: what a run's start document declares
        (:class:`nvsense.measure.documents.RunStarted`); :meth:`from_dict` reads it back."""
        return {"append_dim": self.append_dim, "append_units": self.append_units,
                "append_long_name": self.append_long_name, "append_dtype": self.append_dtype,
                "append_is_index": self.append_is_index,
                "coords": [c.as_dict() for c in self.coords],
                "dim_sizes": {k: int(v) for k, v in self.dim_sizes.items()},
                "variables": [v.as_dict() for v in self.variables]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSchema:
        """The layout :meth:`as_dict` describes.

        Raises
        ------
        SchemaError
            The description is incomplete or inconsistent.
        """
        try:
            return cls(append_dim=data["append_dim"], append_units=data["append_units"],
                       append_long_name=data["append_long_name"],
                       append_dtype=data.get("append_dtype", "int64"),
                       append_is_index=bool(data.get("append_is_index", True)),
                       coords=[CoordSpec.from_dict(c) for c in data.get("coords", ())],
                       dim_sizes=dict(data.get("dim_sizes") or {}),
                       variables=[VariableSpec.from_dict(v) for v in data["variables"]])
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"incomplete run layout: {exc}") from None


def _plain(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attribute values as JSON-ready data (numpy scalars and arrays to Python)."""
    return {k: (v.tolist() if isinstance(v, np.ndarray | np.generic) else v)
            for k, v in attrs.items()}
