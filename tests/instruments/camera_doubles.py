"""Doubles of pylablib's camera objects (Andor SDK3, Hamamatsu DCAM, Allied Vision Vimba X).

Each double implements the part of pylablib's camera API the drivers use
(``pylablib.devices.interface.camera.ICamera`` and the family's attributes and frame-info
fields, as in pylablib 1.4.5) and records every call, so the tests see what would reach the
camera: nothing at all when a setting is out of range.  ``andor()``, ``dcam()`` and
``vimbax()`` return a driver on a fresh double, and the double.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from nvsense.instruments.drivers.camera_andor import AndorSDK3
from nvsense.instruments.drivers.camera_dcam import HamamatsuDCAM
from nvsense.instruments.drivers.camera_vimbax import AlliedVisionVimbaX

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
