"""Timestamps of runs: ISO 8601 text with the UTC offset, and the date filters of the catalogue."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from ..units import QuantityError, parse_quantity

__all__ = ["local_now", "parse_iso", "parse_since_until", "to_iso"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def local_now() -> datetime:
    """The current time, aware of the local UTC offset."""
    return datetime.now().astimezone()


def to_iso(moment: datetime) -> str:
    """ISO 8601 text with milliseconds and UTC offset, ``2026-11-28T14:04:55.123+01:00``.

    A naive ``datetime`` is taken to be local time.
    """
    return moment.astimezone().isoformat(timespec="milliseconds")


def parse_iso(text: str) -> datetime:
    """Read a timestamp written by :func:`to_iso` (naive text is taken as local time)."""
    moment = datetime.fromisoformat(text)
    return moment.astimezone() if moment.tzinfo is None else moment


def parse_since_until(value: str | datetime | date, *, end: bool = False) -> datetime:
    """A date filter as an aware ``datetime``.

    Parameters
    ----------
    value
        ``"2026-11-28"`` (a whole local day), ``"2026-11-28T14:00"``, ISO text with an offset,
        a ``datetime`` or ``date``, or an age such as ``"2 h"``, ``"3 d"`` or ``"30 min"``
        (that long before now).
    end
        For the upper bound (``until``): a bare date means the end of that day.

    Raises
    ------
    ValueError
        If the value is none of these; the message gives examples.
    """
    if isinstance(value, datetime):
        return value.astimezone() if value.tzinfo is None else value
    if isinstance(value, date):
        day = datetime(value.year, value.month, value.day).astimezone()
        return day + timedelta(days=1) if end else day
    text = str(value).strip()
    if _DATE_ONLY.match(text):
        day = datetime.fromisoformat(text).astimezone()
        return day + timedelta(days=1) if end else day
    try:
        return parse_iso(text)
    except ValueError:
        pass
    try:
        age = parse_quantity(text, "s")
    except QuantityError:
        age = None
    if age is None or not text[:1].isdigit():
        raise ValueError(
            f"cannot read {text!r} as a date or an age: write e.g. 2026-11-28, "
            "2026-11-28T14:00, '2 h' or '3 d'"
        )
    try:
        return local_now() - timedelta(seconds=age)
    except OverflowError:  # more than ~10,000 years back
        raise ValueError(f"{text!r} reaches back before the year 1; give a date or a "
                         "shorter age, e.g. '3 d'") from None
