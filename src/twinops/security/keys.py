"""API keys: how they look, how they are hashed (argon2id), how a presented key is found."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id floor (19 MiB, 2 passes): verification stays around 20 ms, and the
# service caches a verified key so a request does not pay it every time.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_KEY_FORMAT = re.compile(r"^tok_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
MAX_KEY_LENGTH = 512


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, plaintext)``; the plaintext is shown once and never stored."""
    key_id = secrets.token_hex(8)
    return key_id, f"tok_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(plaintext: str) -> str:
    """The id under which a presented key is stored (keys seeded from outside get one too)."""
    match = _KEY_FORMAT.match(plaintext)
    if match:
        return match.group(1)
    return "seed" + hashlib.sha256(plaintext.encode()).hexdigest()[:12]


def hash_key(plaintext: str) -> str:
    """The argon2id hash kept in the store."""
    return _HASHER.hash(plaintext)


def verify_key(secret_hash: str, plaintext: str) -> bool:
    """Whether ``plaintext`` is the key behind ``secret_hash``."""
    try:
        return _HASHER.verify(secret_hash, plaintext)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def fingerprint(plaintext: str) -> str:
    """A fast digest of a presented key, to recognise an already verified one."""
    return hashlib.sha256(plaintext.encode()).hexdigest()
