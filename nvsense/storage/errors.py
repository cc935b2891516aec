"""Exceptions and warnings of the storage layer.

Every message names the file concerned and says what to do about it.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "CatalogWarning",
    "NotARunFileError",
    "RunFileError",
    "RunNotClosedWarning",
    "SchemaError",
    "StorageError",
]


class StorageError(Exception):
    """Base class of the storage layer's errors."""


class SchemaError(StorageError, ValueError):
    """A run schema or an appended record does not fit the run's declared variables."""


class RunFileError(StorageError, OSError):
    """A run file is missing, unreadable or damaged.

    Parameters
    ----------
    path
        The file concerned.
    message
        What is wrong and what to do about it; the path is prefixed to it.
    """

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")

    def __str__(self) -> str:  # OSError's own formatting would show an errno tuple
        return self.args[0]


class NotARunFileError(RunFileError):
    """A readable NetCDF/HDF5 file that was not written by nvsense's run writer."""


class CatalogError(StorageError):
    """The run catalogue (SQLite) cannot be used, or a run is not in it."""


class RunNotClosedWarning(UserWarning):
    """A run file that its writer has not closed: still being written, or the writer stopped
    (crash, ``kill -9``).  Every completed record is still available."""


class CatalogWarning(UserWarning):
    """The catalogue could not record a run; the run file is complete, and
    ``nvsense runs --rescan`` adds it later."""
