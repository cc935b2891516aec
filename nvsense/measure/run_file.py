"""The run-file writer: the first subscriber of every run's documents.

:class:`RunFileWriter` turns a run's documents (:mod:`nvsense.measure.documents`) into its
crash-safe file (:class:`nvsense.storage.RunWriter`) and catalogue row:

- :class:`~nvsense.measure.documents.RunStarted` creates the file with the layout the
  document declares, its parameters and metadata, and the instruments' snapshot as the JSON
  attribute ``instrument_snapshot``;
- every record document (:class:`~nvsense.measure.documents.SweepDone`,
  :class:`~nvsense.measure.documents.TrackingBlock`, :class:`~nvsense.measure.documents.Record`)
  appends its ``values`` (a block: :meth:`~nvsense.storage.RunWriter.append_block`), flushed;
- :class:`~nvsense.measure.documents.VariablesAdded` extends the layout
  (:meth:`~nvsense.storage.RunWriter.extend`);
- :class:`~nvsense.measure.documents.RunFinished` closes the file with its status, reason,
  results and final attributes.

The lifecycle (:mod:`nvsense.measure.lifecycle`) subscribes it as the bus's primary
subscriber, so that a record is on disk before any other subscriber sees it, and a record that
cannot be written ends the run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..storage import Catalog, RunWriter
from .documents import Event, RunFinished, RunStarted, VariablesAdded

__all__ = ["SNAPSHOT_ATTR", "RunFileWriter"]

log = logging.getLogger(__name__)

#: Global attribute holding the instruments' snapshot at the start (JSON text).
SNAPSHOT_ATTR = "instrument_snapshot"


class RunFileWriter:
    """Writes the documents of one run at a time into the catalogue's data folder.

    Parameters
    ----------
    catalog
        Where run files go and are catalogued.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.writer: RunWriter | None = None

    def reserve(self, kind: str, start_time: Any = None) -> tuple[str, Path]:
        """A run id and file path for a start document (:meth:`Catalog.reserve`)."""
        return self.catalog.reserve(kind, start_time)

    def __call__(self, document: Event) -> None:
        if isinstance(document, RunStarted):
            self._start(document)
        elif isinstance(document, RunFinished):
            self._finish(document)
        elif isinstance(document, VariablesAdded):
            self._extend(document)
        else:
            values = getattr(document, "values", None)
            if values:
                writer = self._open_writer(document)
                if getattr(document, "block", False):
                    writer.append_block(**values)
                else:
                    writer.append(**values)

    def _open_writer(self, document: Event) -> RunWriter:
        if self.writer is None or self.writer.closed:
            raise RuntimeError(f"run {document.run_id}: a {type(document).__name__} document "
                               "arrived before the run's start document (or after its end)")
        return self.writer

    def _start(self, doc: RunStarted) -> None:
        from datetime import datetime

        from ..instruments.snapshot import snapshot_json

        attrs = dict(doc.attrs)
        if doc.snapshot is not None:
            attrs[SNAPSHOT_ATTR] = snapshot_json(doc.snapshot)
        parameters, units = dict(doc.parameters), dict(doc.parameter_units)
        md = dict(doc.md)
        campaign = md.pop("campaign", None)
        campaign_point = md.pop("campaign_point", None)
        units.update(md.pop("units", None) or {})
        parameters.update(md)  # the caller's metadata: searchable among the parameters
        start = datetime.fromisoformat(doc.start_time) if doc.start_time else None
        self.writer = self.catalog.new_run(
            doc.kind, doc.schema(), run_id=doc.run_id, start_time=start,
            parameters=parameters, parameter_units=units,
            bench_config=doc.bench.get("bench_config"),
            bench_source=doc.bench.get("bench_source") or "built-in",
            instruments=doc.identities, campaign=campaign, campaign_point=campaign_point,
            attrs=attrs)

    def _extend(self, doc: VariablesAdded) -> None:
        from ..storage.schema import RunSchema

        self._open_writer(doc).extend(RunSchema.from_dict(doc.layout), doc.values,
                                      attrs=doc.attrs or None,
                                      parameters=doc.parameters or None)

    def _finish(self, doc: RunFinished) -> None:
        writer, self.writer = self.writer, None
        if writer is None or writer.closed:
            return
        writer.close(doc.status, doc.reason, results=doc.results,
                     result_units=doc.result_units or None, attrs=doc.attrs or None)
