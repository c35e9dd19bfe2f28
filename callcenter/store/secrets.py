"""Hashing of agent PINs, user passwords and API tokens.

- PINs: PBKDF2-SHA256 with a per-secret salt (``hash_secret``). A PIN is 4 to 12 digits typed
  on a keypad; its hash only keeps it out of sight.
- Passwords: scrypt (n=2**14, r=8, p=1: about 16 MiB and tens of milliseconds a try) with a
  random 16-byte salt (``hash_password``), standard library only.
- API tokens: 32 random bytes; only their SHA-256 is stored (``token_digest``). A fast hash is
  right here: the token is random, not chosen by a person, so there is nothing to guess.

``verify`` reads either stored format and takes the same work whether or not there is a stored
hash to check against, so a caller cannot learn which agents or users exist from how long a
login takes. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 120_000
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "cct_"  # recognisable in logs and secret scanners, like ghp_ or xoxb-
_DUMMY_PIN = "pbkdf2_sha256$120000$00000000000000000000000000000000$" + "0" * 64
_DUMMY_PASSWORD = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'0' * 32}${'0' * 64}"


def hash_secret(secret: str, iterations: int = ITERATIONS) -> str:
    """A PIN's hash."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${digest.hex()}"


def hash_password(password: str) -> str:
    """A password's hash: ``scrypt$n$r$p$salt$digest`` (hex)."""
    salt = secrets.token_hex(16)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt}${_scrypt(password, salt)}"


def _scrypt(secret: str, salt: str, n: int = SCRYPT_N, r: int = SCRYPT_R,
            p: int = SCRYPT_P) -> str:
    return hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=n, r=r, p=p,
                          maxmem=128 * r * (n + p + 2), dklen=32).hex()


def verify(secret: str, stored: str | None, *, password: bool = False) -> bool:
    """Whether ``secret`` matches ``stored``; a missing hash costs the same work and fails
    (``password``: as much work as a password's, else a PIN's)."""
    given = stored or (_DUMMY_PASSWORD if password else _DUMMY_PIN)
    algorithm, *params = given.split("$")
    if algorithm == "scrypt":
        n, r, p, salt, want = params
        got = _scrypt(secret, salt, int(n), int(r), int(p))
    else:
        iterations, salt, want = params
        got = hashlib.pbkdf2_hmac(
            "sha256", secret.encode(), bytes.fromhex(salt), int(iterations)).hex()
    return hmac.compare_digest(got, want) and stored is not None


def new_token() -> str:
    """A fresh API token, shown once: ``cct_`` and 43 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
