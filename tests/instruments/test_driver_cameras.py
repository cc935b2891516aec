"""The pylablib camera drivers, against doubles of pylablib's camera objects.

Each double implements the part of pylablib's camera API the drivers use
(``pylablib.devices.interface.camera.ICamera`` and the family's attributes and frame-info
fields, as in pylablib 1.4.5) and records every call, so the tests see what would reach the
camera: nothing at all when a setting is out of range.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from camera_doubles import (  # tests/instruments (conftest.py)
    FakeDeviceError,
    andor,
    dcam,
    vimbax,
)

from nvsense.instruments.camera import Camera, Roi, TriggerMode
from nvsense.instruments.drivers.camera_andor import AndorSDK3
from nvsense.instruments.drivers.camera_dcam import HamamatsuDCAM
from nvsense.instruments.drivers.camera_vimbax import AlliedVisionVimbaX
from nvsense.instruments.errors import CapabilityError, InstrumentError, LimitError
from nvsense.instruments.frame_sync import SweepAssembler, SweepPlan, TriggerTiming

FAMILIES = [andor, dcam, vimbax]


@pytest.mark.parametrize("make", FAMILIES)
def test_connect_reads_limits_and_leaves_the_camera_idle(make):
    driver, fake = make()
    driver.connect()
    assert isinstance(driver, Camera)
    assert ("set_frame_format", "array") in fake.calls
    assert ("stop_acquisition",) in fake.calls
    limits = driver.limits
    assert (limits.sensor_width, limits.sensor_height) == (64, 48)
    assert limits.roi_step == 4 and 1 in limits.binnings and max(limits.binnings) <= 4
    assert limits.exposure_min == pytest.approx(1e-5)
    assert driver.trigger_mode == TriggerMode.INTERNAL
    assert "Cam-1" in driver.identity and "SN42" in driver.identity


@pytest.mark.parametrize("make", FAMILIES)
def test_settings_out_of_range_send_nothing(make):
    driver, fake = make()
    driver.connect()
    before = list(fake.calls)
    for setting, value in [("exposure", 100.0), ("binning", 5), ("roi", Roi(0, 0, 66, 8)),
                           ("roi", Roi(1, 0, 16, 16)), ("trigger_mode", "burst")]:
        with pytest.raises(LimitError):
            setattr(driver, setting, value)
    with pytest.raises(LimitError, match="buffer"):
        driver.start(1)
    assert fake.calls == before


@pytest.mark.parametrize("make", FAMILIES)
def test_exposure_is_read_back(make):
    driver, fake = make()
    driver.connect()
    driver.exposure = 5e-3
    assert driver.exposure == pytest.approx(5e-3)

    def stubborn(value):
        fake.exposure = 2 * value

    fake.set_exposure = stubborn
    with pytest.raises(InstrumentError, match="instead"):
        driver.exposure = 4e-3


@pytest.mark.parametrize("make", FAMILIES)
def test_region_and_binning_in_sensor_pixels(make):
    driver, fake = make()
    driver.connect()
    driver.roi = Roi(8, 4, 32, 16)
    driver.binning = 2
    assert driver.roi == Roi(8, 4, 32, 16) and driver.binning == 2
    assert driver.frame_shape == (8, 16)
    last = [c for c in fake.calls if c[0] == "set_roi"][-1]
    if make is vimbax:  # GenICam offsets and sizes are in binned pixels
        assert last[1:5] == (4, 20, 2, 10)
        assert ("set_attribute_value", "BinningHorizontal", 2) in fake.calls
    else:
        assert last[1:] == (8, 40, 4, 20, 2, 2)


def test_andor_exposure_output_uses_the_auxiliary_output():
    driver, fake = andor()
    driver.connect()
    driver.trigger_mode = "exposure_out"
    assert fake.trigger == "int" and fake.attributes["AuxiliaryOutSource"].value == "FireAny"
    driver.trigger_mode = "external"
    assert fake.trigger == "ext" and driver.mw_trigger_lead == 1
    assert ("enable_metadata", True) in fake.calls
    assert ("set_overflow_behavior", "error") in fake.calls


def test_dcam_exposure_output_sets_output_trigger_kind():
    driver, fake = dcam()
    driver.connect()
    driver.trigger_mode = "exposure_out"
    assert fake.attributes["OUTPUT TRIGGER KIND[0]"].value == 2  # EXPOSURE
    assert fake.attributes["OUTPUT TRIGGER POLARITY[0]"].value == 2  # POSITIVE
    driver.trigger_mode = "internal"
    assert fake.attributes["OUTPUT TRIGGER KIND[0]"].value == 1  # LOW
    with pytest.raises(CapabilityError, match="frame period"):
        driver.frame_period = 0.02


def test_genicam_triggers_and_exposure_output():
    driver, fake = vimbax()
    driver.connect()
    driver.trigger_mode = "external"
    a = fake.attributes
    assert (a["TriggerMode"].value, a["TriggerSource"].value,
            a["TriggerActivation"].value) == ("On", "Line0", "RisingEdge")
    driver.trigger_mode = "exposure_out"
    assert a["TriggerMode"].value == "Off"
    assert (a["LineSelector"].value, a["LineMode"].value, a["LineSource"].value) == (
        "Line1", "Output", "ExposureActive")


@pytest.mark.parametrize("make", FAMILIES)
def test_frames_come_with_counters_and_timestamps_in_seconds(make):
    driver, fake = make()
    driver.connect()
    driver.roi, driver.binning = Roi(8, 8, 32, 16), 2
    driver.start(100)
    assert ("setup_acquisition", "sequence", 100) in fake.calls
    tick = {andor: 1e8, dcam: 1e6, vimbax: 1e9}[make]
    fake.push(5, counter_offset=1000, tick=tick, skip={2} if driver.counter_source == "camera"
              else set())
    block = driver.read_frames(min_frames=3, timeout=0.1)
    if driver.counter_source == "camera":
        assert list(block.frame_number) == [0, 1, 3, 4]  # the camera's counter shows the gap
    else:
        assert list(block.frame_number) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(np.diff(block.timestamp), 0.01 * np.diff(block.frame_number))
    assert block.frames.dtype == np.uint16 and block.frames.shape[1:] == driver.frame_shape
    # nothing new: an empty block after the timeout, not an error
    assert len(driver.read_frames(min_frames=1, timeout=0.01)) == 0


def test_a_lost_andor_frame_is_found_from_timestamps():
    driver, fake = andor()
    driver.connect()
    driver.trigger_mode = "exposure_out"
    driver.start(100)
    fake.push(6, tick=1e8)
    # the SDK delivered frames 0, 1, 2, 4, 5 of the camera: pylablib numbers them 0..4
    del fake.buffer[3]
    for i, (_, row) in enumerate(fake.buffer):
        row[0] = i
    block = driver.read_frames(min_frames=5)
    assert list(block.frame_number) == [0, 1, 2, 3, 4]
    plan = SweepPlan(6)
    timing = TriggerTiming("exposure_out", 0.01, counter=driver.counter_source)
    asm = SweepAssembler(plan, timing, driver.frame_shape)
    sweeps = asm.add(block) + asm.finish()
    assert sweeps[0].signal_valid.tolist() == [True, True, True, False, True, True]
    assert asm.report.lost_in_transfer == 1


@pytest.mark.parametrize("make", FAMILIES)
def test_changes_while_acquiring_are_refused_and_safe_stops(make):
    driver, fake = make()
    driver.connect()
    driver.trigger_mode = "exposure_out"
    driver.start(10)
    with pytest.raises(InstrumentError, match="acquiring"):
        driver.exposure = 1e-3
    driver.safe()
    assert not fake.acquiring and driver.trigger_mode == TriggerMode.INTERNAL
    fake.stop_acquisition = lambda: (_ for _ in ()).throw(FakeDeviceError("gone"))
    driver.safe()  # never raises
    driver.close()
    driver.close()
    with pytest.raises(InstrumentError, match="not connected"):
        driver.start(10)


@pytest.mark.parametrize("cls, sdk", [(AndorSDK3, "Andor SDK3"), (HamamatsuDCAM, "DCAM-API"),
                                      (AlliedVisionVimbaX, "Vimba X")])
def test_a_missing_sdk_is_named(cls, sdk, monkeypatch):
    driver = cls("cam")

    def no_library(index):
        raise OSError("can't import library")

    monkeypatch.setattr(driver, "_open", no_library)
    with pytest.raises(InstrumentError, match=sdk) as err:
        driver.connect()
    assert f"devices/dlls/{cls.dll_key}" in str(err.value)


def test_missing_pylablib_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "pylablib", None)
    with pytest.raises(InstrumentError, match=r"pip install nvsense\[camera\]"):
        AndorSDK3("cam").connect()


def test_pylablib_refusing_vendor_libraries_names_the_sdk():
    # on Linux pylablib refuses vendor libraries; with it installed this is the real path
    pytest.importorskip("pylablib")
    with pytest.raises(InstrumentError, match="DCAM-API"):
        HamamatsuDCAM("cam").connect()
