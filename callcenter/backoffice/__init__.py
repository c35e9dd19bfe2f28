"""The back office's adapters: tickets in the store and on the bus, mail in and out, web chat.

- :class:`BackOffice` (``office``): the whole, built from settings, started by the engine.
- :class:`TicketService` (``service``): applies the pure core (:mod:`callcenter.tickets`) to
  the store in one transaction each, announces after commit; files escalations exactly once.
- :class:`TicketDesk` (``desk``): reply, note, update, assign, merge, list, read.
- :class:`InboundMailServer` / :func:`parse_mail` / :func:`receive_mail` (``email_in``).
- :class:`Outbox` / :class:`SmtpRelay` (``email_out``).
- :class:`ChatDesk` and the WebSocket ``router`` (``chat``).
"""

from .chat import ChatDesk
from .chat import router as chat_router
from .desk import TicketDesk, TicketFilter
from .email_in import InboundMail, InboundMailServer, parse_mail, receive_mail
from .email_out import Outbox, SmtpRelay
from .office import BackOffice, escalation_rules, sla_plans
from .service import Filed, TicketService

__all__ = [
    "BackOffice",
    "ChatDesk",
    "Filed",
    "InboundMail",
    "InboundMailServer",
    "Outbox",
    "SmtpRelay",
    "TicketDesk",
    "TicketFilter",
    "TicketService",
    "chat_router",
    "escalation_rules",
    "parse_mail",
    "receive_mail",
    "sla_plans",
]
