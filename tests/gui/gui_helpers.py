"""Helpers of the window tests (conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

#: ODMR form values for quick runs on the built-in simulated bench (8 lines: the vector).
QUICK_ODMR = {"start": "2.80 GHz", "stop": "2.94 GHz", "points": "281", "dwell": "1 ms",
              "n_lines": "8", "sweeps": "400", "duration": ""}


#: A small simulated widefield bench: a wire's field seen by a 32×32 camera.
WIDEFIELD_BENCH = {
    "name": "widefield_gui_run",
    "sample": {"field": ["1.1547 mT"] * 3, "axes": [0], "linewidth": "6 MHz", "contrast": 0.03},
    "instruments": {"mw": {"driver": "simulated"}, "laser": {"driver": "simulated"},
                    "counter": {"driver": "simulated"},
                    "camera": {"driver": "simulated", "sensor": [32, 32], "field_map": "wire"}},
    "limits": {"frequency": ["2.5 GHz", "3.3 GHz"], "max_mw_power": "0 dBm"},
    "safe_state": {"laser": "off"},
}


class ReplayHold:
    """Holds a replay after the first document of a type until :meth:`release`, so a test
    knows exactly what was published when it acts (patches ``replay_documents``).

    Parameters
    ----------
    monkeypatch
        The test's ``monkeypatch``.
    document_type
        The replay waits after the first document of this type.
    """

    def __init__(self, monkeypatch: Any, document_type: type) -> None:
        import nvsense.measure.replay as replay

        self.held, self._go_on = threading.Event(), threading.Event()
        real = replay.replay_documents

        def held_after_the_first(stored: Any) -> Any:
            for when, doc in real(stored):
                yield when, doc
                if isinstance(doc, document_type) and not self.held.is_set():
                    self.held.set()
                    self._go_on.wait(60)

        monkeypatch.setattr(replay, "replay_documents", held_after_the_first)

    def wait(self, timeout: float = 60) -> bool:
        """Wait until the replay is held; True when it is."""
        return self.held.wait(timeout)

    def release(self) -> None:
        self._go_on.set()


def simulated_bench(**faults: Any) -> dict[str, Any]:
    """The built-in simulated bench as a mapping, with injected ``sample.faults``."""
    import yaml

    from nvsense.instruments.config import builtin_bench_path

    config = yaml.safe_load(Path(builtin_bench_path("simulated")).read_text())
    if faults:
        config["sample"]["faults"] = faults
    return config


def set_form(form: Any, values: dict[str, str]) -> None:
    """Type values into a settings form as a user would."""
    for key, text in values.items():
        form.set_value(key, text)


class AcquisitionGate:
    """Holds a run's measurement thread at the start of an acquisition, so a test knows
    exactly how many sweeps were published when it acts (no race with the thread).

    :meth:`close` makes the next acquisition wait; :meth:`wait_held` waits until the thread
    is held there (every earlier sweep published, none later); :meth:`open` lets it go on.
    """

    def __init__(self, counter: Any) -> None:
        self._closed = threading.Event()
        self._held = threading.Event()
        self._open = threading.Event()
        real = counter.acquire

        def acquire(*args: Any, **kwargs: Any) -> Any:
            if self._closed.is_set() and not self._held.is_set():
                self._held.set()
                self._open.wait(60)
            return real(*args, **kwargs)

        counter.acquire = acquire  # this bench's counter only

    def close(self) -> None:
        self._closed.set()

    def wait_held(self, timeout: float = 60) -> bool:
        return self._held.wait(timeout)

    def open(self) -> None:
        self._open.set()
