"""The names every flow can read besides its own variables: the call and the clock.

Times are computed from the ``now`` the adapter sent, in the flow's time zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.ivr.business_hours import WEEKDAYS, BusinessHours

CALL_NAMES = frozenset({"caller", "dialed", "call_id", "language"})
"""Set from ``CallStarted`` (``language`` from the flow's default; a ``set`` node changes it)."""
TIME_NAMES = frozenset({"weekday", "date", "time", "hour", "minute"})
"""``weekday`` is ``mon``..``sun``; ``date`` is ``YYYY-MM-DD``; ``time`` is ``HH:MM``."""
CALENDAR_NAMES = frozenset({"is_open", "is_holiday", "holiday_name"})
"""Only for flows with a ``business_hours`` section."""


def clock_values(
    now: datetime, zone: ZoneInfo, calendar: BusinessHours | None
) -> dict[str, object]:
    local = now.astimezone(zone)
    values: dict[str, object] = {
        "weekday": WEEKDAYS[local.weekday()],
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "hour": local.hour,
        "minute": local.minute,
    }
    if calendar is not None:
        holiday = calendar.holiday(now)
        values["is_open"] = calendar.is_open(now)
        values["is_holiday"] = holiday is not None
        values["holiday_name"] = holiday.name if holiday else ""
    return values
