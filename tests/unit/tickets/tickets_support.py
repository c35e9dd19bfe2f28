"""Shared helpers of the ticket tests (pure core and back-office adapters)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from callcenter.ivr.business_hours import BusinessHours
from callcenter.tickets import Priority, SlaPlan

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

OFFICE = BusinessHours(
    ZoneInfo("Europe/Berlin"),
    {d: ((time(8, 0), time(18, 0)),) for d in ("mon", "tue", "wed", "thu", "fri")},
)

PLANS_24X7 = {p: SlaPlan(p, first_response_s=3600, resolution_s=8 * 3600) for p in Priority}
PLANS_OFFICE = {p: SlaPlan(p, 3600, 8 * 3600, hours=OFFICE) for p in Priority}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def backoffice_settings(tmp_path, **overrides):  # type: ignore[no-untyped-def]
    """Back-office settings for a test: free SMTP port, attachments under ``tmp_path``."""
    from callcenter.config import BackofficeSettings

    values = {
        "smtp_port": 0,
        "attachments_dir": tmp_path / "attachments",
        "from_address": "support@cc.test",
        "sla_check_s": 3600.0,
    }
    values.update(overrides)
    return BackofficeSettings(**values)


def add_call(session, call_id: str, caller: str = "+4930111") -> None:  # type: ignore[no-untyped-def]
    from callcenter.store.models import Call, CallEvent

    session.add(
        Call(id=call_id, direction="inbound", voice_layer="sip", caller=caller, flow="main")
    )
    session.add(CallEvent(call_id=call_id, seq=1, kind="ivr", data={"node": "menu"}))
    session.add(CallEvent(call_id=call_id, seq=2, kind="ivr", data={"node": "escalate"}))


def recording_bus(tenant: str = "t1"):  # type: ignore[no-untyped-def]
    """An in-process bus that also keeps every message published, in order."""
    from callcenter.bus import InProcessBus

    class RecordingBus(InProcessBus):
        def __init__(self) -> None:
            super().__init__(tenant)
            self.sent: list = []  # type: ignore[type-arg]

        def publish(self, message) -> None:  # type: ignore[no-untyped-def]
            self.sent.append(message)
            super().publish(message)

    return RecordingBus()
