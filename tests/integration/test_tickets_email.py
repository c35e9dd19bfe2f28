"""Mail end to end over real SMTP: smtplib -> our aiosmtpd server -> tickets -> relay.

The relay is a second real aiosmtpd server that keeps what it receives, standing in for the
company's mail server.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from callcenter.backoffice import BackOffice
from callcenter.store import open_database, upgrade
from callcenter.store.models import Agent
from callcenter.store.tickets import Ticket, TicketAttachment
from tests.unit.tickets.tickets_support import backoffice_settings, recording_bus


class Sink:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.mails.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
async def setup(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[BackOffice, Sink]]:
    sink = Sink()
    relay = await asyncio.get_running_loop().create_server(lambda: SMTP(sink), "127.0.0.1", 0)
    db = open_database(db_url)
    upgrade(db)
    with db.session() as s:
        s.add(Agent(code="ann", name="Ann"))
    bus = recording_bus()
    office = BackOffice(
        backoffice_settings(
            tmp_path, relay_host="127.0.0.1", relay_port=relay.sockets[0].getsockname()[1]
        ),
        db,
        bus,
    )
    await office.start()
    yield office, sink
    await office.stop()
    relay.close()
    db.dispose()


def mail(
    subject: str, body: str = "Hello", sender: str = "Eve <eve@example.com>", **headers: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@cc.test", subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


async def send(office: BackOffice, msg: EmailMessage) -> None:
    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", office.mail_in.port, timeout=10) as smtp:
            smtp.send_message(msg)

    await asyncio.to_thread(deliver)


async def tickets(office: BackOffice) -> int:
    return await office.service.db.run(lambda s: s.scalar(select(func.count()).select_from(Ticket)))  # type: ignore[no-any-return]


async def test_new_mail_opens_a_ticket_and_the_customer_gets_its_number(setup) -> None:  # type: ignore[no-untyped-def]
    office, sink = setup
    first = mail("Router broken", "It blinks red.", Message_ID="<m1@example.com>")
    first.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="led.png")
    await send(office, first)
    assert await tickets(office) == 1
    ack = sink.mails[-1]
    assert ack["To"] == "eve@example.com" and ack["Subject"].startswith("[#T-1] Router broken")
    assert ack["Auto-Submitted"] == "auto-replied" and ack["In-Reply-To"] == "<m1@example.com>"
    read = await office.desk.read(1)
    assert (read["channel"], read["customer"]["email"]) == ("email", "eve@example.com")
    stored = await office.service.db.run(lambda s: s.scalars(select(TicketAttachment)).one())
    assert stored.filename == "led.png"
    assert Path(stored.path).read_bytes() == b"\x89PNG fake"

    # The same mail again (a sender retrying after a lost 250): no second ticket, no mail.
    await send(office, first)
    assert await tickets(office) == 1 and len(sink.mails) == 1


async def test_replies_thread_by_subject_tag_and_by_in_reply_to(setup) -> None:  # type: ignore[no-untyped-def]
    office, sink = setup
    await send(office, mail("Invoice wrong", Message_ID="<a@example.com>"))
    await office.desk.reply(1, "ann", "Which invoice number?", awaiting_customer=True)
    question = sink.mails[-1]
    assert question["Subject"].startswith("[#T-1]") and "Which invoice" in question.get_content()
    assert (await office.desk.read(1))["status"] == "pending_customer"

    # Reply by In-Reply-To only (the customer's client dropped the tag from the subject).
    await send(office, mail("Re: invoice", "No. 4711", In_Reply_To=question["Message-ID"]))
    read = await office.desk.read(1)
    assert read["status"] == "open" and read["messages"][-1]["body"].strip() == "No. 4711"

    # Reply by subject tag, after the ticket was resolved: it reopens.
    await office.desk.update(1, "ann", status="resolved")
    await send(office, mail("AW: [#T-1] Invoice wrong", "Still wrong!"))
    assert (await office.desk.read(1))["status"] == "open"
    assert await tickets(office) == 1


async def test_auto_replies_and_loops_are_never_answered(setup) -> None:  # type: ignore[no-untyped-def]
    office, sink = setup
    await send(office, mail("Out of office", Auto_Submitted="auto-replied"))
    await send(office, mail("Newsletter", Precedence="bulk"))
    await send(office, mail("Undeliverable", sender="MAILER-DAEMON@example.com"))
    await send(office, mail("[#T-1] our own ack", sender="support@cc.test"))
    assert await tickets(office) == 0 and sink.mails == []

    await send(office, mail("Help", Message_ID="<h@example.com>"))
    assert len(sink.mails) == 1
    # An out-of-office answering our acknowledgement is kept on the ticket, not answered,
    # and does not count as the customer writing.
    await office.desk.update(1, "ann", status="pending_customer")
    await send(office, mail("Auto: [#T-1] Help", "I am away", Auto_Submitted="auto-replied"))
    read = await office.desk.read(1)
    assert read["messages"][-1]["automatic"] is True and read["status"] == "pending_customer"
    assert len(sink.mails) == 1
