"""How an inbound mail relates to tickets: the ticket it threads into, and whether it is an
automatic message (out-of-office, bounce, list mail) or our own mail come back (a loop).

Pure functions over header values; the SMTP adapter parses the mail and asks these.
Automatic mail is never answered (RFC 3834), so two auto-responders cannot talk forever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TICKET_REF = re.compile(r"\[#?T-(\d+)\]", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_DAEMONS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "bounce")
LOOP_HEADER = "X-Loop"


def ticket_number_in(subject: str) -> int | None:
    """``"Re: [#T-42] Broken router"`` -> 42."""
    found = _TICKET_REF.search(subject or "")
    return int(found.group(1)) if found else None


def tagged_subject(number: int, subject: str) -> str:
    """The subject with the ticket tag in front (once)."""
    subject = (subject or "").strip() or "Your request"
    if ticket_number_in(subject) == number:
        return subject
    return f"[#T-{number}] {subject}"


def referenced_ids(in_reply_to: str | None, references: str | None) -> list[str]:
    """Message-IDs a reply points to, nearest first (In-Reply-To, then References backwards)."""
    ids = _MESSAGE_ID.findall(in_reply_to or "")
    ids += reversed(_MESSAGE_ID.findall(references or ""))
    seen: set[str] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]


def automatic_reason(headers: Mapping[str, str], sender: str) -> str | None:
    """Why this mail is automatic, or ``None`` for a person's mail.

    ``headers`` has lower-case names.
    """
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "list-id"):
        if name in headers and (
            name != "x-auto-response-suppress"
            or "oof" in headers[name].lower()
            or "all" in headers[name].lower()
        ):
            return f"{name} header"
    local = sender.lower().rpartition("@")[0] if "@" in sender else sender.lower()
    if not sender or local.startswith(_DAEMONS):
        return f"sender {sender or '<>'}"
    return None


def is_loop(headers: Mapping[str, str], sender: str, our_address: str) -> bool:
    """Our own mail come back: it carries our loop mark or claims to be from us."""
    ours = our_address.strip().lower()
    return (
        headers.get(LOOP_HEADER.lower(), "").strip().lower() == ours
        or sender.strip().lower() == ours
    )
