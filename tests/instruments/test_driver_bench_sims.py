"""A bench file can run the real drivers against their shipped pyvisa-sim models
(``visa_library: "<model>@sim"``): the way to try a driver without hardware."""

import shutil

import pyvisa

from nvsense.instruments import load_bench
from nvsense.instruments.drivers import SIM_ADDRESSES, sim_library, sim_path

TERMINATIONS = {"sg384": ("\r\n", "\n"), "cobolt": ("\r\n", "\r"), "dp800": ("\n", "\n")}


def test_bench_of_real_drivers_on_their_sims_connects_sets_and_ends_safe(tmp_path):
    libraries, probes = {}, {}
    for driver, (read, write) in TERMINATIONS.items():
        libraries[driver] = sim_library(driver, shutil.copy(sim_path(driver), tmp_path))
        # A second session on each model, to see what the bench leaves behind.  It also keeps
        # the model alive: pyvisa-sim forgets a model's state when nobody holds it.
        probes[driver] = pyvisa.ResourceManager(libraries[driver]).open_resource(
            SIM_ADDRESSES[driver], read_termination=read, write_termination=write)

    def entry(driver, **options):
        return {"driver": driver, "address": SIM_ADDRESSES[driver],
                "visa_library": libraries[driver], "timeout": 0.5, **options}

    bench_file = {
        "instruments": {"mw": entry("sg384"), "laser": entry("cobolt", max_power="100 mW"),
                        "counter": {"driver": "simulated"}, "coil": entry("dp800", channel=1)},
        "limits": {"max_mw_power": "-6 dBm", "max_laser_power": "80 mW"},
    }
    with load_bench(bench_file) as bench:
        bench.mw.frequency = 2.87e9
        bench.mw.power = -10
        bench.mw.output = True
        bench.laser.power = 0.05
        bench.laser.on = True
        bench.coil.current = 0.5
        bench.coil.output = True
        assert bench.mw.inner.identity.startswith("Stanford Research Systems,SG384")
        assert probes["sg384"].query("ENBR?") == "1"
        assert probes["cobolt"].query("l?") == "1"
        assert probes["dp800"].query(":OUTP? CH1") == "ON"
        raw = (bench.mw.inner, bench.laser.inner, bench.coil.inner)
    assert not any(instrument.connected for instrument in raw)
    assert probes["sg384"].query("ENBR?") == "0"
    assert probes["cobolt"].query("l?") == "0"
    assert probes["dp800"].query(":OUTP? CH1") == "OFF"
    assert float(probes["dp800"].query(":SOUR1:CURR?")) == 0.5
