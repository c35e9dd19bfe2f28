"""Hashing of agent PINs and user passwords (PBKDF2-SHA256 with a per-secret salt).

``verify`` takes the same time whether or not there is a stored hash to check against, so a
caller cannot learn which agent ids exist from how long a login takes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 120_000
_DUMMY = "pbkdf2_sha256$120000$00000000000000000000000000000000$" + "0" * 64


def hash_secret(secret: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${digest.hex()}"


def verify(secret: str, stored: str | None) -> bool:
    """Whether ``secret`` matches ``stored``; a missing hash costs the same work and fails."""
    algorithm, iterations, salt, want = (stored or _DUMMY).split("$")
    got = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(got.hex(), want) and stored is not None
