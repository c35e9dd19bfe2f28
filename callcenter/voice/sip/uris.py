"""The user part of SIP URIs: who called (From) and which number they dialed (request URI)."""

from __future__ import annotations

import re
from urllib.parse import unquote

_URI_USER = re.compile(r"^(?:\"[^\"]*\"\s*)?<?\s*(?:sips?|tel):([^@;>]+)", re.IGNORECASE)


def wire_text(text: str) -> str:
    """Text from a SIP message as the database and the bus can hold it: bytes that were not
    UTF-8 (pjsua2 hands them over as lone surrogates) become ``?``, NUL bytes too (PostgreSQL
    refuses them in text)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "?")


def uri_user(uri: str) -> str:
    """``"Ann" <sip:+4930123@host>`` -> ``+4930123``; escapes undone, as RFC 3261 compares
    URIs (``sip:%32%30%30@host`` dials 200)."""
    m = _URI_USER.match(uri.strip())
    return unquote(m.group(1), errors="replace").replace("\x00", "?") if m else ""


def request_uri_user(whole_msg: str) -> str:
    first = whole_msg.split("\r\n", 1)[0].split("\n", 1)[0]
    parts = first.split()
    return uri_user(parts[1]) if len(parts) >= 2 else ""


def keys_in_audio(whole_msg: str) -> bool:
    """Whether an INVITE offers audio without RFC 4733 events (no ``telephone-event`` in its
    SDP): the caller's keys will come as tones in the audio. False without an SDP offer."""
    _, _, body = whole_msg.replace("\r\n", "\n").partition("\n\n")
    if "m=audio" not in body:
        return False
    return "telephone-event" not in body.lower()


def header_value(whole_msg: str, name: str) -> str:
    """The first ``name`` header of a SIP message ("" when absent); folded lines joined."""
    head = whole_msg.replace("\r\n", "\n").partition("\n\n")[0]
    head = re.sub(r"\n[ \t]+", " ", head)  # RFC 3261 7.3.1: continuation lines
    wanted = name.lower()
    for line in head.split("\n")[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == wanted:
            return value.strip()
    return ""
