"""MEG-style analysis of B(t) records: stimulus events, epochs, evoked averages.

A magnetometer record for magnetoencephalography holds one or more field channels B(t) (in
tesla) and a trigger line marking each stimulus.  The functions here take such a record as an
``xarray.Dataset`` with a ``time`` coordinate (s, uniformly sampled), field variables along
``time`` (``units: "T"``) and a trigger variable (default name ``"trigger"``: a TTL voltage or
integer event codes), and do what MNE-Python's ``find_events``, ``Epochs`` and ``average`` do
for MEG data:

- :func:`find_events`: the rising edges of the trigger (sample index, time, code);
- :func:`epochs`: windows ``[tmin, tmax]`` around each event, baseline-corrected, as an
  ``xarray.DataArray`` (epoch, channel, lag);
- :func:`average`: the evoked response (mean over epochs) with its standard error;
- :func:`evoked_noise` and :func:`trials_needed`: what averaging N trials leaves of a noise
  floor, and how many trials a response of a given amplitude needs: the standard deviation of
  an average of N epochs of white noise of one-sided ASD A, seen through a bandwidth B, is
  ``A·√B/√N`` (REFERENCES.md: one-sided spectral densities; white noise of ASD A has variance
  A²·B over a band B).

For MNE-Python itself, export the record with :func:`nvsense.export.mne.to_mne_raw`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import NDArray

__all__ = [
    "Events",
    "average",
    "epochs",
    "evoked_noise",
    "field_channels",
    "find_events",
    "sample_rate",
    "trials_needed",
]


@dataclass(frozen=True)
class Events:
    """Stimulus events found on a trigger line.

    Attributes
    ----------
    samples
        Sample index of each event (the first sample at or above the threshold).
    times
        Time of each event, s (from the record's ``time`` coordinate).
    codes
        Event code of each: the trigger value at the edge when the line holds integers (a
        code line, or a clean TTL: 5 V gives code 5); 1 when it is an analog level.
    """

    samples: NDArray[np.int64]
    times: NDArray[np.float64]
    codes: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.samples.size)


def sample_rate(data: xr.Dataset | xr.DataArray) -> float:
    """The sample rate (Hz) of a record's ``time`` coordinate; it must be uniform."""
    if "time" not in data.coords:
        raise ValueError("the record has no 'time' coordinate (seconds)")
    t = np.asarray(data["time"].values, dtype=float)
    if t.size < 2:
        raise ValueError("the record needs at least two samples")
    steps = np.diff(t)
    dt = float(np.median(steps))
    if not dt > 0 or np.max(np.abs(steps - dt)) > 1e-3 * dt:
        raise ValueError("the record's time axis is not uniformly sampled (gaps or jitter "
                         "above 0.1 % of a sample); resample it before epoching or export")
    return float(f"{1.0 / dt:.10g}")  # 1000.0000000001 -> 1000: rounding of the time axis


def field_channels(data: xr.Dataset, channels: Sequence[str] | None = None,
                   trigger: str | None = "trigger") -> list[str]:
    """Names of the field channels: ``channels`` if given (checked), else every variable
    along ``time`` alone whose ``units`` attribute is ``"T"``."""
    if channels is not None:
        names = list(channels)
        missing = [c for c in names if c not in data.data_vars]
        if missing:
            raise KeyError(f"no variable {missing[0]!r} in the record; it has "
                           f"{', '.join(map(str, data.data_vars))}")
        for c in names:
            if data[c].dims != ("time",):
                raise ValueError(f"channel {c!r} must be a series along 'time', it has "
                                 f"dimensions {data[c].dims}")
        return names
    names = [str(name) for name, var in data.data_vars.items()
             if var.dims == ("time",) and name != trigger
             and str(var.attrs.get("units", "")).strip() == "T"]
    if not names:
        raise ValueError("the record has no field channel (a variable along 'time' with "
                         "units 'T'); name the channels explicitly")
    return names


def find_events(data: xr.Dataset, trigger: str = "trigger", *,
                threshold: float | None = None, min_interval: float = 0.0) -> Events:
    """Rising edges of the trigger line.

    Parameters
    ----------
    data
        The record.
    trigger
        Name of the trigger variable.
    threshold
        Level the line must reach (default: half its maximum, for TTL and code lines alike).
    min_interval
        Edges closer than this (s) to the previous event are ignored (contact bounce).
    """
    if trigger not in data.data_vars:
        raise KeyError(f"no trigger variable {trigger!r} in the record; it has "
                       f"{', '.join(map(str, data.data_vars))}")
    line = np.asarray(data[trigger].values, dtype=float)
    times = np.asarray(data["time"].values, dtype=float)
    top = float(np.max(line)) if line.size else 0.0
    level = 0.5 * top if threshold is None else float(threshold)
    if threshold is None and top <= 0:
        return Events(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
    high = line >= level
    edges = np.flatnonzero(high[1:] & ~high[:-1]) + 1
    if high.size and high[0]:
        edges = np.concatenate([[0], edges])
    if min_interval > 0 and edges.size:
        keep = [edges[0]]
        for e in edges[1:]:
            if times[e] - times[keep[-1]] >= min_interval:
                keep.append(e)
        edges = np.asarray(keep)
    values = line[edges]
    if np.array_equal(line, np.round(line)):  # a line of integer codes (or a clean TTL)
        codes = np.round(values).astype(np.int64)
    else:  # an analog TTL: every edge is code 1
        codes = np.ones(edges.size, np.int64)
    return Events(edges.astype(np.int64), times[edges], codes)


def epochs(data: xr.Dataset, events: Events | None = None, *,
           channels: Sequence[str] | None = None, trigger: str = "trigger",
           tmin: float = -0.1, tmax: float = 0.5,
           baseline: tuple[float | None, float | None] | None = (None, 0.0),
           code: int | None = None) -> xr.DataArray:
    """Cut the field channels into epochs around the events.

    Parameters
    ----------
    data
        The record.
    events
        Events (default: :func:`find_events` on ``trigger``).
    channels
        Field channels (default: every variable with ``units: "T"``).
    tmin, tmax
        Window around each event, s (tmin < 0 < tmax usually).
    baseline
        ``(start, stop)`` in s relative to the event (``None``: the window's edge); the mean
        over it is subtracted from each epoch and channel.  ``None``: no baseline correction.
    code
        Keep only events with this code.

    Returns
    -------
    xarray.DataArray
        Dims ``(epoch, channel, lag)``; coordinates ``lag`` (s from the event), ``onset``
        (event time per epoch), ``channel``; attrs ``units: "T"``, ``sample_rate``,
        ``dropped`` (events too close to the record's ends for a full window).
    """
    fs = sample_rate(data)
    names = field_channels(data, channels, trigger)
    if not tmin < tmax:
        raise ValueError(f"tmin ({tmin}) must be below tmax ({tmax})")
    ev = events if events is not None else find_events(data, trigger)
    picks = np.arange(len(ev)) if code is None else np.flatnonzero(ev.codes == code)
    first = round(tmin * fs)
    last = round(tmax * fs)
    lags = np.arange(first, last + 1)
    n = data.sizes["time"]
    starts = ev.samples[picks] + first
    full = (starts >= 0) & (ev.samples[picks] + last < n)
    kept = picks[full]
    signal = np.vstack([np.asarray(data[c].values, dtype=float) for c in names])
    index = ev.samples[kept][:, None] + lags[None, :]
    cube = signal[:, index].transpose(1, 0, 2) if kept.size else np.zeros(
        (0, len(names), lags.size))
    lag_s = lags / fs
    if baseline is not None and cube.shape[0]:
        b0 = lag_s[0] if baseline[0] is None else float(baseline[0])
        b1 = lag_s[-1] if baseline[1] is None else float(baseline[1])
        window = (lag_s >= b0 - 0.5 / fs) & (lag_s <= b1 + 0.5 / fs)
        if not window.any():
            raise ValueError(f"the baseline {baseline} holds no sample of the window "
                             f"[{tmin}, {tmax}] s")
        cube = cube - cube[:, :, window].mean(axis=2, keepdims=True)
    return xr.DataArray(
        cube, dims=("epoch", "channel", "lag"),
        coords={"epoch": np.arange(kept.size), "channel": names, "lag": lag_s,
                "onset": ("epoch", ev.times[kept])},
        attrs={"units": "T", "sample_rate": fs, "dropped": int(picks.size - kept.size),
               "baseline": "none" if baseline is None else str(baseline)},
        name="epochs")


def average(epoch_data: xr.DataArray) -> xr.Dataset:
    """The evoked response: mean over epochs, its standard error, the number of epochs.

    Returns
    -------
    xarray.Dataset
        ``evoked`` (channel, lag), ``sem`` (channel, lag: standard deviation over epochs / √N),
        attrs ``n_epochs``, ``units``.
    """
    if "epoch" not in epoch_data.dims:
        raise ValueError("average() takes the output of epochs() (an 'epoch' dimension)")
    n = epoch_data.sizes["epoch"]
    if n == 0:
        raise ValueError("no epochs to average (no events, or all too close to the record's "
                         "ends)")
    mean = epoch_data.mean("epoch")
    sem = (epoch_data.std("epoch", ddof=1) / math.sqrt(n) if n > 1
           else xr.full_like(mean, np.nan))
    units = epoch_data.attrs.get("units", "T")
    out = xr.Dataset({"evoked": mean.assign_attrs(units=units),
                      "sem": sem.assign_attrs(units=units)})
    out.attrs.update(n_epochs=n, units=units)
    return out


def evoked_noise(noise_asd: float, bandwidth: float, n_epochs: int) -> float:
    """Standard deviation (T) left in an average of ``n_epochs`` epochs of white noise.

    ``noise_asd`` is the one-sided ASD (T/√Hz) of the record, ``bandwidth`` (Hz) the band it
    is seen through (the lock-in's ENBW, or a filter applied before epoching).
    """
    if not (noise_asd >= 0 and bandwidth > 0 and n_epochs >= 1):
        raise ValueError("noise_asd ≥ 0, bandwidth > 0 and n_epochs ≥ 1 are required")
    return noise_asd * math.sqrt(bandwidth) / math.sqrt(n_epochs)


def trials_needed(amplitude: float, noise_asd: float, bandwidth: float, *,
                  snr: float = 5.0) -> int:
    """Epochs to average until a response of peak ``amplitude`` (T) stands ``snr`` times above
    the noise left (:func:`evoked_noise`)."""
    if not (amplitude > 0 and noise_asd > 0 and bandwidth > 0 and snr > 0):
        raise ValueError("amplitude, noise_asd, bandwidth and snr must be positive")
    needed = (snr * noise_asd * math.sqrt(bandwidth) / amplitude) ** 2
    return max(1, math.ceil(needed * (1 - 1e-12)))  # 40.0000000001 is 40 trials
