"""Where an agent may send a caller outside the engine: a phone number or a SIP URI.

:func:`parse_transfer_target` reads the target of the agent desktop's blind transfer
(``POST /api/calls/{id}/transfer``) before anything about the call changes, and says exactly
what was wrong and what to send instead (:class:`InvalidTransferTarget`):

- an E.164 number, ``+15551234567`` (or RFC 3966's ``tel:+1-555-123-4567``, whose visual
  separators are dropped): a ``+``, a country code ``phonenumbers`` knows, and a national
  number of a length possible there. Validity against today's numbering plans is not asked
  for: plans change faster than the library, and a dial to an unassigned number fails
  visibly anyway (the transfer's outcome in the CDR);
- a SIP URI with a user and a host, ``sip:desk@pbx.example.com`` or ``sips:...``, optionally
  with a port, ``;parameters`` and ``?headers``.

``queue:NAME`` targets are the voice layers' own business, not read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from callcenter.errors import CallCenterError

ACCEPTED = (
    "send an E.164 number (+15551234567, or tel:+15551234567), a SIP URI "
    "(sip:user@host or sips:user@host) or queue:NAME"
)

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_TEL_SEPARATORS = re.compile(r"[-.()]")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])"  # a name, IPv4, or [IPv6]
_SIP_URI = re.compile(
    rf"sips?:(?P<user>[^@\s<>\"';?:]+)(?::[^@\s<>\"]*)?@(?P<host>{_HOST})"
    r"(?::(?P<port>[0-9]{1,5}))?(?:;[^\s<>\"?]*)?(?:\?[^\s<>\"]*)?"
)


class InvalidTransferTarget(CallCenterError):
    """A transfer target that is neither an E.164 number nor a SIP URI; says which to send."""


@dataclass(frozen=True)
class TransferTarget:
    """A checked target: ``address`` is the E.164 number or the SIP URI to dial."""

    kind: Literal["number", "sip"]
    address: str


def is_e164(text: str) -> bool:
    """Is ``text`` a possible number in E.164 form (``+`` country code, national number)?"""
    if not _E164.fullmatch(text):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        return False


def parse_transfer_target(text: str) -> TransferTarget:
    """The number or SIP URI ``text`` names; :class:`InvalidTransferTarget` otherwise."""
    target = text.strip()
    scheme = target.partition(":")[0].lower() if ":" in target else ""
    if scheme in ("sip", "sips"):
        match = _SIP_URI.fullmatch(target)
        if match is None or (match["port"] and not 0 < int(match["port"]) < 65536):
            raise InvalidTransferTarget(
                f"{text!r} is not a SIP URI the engine can dial: write it as "
                f"{scheme}:user@host (optionally :port and ;parameters), e.g. "
                f"{scheme}:desk@pbx.example.com"
            )
        return TransferTarget("sip", target)
    if scheme == "tel":
        number = _TEL_SEPARATORS.sub("", target[4:].partition(";")[0])
    elif scheme:
        raise InvalidTransferTarget(f"cannot transfer to {text!r}: {ACCEPTED}")
    else:
        number = target
    if is_e164(number):
        return TransferTarget("number", number)
    raise InvalidTransferTarget(_number_problem(text, number))


def _number_problem(text: str, number: str) -> str:
    if not number.startswith("+"):
        why = "a number must be in E.164 form, starting with + and the country code"
    elif not _E164.fullmatch(number):
        why = "after the + only digits may follow, at most 15, the first not 0"
    else:
        why = "no country's numbers look like this (unknown country code or wrong length)"
    return f"cannot transfer to {text!r}: {why}; {ACCEPTED}"
