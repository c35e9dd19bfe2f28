"""Outbound mail: the acknowledgement with the ticket number, and agents' replies.

Mail to send is first written as an ``out`` message with ``delivery='pending'`` in the same
transaction as the change that causes it (an outbox); :class:`Outbox` sends pending mail
through the configured SMTP relay after the commit and marks it sent, so a crash loses no
mail and a restart sends what is still pending. Our mail carries ``X-Loop`` and, for the
automatic acknowledgement, ``Auto-Submitted: auto-replied`` (RFC 3834), so that neither we
nor a well-behaved auto-responder answers it.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.store.database import Database
from callcenter.store.tickets import Ticket, TicketMessage
from callcenter.tickets.mail_rules import LOOP_HEADER, tagged_subject

if TYPE_CHECKING:
    from .service import Batch

log = logging.getLogger(__name__)


def acknowledgement(row: Ticket) -> str:
    return (
        f"Hello,\n\nwe have received your request and opened ticket T-{row.id} for it.\n"
        f"Please keep [#T-{row.id}] in the subject when you write to us about it; simply "
        "replying to this mail does that.\n\nYour support team\n"
    )


def queue_mail(
    session: Session,
    batch: Batch,
    row: Ticket,
    body: str,
    *,
    author: str = "system",
    automatic: bool = False,
    from_address: str = "support@localhost",
) -> TicketMessage | None:
    """Put a mail to the ticket's customer in the outbox; ``None`` when we have no address."""
    if row.customer is None or not row.customer.email:
        return None
    domain = from_address.rpartition("@")[2] or "localhost"
    from .records import add_message

    message = add_message(
        session,
        row,
        direction="out",
        channel="email",
        author=author,
        body=body,
        now=batch.now,
        subject=tagged_subject(row.id, row.subject),
        message_id=make_msgid(f"t{row.id}", domain=domain),
        automatic=automatic,
        delivery="pending",
    )
    batch.send_mail = True
    return message


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass
class SmtpRelay:
    """Sends through an SMTP relay; smtplib runs in a worker thread, off the event loop."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 30.0

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class Outbox:
    """Sends the pending ``out`` messages, oldest first, one flush at a time."""

    def __init__(self, db: Database, mailer: Mailer | None, from_address: str) -> None:
        self.db, self.mailer, self.from_address = db, mailer, from_address
        self._lock = asyncio.Lock()

    async def flush(self) -> int:
        """Send what is pending; return how many went out. Without a relay nothing is sent."""
        if self.mailer is None:
            return 0
        sent = 0
        async with self._lock:
            for message_id, mail in await self.db.run(self._pending):
                try:
                    await self.mailer.send(mail)
                except (OSError, smtplib.SMTPException) as exc:
                    log.warning("mail for %s not sent, will retry: %s", mail["To"], exc)
                    break
                await self.db.run(_mark_sent(message_id))
                sent += 1
        return sent

    def _pending(self, session: Session) -> list[tuple[int, EmailMessage]]:
        rows = session.scalars(
            select(TicketMessage)
            .where(TicketMessage.delivery == "pending")
            .order_by(TicketMessage.id)
        ).all()
        return [(row.id, self.compose(session, row)) for row in rows]

    def compose(self, session: Session, row: TicketMessage) -> EmailMessage:
        ticket = row.ticket
        mail = EmailMessage()
        mail["From"] = self.from_address
        mail["To"] = ticket.customer.email if ticket.customer else ""
        mail["Subject"] = row.subject or tagged_subject(ticket.id, ticket.subject)
        mail["Message-ID"] = row.message_id or make_msgid()
        mail[LOOP_HEADER] = self.from_address
        mail["X-Ticket"] = f"T-{ticket.id}"
        if row.automatic:
            mail["Auto-Submitted"] = "auto-replied"
        earlier = [
            m
            for m in session.scalars(
                select(TicketMessage.message_id)
                .where(
                    TicketMessage.ticket_id == ticket.id,
                    TicketMessage.message_id.is_not(None),
                    TicketMessage.id < row.id,
                )
                .order_by(TicketMessage.id)
            ).all()
            if m
        ]
        if earlier:
            mail["In-Reply-To"] = earlier[-1]
            mail["References"] = " ".join(earlier[-10:])
        mail.set_content(row.body)
        return mail


def _mark_sent(message_id: int) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        row = session.get(TicketMessage, message_id)
        if row is not None:
            row.delivery = "sent"

    return work
