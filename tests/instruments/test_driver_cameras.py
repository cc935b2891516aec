"""The pylablib camera drivers, against doubles of pylablib's camera objects.

Each double implements the part of pylablib's camera API the drivers use
(``pylablib.devices.interface.camera.ICamera`` and the family's attributes and frame-info
fields, as in pylablib 1.4.5) and records every call, so the tests see what would reach the
camera: nothing at all when a setting is out of range.
"""

from __future__ import annotations

import sys
from collections import namedtuple

import numpy as np
import pytest

from nvsense.instruments.camera import Camera, Roi, TriggerMode
from nvsense.instruments.drivers.camera_andor import AndorSDK3
from nvsense.instruments.drivers.camera_dcam import HamamatsuDCAM
from nvsense.instruments.drivers.camera_vimbax import AlliedVisionVimbaX
from nvsense.instruments.errors import CapabilityError, InstrumentError, LimitError
from nvsense.instruments.frame_sync import SweepAssembler, SweepPlan, TriggerTiming

TAxisROILimit = namedtuple("TAxisROILimit", ["min", "max", "pstep", "sstep", "maxbin"])
TAcqTimings = namedtuple("TAcqTimings", ["exposure", "frame_period"])
TFramesStatus = namedtuple("TFramesStatus", ["acquired", "unread", "skipped", "buffer_size"])


class FakeDeviceError(Exception):
    pass


class FakeTimeoutError(FakeDeviceError):
    pass


class Attr:
    def __init__(self, value, low=None, high=None):
        self.value, self.min, self.max = value, low, high


class FakeCamera:
    """A pylablib camera double.  ``fields`` and ``attributes`` make it one family."""

    Error = FakeDeviceError
    TimeoutError = FakeTimeoutError

    def __init__(self, *, fields, attributes, binned_roi=True, size=(64, 48), maxbin=4,
                 step=4, frame_period=True, info=("Fake", "Cam-1", "SN42")):
        self.calls: list[tuple] = []
        self.fields = list(fields)
        self.attributes = {k: Attr(*v) if isinstance(v, tuple) else Attr(v)
                           for k, v in attributes.items()}
        self.binned_roi = binned_roi  # IBinROICamera (Andor, DCAM) or IROICamera (GenICam)
        self.size, self.maxbin, self.step = size, maxbin, step
        self._roi = [0, size[0], 0, size[1], 1, 1]
        self.exposure = 0.01
        self.trigger = "int"
        self.acquiring = False
        self.buffer: list[tuple[np.ndarray, list]] = []
        self.read = 0
        self.skipped = 0
        self.info = info
        self.lost: list[int] = []  # exposed frames that never reached the buffer
        if frame_period:
            self.set_frame_period = self._set_frame_period

    def _log(self, *call):
        self.calls.append(call)

    # acquisition and formats
    def set_frame_format(self, fmt):
        self._log("set_frame_format", fmt)

    def set_frame_info_format(self, fmt):
        self._log("set_frame_info_format", fmt)

    def get_frame_info_fields(self):
        return list(self.fields)

    def stop_acquisition(self):
        self._log("stop_acquisition")
        self.acquiring = False

    def setup_acquisition(self, mode, nframes):
        self._log("setup_acquisition", mode, nframes)

    def start_acquisition(self):
        self._log("start_acquisition")
        self.acquiring = True

    def acquisition_in_progress(self):
        return self.acquiring

    def close(self):
        self._log("close")

    def get_device_info(self):
        return self.info

    # geometry
    def get_detector_size(self):
        return self.size

    def get_roi_limits(self, hbin=1, vbin=1):
        w, h = self.size
        return (TAxisROILimit(8, w, self.step, self.step, self.maxbin),
                TAxisROILimit(8, h, self.step, self.step, self.maxbin))

    def get_roi(self):
        return tuple(self._roi) if self.binned_roi else tuple(self._roi[:4])

    def set_roi(self, hstart=0, hend=None, vstart=0, vend=None, hbin=1, vbin=1):
        self._log("set_roi", hstart, hend, vstart, vend, hbin, vbin)
        self._roi = [hstart, hend, vstart, vend, hbin, vbin]

    # timing
    def get_exposure(self):
        return self.exposure

    def set_exposure(self, value):
        self._log("set_exposure", value)
        self.exposure = round(value / 1e-5) * 1e-5  # rounds to 10 µs rows

    def get_frame_timings(self):
        return TAcqTimings(self.exposure, self.exposure + 1e-3)

    def _set_frame_period(self, value):
        self._log("set_frame_period", value)

    # triggers and attributes
    def set_trigger_mode(self, mode):
        self._log("set_trigger_mode", mode)
        self.trigger = mode

    def get_attribute(self, name):
        if name not in self.attributes:
            raise FakeDeviceError(f"no attribute {name}")
        return self.attributes[name]

    def get_attribute_value(self, name, error_on_missing=True, default=None, **kwargs):
        if name in self.attributes:
            return self.attributes[name].value
        if error_on_missing and default is None:
            raise FakeDeviceError(f"no attribute {name}")
        return default

    def set_attribute_value(self, name, value, error_on_missing=True, **kwargs):
        self._log("set_attribute_value", name, value)
        if name in self.attributes:
            self.attributes[name].value = value
        elif error_on_missing:
            raise FakeDeviceError(f"no attribute {name}")

    # family extras
    def enable_metadata(self, enable=True):
        self._log("enable_metadata", enable)

    def set_overflow_behavior(self, behavior):
        self._log("set_overflow_behavior", behavior)

    # frames
    def push(self, n, counter_offset=0, tick=1.0, period=0.01, skip=()):
        """The camera exposes ``n`` frames; frames in ``skip`` never reach the buffer."""
        start = len(self.buffer) + len(self.lost)
        for k in range(start, start + n):
            if k in skip:
                self.lost.append(k)
                continue
            row = []
            for f in self.fields:
                row.append({"frame_index": len(self.buffer), "framestamp": k + counter_offset,
                            "timestamp_us": int(k * period * 1e6),
                            "timestamp_dev": int(k * period * tick),
                            "timestamp": int(k * period * tick)}.get(f, 0))
            # pylablib's binning ROI is in sensor pixels; a GenICam ROI is in binned pixels
            b = self._roi[4] if self.binned_roi else 1
            h = (self._roi[3] - self._roi[2]) // b
            w = (self._roi[1] - self._roi[0]) // b
            self.buffer.append((np.full((h, w), k, np.uint16), row))

    def wait_for_frame(self, since="lastread", nframes=1, timeout=20.0):
        self._log("wait_for_frame", nframes, timeout)
        if len(self.buffer) - self.read < nframes:
            raise FakeTimeoutError("timeout")

    def get_new_images_range(self):
        if self.read >= len(self.buffer):
            return None
        return (self.read, len(self.buffer))

    def read_multiple_images(self, rng, missing_frame="skip", return_info=False):
        self._log("read_multiple_images", rng, missing_frame, return_info)
        frames = np.array([f for f, _ in self.buffer[rng[0]:rng[1]]])
        info = np.array([i for _, i in self.buffer[rng[0]:rng[1]]], dtype=np.int64)
        self.read = rng[1]
        return frames, info

    def get_frames_status(self):
        return TFramesStatus(len(self.buffer), len(self.buffer) - self.read, self.skipped, 100)


ANDOR_FIELDS = ["frame_index", "timestamp_dev", "size.width", "size.height", "pixeltype",
                "stride"]
DCAM_FIELDS = ["frame_index", "framestamp", "timestamp_us", "camerastamp", "position.left",
               "position.top", "pixeltype"]
VIMBA_FIELDS = ["frame_index", "framestamp", "timestamp", "offset_x", "offset_y"]


def andor(**kw):
    fake = FakeCamera(fields=ANDOR_FIELDS, attributes={
        "ExposureTime": (0.01, 1e-5, 30.0), "AuxiliaryOutSource": "FireRow1",
        "TimestampClockFrequency": 1e8, "MetadataTimestamp": False}, **kw)
    return AndorSDK3("cam", camera_factory=lambda: fake), fake


def dcam(**kw):
    fake = FakeCamera(fields=DCAM_FIELDS, attributes={
        "EXPOSURE TIME": (0.01, 1e-5, 10.0), "OUTPUT TRIGGER KIND[0]": 1,
        "OUTPUT TRIGGER POLARITY[0]": 1}, frame_period=False, **kw)
    return HamamatsuDCAM("cam", camera_factory=lambda: fake), fake


def vimbax(**kw):
    fake = FakeCamera(fields=VIMBA_FIELDS, binned_roi=False, attributes={
        "ExposureTime": (1e4, 10.0, 1e7), "BinningHorizontal": (1, 1, 4),
        "BinningVertical": (1, 1, 4), "TriggerSelector": "FrameStart", "TriggerMode": "Off",
        "TriggerSource": "Software", "TriggerActivation": "FallingEdge",
        "LineSelector": "Line0", "LineMode": "Input", "LineSource": "Off",
        "GevTimestampTickFrequency": 1e9}, **kw)
    return AlliedVisionVimbaX("cam", camera_factory=lambda: fake), fake


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
