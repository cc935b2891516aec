"""Export of B(t) records to BIDS (MEG), with mne-bids.

:func:`export_bids` writes a record (see :mod:`nvsense.analysis.meg`) into a BIDS dataset:
``sub-<subject>/[ses-<session>/]meg/sub-..._task-<task>_[run-<run>_]meg.fif`` with its
``_meg.json`` sidecar, ``_channels.tsv`` (field channels of type MEGMAG in T, the trigger
as TRIG) and ``_events.tsv`` (one row per stimulus), plus the dataset's
``dataset_description.json`` and ``participants.tsv``, as mne-bids writes them.

mne and mne-bids are optional dependencies: ``pip install "nvsense[meg]"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..analysis.meg import find_events
from .mne import to_mne_raw

__all__ = ["MNE_BIDS_NOT_INSTALLED", "export_bids"]

#: Message of the ImportError raised when mne-bids is missing.
MNE_BIDS_NOT_INSTALLED = ("exporting to BIDS needs the mne-bids package: "
                          "pip install \"nvsense[meg]\" (or pip install mne-bids)")


def export_bids(data: xr.Dataset, root: str | Path, *, subject: str, task: str,
                session: str | None = None, run: int | str | None = None,
                line_freq: float | None = None, trigger: str = "trigger",
                event_names: Mapping[int, str] | None = None, overwrite: bool = False,
                **options: Any) -> Path:
    """Write the record into the BIDS dataset at ``root``; returns the data file's path.

    Parameters
    ----------
    data
        The record (field channels in T, ``time`` coordinate, trigger line).
    root
        The BIDS dataset's root folder (created if missing).
    subject, task, session, run
        BIDS entities (letters and digits only, as BIDS requires).
    line_freq
        Mains frequency, Hz (BIDS ``PowerLineFrequency``; default the record's ``line_freq``
        or ``mains_frequency`` attribute, else 50).
    trigger
        Trigger variable; its events go to ``_events.tsv``.
    event_names
        ``{code: name}`` for the events (default ``stimulus`` for every code, or
        ``stimulus/<code>`` when several codes occur).
    overwrite
        Replace existing files of the same recording.
    options
        Passed to :func:`nvsense.export.mne.to_mne_raw` (``channels``...).

    Raises
    ------
    ImportError
        mne or mne-bids is missing (the message names the package).
    ValueError
        An entity with characters BIDS forbids, or a record :func:`to_mne_raw` refuses.
    """
    try:
        import mne_bids
    except ImportError as exc:
        raise ImportError(MNE_BIDS_NOT_INSTALLED) from exc
    for key, value in (("subject", subject), ("task", task), ("session", session),
                       ("run", run)):
        if value is not None and not str(value).isalnum():
            raise ValueError(f"BIDS {key} {value!r} may hold only letters and digits")
    freq = line_freq if line_freq is not None else data.attrs.get(
        "line_freq", data.attrs.get("mains_frequency", 50.0))
    raw = to_mne_raw(data, trigger=trigger, line_freq=float(freq), **options)
    events_array = None
    event_id = None
    if trigger in data.data_vars:
        events = find_events(data, trigger, threshold=options.get("threshold"))
        if len(events):
            events_array = np.column_stack([events.samples, np.zeros(len(events), int),
                                            events.codes]).astype(int)
            codes = sorted(set(events.codes.tolist()))
            if event_names is not None:
                missing = [c for c in codes if c not in event_names]
                if missing:
                    raise ValueError(f"event_names has no name for code(s) {missing}")
                event_id = {str(event_names[c]): int(c) for c in codes}
            elif len(codes) == 1:
                event_id = {"stimulus": int(codes[0])}
            else:
                event_id = {f"stimulus/{c}": int(c) for c in codes}
    path = mne_bids.BIDSPath(subject=str(subject), session=None if session is None
                             else str(session), task=str(task),
                             run=None if run is None else str(run), datatype="meg",
                             root=Path(root))
    mne_bids.write_raw_bids(raw, path, events=events_array, event_id=event_id,
                            format="FIF", allow_preload=True, overwrite=overwrite,
                            verbose=False)
    return Path(path.fpath)
