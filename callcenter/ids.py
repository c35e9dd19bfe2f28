"""Identifiers for calls and bus events: 128 random bits as 32 hex digits, no system call each.

``uuid.uuid4()`` reads ``os.urandom``, which releases the GIL: on the event loop under load
each new id then waited to get the GIL back, up to a switch interval (5 ms) while the pj thread
and the CDR writer ran. A profile at 450 calls/s showed it (bench/sip_setup.py). These come
from a generator seeded from ``os.urandom`` once per process, and again in a forked child so
two processes never share a sequence. They name things; they are not secrets (nothing is
authorised by knowing one: use :mod:`secrets` for tokens).
"""

from __future__ import annotations

import os
import random

_rng = random.Random()


def _reseed() -> None:
    _rng.seed(os.urandom(32))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """A random 128-bit identifier, 32 lowercase hex digits (the shape of ``uuid4().hex``)."""
    return f"{_rng.getrandbits(128):032x}"
