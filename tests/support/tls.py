"""A self-signed certificate for TLS tests, made with the openssl command (Debian openssl)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    both: Path  # certificate then key in one PEM (baresip's sip_certificate)


def self_signed(folder: Path, name: str = "127.0.0.1") -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise AssertionError("openssl not found: apt-get install openssl (scripts/test.sh does)")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key, both = folder / "cert.pem", folder / "key.pem", folder / "both.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}"],
                   check=True, capture_output=True)
    both.write_text(cert.read_text() + key.read_text())
    return Certificate(cert, key, both)
