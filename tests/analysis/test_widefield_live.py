"""Live binned field maps: the wire's field is recovered within its reported uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.analysis.cube import bin_pixels
from nvsense.analysis.widefield_live import LiveMapper
from nvsense.instruments.frame_sync import SweepAssembler, SweepPlan, TriggerTiming
from nvsense.instruments.simulated.widefield import widefield_bench
from nvsense.storage.cube_writer import CubeWriter

FREQ = np.linspace(2.79e9, 2.95e9, 81)


@pytest.fixture(scope="module")
def wire_run(tmp_path_factory):
    """20 sweeps of a 64×64 camera over a wire carrying the current that gives 50 µT."""
    bench = widefield_bench(sensor=(64, 64), field_map="wire", seed=3)
    bench.laser.on = True
    cam = bench.camera
    cam.exposure = 5e-3
    plan = SweepPlan(FREQ.size)
    cam.trigger_mode = "exposure_out"
    bench.mw.load_list(plan.hardware_list(FREQ, lead=cam.mw_trigger_lead), -10)
    bench.mw.output = True
    bench.mw.start_list()
    assembler = SweepAssembler(plan, TriggerTiming("exposure_out", cam.frame_period),
                               cam.frame_shape)
    cal = cam.calibration
    cam.start(2000)
    path = tmp_path_factory.mktemp("live") / "wire.nc"
    with CubeWriter(path, FREQ, cam.frame_shape, electrons_per_adu=cal.electrons_per_adu,
                    offset=cal.offset) as run:
        while run.n_sweeps < 20:
            for sweep in assembler.add(cam.read_frames(min_frames=FREQ.size, timeout=2)):
                run.append_sweep(sweep)
        pl = run.accumulated()
    return cam, pl


@pytest.mark.parametrize("binning", [2, 4])
def test_the_wire_map_is_recovered_within_its_uncertainty(wire_run, binning):
    cam, pl = wire_run
    live = LiveMapper(FREQ, binning=binning).update(pl, n_sweeps=20)
    assert live.success_fraction == 1.0
    light = cam.brightness()
    truth = bin_pixels(light * cam.observed_field(0), binning) / bin_pixels(light, binning)
    pull = (live.field - truth) / live.field_error
    # the map must see the wire: its field varies far more than the noise
    assert np.ptp(truth) > 10 * np.median(live.field_error)
    # RMS error / reported uncertainty; 1024 or 256 pixels put 1.2 many σ from 1
    assert np.sqrt(np.mean(pull**2)) <= 1.2
    assert abs(np.mean(pull)) < 0.3


def test_a_pixel_spectrum_comes_with_its_fitted_curve(wire_run):
    _, pl = wire_run
    live = LiveMapper(FREQ, binning=8, pixel_size=1e-6).update(pl)
    f, data, curve = live.spectrum(3, 4)
    assert data.shape == curve.shape == f.shape
    residual = (data - curve) / np.sqrt(data)
    assert np.sqrt(np.mean(residual**2)) < 2.0  # χ²/point near 1 for Poisson counts
    assert live.result["x"].attrs["units"] == "m"


def test_unusable_inputs_are_refused():
    with pytest.raises(ValueError, match="line pair"):
        LiveMapper(FREQ, n_lines=3)
    with pytest.raises(ValueError, match="rows, columns"):
        LiveMapper(FREQ).update(np.ones((8, 8, 10)))
