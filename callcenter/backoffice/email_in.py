"""Inbound mail: an SMTP server (aiosmtpd on the engine's loop) that turns mail into tickets.

A mail threads into a ticket by the ``[#T-123]`` tag in its subject, else by its
``In-Reply-To`` / ``References`` pointing at a message of a ticket; otherwise it opens a new
ticket and the customer is told its number. Automatic mail (out-of-office, bounces, lists) is
kept on a ticket it threads into but never opens one and is never answered; our own mail
coming back (a loop) is dropped. Mail is deduplicated by Message-ID, so a sender retrying
after a lost ``250`` does not make a second ticket. Attachments are kept on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.store.tickets import Ticket, TicketMessage
from callcenter.tickets import CustomerWrote, Priority
from callcenter.tickets.mail_rules import (
    automatic_reason,
    is_loop,
    referenced_ids,
    ticket_number_in,
)

from . import records
from .email_out import acknowledgement, queue_mail
from .service import Batch, TicketService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMail:
    sender: str
    name: str
    subject: str
    message_id: str
    body: str
    in_reply_to: str | None = None
    references: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[records.AttachmentData, ...] = ()


def parse_mail(raw: bytes, envelope_from: str = "") -> InboundMail:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    name, sender = parseaddr(str(msg.get("From", "")))
    sender = (sender or envelope_from or "").strip().lower()
    message_id = str(msg.get("Message-ID", "")).strip()
    if not message_id:  # stable, so that a retried delivery is still recognised
        message_id = f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = body_part.get_content() if isinstance(body_part, EmailMessage) else ""
    attachments = tuple(
        records.AttachmentData(
            part.get_filename() or "attachment", part.get_content_type(), _bytes_of(part)
        )
        for part in msg.iter_attachments()
        if isinstance(part, EmailMessage)
    )
    headers = {k.lower(): str(v) for k, v in msg.items()}
    return InboundMail(
        sender=sender,
        name=name,
        subject=str(msg.get("Subject", "")).strip(),
        message_id=message_id[:255],
        body=str(body),
        in_reply_to=msg.get("In-Reply-To"),
        references=msg.get("References"),
        headers=headers,
        attachments=attachments,
    )


def _bytes_of(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


async def receive_mail(service: TicketService, mail: InboundMail) -> str:
    """File ``mail``; return what happened (``created T-1``, ``threaded T-1``, ...)."""
    if is_loop(mail.headers, mail.sender, service.from_address):
        log.info("dropped mail %s: our own mail came back (loop)", mail.message_id)
        return "loop"
    return await service.transact(lambda s, b: _file(service, s, b, mail))


def _thread(session: Session, mail: InboundMail) -> Ticket | None:
    number = ticket_number_in(mail.subject)
    if number is not None and session.get(Ticket, number) is not None:
        return records.ticket(session, number, follow_merge=True)
    ids = referenced_ids(mail.in_reply_to, mail.references)
    if ids:
        found = session.scalars(
            select(TicketMessage.ticket_id).where(TicketMessage.message_id.in_(ids))
        ).first()
        if found is not None:
            return records.ticket(session, found, follow_merge=True)
    return None


def _file(service: TicketService, session: Session, batch: Batch, mail: InboundMail) -> str:
    if (
        session.scalar(select(TicketMessage.id).where(TicketMessage.message_id == mail.message_id))
        is not None
    ):
        return "duplicate"
    automatic = automatic_reason(mail.headers, mail.sender)
    row = _thread(session, mail)
    if row is None and automatic is not None:
        log.info("ignored automatic mail %s (%s)", mail.message_id, automatic)
        return "ignored"
    outcome = f"threaded T-{row.id}" if row is not None else ""
    if row is None:
        customer = records.customer_for(session, None, mail.sender, mail.name)
        row = service.open_ticket(
            session,
            batch,
            customer,
            subject=mail.subject or "(no subject)",
            category="email",
            priority=Priority.NORMAL,
            channel="email",
            source="email",
            waiting_since=batch.now,
        )
        outcome = f"created T-{row.id}"
    records.add_message(
        session,
        row,
        direction="in",
        channel="email",
        author=mail.sender,
        body=mail.body,
        now=batch.now,
        subject=mail.subject,
        message_id=mail.message_id,
        automatic=automatic is not None,
        attachments=mail.attachments,
        attachments_dir=service.attachments_dir,
    )
    if outcome.startswith("created"):
        queue_mail(
            session,
            batch,
            row,
            acknowledgement(row),
            automatic=True,
            from_address=service.from_address,
        )
    elif automatic is None:
        service.drive(session, batch, row, CustomerWrote(), mail.sender)
    batch.updates.append(
        service.update(row, "message", channel="email", automatic=automatic is not None)
    )
    return outcome


class _Handler:
    def __init__(self, service: TicketService) -> None:
        self.service = service
        self.outcomes: list[str] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        try:
            mail = parse_mail(raw, str(envelope.mail_from or ""))
            outcome = await receive_mail(self.service, mail)
        except Exception:  # the sender keeps the mail and retries on a 4xx
            log.exception("inbound mail could not be filed")
            return "451 4.3.0 Could not file the mail now, try again later"
        self.outcomes.append(outcome)
        return "250 OK " + outcome if outcome.startswith(("created", "threaded")) else "250 OK"


class InboundMailServer:
    """The SMTP listener, owned by the back office: ``start`` binds, ``stop`` closes."""

    def __init__(
        self,
        service: TicketService,
        host: str = "127.0.0.1",
        port: int = 8025,
        max_message_bytes: int = 25 * 1024 * 1024,
    ) -> None:
        self.handler = _Handler(service)
        self.host, self.port, self.max_message_bytes = host, port, max_message_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {
            "data_size_limit": self.max_message_bytes,
            "hostname": "callcenter",
            "ident": "callcenter",
        }
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, **kwargs), self.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("SMTP listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
