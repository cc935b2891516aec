"""Camera settings are checked before anything is sent, with messages that name the fix."""

from __future__ import annotations

import numpy as np
import pytest

from nvsense.instruments.camera import (
    CameraLimits,
    FrameBlock,
    PixelCalibration,
    Roi,
    TriggerMode,
    check_binning,
    check_buffer_frames,
    check_exposure,
    check_roi,
    check_trigger_mode,
)
from nvsense.instruments.errors import LimitError

LIMITS = CameraLimits(exposure_min=1e-5, exposure_max=10.0, sensor_width=2048,
                      sensor_height=2048, binnings=(1, 2, 4), roi_step=4, roi_min=16,
                      trigger_modes=(TriggerMode.INTERNAL, TriggerMode.EXTERNAL))


def test_exposure_range():
    assert check_exposure("0.005", LIMITS) == 5e-3
    for bad, words in [(20.0, "outside"), (0.0, "outside"), (float("nan"), "outside"),
                       ("fast", "not a number")]:
        with pytest.raises(LimitError, match=words):
            check_exposure(bad, LIMITS)


def test_regions_fit_the_sensor_grid_and_the_binning():
    assert check_roi(None, LIMITS) == Roi(0, 0, 2048, 2048)
    assert check_roi(Roi(512, 256, 1024, 512), LIMITS, 4).frame_shape(4) == (128, 256)
    for roi, binning, words in [(Roi(2000, 0, 64, 64), 1, "leaves"),
                                (Roi(2, 0, 64, 64), 1, "multiple of 4"),
                                (Roi(0, 0, 8, 8), 1, "minimum 16"),
                                (Roi(0, 0, 36, 36), 8, "bins")]:
        with pytest.raises(LimitError, match=words):
            check_roi(roi, LIMITS, binning)
    with pytest.raises(LimitError, match="≥ 0"):
        Roi(-4, 0, 16, 16)
    with pytest.raises(LimitError, match="whole number"):
        Roi(0, 0, 16.5, 16)  # type: ignore[arg-type]


def test_binning_trigger_and_buffer():
    assert check_binning(2, LIMITS) == 2
    with pytest.raises(LimitError, match="bins 1, 2, 4"):
        check_binning(3, LIMITS)
    assert check_trigger_mode("external", LIMITS) is TriggerMode.EXTERNAL
    with pytest.raises(LimitError, match="does not support"):
        check_trigger_mode("exposure_out", LIMITS)
    with pytest.raises(LimitError, match="unknown"):
        check_trigger_mode("burst", LIMITS)
    assert check_buffer_frames(100, LIMITS, (2048, 2048)) == 100
    with pytest.raises(LimitError, match="GB of memory"):
        check_buffer_frames(1000, LIMITS, (2048, 2048))


def test_frame_blocks_and_calibration():
    a = FrameBlock(np.full((2, 3, 4), 300, np.uint16), np.array([0, 1]), np.array([0.0, 0.01]))
    b = FrameBlock.empty((3, 4), lost=2)
    both = FrameBlock.concatenate([a, b])
    assert len(both) == 2 and both.lost == 2
    with pytest.raises(ValueError, match="frame numbers"):
        FrameBlock(np.zeros((2, 3, 4), np.uint16), np.array([0]), np.array([0.0, 1.0]))
    cal = PixelCalibration(electrons_per_adu=0.46, offset=100)
    np.testing.assert_allclose(cal.to_electrons(a.frames), 0.46 * 200)
    with pytest.raises(ValueError, match="electrons_per_adu"):
        PixelCalibration(electrons_per_adu=0)


def test_limit_errors_carry_fields_for_programs():
    with pytest.raises(LimitError) as err:
        check_exposure(20.0, LIMITS, who="camera")
    e = err.value
    assert (e.quantity, e.value, e.limit, e.unit, e.bound, e.source, e.instrument) == (
        "exposure", 20.0, 10.0, "s", "upper", "instrument", "camera")
    with pytest.raises(LimitError) as err:
        check_roi(Roi(2000, 0, 64, 64), LIMITS)
    assert err.value.quantity == "roi"
