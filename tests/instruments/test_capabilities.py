"""Optional features are capability protocols checked with ``isinstance``; the sweep mode of a
bench is decided in one place from them."""

import sys
import types

import pytest

from nvsense.instruments import load_bench
from nvsense.instruments.capabilities import sweep_mode, sweep_mode_for
from nvsense.instruments.drivers.n5181b import N5181B
from nvsense.instruments.drivers.nidaq import NIDAQCounter
from nvsense.instruments.drivers.sg384 import SG384
from nvsense.instruments.drivers.smb100a import SMB100A
from nvsense.instruments.drivers.synthhd import SynthHD
from nvsense.instruments.errors import CapabilityError
from nvsense.instruments.protocols import (
    FrequencyModulation,
    ListSweep,
    MicrowaveSource,
    MicrowaveTrigger,
)
from nvsense.instruments.simulated import (
    SimulatedCounter,
    SimulatedCWMicrowave,
    SimulatedMicrowave,
    SimulatedSample,
)


class CWSource:
    """A user's source with CW only, and a stray ``load_list`` that is not a list mode."""

    def __init__(self, name, **options):
        self.name, self._f, self._p, self._out = name, 2.87e9, -10.0, False
        self.stray_calls = []

    def connect(self):
        pass

    def close(self):
        pass

    identity = "Lab,CW,0,1"

    @property
    def limits(self):
        from nvsense.instruments.protocols import MicrowaveLimits
        return MicrowaveLimits(1e6, 6e9, -100.0, 10.0)

    @property
    def frequency(self):
        return self._f

    @frequency.setter
    def frequency(self, value):
        self._f = value

    @property
    def power(self):
        return self._p

    @power.setter
    def power(self, value):
        self._p = value

    @property
    def output(self):
        return self._out

    @output.setter
    def output(self, value):
        self._out = value

    def load_list(self, frequencies, power):  # no start_list/stop_list: not a ListSweep
        self.stray_calls.append(("load_list", power))

    def safe(self):
        self._out = False


@pytest.fixture
def cw_module(monkeypatch):
    module = types.ModuleType("nvsense_test_cw")
    module.CWSource = CWSource
    monkeypatch.setitem(sys.modules, "nvsense_test_cw", module)


def test_the_simulated_bench_has_lists_fm_and_a_triggering_counter():
    with load_bench() as bench:
        assert isinstance(bench.mw, ListSweep) and isinstance(bench.mw, FrequencyModulation)
        assert isinstance(bench.counter, MicrowaveTrigger)
        assert bench.sweep_mode() == sweep_mode(bench) == "list"
        assert bench.sweep_mode("stepped") == "stepped"
        assert bench.capabilities() == {"list_sweep": True, "frequency_modulation": True,
                                        "mw_trigger": True, "external_gate": False}


def test_a_source_without_lists_is_not_a_list_sweep_and_sweeps_are_stepped():
    bench = load_bench({"instruments": {"mw": {"driver": "simulated", "supports_list": False},
                                        "laser": {"driver": "simulated"},
                                        "counter": {"driver": "simulated"}}}).connect()
    assert isinstance(bench.mw.inner, SimulatedCWMicrowave)
    assert not isinstance(bench.mw, ListSweep) and not isinstance(bench.mw.inner, ListSweep)
    assert isinstance(bench.mw, FrequencyModulation) and isinstance(bench.mw, MicrowaveSource)
    assert bench.mw.supports_list is False  # the old flag still answers
    assert bench.sweep_mode() == "stepped"
    with pytest.raises(CapabilityError, match="mw: this microwave source has no list mode; "
                                              "use mode 'stepped'"):
        bench.sweep_mode("list")
    with pytest.raises(AttributeError, match="no hardware-timed frequency lists"):
        bench.mw.load_list([2.87e9], -10)
    bench.close()


def test_simulated_microwave_builds_the_class_its_options_ask_for():
    sample = SimulatedSample()
    assert type(SimulatedMicrowave("mw", sample)) is SimulatedMicrowave
    cw = SimulatedMicrowave("mw", sample, supports_list=False, frequency_range=["1 GHz", "3 GHz"])
    assert type(cw) is SimulatedCWMicrowave and cw.limits.frequency_max == 3e9


def test_a_counter_that_cannot_trigger_the_source_means_stepped_sweeps():
    sample = SimulatedSample()
    counter = SimulatedCounter("counter", sample)
    assert sweep_mode_for(SimulatedMicrowave("mw", sample), counter) == "list"

    class Plain:
        name = "counter"

    with pytest.raises(CapabilityError, match="counter: this counter cannot send the trigger"):
        sweep_mode_for(SimulatedMicrowave("mw", sample), Plain(), "list")
    assert sweep_mode_for(SimulatedMicrowave("mw", sample), Plain()) == "stepped"
    with pytest.raises(ValueError, match="'auto', 'list' or 'stepped'"):
        sweep_mode_for(SimulatedMicrowave("mw", sample), counter, "fast")


def test_a_guard_never_passes_a_stray_capability_method_through(cw_module):
    bench = load_bench({"instruments": {"mw": {"driver": "nvsense_test_cw:CWSource"},
                                        "laser": {"driver": "simulated"},
                                        "counter": {"driver": "simulated"}}})
    with bench:
        assert not isinstance(bench.mw, ListSweep)
        assert not isinstance(bench.mw, FrequencyModulation)
        with pytest.raises(AttributeError, match="no hardware-timed frequency lists"):
            bench.mw.load_list([9e9], 50.0)  # would be out of every limit: never sent
        with pytest.raises(AttributeError, match="no frequency modulation"):
            bench.mw.set_fm(1e6, rate=1e3)
        assert bench.mw.inner.stray_calls == []
        assert bench.sweep_mode() == "stepped"


@pytest.mark.parametrize("driver", [SG384, SMB100A, N5181B, SynthHD])
def test_every_microwave_driver_declares_lists_and_fm(driver):
    mw = driver(name="mw", address="TCPIP0::10.0.0.1::5025::SOCKET")  # no I/O
    assert isinstance(mw, ListSweep) and isinstance(mw, FrequencyModulation)
    assert mw.supports_list


def test_the_ni_counter_triggers_the_source():
    assert isinstance(NIDAQCounter("counter"), MicrowaveTrigger)


def test_gated_counter_means_the_pulsed_readout_and_the_old_capability_name_warns():
    """One name, one meaning: ``GatedCounter`` is the pulsed read-out protocol of the
    ``gated_counter`` slot; the counter's gate input (``set_gate``) is ``ExternalGate``, and
    the old name of that capability still works, with a DeprecationWarning."""
    import nvsense.instruments as instruments
    from nvsense.instruments import ExternalGate, protocols
    from nvsense.instruments.gated_counter import GatedCounter
    from nvsense.instruments.simulated.gated_counter import SimulatedGatedCounter

    with pytest.warns(DeprecationWarning, match="ExternalGate"):
        old = protocols.GatedCounter
    assert old is ExternalGate
    with pytest.warns(DeprecationWarning, match="ExternalGate"):
        assert instruments.GatedCounter is ExternalGate
    assert "GatedCounter" not in instruments.__all__
    readout = SimulatedGatedCounter("gated_counter")
    readout.connect()
    assert isinstance(readout, GatedCounter) and not isinstance(readout, ExternalGate)
    with pytest.raises(AttributeError):
        protocols.NoSuchProtocol  # noqa: B018
