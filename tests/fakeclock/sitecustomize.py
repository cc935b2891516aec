"""Run Python (and every Python subprocess it starts) on another date: the wall clock is
shifted, time still runs.

    NVSENSE_FAKE_NOW=2024-02-29T23:59:50 PYTHONPATH=tests/fakeclock python -m pytest ...

``NVSENSE_FAKE_NOW`` is the local date and time at start-up (with ``TZ`` choosing the time
zone); ``time.time``, ``time.time_ns``, ``time.localtime``/``gmtime``/``ctime``/``strftime``
without a time, ``datetime.datetime.now``/``today``/``utcnow`` and ``datetime.date.today``
all follow it.  Monotonic clocks and thread and process timeouts are untouched (libfaketime,
which shifts them too, makes Python's timed waits sleep for decades).  Python's ``site``
imports this module at start-up when its folder is on ``PYTHONPATH``, which subprocesses
inherit, so test workers, CLI subprocesses and notebook kernels all see the same date,
with one clock (the offset is handed down in ``NVSENSE_FAKE_OFFSET``).
"""

from __future__ import annotations

import datetime as _datetime
import os
import time as _time

_TARGET = os.environ.get("NVSENSE_FAKE_NOW", "").strip()

if _TARGET:
    _real_time = _time.time
    _real_time_ns = _time.time_ns
    # subprocesses inherit the offset, so that their clock runs with this process's
    _OFFSET = float(os.environ.get("NVSENSE_FAKE_OFFSET") or (
        _datetime.datetime.fromisoformat(_TARGET).timestamp() - _real_time()))
    os.environ["NVSENSE_FAKE_OFFSET"] = repr(_OFFSET)
    _OFFSET_NS = round(_OFFSET * 1e9)
    _real_localtime, _real_gmtime = _time.localtime, _time.gmtime
    _real_ctime, _real_strftime = _time.ctime, _time.strftime

    def _fake_time() -> float:
        return _real_time() + _OFFSET

    def _fake_time_ns() -> int:
        return _real_time_ns() + _OFFSET_NS

    def _localtime(secs=None):
        return _real_localtime(_fake_time() if secs is None else secs)

    def _gmtime(secs=None):
        return _real_gmtime(_fake_time() if secs is None else secs)

    def _ctime(secs=None):
        return _real_ctime(_fake_time() if secs is None else secs)

    def _strftime(fmt, t=None):
        return _real_strftime(fmt, _localtime() if t is None else t)

    _time.time, _time.time_ns = _fake_time, _fake_time_ns
    _time.localtime, _time.gmtime, _time.ctime = _localtime, _gmtime, _ctime
    _time.strftime = _strftime

    # Libraries that derive classes from the datetime types at import (pandas' Timestamp,
    # compiled; pydantic v1's ConstrainedDate, whose metaclass clashes with the shifted
    # classes') must see the real types: import them before the swap below.
    for _name in ("pandas", "pydantic.v1"):
        try:
            __import__(_name)
        except ImportError:
            pass

    _RealDatetime, _RealDate = _datetime.datetime, _datetime.date

    class _DatetimeType(type):
        # datetimes made by C code (fromisoformat on the real class, pandas, ...) are still
        # instances of the shifted class
        def __instancecheck__(cls, obj):
            return isinstance(obj, _RealDatetime)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _RealDatetime)

    class _DateType(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _RealDate)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _RealDate)

    class datetime(_RealDatetime, metaclass=_DatetimeType):
        __slots__ = ()  # the size of the C type: compiled extensions (pandas) check it

        @classmethod
        def now(cls, tz=None):
            return cls.fromtimestamp(_fake_time(), tz)

        @classmethod
        def today(cls):
            return cls.fromtimestamp(_fake_time())

        @classmethod
        def utcnow(cls):
            return cls.now(_datetime.UTC).replace(tzinfo=None)

    class date(_RealDate, metaclass=_DateType):
        __slots__ = ()

        @classmethod
        def today(cls):
            return cls.fromtimestamp(_fake_time())

    datetime.__module__ = date.__module__ = "datetime"
    _datetime.datetime, _datetime.date = datetime, date
