"""Protocol tests for drivers: a fake VISA resource that checks every byte the driver sends.

In the spirit of PyMeasure's ``expected_protocol``: a test lists the exact messages the driver
must write, each with the reply the instrument gives, and the fake resource fails the test at
the first message that differs, at a read nobody answers, or when messages are left over.

Example
-------
>>> from nvsense.instruments.drivers.sg384 import SG384
>>> with expected_protocol(SG384, [("ENBR 0", None), ("LERR?", "0"), ("ENBR?", "0")],
...                        connect_script=None) as mw:      # doctest: +SKIP
...     ...

The script is a sequence of ``(message, reply)`` pairs: ``message`` is what the driver writes
(without the write termination); ``reply`` is ``None`` (the instrument says nothing), a string
(one reply line), a list of strings (several lines, read one by one), :data:`TIMEOUT` (the read
times out) or :data:`LOST` (the connection drops).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyvisa import constants
from pyvisa.errors import VisaIOError

__all__ = ["LOST", "TIMEOUT", "FakeResourceManager", "ProtocolResource", "expected_protocol"]


class _Event:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: A reply that makes the read time out (``VisaIOError`` VI_ERROR_TMO).
TIMEOUT = _Event("TIMEOUT")
#: A reply that makes the read fail as a dropped connection (``VisaIOError`` connection lost).
LOST = _Event("LOST")

Reply = str | list[str] | _Event | None


class ProtocolResource:
    """A message-based VISA resource double that follows a script.

    Attributes set by the driver (``read_termination``, ``timeout``, ``baud_rate``...) are kept
    as plain attributes so tests can check them.
    """

    def __init__(self, address: str, script: Sequence[tuple[str, Reply]]) -> None:
        self.address = address
        self.interface_type = (constants.InterfaceType.asrl
                               if address.upper().startswith("ASRL")
                               else constants.InterfaceType.tcpip)
        self._script = deque(script)
        self._replies: deque[str | _Event] = deque()
        self._last = "<nothing written yet>"
        self.written: list[str] = []
        self.closed = False
        self.read_termination: str | None = None
        self.write_termination: str | None = None
        self.timeout: int | None = None

    def write(self, message: str) -> int:
        if self.closed:
            raise VisaIOError(constants.StatusCode.error_connection_lost)
        if self._replies:
            raise AssertionError(f"wrote {message!r} while the reply {self._replies[0]!r} to "
                                 f"{self._last!r} was not read")
        if not self._script:
            raise AssertionError(f"wrote {message!r} after the end of the script")
        expected, reply = self._script.popleft()
        if message != expected:
            raise AssertionError(f"wrote {message!r}, the script expects {expected!r} "
                                 f"(after {self._last!r})")
        self._last = message
        self.written.append(message)
        if isinstance(reply, list):
            self._replies.extend(reply)
        elif reply is not None:
            self._replies.append(reply)
        return len(message)

    def read(self) -> str:
        if not self._replies:
            raise AssertionError(f"read a reply to {self._last!r}, the script gives none")
        reply = self._replies.popleft()
        if reply is TIMEOUT:
            raise VisaIOError(constants.StatusCode.error_timeout)
        if reply is LOST:
            raise VisaIOError(constants.StatusCode.error_connection_lost)
        assert isinstance(reply, str)
        return reply

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        """Fail if messages of the script were not sent or replies were not read."""
        if self._script:
            left = [m for m, _ in self._script]
            raise AssertionError(f"the driver did not send {left!r}")
        if self._replies:
            raise AssertionError(f"replies not read: {list(self._replies)!r}")


class FakeResourceManager:
    """Hands out one :class:`ProtocolResource` (or raises ``open_error``)."""

    def __init__(self, resource: ProtocolResource | None = None,
                 open_error: BaseException | None = None) -> None:
        self.resource = resource
        self.open_error = open_error
        self.opened: list[str] = []

    def open_resource(self, address: str, **_: Any) -> ProtocolResource:
        self.opened.append(address)
        if self.open_error is not None:
            raise self.open_error
        assert self.resource is not None
        return self.resource

    def close(self) -> None:
        pass


@contextmanager
def expected_protocol(driver_class: type, script: Sequence[tuple[str, Reply]], *,
                      connect_script: Sequence[tuple[str, Reply]] | None = None,
                      address: str = "TCPIP0::10.0.0.1::5025::SOCKET",
                      **options: Any) -> Iterator[Any]:
    """Build ``driver_class`` on a scripted resource and check the whole script was used.

    Parameters
    ----------
    driver_class
        The driver to test.
    script
        What the driver must send (and receives) inside the ``with`` block.
    connect_script
        What :meth:`connect` sends first; ``None`` (the default) skips ``connect()`` and
        attaches the resource directly, as after a connect.
    address
        The address given to the driver (``ASRL...`` makes the resource a serial port).
    options
        Other constructor arguments.
    """
    steps = list(connect_script or ()) + list(script)
    resource = ProtocolResource(address, steps)
    driver = driver_class(name="dut", address=address,
                          resource_manager=FakeResourceManager(resource), **options)
    if connect_script is None:
        driver._resource = resource
        driver._identity = "scripted"
    else:
        driver.connect()
    yield driver
    resource.assert_done()
