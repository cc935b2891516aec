"""The Bench: the instruments of one set-up, their limits, and leaving them safe.

>>> from nvsense.instruments import load_bench
>>> with load_bench() as bench:          # the built-in simulated bench
...     bench.mw.frequency = 2.87e9
...     bench.mw.power = -10.0
...     bench.laser.on = True
...     bench.mw.output = True
...     bench.counter.configure(10, 1e-3)
...     counts = bench.counter.acquire()
>>> bench.safe_report
['mw: RF off, list stopped', 'laser: off', 'counter: stopped', 'coil: output off']

Using the bench as a context manager connects every instrument, and on the way out (normal
end, exception or Ctrl-C) turns the RF off, stops any list, turns the laser off (or puts it
in standby), stops the counter and switches the coil off, then closes the connections.

The instruments of lock-in, pulsed and widefield measurements (``bench.lockin``,
``bench.analog_input``, ``bench.fm_drive``, ``bench.pulser``, ``bench.gated_counter``,
``bench.camera``) are optional slots: built when first asked for (and connected then if the
bench is connected), made safe and closed with the others once they are in use.  A bench that
never asks for them never builds them.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from .capabilities import bench_capabilities, sweep_mode
from .config import BenchConfig, load_bench_config
from .errors import (
    BackendUnavailableError,
    BenchConfigError,
    CapabilityError,
    InstrumentError,
    LimitError,
)
from .guarded import GuardedCoil, GuardedLaser, GuardedMicrowave
from .guarded_kinds import GuardedFMDrive, GuardedLockIn, GuardedPulser
from .limits import (
    BenchLimits,
    check_coil_current,
    check_frequencies,
    check_laser_power,
    check_mw_power,
)
from .protocols import Snapshottable
from .registry import CORE_SLOTS, KINDS, OPTIONAL_SLOTS, build_instrument, find_driver
from .sample_info import SampleInfo, mixed_bench_warnings, sample_info, unseen_by_sample
from .simulated.sample import SimulatedSample
from .snapshot import generic_snapshot, quantity_value

__all__ = ["Bench", "load_bench"]

log = logging.getLogger("nvsense.instruments")

#: Order in which instruments are connected and made safe (RF first: it can heat or damage);
#: the optional slots (:data:`~nvsense.instruments.registry.OPTIONAL_SLOTS`) follow, in use.
SLOT_ORDER = CORE_SLOTS

#: What leaving each optional slot safe does, for :attr:`Bench.safe_report`.
_OPTIONAL_SAFE = {
    "pulser": "stopped, outputs low",
    "fm_drive": "stopped, output 0 V",
    "lockin": "capture stopped, sine output down",
    "analog_input": "stopped",
    "gated_counter": "stopped",
    "camera": "acquisition stopped",
}
#: Optional instruments handed out behind a guard of the bench's limits.
_OPTIONAL_GUARDS = {"lockin": GuardedLockIn, "fm_drive": GuardedFMDrive,
                    "pulser": GuardedPulser}


def load_bench(
    path_or_mapping: str | Path | Mapping[str, Any] | BenchConfig | None = None,
    *,
    pace: Literal["fast", "realtime"] | None = None,
    base_dir: str | Path | None = None,
) -> Bench:
    """Read a bench file (or mapping) and build its instruments, without connecting.

    Parameters
    ----------
    path_or_mapping
        A bench file, the name of a built-in bench (``"simulated"``, ``"single_nv"``,
        ``"example_real"``), a mapping with the file's content, a validated
        :class:`~nvsense.instruments.config.BenchConfig`, or ``None`` for the built-in
        simulated bench.
    pace
        For simulated instruments: ``"fast"`` or ``"realtime"`` (overrides ``sample.pace``).
    base_dir
        Where relative paths in the bench (pyvisa-sim models) are read from: default the
        bench file's folder, or the working directory for a mapping.

    Raises
    ------
    BenchConfigError
        The bench file is invalid, names an unknown driver or option, or a driver cannot be
        imported (:class:`~nvsense.instruments.registry.DriverUnavailableError`).
    """
    config, source = load_bench_config(path_or_mapping, base_dir=base_dir)
    return Bench(config, source=source, pace=pace)


class Bench:
    """The instruments of one bench, guarded by its limits.

    Parameters
    ----------
    config
        A validated bench configuration.
    source
        The bench file it came from (``None`` for a mapping).
    pace
        Pace of the simulated sample, if any (overrides ``config.sample.pace``).

    Attributes
    ----------
    mw, laser : guarded instruments
        Settings outside the limits raise ``LimitError`` and send nothing.
    counter
        The counter / DAQ.
    coil
        The guarded coil supply, or ``None``.
    config : BenchConfig
    source : Path or None
    limits : BenchLimits
    sample : SimulatedSample or None
        The simulated sample shared by the simulated instruments (``None`` on a real bench):
        the simulator's ground truth, for tests and simulated campaigns.  Measurements read
        :attr:`sample_info` instead.
    warnings : list of str
        Problems of the bench's make-up that do not stop it (a mixed bench whose simulated
        sample cannot see a real source or laser), each naming the instrument and the fix;
        logged when the bench is built.
    connect_errors : dict
        Slot -> error for instruments that :meth:`connect` with ``keep_going`` could not
        reach.
    safe_report : list of str
        What the last :meth:`safe` did, one line per action (``"mw: RF off, list stopped"``),
        including failures; stored in run files.
    safe_errors : dict
        Slot -> exception for instruments that could not be made safe.
    """

    def __init__(self, config: BenchConfig, *, source: Path | None = None,
                 pace: Literal["fast", "realtime"] | None = None) -> None:
        self.config = config
        self.source = source
        self.limits = BenchLimits.from_config(config.limits, source)
        self.sample: SimulatedSample | None = (
            SimulatedSample(config.sample, pace=pace) if config.simulated_slots else None)
        raw = {slot: self._build(slot) for slot in config.instruments.entries()
               if slot in CORE_SLOTS}
        #: Optional instruments built so far (slot -> instrument, guarded where limits apply).
        self._optional: dict[str, Any] = {}
        self._optional_lock = threading.RLock()
        self.mw = GuardedMicrowave(raw["mw"], self.limits)
        self.laser = GuardedLaser(raw["laser"], self.limits)
        self.counter = raw["counter"]
        self.coil = GuardedCoil(raw["coil"], self.limits) if "coil" in raw else None
        self.safe_report: list[str] = []
        self.safe_errors: dict[str, BaseException] = {}
        self.connect_errors: dict[str, InstrumentError] = {}
        self._connected: list[str] = []
        self._atexit_registered = False
        self.warnings: list[str] = mixed_bench_warnings(config)
        for text in self.warnings:
            log.warning("%s: %s", self.label, text, extra={"nvsense_bench_warning": True})

    def _build(self, slot: str) -> Any:
        """Construct the driver of ``slot`` (no I/O), naming the bench file on error."""
        entry = self.config.instruments.entries()[slot]
        try:
            # The validated options: units parsed, relative paths already resolved against
            # the bench file.
            options = (entry.settings.driver_kwargs() if entry.settings is not None
                       else entry.options)
            return build_instrument(slot, entry.driver, options, sample=self.sample)
        except BenchConfigError as exc:
            if self.source is None:
                raise
            raise type(exc)(f"{self.source}: {exc}") from exc.__cause__

    # --- description ---------------------------------------------------------------------

    @property
    def instruments(self) -> dict[str, Any]:
        """Slot -> instrument (guarded where limits apply), in connection order: the core
        slots, then the optional ones that have been asked for (see :meth:`instrument`)."""
        slots = {"mw": self.mw, "laser": self.laser, "counter": self.counter, "coil": self.coil}
        core = {slot: slots[slot] for slot in SLOT_ORDER if slots[slot] is not None}
        with self._optional_lock:
            optional = {slot: self._optional[slot] for slot in OPTIONAL_SLOTS
                        if slot in self._optional}
        return {**core, **optional}

    @property
    def slots(self) -> tuple[str, ...]:
        """Every filled slot of the bench file, core slots first, whether built or not."""
        return tuple(self.config.instruments.entries())

    @property
    def optional_slots(self) -> tuple[str, ...]:
        """The optional slots this bench has (``lockin``, ``pulser``, ``camera``...)."""
        return tuple(slot for slot in self.slots if slot in OPTIONAL_SLOTS)

    def has(self, slot: str) -> bool:
        """Whether the bench file fills ``slot`` (no instrument is built)."""
        return slot in self.config.instruments.entries()

    def instrument(self, slot: str) -> Any:
        """The instrument of ``slot``, or ``None`` if the bench has none.

        An optional slot is built on first use, bound to the bench (an FM drive gets the
        guarded source and the analog input), and connected at once when the bench is
        connected (otherwise with the bench).

        Raises
        ------
        KeyError
            ``slot`` is not a slot name.
        InstrumentError
            The bench is connected and the instrument cannot be reached (the rest of the
            bench stays as it is).
        """
        if slot in CORE_SLOTS:
            return {"mw": self.mw, "laser": self.laser, "counter": self.counter,
                    "coil": self.coil}[slot]
        if slot not in OPTIONAL_SLOTS:
            raise KeyError(f"{slot!r} is not a bench slot; slots: "
                           f"{', '.join((*CORE_SLOTS, *OPTIONAL_SLOTS))}")
        if not self.has(slot):
            return None
        with self._optional_lock:
            instrument = self._optional.get(slot)
            if instrument is None:
                instrument = self._make_optional(slot)
                self._optional[slot] = instrument
            if self._connected and slot not in self._connected:
                try:
                    instrument.connect()
                except Exception as exc:
                    self.connect_errors[slot] = self._connect_error(slot, exc)
                    raise self.connect_errors[slot] from exc
                self.connect_errors.pop(slot, None)
                self._connected.append(slot)
        return instrument

    def _make_optional(self, slot: str) -> Any:
        raw = self._build(slot)
        if slot == "fm_drive" and hasattr(raw, "bind"):
            needs_ai = getattr(raw, "needs_analog_input", True)
            raw.bind(self.mw, self.instrument("analog_input") if needs_ai else None)
        guard = _OPTIONAL_GUARDS.get(slot)
        return guard(raw, self.limits) if guard is not None else raw

    def require(self, *slots: str) -> tuple[Any, ...]:
        """The instruments of ``slots`` (built, and connected if the bench is), for a
        measurement that needs them.

        Raises
        ------
        CapabilityError
            The bench file has no entry for some of them: the message names each and gives an
            example entry.
        """
        missing = [slot for slot in slots if not self.has(slot)]
        if missing:
            examples = "; ".join(
                f"instruments.{slot} ({KINDS.get(slot, slot)}), e.g. "
                f"{slot}: {_example_entry(slot)}" for slot in missing)
            raise CapabilityError(f"{self.label} has no {', '.join(missing)}: add {examples} "
                                  f"to the bench file (or run on the simulated bench, which "
                                  f"has every instrument)")
        return tuple(self.instrument(slot) for slot in slots)

    @property
    def lockin(self) -> Any:
        """The lock-in amplifier (``None`` if the bench has none); built on first use."""
        return self.instrument("lockin")

    @property
    def analog_input(self) -> Any:
        """The continuous multi-channel analog input (``None`` if the bench has none)."""
        return self.instrument("analog_input")

    @property
    def fm_drive(self) -> Any:
        """The FM drive of the microwave source (``None`` if the bench has none)."""
        return self.instrument("fm_drive")

    @property
    def pulser(self) -> Any:
        """The pulse generator (``None`` if the bench has none)."""
        return self.instrument("pulser")

    @property
    def gated_counter(self) -> Any:
        """The gated counter of pulsed read-out (``None`` if the bench has none)."""
        return self.instrument("gated_counter")

    @property
    def camera(self) -> Any:
        """The camera (``None`` if the bench has none)."""
        return self.instrument("camera")

    @property
    def connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`close` has not been called."""
        return bool(self._connected)

    @property
    def label(self) -> str:
        """The bench's name, its file, or ``"bench mapping"``."""
        return self.config.name or (str(self.source) if self.source else "bench mapping")

    def driver_of(self, slot: str) -> str:
        """The driver name of ``slot`` (``"sg384"``)."""
        return self.config.instruments.entries()[slot].driver

    @property
    def sample_info(self) -> SampleInfo:
        """What the bench file declares about the sample (``sample: nv, axes, nucleus``); on a
        simulated bench it defaults from the simulator's configuration.  See
        :mod:`nvsense.instruments.sample_info`."""
        return sample_info(self.config)

    @property
    def unseen_by_sample(self) -> tuple[str, ...]:
        """Slots of real instruments that the simulated sample of this bench cannot see (a
        real ``mw`` or ``laser`` with the simulated counter); empty on a consistent bench."""
        return unseen_by_sample(self.config)

    def snapshot(self) -> dict[str, Any]:
        """Every instrument's read-back state, like a QCoDeS station snapshot.

        Needs a connection.  Each instrument's :meth:`snapshot` (identity, settings read back
        with their units, limits, list and FM state...) under its slot, with the bench's
        limits and the effective ones, the declared sample and the bench's warnings.  An
        instrument that fails to answer is recorded with its error instead, so that one
        snapshot never stops a run.  JSON-serialisable
        (:func:`nvsense.instruments.snapshot.snapshot_json`).
        """
        instruments: dict[str, Any] = {}
        for slot, instrument in self.instruments.items():
            entry: dict[str, Any] = {"driver": self.driver_of(slot)}
            if slot not in self._connected:
                error = self.connect_errors.get(slot)
                entry["error"] = str(error) if error else "not connected"
                instruments[slot] = entry
                continue
            try:
                # the guards add the effective limits; a user's counter may have no snapshot
                entry.update(instrument.snapshot() if isinstance(instrument, Snapshottable)
                             else generic_snapshot(slot, instrument))
            except Exception as exc:  # recorded, not raised: the others still count
                entry["error"] = f"{type(exc).__name__}: {exc}"
            instruments[slot] = entry
        for slot in self.optional_slots:
            if slot not in instruments:  # never asked for: not built, nothing to read
                instruments[slot] = {"driver": self.driver_of(slot), "used": False}
        b = self.limits
        return {
            "bench": {"name": self.config.name or "", "label": self.label,
                      "source": str(self.source) if self.source else ""},
            "limits": {
                "frequency": ([quantity_value(f, "Hz") for f in b.frequency]
                              if b.frequency is not None else None),
                "max_mw_power": quantity_value(b.max_mw_power, "dBm"),
                "max_laser_power": quantity_value(b.max_laser_power, "W"),
                "max_coil_current": quantity_value(b.max_coil_current, "A"),
                "max_modulation_voltage": quantity_value(b.max_modulation_voltage, "V"),
                "max_mw_duty_cycle": b.max_mw_duty_cycle,
            },
            "safe_state": {"laser": self.config.safe_state.laser},
            "sample": self.sample_info.as_dict(),
            "capabilities": self.capabilities(),
            "warnings": list(self.warnings),
            "instruments": instruments,
        }

    def sweep_mode(self, requested: Literal["auto", "list", "stepped"] = "auto"
                   ) -> Literal["list", "stepped"]:
        """How sweeps step the frequency on this bench: ``"list"`` (hardware-timed, when the
        source is a :class:`~nvsense.instruments.protocols.ListSweep` and the counter a
        :class:`~nvsense.instruments.protocols.MicrowaveTrigger`) or ``"stepped"``.

        See :func:`nvsense.instruments.capabilities.sweep_mode`; ``requested="list"`` on a
        bench without lists raises :class:`~nvsense.instruments.errors.CapabilityError`.
        """
        return sweep_mode(self, requested)

    def capabilities(self) -> dict[str, bool]:
        """Optional features of the bench's instruments
        (:func:`nvsense.instruments.capabilities.bench_capabilities`)."""
        return bench_capabilities(self)

    def identities(self) -> dict[str, str]:
        """Slot -> identity string as each connected instrument reports it."""
        return {slot: str(inst.identity) for slot, inst in self.instruments.items()
                if slot in self._connected}

    def metadata(self) -> dict[str, Any]:
        """What a run file records about the bench (JSON-serialisable)."""
        data: dict[str, Any] = {
            "bench_name": self.config.name or "",
            "bench_source": str(self.source) if self.source else "",
            "bench_config": self.config.model_dump(mode="json"),
            "drivers": {slot: self.driver_of(slot) for slot in self.instruments},
            "sample_info": self.sample_info.as_dict(),
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.connected:
            data["identities"] = self.identities()
        if self.safe_report:
            data["safe_report"] = list(self.safe_report)
        return data

    # --- connection ------------------------------------------------------------------------

    def connect(self, *, keep_going: bool = False) -> Bench:
        """Connect every instrument (in :data:`SLOT_ORDER`).

        Parameters
        ----------
        keep_going
            Try every instrument even when one fails, and raise nothing: the failures are in
            :attr:`connect_errors`, the instruments that answered stay connected (``nvsense
            instruments check`` reports them all).  Default: stop at the first failure.

        Raises
        ------
        InstrumentError
            Naming the instrument that could not be reached and how to fix it; the ones
            already connected are made safe and closed first.
        """
        if self._connected:
            return self
        self.connect_errors = {}
        for slot, instrument in self.instruments.items():
            try:
                instrument.connect()
            except BaseException as exc:
                if keep_going and isinstance(exc, Exception):
                    self.connect_errors[slot] = self._connect_error(slot, exc)
                    continue
                self.safe()
                self.close()
                if isinstance(exc, Exception):
                    raise self._connect_error(slot, exc) from exc
                raise
            self._connected.append(slot)
        if not self._atexit_registered:
            atexit.register(self._at_exit)
            self._atexit_registered = True
        return self

    def _connect_error(self, slot: str, exc: Exception) -> InstrumentError:
        entry = self.config.instruments.entries()[slot]
        where = entry.options.get("address") or entry.options.get("device")
        what = f"{slot} ({entry.driver}{f' at {where}' if where else ''})"
        cause = exc.cause if isinstance(exc, InstrumentError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, BackendUnavailableError):
            # Software missing on this computer: the cause names it and how to install it;
            # cables and power are not the problem.
            return BackendUnavailableError(what, "connect", cause)
        hint = ("check that it is switched on, connected and at that address "
                f"(instruments.{slot} in {self.source or 'the bench'}), or run on the "
                "simulated bench")
        if entry.info.simulated:
            hint = "the simulated bench was asked to fail (sample.faults)"
        return InstrumentError(what, "connect", f"{cause}; {hint}")

    def close(self) -> None:
        """Close every connection (idempotent; errors are logged, not raised)."""
        for slot, instrument in self.instruments.items():
            try:
                instrument.close()
            except Exception as exc:  # closing must go on for the others
                log.warning("%s: close failed: %s", slot, exc)
        self._connected = []
        if self._atexit_registered:
            atexit.unregister(self._at_exit)
            self._atexit_registered = False

    def _at_exit(self) -> None:
        """Interpreter exit with the bench still connected: make it safe."""
        if self._connected:
            self.safe()
            self.close()

    def __enter__(self) -> Bench:
        return self.connect()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.safe()
        finally:
            self.close()

    # --- safety ----------------------------------------------------------------------------

    def safe(self) -> list[str]:
        """Leave every connected instrument safe; never raises for a failing instrument.

        RF off and list stopped, laser off or standby (``safe_state.laser``), counter stopped,
        coil output off; then the optional instruments in use: pulser stopped with its outputs
        low, FM drive stopped at 0 V, lock-in capture stopped and sine output down, analog
        input and gated counter stopped, camera acquisition stopped.  Failures are logged and
        collected in :attr:`safe_errors` so that one dead instrument does not keep the others
        unsafe.  Ctrl-C is held back until all are
        done (then raised).

        Returns
        -------
        list of str
            :attr:`safe_report`: one line per action, e.g. ``"laser: off"`` or
            ``"mw: NOT made safe: ..."``.
        """
        report: list[str] = []
        errors: dict[str, BaseException] = {}
        mode = self.config.safe_state.laser
        actions = {
            "mw": (lambda: self._mw_safe(), "RF off, list stopped"),
            "laser": (lambda: self.laser.safe(mode), mode),
            "counter": (lambda: self.counter.safe(), "stopped"),
            "coil": (lambda: self.coil.safe() if self.coil else None, "output off"),
        }
        for slot, instrument in self.instruments.items():
            if slot in OPTIONAL_SLOTS:
                actions[slot] = (instrument.safe, _OPTIONAL_SAFE[slot])
        with _sigint_deferred():
            for slot in (*SLOT_ORDER, *OPTIONAL_SLOTS):
                if slot not in self._connected:
                    continue
                action, done = actions[slot]
                try:
                    action()
                    report.append(f"{slot}: {done}")
                except Exception as exc:
                    errors[slot] = exc
                    report.append(f"{slot}: NOT made safe: {exc}")
                    log.error("%s could not be made safe: %s", slot, exc)
            self.safe_report, self.safe_errors = report, errors  # before a held Ctrl-C
        return report

    def _mw_safe(self) -> None:
        self.mw.safe()
        if self.mw.output:  # read back: a source that ignored the command must not pass
            raise InstrumentError("mw", "RF off", "the output still reads on after safe()")

    def check_settings(
        self,
        *,
        frequencies: Any = None,
        mw_power: float | None = None,
        laser_power: float | None = None,
        coil_current: float | None = None,
    ) -> None:
        """Check planned settings against the instruments' and the bench's limits.

        Sends nothing; works before :meth:`connect`.

        Raises
        ------
        LimitError
            Naming the value, the limit and where it comes from.
        """
        if frequencies is not None:
            check_frequencies(frequencies, instrument=self._instrument_limits("mw"),
                              bench=self.limits, who="mw")
        if mw_power is not None:
            check_mw_power(mw_power, instrument=self._instrument_limits("mw"),
                           bench=self.limits, who="mw")
        if laser_power is not None:
            check_laser_power(laser_power, instrument=self._instrument_limits("laser"),
                              bench=self.limits, who="laser")
        if coil_current is not None:
            if self.coil is None:
                raise LimitError("coil current given, but this bench has no coil "
                                 "(add instruments.coil to the bench file)",
                                 quantity="coil_current", value=coil_current, unit="A",
                                 instrument="coil")
            check_coil_current(coil_current, instrument=self._instrument_limits("coil"),
                               bench=self.limits, who="coil")

    def _instrument_limits(self, slot: str) -> Any:
        try:
            return self.instruments[slot].instrument_limits
        except Exception as exc:  # a driver may know its limits only once connected
            log.warning("%s: instrument limits unknown (%s); checking the bench limits only",
                        slot, exc)
            return None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<Bench {self.label!r} ({state})>"


def _example_entry(slot: str) -> str:
    """A bench-file entry for ``slot`` (its first real driver's example)."""
    from .registry import drivers

    real = [d for d in drivers(slot) if not d.simulated and d.example]
    return real[0].example_text() if real else find_driver(slot, "simulated").example_text()


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while the bench is made safe, then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not in the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt
