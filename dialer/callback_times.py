"""When a scheduled callback is due: the agent's time read, checked and placed. Pure.

An agent says "call back on Tuesday at 15:30" while dispositioning a call. The time comes as
ISO 8601 text, and is read in one of two ways (:func:`callback_time`):

- **with an offset** (``2026-06-16T15:30:00-04:00``, ``...Z``): that instant, wherever the
  agent or the lead is;
- **without one** (``2026-06-16T15:30``): a wall-clock time *where the lead lives*, in the
  lead's zone as the dialer finds it (:func:`dialer.compliance.called_party_zones`: the lead's
  own ``timezone``, else its number's zone, else the campaign's fallback). When that is
  several zones with different clocks (a US toll-free number, a state spanning two zones) the
  time is ambiguous and refused: send an offset. A local time that does not exist (the hour
  skipped when clocks go forward) is refused too; one that happens twice (clocks go back) is
  the first of the two.

It must lie in the future and at most :data:`MAX_AHEAD` (90 days) ahead. Whether the calling
window is open then is said, not refused: a callback due outside the window is dialed when
the window opens (:attr:`CallbackTime.window_opens`), as the dial-time compliance check would
hold any lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.errors import CallCenterError
from dialer import compliance

MAX_AHEAD = timedelta(days=90)
FORMAT_HINT = ("send ISO 8601 with an offset (2026-06-16T15:30:00-04:00) for an exact "
               "instant, or without one (2026-06-16T15:30) for that wall-clock time in the "
               "lead's time zone")


class CallbackTimeError(CallCenterError):
    """A callback time that cannot be used; the message says what was wrong and what to send."""

    exit_code = 2


@dataclass(frozen=True)
class CallbackTime:
    due: datetime  # UTC
    read_as: str  # how the text was read: "offset given" or "local time in <zone>"
    window_opens: datetime | None  # UTC; set when the calling window is closed at ``due``

    def note(self) -> str | None:
        """What the API tells the agent when the callback must wait for the window."""
        if self.window_opens is None:
            return None
        return (f"{self.due.isoformat()} is outside the campaign's calling window where the "
                f"lead lives: the call waits for the window to open "
                f"({self.window_opens.isoformat()})")


def callback_time(raw: str, zones: tuple[ZoneInfo, ...] | compliance.Reason, now: datetime,
                  rules: compliance.CampaignRules,
                  max_ahead: timedelta = MAX_AHEAD, places: tuple[str, ...] = ()) -> CallbackTime:
    """Read ``raw`` (see the module's docstring) for a lead in ``zones`` (or the reason its
    zone is unknown) at ``now``; :class:`CallbackTimeError` when it cannot be used."""
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise CallbackTimeError(f"callback_at {raw!r} is not an ISO 8601 date and time: "
                                f"{FORMAT_HINT}") from None
    if parsed.tzinfo is not None:
        due, read_as = parsed.astimezone(UTC), "offset given"
    else:
        zone = _single_zone(raw, zones, parsed)
        due, read_as = _local(raw, parsed, zone).astimezone(UTC), f"local time in {zone.key}"
    if due <= now:
        raise CallbackTimeError(f"callback_at {raw!r} ({read_as}: {due.isoformat()}) is in the "
                                f"past (now {now.astimezone(UTC).isoformat()}): send a future "
                                "time")
    latest = (now + max_ahead).astimezone(UTC)
    if due > latest:
        raise CallbackTimeError(f"callback_at {raw!r} is more than {max_ahead.days} days ahead: "
                                f"send a time before {latest.isoformat()}")
    opens = None
    if not isinstance(zones, compliance.Reason) and compliance.window_closed(zones, due, rules,
                                                                             places):
        found = compliance.next_window_opening(zones, due, rules, places)
        opens = found.astimezone(UTC) if found is not None else None
    return CallbackTime(due, read_as, opens)


def _single_zone(raw: str, zones: tuple[ZoneInfo, ...] | compliance.Reason,
                 at: datetime) -> ZoneInfo:
    if isinstance(zones, compliance.Reason):
        raise CallbackTimeError(f"callback_at {raw!r} has no offset and the lead's time zone is "
                                f"unknown ({zones.name}): send an offset "
                                "(2026-06-16T15:30:00-04:00)")
    offsets = {at.replace(tzinfo=z).utcoffset() for z in zones}
    if len(offsets) > 1:
        names = ", ".join(z.key for z in zones[:4]) + (", ..." if len(zones) > 4 else "")
        raise CallbackTimeError(f"callback_at {raw!r} has no offset and the lead may be in "
                                f"several time zones ({names}): send an offset "
                                "(2026-06-16T15:30:00-04:00)")
    return zones[0]


def _local(raw: str, naive: datetime, zone: ZoneInfo) -> datetime:
    local = naive.replace(tzinfo=zone, fold=0)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise CallbackTimeError(f"callback_at {raw!r} does not exist in {zone.key} (the clocks "
                                "go forward then): send a time an hour later, or an offset")
    return local
