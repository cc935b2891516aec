"""The simulated camera images the simulated NV sample like a widefield microscope.

Line positions are checked against a spin-1 Hamiltonian diagonalised here with numpy (γ from
scipy's CODATA constants); the sensor against the photon-transfer relation of a shot- and
read-noise-limited sCMOS (variance = mean + read noise², in electrons).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants
from scipy.optimize import curve_fit

from nvsense.instruments.camera import Camera, PixelCalibration, Roi, TriggerMode
from nvsense.instruments.errors import InstrumentError, LimitError
from nvsense.instruments.frame_sync import SweepAssembler, SweepPlan, TriggerTiming
from nvsense.instruments.simulated.camera import CameraFaults
from nvsense.instruments.simulated.field_sources import UniformField
from nvsense.instruments.simulated.widefield import widefield_bench

GAMMA = 2.0028 * constants.physical_constants["Bohr magneton"][0] / constants.h


def hamiltonian_lines(B: np.ndarray, axis: np.ndarray, D: float = 2.870e9) -> np.ndarray:
    """The two transitions from ms≈0 for one NV axis (E = 0), by diagonalisation."""
    r2 = 1 / np.sqrt(2)
    sx = np.array([[0, r2, 0], [r2, 0, r2], [0, r2, 0]], dtype=complex)
    sy = np.array([[0, -1j * r2, 0], [1j * r2, 0, -1j * r2], [0, 1j * r2, 0]])
    sz = np.diag([1.0, 0, -1.0]).astype(complex)
    z = axis / np.linalg.norm(axis)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    b = GAMMA * np.array([B @ x, B @ y, B @ z])
    levels = np.linalg.eigvalsh(D * sz @ sz + b[0] * sx + b[1] * sy + b[2] * sz)
    return np.array([levels[1] - levels[0], levels[2] - levels[0]])


def dip(f, base, depth, f0, fwhm):
    return base * (1 - depth * (fwhm / 2) ** 2 / ((f - f0) ** 2 + (fwhm / 2) ** 2))


def small_bench(**camera):
    camera.setdefault("sensor", (32, 32))
    camera.setdefault("seed", 5)
    bench = widefield_bench(**camera)
    bench.laser.on = True
    bench.camera.exposure = 5e-3
    return bench


def run_list(bench, frequencies, mode="exposure_out"):
    cam = bench.camera
    cam.trigger_mode = mode
    bench.mw.load_list(np.roll(frequencies, cam.mw_trigger_lead), -10)
    bench.mw.output = True
    bench.mw.start_list()


def test_the_simulated_camera_is_a_camera():
    bench = small_bench()
    assert isinstance(bench.camera, Camera)
    assert bench.camera.counter_source == "camera"


def test_each_pixel_dips_where_the_hamiltonian_puts_its_lines():
    field = np.array([1.2e-3, 0.3e-3, 0.9e-3])
    bench = small_bench(field_map="gradient", psf_sigma=0.0)
    bench.sample.static_field = field
    cam = bench.camera
    freqs = np.linspace(2.76e9, 2.98e9, 221)
    run_list(bench, freqs)
    cam.start(4000)
    sweeps = 8
    block = cam.read_frames(min_frames=sweeps * 221, timeout=20)
    assert [t.frequency for t in cam.frame_log[:221]] == pytest.approx(freqs)
    frames = block.frames[: sweeps * 221].reshape(sweeps, 221, 32, 32).astype(float).sum(0)
    truth = cam.true_field()
    axis = np.array([1.0, 1.0, 1.0]) / np.sqrt(3)
    for row, col in [(4, 4), (16, 28)]:
        counts = frames[:, row:row + 2, col:col + 2].sum(axis=(1, 2))
        expected = np.mean([hamiltonian_lines(truth[r, c], axis)
                            for r in (row, row + 1) for c in (col, col + 1)], axis=0)
        for f0 in expected:
            near = np.abs(freqs - f0) < 20e6
            p, cov = curve_fit(dip, freqs[near], counts[near],
                               p0=[counts.max(), 0.03, f0 + 1e6, 6e6],
                               sigma=np.sqrt(counts[near]), absolute_sigma=True)
            sigma = np.sqrt(cov[2, 2])
            assert sigma < 0.2e6
            assert abs(p[2] - f0) < 6 * sigma


def test_frames_follow_shot_and_read_noise():
    cal = PixelCalibration(electrons_per_adu=0.5, offset=100, read_noise=1.6)
    bench = small_bench(field_map="none", texture=0.0, spot=None, vignetting=0.0,
                        psf_sigma=0.0, calibration=cal, photon_rate="1e6 /s")
    cam = bench.camera
    cam.start(1000)
    block = cam.read_frames(min_frames=400, timeout=10)
    electrons = cal.to_electrons(block.frames).astype(float)
    mean = electrons.mean(axis=0)
    var = electrons.var(axis=0, ddof=1)
    expected_mean = 1e6 * 5e-3 + 0.5 * 5e-3  # photon rate × exposure + dark current
    assert mean.mean() == pytest.approx(expected_mean, rel=2e-3)
    # variance of a variance estimate from 400 frames: 2σ⁴/399 per pixel, 1024 pixels
    ratio = var.mean() / (expected_mean + 1.6**2 + 0.5**2 / 12)  # + ADU rounding
    assert ratio == pytest.approx(1.0, abs=0.03)


def test_exposure_output_steps_the_list_once_per_frame():
    bench = small_bench()
    cam = bench.camera
    freqs = np.linspace(2.8e9, 2.9e9, 10)
    run_list(bench, freqs)
    cam.frame_period = 10e-3
    cam.start(100)
    block = cam.read_frames(min_frames=25, timeout=1)
    assert len(block) >= 25
    assert list(block.frame_number) == list(range(len(block)))
    np.testing.assert_allclose(np.diff(block.timestamp), 10e-3, atol=1e-6)
    log = cam.frame_log
    assert [t.list_entry for t in log] == [k % 10 for k in range(len(block))]
    assert bench.sample.mw.list_index == len(block) % 10


def test_an_external_clock_faster_than_the_camera_misses_edges_and_sync_sees_it():
    bench = small_bench(trigger_period="3 ms")  # 5 ms exposure: every other edge is missed
    cam = bench.camera
    plan = SweepPlan(8)
    freqs = np.linspace(2.8e9, 2.9e9, 8)
    cam.trigger_mode = "external"
    bench.mw.load_list(plan.hardware_list(freqs, lead=cam.mw_trigger_lead), -10)
    bench.mw.output = True
    bench.mw.start_list()
    cam.start(100)
    assembler = SweepAssembler(plan, TriggerTiming("external", 3e-3), cam.frame_shape)
    sweeps = assembler.add(cam.read_frames(min_frames=20, timeout=1))
    assert assembler.report.missed_triggers >= 18
    truth = {t.frame_number: t for t in cam.frame_log}
    for sweep in sweeps:
        for point in np.flatnonzero(sweep.signal_valid):
            assert truth[sweep.frame_number[point]].frequency == freqs[point]


def test_frames_read_too_late_are_lost_from_the_ring_buffer():
    bench = small_bench()
    cam = bench.camera
    cam.start(buffer_frames=10)
    bench.sample.advance(0.5)  # ~96 frames exposed, nobody reads
    block = cam.read_frames(min_frames=0)
    assert len(block) == 10
    assert block.lost == block.frame_number[0]
    assert list(np.diff(block.frame_number)) == [1] * 9


def test_injected_faults_show_in_counters():
    faults = CameraFaults(dropped={2, 3}, duplicated={5})
    bench = small_bench(faults=faults)
    cam = bench.camera
    cam.start(100)
    block = cam.read_frames(min_frames=8, timeout=1)
    numbers = list(block.frame_number[:8])
    assert numbers == [0, 1, 4, 5, 5, 6, 7, 8]
    np.testing.assert_array_equal(block.frames[3], block.frames[4])


def test_the_sample_drifts_under_the_camera():
    bench = small_bench(sensor=(64, 64), drift=(0.2, -0.1), drift_interval="0.5 s")
    cam = bench.camera
    assert cam.drift_at(0.4) == (0.0, 0.0)
    assert cam.drift_at(2.2) == pytest.approx((0.4, -0.2))
    # the brightness pattern moves with the sample: a whole-pixel drift shifts it exactly
    still, moved = cam.brightness((0.0, 0.0)), cam.brightness((3.0, 0.0))
    np.testing.assert_allclose(moved[20:40, 10:50] / cam.brightness((0.0, 0.0))[20:40, 10:50],
                               moved[20:40, 10:50] / still[20:40, 10:50])
    ratio = (moved / still)
    assert not np.allclose(ratio, 1.0, atol=1e-3)


def test_same_seed_same_frames():
    frames = []
    for _ in range(2):
        bench = small_bench()
        bench.camera.start(50)
        frames.append(bench.camera.read_frames(min_frames=5).frames[:5])
    np.testing.assert_array_equal(frames[0], frames[1])


def test_settings_are_checked_before_anything_changes():
    bench = small_bench()
    cam = bench.camera
    with pytest.raises(LimitError, match="exposure"):
        cam.exposure = 20.0
    assert cam.exposure == 5e-3
    with pytest.raises(LimitError, match="binning"):
        cam.binning = 3
    with pytest.raises(LimitError, match="leaves"):
        cam.roi = Roi(16, 16, 32, 32)
    with pytest.raises(LimitError, match="trigger mode"):
        cam.trigger_mode = "software"
    cam.roi, cam.binning = Roi(8, 8, 16, 16), 2
    assert cam.frame_shape == (8, 8)
    cam.start(10)
    with pytest.raises(InstrumentError, match="acquiring"):
        cam.exposure = 1e-3
    cam.safe()
    assert not cam.acquiring and cam.trigger_mode == TriggerMode.INTERNAL
    cam.close()
    with pytest.raises(InstrumentError, match="not connected"):
        cam.start(10)


def test_real_time_pace_waits_on_the_wall_clock():
    now = [100.0]

    def clock():
        return now[0]

    def sleep(dt):
        now[0] += dt

    bench = small_bench(sleep=sleep)
    bench.sample._clock, bench.sample._sleep = clock, sleep
    bench.sample.pace = "realtime"
    cam = bench.camera
    cam.frame_period = 10e-3
    cam.start(100)
    start = now[0]
    block = cam.read_frames(min_frames=10, timeout=1.0)
    assert len(block) == 10
    assert now[0] - start == pytest.approx(9 * 10e-3 + 5e-3 + 32 * cam.row_time, rel=1e-9)


def test_laser_off_leaves_only_offset_and_noise():
    bench = small_bench(field_map=[UniformField((0.0, 0.0, 1e-4))])
    bench.laser.on = False
    cam = bench.camera
    cam.start(10)
    frames = cam.read_frames(min_frames=3).frames.astype(float)
    assert frames.mean() == pytest.approx(cam.calibration.offset, abs=1.0)


def test_a_lost_frame_is_measured_again_in_cw_and_fills_its_point():
    from nvsense.instruments.frame_sync import entries_of, plan_repairs

    bench = small_bench(faults=CameraFaults(dropped={3}), field_map="none", psf_sigma=0.0)
    cam, mw = bench.camera, bench.mw
    plan = SweepPlan(8)
    freqs = np.linspace(2.80e9, 2.83e9, 8)  # across the lower line, near 2814 MHz
    run_list(bench, plan.hardware_list(freqs))
    cam.start(100)
    assembler = SweepAssembler(plan, TriggerTiming("exposure_out", cam.frame_period),
                               cam.frame_shape)
    (sweep,) = assembler.add(cam.read_frames(min_frames=7, timeout=1))[:1]
    repairs = plan_repairs(sweep)
    assert repairs.remeasure == ((3, False),) and list(entries_of([3], plan)) == [3]
    # the loop's repair: stop, CW at the missing point, one frame on the internal clock
    cam.stop()
    mw.stop_list()
    mw.frequency = freqs[3]
    cam.trigger_mode = "internal"
    cam.start(10)
    again = cam.read_frames(min_frames=1, timeout=1)
    sweep.put(3, again.frames[0])
    assert sweep.complete and sweep.frame_number[3] == -2
    assert cam.frame_log[-1].frequency == freqs[3]
    # the repaired point (2812.9 MHz) is the one nearest the line (2814 MHz): the darkest
    profile = sweep.signal.reshape(8, -1).mean(axis=1)
    assert profile.argmin() == 3 and profile[3] < 0.985 * profile[[0, 7]].mean()


def test_in_real_time_the_camera_makes_its_frames_without_a_reader():
    """Like hardware, the camera renders each frame when it is read out, in a thread of its
    own: a reader that comes later only copies finished frames; and the frames are the ones
    the same seed gives when the reader renders them (fast pace): the same physics and noise,
    drawn in the same frame order."""
    import threading
    import time

    def frames(pace):
        bench = small_bench()
        bench.sample.pace = pace
        cam = bench.camera
        cam.frame_period = 2e-3
        freqs = np.linspace(2.80e9, 2.94e9, 8)
        run_list(bench, freqs)
        renderers: list[str] = []
        render = cam._frame

        def frame(*args):
            renderers.append(threading.current_thread().name)
            return render(*args)

        cam._frame = frame
        cam.start(buffer_frames=100)
        if pace == "realtime":
            deadline = time.monotonic() + 60
            while cam.frames_produced < 8 and time.monotonic() < deadline:
                time.sleep(0.01)  # nobody reads: the producer renders on its own
            block = cam.read_frames(min_frames=8, max_frames=8, timeout=60)
            assert renderers[:8] == ["nvsense-camera-frames"] * 8
        else:
            block = cam.read_frames(min_frames=8, max_frames=8, timeout=1.0)
            assert renderers == [threading.current_thread().name] * 8
        cam.stop()
        bench.close()
        return block

    fast, real = frames("fast"), frames("realtime")
    assert list(real.frame_number) == list(fast.frame_number) == list(range(8))
    np.testing.assert_array_equal(real.frames, fast.frames)


def test_stopping_ends_the_frame_producer():
    import threading

    bench = small_bench()
    bench.sample.pace = "realtime"
    cam = bench.camera
    before = {t.name for t in threading.enumerate()}
    cam.start(buffer_frames=10)
    assert any(t.name == "nvsense-camera-frames" for t in threading.enumerate())
    cam.stop()
    assert not any(t.name == "nvsense-camera-frames" for t in threading.enumerate()
                   if t.name not in before)
    with pytest.raises(InstrumentError, match="not acquiring"):
        cam.read_frames()
    bench.close()
