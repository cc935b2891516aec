"""Export of B(t) records to MNE-Python (FIF files that ``mne.io.read_raw_fif`` reads).

:func:`to_mne_raw` turns a record (an ``xarray.Dataset`` with a uniform ``time`` coordinate,
field channels in tesla and a trigger line; see :mod:`nvsense.analysis.meg`) into an
``mne.io.RawArray``: each field channel becomes a magnetometer channel (MNE type ``"mag"``,
unit T, so values are stored as they are), the trigger becomes a stim channel (``"STI 014"``
by default, MNE's name) holding an event code at each stimulus edge and 0 elsewhere.
:func:`export_fif` writes it, the function behind ``nvsense export mne RUN --out FILE.fif``.

mne is an optional dependency: ``pip install "nvsense[meg]"``.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..analysis.meg import Events, field_channels, find_events, sample_rate

__all__ = ["MNE_NOT_INSTALLED", "export_fif", "stim_channel", "to_mne_raw"]

#: Message of the ImportError raised when mne is missing.
MNE_NOT_INSTALLED = ("exporting to MNE-Python needs the mne package: "
                     "pip install \"nvsense[meg]\" (or pip install mne)")


def _mne() -> Any:
    try:
        import mne
    except ImportError as exc:
        raise ImportError(MNE_NOT_INSTALLED) from exc
    return mne


def stim_channel(n_samples: int, events: Events) -> np.ndarray:
    """A stim channel: each event's code at its sample, 0 elsewhere (MNE's convention)."""
    out = np.zeros(n_samples)
    out[events.samples] = events.codes
    return out


def _meas_date(data: xr.Dataset) -> dt.datetime | None:
    for key in ("start_time", "start", "meas_date"):
        value = data.attrs.get(key)
        if value is None:
            continue
        try:
            when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            continue
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return None


def to_mne_raw(data: xr.Dataset, *, channels: Sequence[str] | None = None,
               trigger: str | None = "trigger", stim_name: str = "STI 014",
               line_freq: float | None = None, threshold: float | None = None) -> Any:
    """An ``mne.io.RawArray`` of the record's field channels (tesla) and trigger.

    Parameters
    ----------
    data
        The record (``time`` coordinate in s, field variables with ``units: "T"``).
    channels
        Field channels to export (default: every variable along ``time`` in T).
    trigger
        Name of the trigger variable (``None``: no stim channel).  Its rising edges become
        events (:func:`nvsense.analysis.meg.find_events`).
    stim_name
        Name of the stim channel.
    line_freq
        Mains frequency (Hz) for ``info["line_freq"]`` (default the record's ``line_freq``
        or ``mains_frequency`` attribute, if any).
    threshold
        Trigger threshold (default half the line's maximum).

    Raises
    ------
    ImportError
        mne is not installed (the message names the package to install).
    ValueError, KeyError
        Non-uniform time axis, missing channels or trigger, a channel not in tesla.
    """
    mne = _mne()
    fs = sample_rate(data)
    has_trigger = trigger is not None and trigger in data.data_vars
    if trigger is not None and channels is None and not has_trigger and \
            trigger != "trigger":
        raise KeyError(f"no trigger variable {trigger!r} in the record")
    names = field_channels(data, channels, trigger)
    for name in names:
        units = str(data[name].attrs.get("units", "T")).strip()
        if units != "T":
            raise ValueError(f"channel {name!r} is in {units!r}; MNE magnetometer channels "
                             f"are in tesla: convert it first")
    values = [np.asarray(data[c].values, dtype=float) for c in names]
    kinds = ["mag"] * len(names)
    ch_names = list(names)
    if has_trigger:
        assert trigger is not None
        events = find_events(data, trigger, threshold=threshold)
        values.append(stim_channel(data.sizes["time"], events))
        kinds.append("stim")
        ch_names.append(stim_name)
    info = mne.create_info(ch_names, sfreq=fs, ch_types=kinds, verbose=False)
    freq = line_freq if line_freq is not None else data.attrs.get(
        "line_freq", data.attrs.get("mains_frequency"))
    if freq is not None:
        info["line_freq"] = float(freq)
    description = data.attrs.get("title") or data.attrs.get("run_id")
    info["description"] = f"nvsense record{f': {description}' if description else ''}"
    raw = mne.io.RawArray(np.vstack(values), info, first_samp=0, verbose=False)
    when = _meas_date(data)
    if when is not None:
        raw.set_meas_date(when)
    return raw


def export_fif(data: xr.Dataset, path: str | Path, *, overwrite: bool = False,
               **options: Any) -> Path:
    """Write the record as a FIF file (``mne.io.read_raw_fif`` reads it back in tesla).

    ``options`` go to :func:`to_mne_raw`.  MNE names raw files ``*_raw.fif`` /
    ``*_meg.fif``; other names are accepted (MNE's naming warning is not repeated here).

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false (nothing is written).
    """
    target = Path(path)
    if target.suffix != ".fif" and not target.name.endswith(".fif.gz"):
        raise ValueError(f"{target}: an MNE file name ends in .fif (or .fif.gz)")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True (or --overwrite) to "
                              f"replace it")
    raw = to_mne_raw(data, **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not conform to MNE naming.*")
        # double precision: the values read back are the values measured
        raw.save(target, fmt="double", overwrite=overwrite, verbose=False)
    return target
