"""API keys for devices, ingest sources and apps: random, shown once, stored as a hash. Pure: no I/O.

A key reads `dosi_<id>_<secret>`: the id finds the stored record, the secret is checked against its hash.
The secret has 256 bits of entropy, so a plain SHA-256 is a sound hash (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "dosi_"


@dataclass
class NewKey:
    key_id: str
    secret: str

    @property
    def text(self) -> str:
        """What the user is shown, once."""
        return f"{PREFIX}{self.key_id}_{self.secret}"

    @property
    def hash(self) -> str:
        return digest(self.secret)


def new_key() -> NewKey:
    return NewKey(secrets.token_hex(6), secrets.token_urlsafe(32))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(text: str) -> tuple[str, str] | None:
    """(key id, secret) of a presented key, or None when it is not shaped like one of ours."""
    if not text.startswith(PREFIX):
        return None
    key_id, _, secret = text[len(PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    return key_id, secret


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_hash)
