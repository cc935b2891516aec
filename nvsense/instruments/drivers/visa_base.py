"""Shared machinery of the VISA drivers: connection, terminations, one error type, read-back.

Every nvsense instrument driver that talks over VISA (LAN socket, VXI-11, GPIB, USB-TMC or a
serial port through pyvisa) derives from :class:`VisaInstrument`.  The base class

- opens the resource with ``pyvisa.ResourceManager(visa_library)`` in :meth:`connect` (never in
  ``__init__``), sets the instrument's read/write terminations, the timeout and, for serial
  ports, the baud rate and framing the manual prescribes;
- turns every VISA or serial failure (timeout, lost connection, closed session) into
  :class:`~nvsense.instruments.errors.InstrumentError` naming the instrument, the command and
  the cause;
- runs the driver's error check after each command (:meth:`check_errors`: the SCPI error queue,
  the SG384 ``LERR?`` buffer, or nothing for instruments that answer every command);
- offers :class:`Setting`, a small descriptor in the spirit of PyMeasure's
  ``Instrument.control``: a query, a command, a limit check that runs before anything is sent,
  and a read-back that must agree with what was set within the instrument's resolution.

Tests inject a fake resource manager through the ``resource_manager`` argument
(see :mod:`nvsense.instruments.drivers.testing`).
"""

from __future__ import annotations

import abc
import logging
import math
import numbers
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyvisa
from pyvisa import constants

from ..errors import BackendUnavailableError, InstrumentError
from ..snapshot import quantity_value

__all__ = [
    "DriverDescription",
    "ScpiErrorQueue",
    "SerialSettings",
    "Setting",
    "VisaInstrument",
    "backend_problem",
    "format_bool_01",
    "format_on_off",
    "is_number",
    "parse_bool",
    "parse_float",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriverDescription:
    """What a driver drives, for the registry and ``nvsense instruments list``.

    Attributes
    ----------
    kind
        The bench slot kind it fills: ``"mw"``, ``"laser"`` or ``"coil"``.
    summary
        One line naming the instruments.
    models
        Model names the driver accepts in the identification reply (``*IDN?`` or equivalent).
    manual
        The programming manual the commands come from.
    connections
        Example VISA resource strings.
    """

    kind: Literal["mw", "laser", "coil"]
    summary: str
    models: tuple[str, ...]
    manual: str
    connections: tuple[str, ...]


@dataclass(frozen=True)
class SerialSettings:
    """Serial-port framing an instrument's manual prescribes."""

    baud_rate: int
    data_bits: int = 8
    parity: constants.Parity = constants.Parity.none
    stop_bits: constants.StopBits = constants.StopBits.one
    flow_control: int = constants.ControlFlow.none


def is_number(value: Any) -> bool:
    """A finite real number (not a bool): what a setting may be."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def parse_float(reply: str) -> float:
    """A number as instruments print it (``"+2.87000E+09"``, ``"-10.00"``); finite only."""
    value = float(reply.strip())
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {reply!r}")
    return value


def parse_bool(reply: str) -> bool:
    """``1``/``0`` or ``ON``/``OFF`` (any case) as a bool."""
    text = reply.strip().upper()
    if text in {"1", "ON"}:
        return True
    if text in {"0", "OFF"}:
        return False
    raise ValueError(f"not a boolean: {reply!r}")


def format_bool_01(value: bool) -> str:
    """``True`` as ``"1"``, ``False`` as ``"0"``."""
    return "1" if value else "0"


def format_on_off(value: bool) -> str:
    """``True`` as ``"ON"``, ``False`` as ``"OFF"``."""
    return "ON" if value else "OFF"


class VisaInstrument(abc.ABC):
    """Base of the VISA drivers.

    Parameters
    ----------
    name
        The bench slot (``"mw"``); used in every error message.
    address
        VISA resource string, e.g. ``"TCPIP0::10.0.0.11::5025::SOCKET"``.
    visa_library
        What ``pyvisa.ResourceManager`` gets: ``"@py"`` (pyvisa-py), ``""`` (the system VISA,
        e.g. NI-VISA), a library path, or ``"<file>.yaml@sim"`` (pyvisa-sim).
    timeout
        I/O timeout in seconds.
    resource_manager
        An open ``pyvisa.ResourceManager`` (or a test double) to use instead of creating one.
        :meth:`close` closes the instrument's resource, never the resource manager (pyvisa
        shares it between all instruments on one VISA library).
    """

    #: Filled by each driver.
    description: ClassVar[DriverDescription]
    #: Terminations from the instrument's manual.
    read_termination: ClassVar[str] = "\n"
    write_termination: ClassVar[str] = "\n"
    #: Serial framing, applied when the address is a serial port (``ASRL...``).
    serial: ClassVar[SerialSettings | None] = None

    def __init__(self, name: str, address: str, visa_library: str = "@py", timeout: float = 2.0,
                 *, resource_manager: Any = None) -> None:
        if not isinstance(address, str) or not address.strip():
            raise ValueError(f"{name}: 'address' must be a VISA resource string, e.g. "
                             f"{self.description.connections[0]!r}")
        timeout = float(timeout)
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"{name}: 'timeout' must be a positive number of seconds")
        self.name = name
        self.address = address.strip()
        self.visa_library = visa_library
        self.timeout = timeout
        self._given_rm = resource_manager
        self._own_rm: Any = None
        self._resource: Any = None
        self._identity: str | None = None
        self._lock = threading.RLock()
        self._draining = False

    # --- connection ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`close` was not called since."""
        return self._resource is not None

    @property
    def identity(self) -> str:
        """The identification reply read at :meth:`connect`."""
        if self._identity is None:
            raise InstrumentError(self.name, "identity", "not connected; call connect() first")
        return self._identity

    def snapshot(self) -> dict[str, Any]:
        """The instrument's read-back state: identity, connection, and what
        :meth:`_snapshot_state` reads (settings with their units, limits), JSON-serialisable.

        Needs a connection; reads every value from the instrument (no cached set-points).
        """
        with self._lock:
            data: dict[str, Any] = {
                "name": self.name,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity,
                "connection": {"address": self.address, "visa_library": self.visa_library,
                               "timeout": quantity_value(self.timeout, "s")},
            }
            data.update(self._snapshot_state())
            return data

    def _snapshot_state(self) -> dict[str, Any]:
        """What a snapshot reads back beyond identity and connection (drivers extend it)."""
        return {}

    def connect(self) -> None:
        """Open the resource, configure it, identify the instrument, leave it in a safe state.

        Raises
        ------
        InstrumentError
            If the resource cannot be opened, does not answer, is not the expected model, or
            refuses the safe state.  The connection is released again in that case.
        """
        with self._lock:
            if self._resource is not None:
                return
            rm = self._given_rm
            if rm is None:
                try:
                    rm = self._own_rm = pyvisa.ResourceManager(self.visa_library)
                except Exception as exc:  # a backend raises what it likes (yaml errors...)
                    raise BackendUnavailableError(
                        self.name, f"open {self.address}",
                        backend_problem(exc, self.visa_library)) from exc
            try:
                self._resource = rm.open_resource(self.address)
            except (pyvisa.errors.Error, OSError, ValueError, LookupError) as exc:
                self._release()
                text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
                raise InstrumentError(self.name, f"open {self.address}",
                                      f"{type(exc).__name__}: {text} "
                                      f"(visa_library={self.visa_library!r})") from exc
            try:
                self._configure(self._resource)
                self._identity = self._identify()
                self._initialize()
            except BaseException:
                self._release()
                raise

    def close(self) -> None:
        """Release the connection; calling it again does nothing."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        resource, self._resource, self._identity = self._resource, None, None
        if resource is not None:
            try:
                resource.close()
            except (pyvisa.errors.Error, OSError) as exc:  # already gone: nothing to release
                log.debug("%s: closing %s: %s", self.name, self.address, exc)
        # The ResourceManager is not closed: pyvisa shares one per VISA library between all
        # its users, and closing it would cut every other instrument on that library.
        self._own_rm = None

    def _configure(self, resource: Any) -> None:
        """Terminations, timeout and serial framing, as the manual prescribes."""
        try:
            resource.read_termination = self.read_termination
            resource.write_termination = self.write_termination
            resource.timeout = round(self.timeout * 1000)
            if self.serial is not None and self._is_serial(resource):
                resource.baud_rate = self.serial.baud_rate
                resource.data_bits = self.serial.data_bits
                resource.parity = self.serial.parity
                resource.stop_bits = self.serial.stop_bits
                resource.flow_control = self.serial.flow_control
        except (pyvisa.errors.Error, OSError) as exc:
            raise InstrumentError(self.name, "configure the connection",
                                  f"{type(exc).__name__}: {exc}") from exc

    def _is_serial(self, resource: Any) -> bool:
        interface = getattr(resource, "interface_type", None)
        if interface is not None:
            return interface == constants.InterfaceType.asrl
        return self.address.upper().startswith(("ASRL", "COM"))

    @abc.abstractmethod
    def _identify(self) -> str:
        """Read the identification and check the model; return the identity string."""

    def _initialize(self) -> None:
        """Put the instrument in its known safe state (called by :meth:`connect`)."""
        return None  # a hook: drivers with state to reset override it

    # --- I/O ----------------------------------------------------------------------------

    def _require(self, command: str) -> Any:
        if self._resource is None:
            raise InstrumentError(self.name, command, "not connected; call connect() first")
        return self._resource

    def _io_error(self, command: str, exc: BaseException) -> InstrumentError:
        if isinstance(exc, pyvisa.errors.VisaIOError):
            if exc.error_code == constants.StatusCode.error_timeout:
                cause = f"no reply within {round(self.timeout * 1000)} ms (VISA timeout)"
            else:
                cause = f"VISA error {exc.abbreviation}: {exc.description}"
        elif isinstance(exc, pyvisa.errors.InvalidSession):
            cause = "the connection is closed"
        elif isinstance(exc, UnicodeError):
            cause = f"garbled reply ({exc})"
        else:
            cause = f"connection lost ({type(exc).__name__}: {exc})"
        return InstrumentError(self.name, command, cause)

    _IO_ERRORS = (pyvisa.errors.Error, OSError, UnicodeError, EOFError)

    def send(self, command: str) -> None:
        """Send ``command`` as it is: no reply read, no error check."""
        with self._lock:
            resource = self._require(command)
            log.debug("%s <- %r", self.name, command)
            try:
                resource.write(command)
            except self._IO_ERRORS as exc:
                raise self._io_error(command, exc) from exc

    def write(self, command: str, *, check: bool = True) -> None:
        """Send a setting command; with ``check``, run :meth:`check_errors` afterwards."""
        with self._lock:
            self.send(command)
            if check:
                self.check_errors(command)

    def read(self, context: str = "read") -> str:
        """Read one reply (terminator removed, surrounding blanks stripped)."""
        with self._lock:
            resource = self._require(context)
            try:
                reply = resource.read()
            except self._IO_ERRORS as exc:
                raise self._io_error(context, exc) from exc
            log.debug("%s -> %r", self.name, reply)
            return reply.strip()

    def query(self, command: str) -> str:
        """Send ``command`` and return the reply.

        When the reply times out, the instrument's error report is read (and so cleared), and
        whatever it says joins the message: an instrument that rejects a query usually stays
        silent and logs the reason, which would otherwise be blamed on the next command.
        """
        with self._lock:
            self.send(command)
            try:
                return self.read(command)
            except InstrumentError as exc:
                timed_out = (isinstance(exc.__cause__, pyvisa.errors.VisaIOError) and
                             exc.__cause__.error_code == constants.StatusCode.error_timeout)
                if not timed_out or self._draining:
                    raise
                reason = self._drain_errors(command)
                if reason:
                    raise InstrumentError(self.name, command, f"{exc.cause}; {reason}") from exc
                raise

    def query_value(self, command: str, parse: Callable[[str], Any] = parse_float) -> Any:
        """Query and parse; an unparsable reply is an :class:`InstrumentError`."""
        reply = self.query(command)
        try:
            return parse(reply)
        except (ValueError, TypeError, IndexError) as exc:
            raise InstrumentError(self.name, command, f"unexpected reply {reply!r}") from exc

    def set_checked(self, command: str, query: str, expected: Any, *,
                    parse: Callable[[str], Any] = parse_float,
                    tolerance: float | None = None) -> None:
        """Write ``command``, read ``query`` back, raise if it disagrees with ``expected``.

        ``tolerance`` ``None`` compares with ``==``; a number accepts ``|got - expected|`` up
        to it.
        """
        with self._lock:
            self.write(command)
            got = self.query_value(query, parse)
            agrees = got == expected if tolerance is None else abs(got - expected) <= tolerance
            if not agrees:
                raise InstrumentError(self.name, command,
                                      f"{query} reads back {got!r}, expected {expected!r}")

    def _drain_errors(self, command: str) -> str:
        """Read the error report after a failed query; return its text ('' if empty)."""
        self._draining = True
        try:
            self.check_errors(command)
        except InstrumentError as exc:
            return exc.cause
        finally:
            self._draining = False
        return ""

    def check_errors(self, command: str) -> None:
        """Raise :class:`InstrumentError` if the instrument reports an error after ``command``.

        The base class checks nothing; drivers override it with their instrument's error
        report (SCPI ``SYST:ERR?``, SG384 ``LERR?``).
        """
        return None

    def command_fields(self) -> dict[str, Any]:
        """Fields available to :class:`Setting` command templates (e.g. ``{channel}``)."""
        return {}


def backend_problem(exc: BaseException, visa_library: str) -> str:
    """What is missing on this computer when ``pyvisa.ResourceManager(visa_library)`` fails,
    and how to install it (the instrument itself was never reached)."""
    text = " ".join(str(exc).split())
    library = visa_library.strip()
    wrapper = re.search(r"No package named (pyvisa[-_]\w+)", text)
    if wrapper:
        package = wrapper.group(1).replace("_", "-")
        if package == "pyvisa-sim":
            return (f"pyvisa-sim is not installed, so visa_library {library!r} (a simulated "
                    f"instrument) cannot run; install it: pip install pyvisa-sim (nvsense "
                    f"depends on it: reinstalling nvsense brings it back)")
        if package == "pyvisa-py":
            return ("pyvisa-py is not installed, so visa_library '@py' cannot run; install "
                    "it: pip install pyvisa-py (nvsense depends on it: reinstalling nvsense "
                    "brings it back)")
        return (f"visa_library {library!r} asks for the VISA backend package {package}, which "
                f"is not installed; install it, or use \"@py\" (pyvisa-py), \"\" (the system "
                f"VISA) or \"<model>.yaml@sim\" (pyvisa-sim)")
    if library.endswith("@sim"):
        model = library[: -len("@sim")] or "pyvisa-sim's default model"
        if isinstance(exc, FileNotFoundError) and not Path(model).is_file():
            return (f"the pyvisa-sim model {model} does not exist; give the path of a pyvisa-sim "
                    f"YAML file (nvsense.instruments.drivers.sim_path('<driver>') gives the "
                    f"shipped ones)")
        where = re.search(r'line \d+, column \d+', text)
        detail = f"{type(exc).__name__}" + (f" at {where.group(0)}" if where else "")
        return (f"pyvisa-sim cannot read the model {model} ({detail}); check that it is a "
                f"pyvisa-sim YAML model, e.g. a copy of nvsense.instruments.drivers."
                f"sim_path('<driver>')")
    if "Could not locate a VISA implementation" in text or library in ("", "@ivi"):
        return ("no VISA library was found on this computer (visa_library \"\" means the "
                "system VISA: NI-VISA, Keysight IO Libraries or R&S VISA); install one, or "
                "use visa_library: \"@py\" (pyvisa-py, installed with nvsense)")
    return (f"the VISA library {library!r} cannot be loaded ({text[:300]}); check the path, "
            f"install that VISA, or use visa_library: \"@py\" (pyvisa-py)")


class ScpiErrorQueue:
    """Mixin: the SCPI error queue, read with ``SYST:ERR?`` until it reports ``0``.

    SCPI-1999 Vol. 2 §21.8 (``SYSTem:ERRor[:NEXT]?``): each read returns and removes the oldest
    entry ``<code>,"<message>"``; code ``0`` means the queue is empty.
    """

    #: Stop after this many entries (a SCPI queue holds a bounded number).
    max_error_reads: ClassVar[int] = 32
    error_query: ClassVar[str] = "SYST:ERR?"

    def check_errors(self: Any, command: str) -> None:
        errors: list[str] = []
        for _ in range(self.max_error_reads):
            reply = self.query(self.error_query)
            code_text, _, message = reply.partition(",")
            try:
                code = int(code_text)
            except ValueError:
                raise InstrumentError(self.name, command,
                                      f"unreadable {self.error_query} reply {reply!r}") from None
            if code == 0:
                break
            errors.append(f"{code},{message.strip()}")
        if errors:
            raise InstrumentError(self.name, command, "instrument reports " + "; ".join(errors))


class Setting:
    """A read-back-checked instrument setting (a data descriptor).

    Reading the attribute sends ``query`` and parses the reply.  Assigning runs ``check`` (which
    raises :class:`~nvsense.instruments.errors.LimitError` before anything is sent), writes
    ``command`` with the formatted value, checks the instrument's error report, reads the value
    back and raises :class:`InstrumentError` if it differs by more than ``tolerance``.

    Parameters
    ----------
    query, command
        Templates; ``{value}`` is the formatted value, other fields come from
        :meth:`VisaInstrument.command_fields` (e.g. ``":SOUR{channel}:CURR {value}"``).
    parse
        Reply -> value.
    format
        Value -> the text the instrument expects.
    check
        ``check(instrument, value)``; raises ``LimitError`` for values out of range.
    tolerance
        For numbers: the largest accepted ``|read back - set|``, a float or
        ``tolerance(instrument, value)``.  ``None`` compares with ``==``.
    unit
        The SI unit of the value (``"Hz"``, ``"dBm"``, ``"W"``, ``"A"``), or ``None`` for a
        flag or a name; snapshots report the value with it.
    doc
        Docstring of the attribute.
    """

    def __init__(self, query: str, command: str, *, parse: Callable[[str], Any] = parse_float,
                 format: Callable[[Any], str] = str,
                 check: Callable[[Any, Any], None] | None = None,
                 tolerance: float | Callable[[Any, Any], float] | None = None,
                 unit: str | None = None, doc: str | None = None) -> None:
        self.query = query
        self.command = command
        self.parse = parse
        self.format = format
        self.check = check
        self.tolerance = tolerance
        self.unit = unit
        self.__doc__ = doc
        self.attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name

    def __get__(self, instrument: Any, owner: type | None = None) -> Any:
        if instrument is None:
            return self
        query = self.query.format(**instrument.command_fields())
        return instrument.query_value(query, self.parse)

    def __set__(self, instrument: Any, value: Any) -> None:
        with instrument._lock:
            if self.check is not None:
                self.check(instrument, value)
            command = self.command.format(value=self.format(value),
                                          **instrument.command_fields())
            instrument.write(command)
            got = self.__get__(instrument)
            if not self._agrees(instrument, got, value):
                raise InstrumentError(instrument.name, command,
                                      f"{self.attribute} reads back as {got!r} after setting "
                                      f"{value!r}")

    def _agrees(self, instrument: Any, got: Any, value: Any) -> bool:
        if self.tolerance is None:
            return bool(got == value)
        tolerance = (self.tolerance(instrument, value) if callable(self.tolerance)
                     else self.tolerance)
        return abs(got - value) <= tolerance
