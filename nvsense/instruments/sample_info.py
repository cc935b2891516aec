"""What a bench knows about its sample, declared in the bench file, never read from the
simulator's ground truth.

A real bench cannot ask its diamond which NV orientations it holds; the experimenter knows and
writes it in the bench file's ``sample:`` section::

    sample:
      nv: single          # or ensemble
      axes: [0]           # the NV axes present (bright), 0-3
      nucleus: 15N        # none, 14N or 15N

Measurements read it with :attr:`nvsense.instruments.Bench.sample_info` (a
:class:`SampleInfo`).  On a simulated bench the same keys configure the simulator, so the
declared knowledge defaults from its configuration; on a real bench a key the file leaves out
is unknown (``None``), and a measurement then assumes nothing (all four axes, no hyperfine
structure).

This module also words the warning for a *mixed* bench, whose simulated instruments cannot act
on a real sample or see real instruments (:func:`mixed_bench_warnings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .config import BenchConfig

__all__ = ["SAMPLE_KNOWLEDGE_KEYS", "SampleInfo", "mixed_bench_warnings", "sample_info",
           "unseen_by_sample"]

#: The ``sample:`` keys a real bench declares about its sample (the other keys of the section
#: configure the simulator only).
SAMPLE_KNOWLEDGE_KEYS = ("nv", "axes", "nucleus")


@dataclass(frozen=True)
class SampleInfo:
    """The sample as the bench file declares it.

    Attributes
    ----------
    axes
        NV axes present (0-3, the crystal's [111], [1-1-1], [-11-1], [-1-11]), or ``None``
        when not declared.
    nucleus
        ``"none"``, ``"14N"`` or ``"15N"``, or ``None`` when not declared.
    nv
        ``"single"`` or ``"ensemble"``, or ``None`` when not declared.
    declared
        The keys the bench file gave (the rest came from the simulator's defaults, or are
        unknown).
    source
        ``"bench file"`` (a real bench: declared keys only) or ``"simulated sample"`` (a
        simulated bench: the simulator's configuration).
    """

    axes: tuple[int, ...] | None
    nucleus: Literal["none", "14N", "15N"] | None
    nv: Literal["single", "ensemble"] | None
    declared: tuple[str, ...]
    source: Literal["bench file", "simulated sample"]

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for run-file metadata."""
        return {"axes": list(self.axes) if self.axes is not None else None,
                "nucleus": self.nucleus, "nv": self.nv, "declared": list(self.declared),
                "source": self.source}


def sample_info(config: BenchConfig) -> SampleInfo:
    """The :class:`SampleInfo` of a bench configuration.

    On a bench whose counter is simulated (the simulator is the sample), every key comes from
    the simulator's configuration; ``nv`` defaults to ``"single"`` for one axis and
    ``"ensemble"`` otherwise.  On a real bench only what ``sample:`` declares is known.
    """
    sample = config.sample
    declared = tuple(key for key in SAMPLE_KNOWLEDGE_KEYS if key in sample.model_fields_set)
    if _counter_simulated(config):
        nv = sample.nv or ("single" if len(sample.axes) == 1 else "ensemble")
        return SampleInfo(tuple(sample.axes), sample.nucleus, nv, declared, "simulated sample")
    return SampleInfo(tuple(sample.axes) if "axes" in declared else None,
                      sample.nucleus if "nucleus" in declared else None,
                      sample.nv, declared, "bench file")


def _counter_simulated(config: BenchConfig) -> bool:
    return config.instruments.counter.info.simulated


def unseen_by_sample(config: BenchConfig) -> tuple[str, ...]:
    """Slots of real instruments the simulated sample cannot see, on a bench whose counter is
    simulated (empty otherwise): a real ``mw`` leaves the simulated spectrum without lines, a
    real ``laser`` leaves it dark."""
    if not _counter_simulated(config):
        return ()
    entries = config.instruments.entries()
    return tuple(slot for slot in ("mw", "laser", "coil")
                 if slot in entries and not entries[slot].info.simulated)


#: What a simulated counter measures when the sample cannot see the instrument of a slot.
_CONSEQUENCE = {
    "mw": "spectra show no resonances (a fit would chase noise)",
    "laser": "the sample is never lit, so the counter reads dark counts only",
    "coil": "the sample's field ignores the coil current",
}


def mixed_bench_warnings(config: BenchConfig) -> list[str]:
    """Warnings for a bench that mixes simulated and real instruments where that measures
    nothing meaningful, each naming the instrument and the fix."""
    entries = config.instruments.entries()
    counter = entries["counter"]
    problems: list[str] = _optional_reader_warnings(entries)
    if counter.info.simulated:
        for slot in unseen_by_sample(config):
            problems.append(
                f"instruments.{slot} ({entries[slot].driver}) is a real instrument, but the "
                f"counter is simulated: the simulated sample cannot see the {slot}, so "
                f"{_CONSEQUENCE[slot]}. Fix: use driver: simulated for {slot} too (to try the "
                f"software), or a real counter such as driver: nidaq (to measure a real "
                f"sample)")
        return problems
    for slot in ("mw", "laser", "coil"):
        if slot in entries and entries[slot].info.simulated:
            problems.append(
                f"instruments.{slot} is simulated, but the counter ({counter.driver}) is real: "
                f"the simulated {slot} acts on no real sample. Fix: use the real driver for "
                f"{slot}, or driver: simulated for the counter too")
    return problems


#: Optional instruments that read the sample (what they measure needs the sample's mw and laser).
_READERS = {"lockin": "the lock-in sees", "analog_input": "the photodiodes see",
            "gated_counter": "the gated counter sees", "camera": "the camera sees"}


def _optional_reader_warnings(entries: dict[str, Any]) -> list[str]:
    """A simulated lock-in, analog input, gated counter or camera reads the simulated sample,
    which a real source or laser does not act on."""
    real = [slot for slot in ("mw", "laser") if not entries[slot].info.simulated]
    if not real:
        return []
    names = " and ".join(f"{s} ({entries[s].driver})" for s in real)
    verb, pronoun = ("is", "it") if len(real) == 1 else ("are", "them")
    problems = []
    for slot, sees in _READERS.items():
        entry = entries.get(slot)
        if entry is None or not entry.info.simulated:
            continue
        problems.append(
            f"instruments.{slot} is simulated, but {names} {verb} real: the simulated sample "
            f"cannot see {pronoun}, so {sees} no resonance. Fix: use a real driver for {slot}, "
            f"or driver: simulated for {' and '.join(real)} too")
    return problems
