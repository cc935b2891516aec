"""The run-file writer of widefield runs: the documents of a run into a streaming cube.

:class:`WidefieldFileWriter` is the first subscriber of a widefield run, as
:class:`~nvsense.measure.run_file.RunFileWriter` is of the others, and differs from it only in
the file it writes: a :class:`~nvsense.storage.cube_writer.CubeWriter` (the per-sweep records
plus the accumulated cube ``pl (y, x, frequency)`` that ``nvsense widefield fit`` reads), at
the path the user asked for (``--out``) or in the data folder, catalogued either way.

- :class:`~nvsense.measure.documents.RunStarted` creates the file: the layout the document
  declares (frequencies, frame shape), the camera's conversion from its attributes
  (``electrons_per_adu``, ``offset_adu``, ``reference_frames``, ``shift_method``);
- :class:`~nvsense.measure.documents.WidefieldSweep` appends the sweep's record (flushed: the
  sweep is safe from here on), adds it to the accumulated cube and rewrites ``pl`` — unless
  :attr:`WidefieldFileWriter.defer_cube` says more sweeps are waiting, when ``pl`` is brought
  up to date with the last of them (its ``pl_sweeps`` attribute tells readers, who rebuild it
  from the records meanwhile);
- :class:`~nvsense.measure.documents.RunFinished` closes the file with its status, and the
  catalogue row follows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..documents import Event, RunFinished, RunStarted, VariablesAdded, WidefieldSweep
from ..run_file import SNAPSHOT_ATTR, RunFileWriter

__all__ = ["WidefieldFileWriter"]

log = logging.getLogger(__name__)


class WidefieldFileWriter(RunFileWriter):
    """Writes one widefield run at a time.

    Parameters
    ----------
    catalog
        Where the run is catalogued (and its file goes, without ``path``).
    path
        The run file to write (``.nc``; it must not exist), e.g. the command's ``--out``.
    """

    def __init__(self, catalog: Any, path: str | Path | None = None) -> None:
        super().__init__(catalog)
        self.path = Path(path) if path is not None else None
        self.cube: Any = None
        #: Called before ``pl`` is rewritten for a sweep: True skips the rewrite (more sweeps
        #: are waiting, and the writer is behind the camera); the last sweep always writes it.
        self.defer_cube: Callable[[], bool] = lambda: False

    def reserve(self, kind: str, start_time: Any = None) -> tuple[str, Path]:
        from ...storage.errors import RunFileError

        run_id, path = self.catalog.reserve(kind, start_time)
        if self.path is None:
            return run_id, path
        if self.path.exists():  # not a race with a run of the same id: drawing again is no use
            raise RunFileError(self.path, "already exists; a run file is never overwritten "
                                          "(choose a new file name)")
        return run_id, self.path.absolute()

    def __call__(self, document: Event) -> None:
        if isinstance(document, WidefieldSweep):
            cube = self._open_writer(document)
            cube.append_values(document.values)   # the record first: crash-safe from here
            if not self.defer_cube():
                cube.update_cube()
        elif isinstance(document, VariablesAdded):
            raise RuntimeError("a widefield run's layout is fixed when it starts")
        else:
            super().__call__(document)

    def _cube_current(self) -> bool:
        cached = getattr(self.cube, "_cube", None)
        return cached is not None and cached[0] == self.cube.accumulator.n_sweeps

    def accumulated(self) -> NDArray[np.float32]:
        """The current accumulated cube (rows, columns, points) from memory (for live maps)."""
        if self.cube is None:
            raise RuntimeError("no widefield run is open")
        return self.cube.accumulated()

    def _start(self, doc: RunStarted) -> None:
        from datetime import datetime

        from ...instruments.snapshot import snapshot_json
        from ...storage.cube_writer import CubeWriter

        schema = doc.schema()
        coords = {c.name: c for c in schema.coords}
        frequency = np.asarray(coords["frequency"].values, dtype=float)
        y = np.asarray(coords["y"].values, dtype=float)
        frame_shape = (y.size, np.asarray(coords["x"].values).size)
        pixel_size = float(y[1] - y[0]) if coords["y"].units == "m" and y.size > 1 else None
        attrs = dict(doc.attrs)
        electrons_per_adu = float(attrs.pop("electrons_per_adu"))
        offset = float(attrs.pop("offset_adu"))
        reference = attrs.pop("reference_frames", "none") == "every"
        shift_method = str(attrs.pop("shift_method", "integer"))
        if doc.snapshot is not None:
            attrs[SNAPSHOT_ATTR] = snapshot_json(doc.snapshot)
        parameters, units = dict(doc.parameters), dict(doc.parameter_units)
        md = dict(doc.md)
        campaign = md.pop("campaign", None)
        campaign_point = md.pop("campaign_point", None)
        units.update(md.pop("units", None) or {})
        parameters.update(md)
        start = datetime.fromisoformat(doc.start_time) if doc.start_time else None
        catalog = self.catalog
        self.cube = CubeWriter(
            doc.file or "", frequency, frame_shape, electrons_per_adu=electrons_per_adu,
            offset=offset, reference=reference, pixel_size=pixel_size,
            shift_method=shift_method, run_id=doc.run_id, start_time=start,
            parameters=parameters, parameter_units=units,
            bench_config=doc.bench.get("bench_config"),
            bench_source=doc.bench.get("bench_source") or "built-in",
            instruments=doc.identities, campaign=campaign, campaign_point=campaign_point,
            attrs=attrs, on_close=lambda writer: catalog._index_quietly(writer.path))
        self.writer = self.cube
        catalog._index_quietly(self.cube.path)

    def _finish(self, doc: RunFinished) -> None:
        if self.cube is not None and self.cube.n_sweeps and self.cube.accumulator.n_sweeps \
                and not self._cube_current():
            try:
                self.cube.update_cube()
            except Exception:  # the records are in the file: readers rebuild pl from them
                log.exception("could not bring pl of %s up to date", self.cube.path)
        super()._finish(doc)
        self.cube = None
