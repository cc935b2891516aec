"""nvsense instruments as Bluesky devices: the protocols, a RunEngine scan of the microwave
frequency against the counter on the simulated bench (valid event-model documents, the ODMR
dips where the Hamiltonian puts them), and the bench left safe at the end and on an abort."""

from __future__ import annotations

import numpy as np
import pytest
from bluesky import RunEngine, protocols
from bluesky import plan_stubs as bps
from bluesky.plans import count, scan
from bluesky.utils import FailedStatus, RunEngineInterrupted
from event_model import DocumentNames, schema_validators

from nvsense.bluesky import Status, bench_devices
from nvsense.instruments import LimitError, load_bench
from nvsense.physics.hamiltonian import transition_frequencies
from nvsense.physics.temperature import zfs_at

FIELD = [0.0, 0.0, 2e-3]  # T: the same projection on the four NV axes -> two lines


@pytest.fixture
def bench():
    config = load_bench().config.model_dump(mode="json")
    config["sample"].update(field=FIELD, seed=18)
    bench = load_bench(config)
    yield bench
    bench.safe()
    bench.close()


@pytest.fixture
def RE():
    engine = RunEngine({})
    yield engine


def _collect(engine):
    docs: list[tuple[str, dict]] = []
    engine.subscribe(lambda name, doc: docs.append((name, doc)))
    return docs


def test_devices_follow_the_bluesky_protocols(bench):
    dev = bench_devices(bench, bin_time=1e-3)
    assert isinstance(dev.mw_frequency, protocols.Readable)
    assert isinstance(dev.mw_frequency, protocols.Movable)
    assert isinstance(dev.mw_frequency, protocols.Stageable)
    assert isinstance(dev.mw_frequency, protocols.Configurable)
    assert isinstance(dev.counter, protocols.Triggerable)
    assert isinstance(dev.counter, protocols.Readable)
    assert isinstance(dev.counter, protocols.Stageable)
    assert dev.mw_frequency.name == "mw_frequency" and dev.mw_frequency.parent is dev
    status = dev.mw_frequency.set(2.85e9)
    assert isinstance(status, protocols.Status) and status.done and status.success
    assert dev.mw_frequency.read()["mw_frequency"]["value"] == 2.85e9
    assert dev.mw_frequency.locate() == {"setpoint": 2.85e9, "readback": 2.85e9}
    key = dev.mw_frequency.describe()["mw_frequency"]
    assert key["units"] == "Hz" and key["dtype"] == "number"
    assert key["limits"]["control"] == {"low": 2.5e9, "high": 3.3e9}
    assert dev.counter.describe()["counter"]["units"] == "counts"
    # out of the bench's limits: a failed status naming the limit, nothing sent
    failed = dev.mw_frequency.set(3.5e9)
    assert failed.done and not failed.success
    assert isinstance(failed.exception(), LimitError)
    assert "3.3 GHz" in str(failed.exception())
    assert dev.mw_frequency.read()["mw_frequency"]["value"] == 2.85e9
    calls = []
    failed.add_callback(calls.append)
    assert calls == [failed]


def test_scan_runs_and_emits_valid_documents(bench, RE):
    dev = bench_devices(bench, bin_time=10e-3)
    docs = _collect(RE)
    start, stop, num = 2.80e9, 2.94e9, 71
    (uid,) = RE(scan([dev.counter], dev.mw_frequency, start, stop, num))
    names = [name for name, _ in docs]
    assert names[0] == "start" and names[-1] == "stop"
    assert names.count("event") == num
    for name, doc in docs:
        schema_validators[DocumentNames[name]].validate(doc)  # raises if invalid
    assert docs[-1][1]["exit_status"] == "success" and docs[0][1]["uid"] == uid
    descriptor = next(doc for name, doc in docs if name == "descriptor")
    assert descriptor["data_keys"]["mw_frequency"]["units"] == "Hz"
    assert descriptor["data_keys"]["counter"]["units"] == "counts"
    events = [doc for name, doc in docs if name == "event"]
    freqs = np.array([e["data"]["mw_frequency"] for e in events])
    counts = np.array([e["data"]["counter"] for e in events])
    np.testing.assert_allclose(freqs, np.linspace(start, stop, num))
    # the dips are where the NV Hamiltonian puts the lines of this field (2 MHz steps)
    lines = np.sort(transition_frequencies(np.array(FIELD), D=zfs_at(300.0))[0])
    lower, upper = freqs < 2.87e9, freqs >= 2.87e9
    assert abs(freqs[lower][np.argmin(counts[lower])] - lines[0]) <= 2.1e6
    assert abs(freqs[upper][np.argmin(counts[upper])] - lines[1]) <= 2.1e6
    assert counts.min() < 0.99 * np.median(counts)
    # left safe when the plan ended
    assert bench.mw.output is False and bench.laser.on is False


def test_bench_left_safe_when_a_plan_fails_midway(bench, RE):
    dev = bench_devices(bench)

    def plan():
        yield from bps.stage(dev.counter)
        yield from bps.stage(dev.mw_frequency)
        yield from bps.open_run()
        yield from bps.mv(dev.mw_frequency, 2.87e9)
        assert bench.mw.output is True and bench.laser.on is True
        yield from bps.trigger_and_read([dev.counter, dev.mw_frequency])
        yield from bps.mv(dev.mw_frequency, 4e9)  # beyond the bench limit: failed status
        yield from bps.close_run()

    docs = _collect(RE)
    with pytest.raises(FailedStatus):
        RE(plan())
    assert docs[-1][0] == "stop" and docs[-1][1]["exit_status"] == "fail"
    assert bench.mw.output is False and bench.laser.on is False
    assert "mw: RF off, list stopped" in bench.safe_report


def _pausing_plan(dev, seen):
    def plan():
        yield from bps.stage(dev.counter)
        yield from bps.open_run()
        yield from bps.trigger_and_read([dev.counter])
        yield from bps.checkpoint()
        yield from bps.pause()  # the RunEngine pauses here
        yield from bps.trigger_and_read([dev.counter])
        seen.append(dev.counter.read()["counter"]["value"])
        yield from bps.close_run()
        yield from bps.unstage(dev.counter)

    return plan()


def test_pause_makes_safe_resume_restores_abort_leaves_safe(bench, RE):
    dev = bench_devices(bench, bin_time=1e-3)
    docs = _collect(RE)
    seen: list[float] = []
    with pytest.raises(RunEngineInterrupted):
        RE(_pausing_plan(dev, seen))
    assert RE.state == "paused"
    assert bench.mw.output is False and bench.laser.on is False  # safe while paused
    RE.resume()
    assert seen and seen[0] > 1e5  # bright again: laser and RF back on after the resume
    assert docs[-1][1]["exit_status"] == "success"
    assert bench.mw.output is False and bench.laser.on is False
    # and an abort during a pause ends the run safe, marked aborted
    with pytest.raises(RunEngineInterrupted):
        RE(_pausing_plan(dev, []))
    RE.abort("test abort")
    assert docs[-1][0] == "stop" and docs[-1][1]["exit_status"] == "abort"
    assert bench.mw.output is False and bench.laser.on is False


def test_count_plan_and_status_callbacks(bench, RE):
    dev = bench_devices(bench, bin_time=2e-3, n_bins=5)
    docs = _collect(RE)
    RE(count([dev.counter], num=3))
    events = [doc for name, doc in docs if name == "event"]
    assert len(events) == 3
    assert all(e["data"]["counter_rate"] == pytest.approx(e["data"]["counter"] / 2e-3)
               for e in events)
    descriptor = next(doc for name, doc in docs if name == "descriptor")
    config = descriptor["configuration"]["counter"]["data"]
    assert config == {"counter_bin_time": 2e-3, "counter_n_bins": 5}
    status = Status()
    seen = []
    status.add_callback(seen.append)
    assert not status.done and seen == []
    status.set_finished()
    assert status.success and seen == [status]
