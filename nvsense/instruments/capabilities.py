"""What a bench can do beyond the basics, decided from the capability protocols in one place.

The optional features of an instrument are protocols of :mod:`nvsense.instruments.protocols`
(:class:`~nvsense.instruments.protocols.ListSweep`,
:class:`~nvsense.instruments.protocols.FrequencyModulation`,
:class:`~nvsense.instruments.protocols.MicrowaveTrigger`,
:class:`~nvsense.instruments.protocols.ExternalGate`).  This module turns them into the
decisions a measurement needs, so that the same question gets the same answer everywhere:

>>> from nvsense.instruments import load_bench
>>> from nvsense.instruments.capabilities import sweep_mode
>>> sweep_mode(load_bench())            # the simulated bench: hardware-timed lists
'list'
"""

from __future__ import annotations

from typing import Any, Literal

from .errors import CapabilityError
from .protocols import ExternalGate, FrequencyModulation, ListSweep, MicrowaveTrigger

__all__ = ["SweepMode", "bench_capabilities", "sweep_mode", "sweep_mode_for"]

#: How a sweep steps the frequency: a hardware-timed list, or one frequency per acquisition.
SweepMode = Literal["list", "stepped"]


def sweep_mode_for(mw: Any, counter: Any,
                   requested: Literal["auto", "list", "stepped"] = "auto") -> SweepMode:
    """The sweep mode for a microwave source and a counter.

    A hardware-timed list needs both halves: a source that steps a list on trigger edges
    (:class:`~nvsense.instruments.protocols.ListSweep`) and a counter whose bin clock sends
    those edges (:class:`~nvsense.instruments.protocols.MicrowaveTrigger`).

    Parameters
    ----------
    mw, counter
        The bench's microwave source and counter (guarded or bare).
    requested
        ``"auto"`` (a list where the bench can, else stepped), ``"list"`` or ``"stepped"``.

    Raises
    ------
    CapabilityError
        ``requested="list"`` on a bench that cannot run lists; the message names the
        instrument that cannot and the fix.
    ValueError
        ``requested`` is not one of the three.
    """
    if requested not in ("auto", "list", "stepped"):
        raise ValueError(f"sweep mode must be 'auto', 'list' or 'stepped', not {requested!r}")
    if requested == "stepped":
        return "stepped"
    missing = _list_blocker(mw, counter)
    if missing is None:
        return "list"
    if requested == "list":
        raise CapabilityError(f"{missing}; use mode 'stepped' (or 'auto')")
    return "stepped"


def sweep_mode(bench: Any, requested: Literal["auto", "list", "stepped"] = "auto") -> SweepMode:
    """The sweep mode of ``bench`` (anything with ``mw`` and ``counter``): see
    :func:`sweep_mode_for`."""
    return sweep_mode_for(bench.mw, bench.counter, requested)


def _list_blocker(mw: Any, counter: Any) -> str | None:
    """Why a hardware-timed list cannot run, or ``None``."""
    if not isinstance(mw, ListSweep):
        name = getattr(mw, "name", "mw")
        return f"{name}: this microwave source has no list mode"
    if not isinstance(counter, MicrowaveTrigger):
        name = getattr(counter, "name", "counter")
        return (f"{name}: this counter cannot send the trigger edges that step a microwave "
                f"list")
    return None


def bench_capabilities(bench: Any) -> dict[str, bool]:
    """Which optional features the bench's instruments have, by capability name.

    ``list_sweep`` (source and counter together), ``frequency_modulation``,
    ``mw_trigger`` (the counter's clock can step a list) and ``external_gate`` (the counter
    counts only inside the windows of a gate input).  Which optional instruments a bench has
    (lock-in, pulser, camera...) is :meth:`Bench.slots <nvsense.instruments.Bench.slots>`.
    """
    return {
        "list_sweep": _list_blocker(bench.mw, bench.counter) is None,
        "frequency_modulation": isinstance(bench.mw, FrequencyModulation),
        "mw_trigger": isinstance(bench.counter, MicrowaveTrigger),
        "external_gate": isinstance(bench.counter, ExternalGate),
    }
