"""Swabian Instruments Time Tagger (20, Ultra, X) as a gated counter.

Time Tagger API (Swabian Time Tagger documentation, "Measurement classes"): ``createTimeTagger
(serial)`` opens a device, ``freeTimeTagger(tagger)`` releases it; ``setTriggerLevel(channel,
volts)`` sets an input threshold; ``Combiner(tagger, channels).getChannel()`` merges several
detector channels into one virtual channel; a negative channel number is the falling edge of
that input.  ``CountBetweenMarkers(tagger, click_channel, begin_channel, end_channel,
n_values)`` counts the clicks between a rising edge of the gate (``begin_channel``) and its
falling edge (``end_channel = −begin_channel``), one value per gate, and stops when
``n_values`` gates are counted (``ready()``); ``getData()`` returns the counts, ``clear()``,
``start()`` and ``stop()`` control it.

The driver counts ``windows_per_pass × passes`` gates and sums them per window.  The Time
Tagger's virtual device needs a licence, so the tests use a double of the ``TimeTagger``
module (``module=``).  Install the Time Tagger software from Swabian Instruments (it provides
the ``TimeTagger`` Python module).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ...units import parse_quantity
from ..errors import InstrumentError
from ..gated_counter import check_gated_configuration
from ..snapshot import quantity_value

__all__ = ["TimeTaggerGated"]

#: CountBetweenMarkers stores int32 values; keep one read's buffer at most this many gates.
MAX_VALUES = 50_000_000


class TimeTaggerGated:
    """Gated photon counting with a Swabian Time Tagger.

    Parameters
    ----------
    name
        Bench key.
    serial
        Serial number of the Time Tagger (``""``: the first one found).
    click_channels
        Detector input(s) (APDs); several are combined.
    gate_channel
        Input wired to the pulser's gate output; counting runs from its rising to its falling
        edge.
    trigger_level
        Input threshold for every channel used (``"0.5 V"``), or ``None`` to leave it.
    module
        The ``TimeTagger`` module or a double (default: imported).
    sleep, clock
        Used while waiting for the gates (replaceable in tests).
    """

    model: ClassVar[str] = "Time Tagger"
    kind: ClassVar[str] = "counts"

    def __init__(self, name: str = "gated_counter", *, serial: str = "",
                 click_channels: Sequence[int] | int = (1,), gate_channel: int = 2,
                 trigger_level: Any = None, module: Any = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.serial = str(serial)
        clicks = [click_channels] if isinstance(click_channels, int) else list(click_channels)
        for ch in [*clicks, gate_channel]:
            if isinstance(ch, bool) or not isinstance(ch, int) or ch <= 0:
                raise ValueError(f"instruments.{name}: Time Tagger inputs are numbered from 1; "
                                 f"{ch!r} is not an input")
        if gate_channel in clicks:
            raise ValueError(f"instruments.{name}: gate_channel {gate_channel} is also a click "
                             f"channel")
        self.click_channels = clicks
        self.gate_channel = int(gate_channel)
        self.trigger_level = (None if trigger_level is None else
                              parse_quantity(trigger_level, "V",
                                             name=f"instruments.{name}.trigger_level"))
        self._module = module
        self._sleep = sleep
        self._clock = clock
        self._tt: Any = None
        self._tagger: Any = None
        self._combiner: Any = None
        self._click: int | None = None
        self._measurement: Any = None
        self._config: tuple[int, int] | None = None
        self.connected = False

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise InstrumentError(self.name, what, f"{type(exc).__name__}: {exc}") from exc

    def _require(self, command: str) -> None:
        if not self.connected:
            raise InstrumentError(self.name, command, "not connected; call connect() first")

    def connect(self) -> None:
        """Open the Time Tagger and set thresholds and the combined click channel."""
        tt = self._module
        if tt is None:
            try:
                tt = importlib.import_module("TimeTagger")
            except ImportError as exc:
                raise InstrumentError(self.name, "import TimeTagger", "the Time Tagger software "
                                      "(Python module TimeTagger) is not installed; install it "
                                      "from Swabian Instruments") from exc
        self._tt = tt
        self._tagger = self._call(f"createTimeTagger({self.serial!r})", tt.createTimeTagger,
                                  self.serial)
        if self.trigger_level is not None:
            for ch in [*self.click_channels, self.gate_channel]:
                self._call(f"setTriggerLevel({ch})", self._tagger.setTriggerLevel, ch,
                           self.trigger_level)
        if len(self.click_channels) > 1:
            self._combiner = self._call("Combiner", tt.Combiner, self._tagger,
                                        list(self.click_channels))
            self._click = int(self._call("Combiner.getChannel", self._combiner.getChannel))
        else:
            self._click = self.click_channels[0]
        self.connected = True

    def close(self) -> None:
        """Stop counting and free the device (idempotent)."""
        self.safe()
        if self._tagger is not None and self._tt is not None:
            try:
                self._tt.freeTimeTagger(self._tagger)
            except Exception:  # releasing is best effort
                pass
        self._tagger = self._measurement = self._combiner = None
        self.connected = False

    @property
    def identity(self) -> str:
        self._require("identity")
        serial = self._call("getSerial", self._tagger.getSerial)
        model = getattr(self._tagger, "getModel", None)
        name = self._call("getModel", model) if callable(model) else "Time Tagger"
        return f"Swabian Instruments,{name},{serial}"

    @property
    def configuration(self) -> dict[str, int] | None:
        """``{"windows_per_pass", "passes"}`` of the last :meth:`configure`, or ``None``."""
        if self._config is None:
            return None
        return {"windows_per_pass": self._config[0], "passes": self._config[1]}

    def snapshot(self) -> dict[str, Any]:
        """Identity, inputs and thresholds, the configured counting, JSON-ready."""
        return {"name": self.name, "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "identity": self.identity, "connected": self.connected,
                "click_channels": list(self.click_channels), "gate_channel": self.gate_channel,
                "trigger_level": quantity_value(self.trigger_level, "V"),
                "configuration": self.configuration}

    def configure(self, windows_per_pass: int, passes: int) -> None:
        """Count ``windows_per_pass × passes`` gates (a new CountBetweenMarkers)."""
        check_gated_configuration(self.name, windows_per_pass, passes, MAX_VALUES)
        self._require("configure")
        self.safe()
        n = int(windows_per_pass) * int(passes)
        self._measurement = self._call(
            "CountBetweenMarkers", self._tt.CountBetweenMarkers, self._tagger, self._click,
            self.gate_channel, -self.gate_channel, n)
        self._call("CountBetweenMarkers.stop", self._measurement.stop)
        self._config = (int(windows_per_pass), int(passes))

    def arm(self) -> None:
        """Clear and start counting (before the pulser starts)."""
        self._require("arm")
        if self._measurement is None:
            raise InstrumentError(self.name, "arm", "not configured; call configure() first")
        self._call("CountBetweenMarkers.clear", self._measurement.clear)
        self._call("CountBetweenMarkers.start", self._measurement.start)

    def read(self, timeout: float | None = None) -> NDArray[np.float64]:
        """Wait until every gate is counted; per-window sums over the passes."""
        self._require("read")
        if self._measurement is None or self._config is None:
            raise InstrumentError(self.name, "read", "not configured; call configure() first")
        windows, passes = self._config
        m = self._measurement
        deadline = None if timeout is None else self._clock() + float(timeout)
        while not self._call("CountBetweenMarkers.ready", m.ready):
            if deadline is not None and self._clock() >= deadline:
                data = np.asarray(self._call("getData", m.getData))
                widths = np.asarray(self._call("getBinWidths", m.getBinWidths))
                got = int(np.count_nonzero(widths)) if widths.size == data.size else 0
                self._call("CountBetweenMarkers.stop", m.stop)
                raise InstrumentError(self.name, "read", f"timed out after {timeout:g} s with "
                                      f"{got} of {windows * passes} gate windows counted (is the "
                                      f"pulser running and its gate wired to input "
                                      f"{self.gate_channel}?)")
            self._sleep(0.01)
        data = np.asarray(self._call("getData", m.getData), dtype=float)
        self._call("CountBetweenMarkers.stop", m.stop)
        if data.size != windows * passes:
            raise InstrumentError(self.name, "getData", f"returned {data.size} values, expected "
                                  f"{windows * passes}")
        return data.reshape(passes, windows).sum(axis=0)

    def safe(self) -> None:
        """Stop counting (never raises)."""
        if self._measurement is not None:
            try:
                self._measurement.stop()
            except Exception:  # safe() must not raise
                pass

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<TimeTaggerGated {self.name!r} ({state})>"

