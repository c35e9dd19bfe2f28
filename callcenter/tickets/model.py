"""The words of the back office: ticket status, priority, channel, and the errors of the core."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a ticket is in its life cycle (see ``lifecycle.TRANSITIONS``)."""

    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def raised(self) -> Priority:
        """One step up; urgent stays urgent."""
        return _ORDER[min(self.rank + 1, len(_ORDER) - 1)]


_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
_RANKS = {p: i for i, p in enumerate(_ORDER)}


class Channel(StrEnum):
    """How the customer reached us for this ticket."""

    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    WEB = "web"


def ticket_ref(number: int) -> str:
    """The number customers and agents see: ``T-42``."""
    return f"T-{number}"


class TicketError(Exception):
    """Base of the ticket core's errors: ``str(err)`` says what was wrong and what to do."""


class InvalidTransition(TicketError):
    """A change the life cycle does not allow (e.g. closed -> pending customer)."""

    def __init__(self, number: int, current: str, wanted: str, hint: str) -> None:
        self.number, self.current, self.wanted = number, current, wanted
        super().__init__(f"ticket {ticket_ref(number)} is {current}: cannot {wanted}; {hint}")


class SlaConfigError(TicketError):
    """An SLA plan that cannot work (no opening hours, non-positive target)."""
