"""The Tiled tree of a data folder: the catalogue's runs as xarray Dataset nodes.

Only run files inside the data folder are served: a catalogue row pointing elsewhere (a moved
folder, a symlink out of it) is left out.  Nothing here writes: the adapters have no write
methods, so Tiled refuses every write request.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..storage import Catalog, RunFileError, RunNotClosedWarning, open_run, run_metadata

__all__ = ["run_adapter", "run_tree"]

#: Runs kept open in memory (keyed by file, size and modification time).
CACHE_SIZE = 16


def _plain(value: Any) -> Any:
    """JSON-ready metadata: numpy scalars as Python numbers, NaN as None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_adapter(path: Path, row: Mapping[str, Any] | None = None) -> Any:
    """The Tiled node of one run file: an ``xarray_dataset`` with the run's attributes
    (``metadata["attrs"]``) and its decoded metadata (``metadata["nvsense"]``)."""
    from tiled.adapters.xarray import DatasetAdapter, _DatasetMap
    from tiled.structures.core import Spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunNotClosedWarning)  # live runs are expected here
        ds = open_run(path)
    info = run_metadata(ds)
    # attributes as text and numbers, variables with their attributes
    ds.attrs = _plain(dict(ds.attrs))
    for var in ds.variables.values():
        var.attrs = _plain(dict(var.attrs))
    summary = {"run_id": info.run_id, "kind": info.kind, "status": info.status,
               "state": info.state, "start_time": info.start_time, "end_time": info.end_time,
               "abort_reason": info.abort_reason, "records": info.n_records,
               "append_dim": info.append_dim, "parameters": info.parameters,
               "parameter_units": info.parameter_units, "results": info.results,
               "result_units": info.result_units, "instruments": info.instruments,
               "campaign": info.campaign, "campaign_point": info.campaign_point,
               "software_version": info.software_version, "file": path.name}
    metadata = {"attrs": ds.attrs, "nvsense": _plain(summary)}
    if row is not None:
        metadata["catalog"] = _plain({k: v for k, v in row.items() if k != "file"})
    return DatasetAdapter(_DatasetMap(ds), metadata=metadata,
                          specs=[Spec("xarray_dataset"), Spec("nvsense_run")])


class _ReadOnlyCatalog(Catalog):
    """The catalogue, never written by the server: a run whose writer died stays "running"
    in the catalogue (its node's ``state`` still says ``interrupted``, from the file)."""

    def _mark_interrupted(self) -> None:
        return None


class _RunMapping(Mapping[str, Any]):
    """Run id -> node, read from the catalogue at every access (new runs appear)."""

    def __init__(self, data_dir: Path) -> None:
        self.catalog = _ReadOnlyCatalog(data_dir)
        self.root = self.catalog.data_dir.resolve()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _rows(self) -> dict[str, dict[str, Any]]:
        if not self.catalog.path.exists():
            return {}
        rows = {}
        for row in self.catalog.records():
            path = Path(row["file"]).resolve()
            if path.is_relative_to(self.root) and path.suffix == ".nc" and path.is_file():
                rows[row["id"]] = row
        return rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._rows()

    def __getitem__(self, key: str) -> Any:
        row = self._rows().get(key)
        if row is None:
            raise KeyError(key)
        path = Path(row["file"]).resolve()
        stat = path.stat()
        cache_key = (str(path), stat.st_size, stat.st_mtime_ns, row.get("status"))
        with self._lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        try:
            node = run_adapter(path, row)
        except RunFileError as exc:
            raise KeyError(f"{key}: {exc}") from None
        with self._lock:
            self._cache[cache_key] = node
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return node


def run_tree(data_dir: str | Path) -> Any:
    """The root node: the data folder's runs, oldest first, read-only."""
    from tiled.adapters.mapping import MapAdapter
    from tiled.structures.container import ContainerStructure

    mapping = _RunMapping(Path(data_dir))

    class _LiveMapAdapter(MapAdapter):
        def structure(self) -> ContainerStructure:
            return ContainerStructure(keys=list(self._mapping.keys()))

    return _LiveMapAdapter(mapping, metadata={"data_dir": str(mapping.root),
                                              "description": "nvsense runs (read-only)"},
                           must_revalidate=True)
