"""A double of the Pulse Streamer's network client (``pulsestreamer.PulseStreamer``)."""

from __future__ import annotations


class FakeClient:
    """Records what the driver asks of a Pulse Streamer."""

    def __init__(self, address: str, fail_on: str | None = None) -> None:
        self.address = address
        self.calls: list[tuple] = []
        self.streaming = False
        self.fail_on = fail_on

    def _record(self, name, *args):
        self.calls.append((name, *args))
        if name == self.fail_on:
            raise ConnectionError(f"{name}: link dropped")

    def getSerial(self):
        return "00:26:32:f0:12:34"

    def getFirmwareVersion(self):
        return "2.1.0"

    def constant(self, state):
        self._record("constant", state.getData())
        self.streaming = False

    def setTrigger(self, start, rearm):
        self._record("setTrigger", start, rearm)

    def stream(self, seq, n_runs, final):
        self._record("stream", seq.getData(), n_runs, final.getData())
        self.streaming = True

    def startNow(self):
        self._record("startNow")

    def forceFinal(self):
        self._record("forceFinal")
        self.streaming = False

    def isStreaming(self):
        return self.streaming
