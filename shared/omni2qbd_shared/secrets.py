"""Encryption at rest (Cin7 API keys) and password hashing (Web Connector passwords)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

# OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): every Web Connector login pays one
# verification, and with hundreds of tenants starting their runs together the library default
# (64 MiB, 3 passes, 4 lanes) made logins queue for seconds. Existing hashes keep the
# parameters they were made with; verification reads them from the hash.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this when the user name is unknown makes "no such user" cost the same
# time as "wrong password", so timing does not reveal which user names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SecretDecryptionError(ValueError):
    pass


def _fernet(secret_key: str) -> Fernet:
    # Fernet needs 32 url-safe base64 bytes; derive them so any long random string works.
    digest = hashlib.sha256(b"omni2qbd:encryption-at-rest:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: OMNI2QBD_SECRET_KEY differs from the key "
            "it was encrypted with"
        ) from exc


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort check: an unknown user still costs one Argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(18)


def new_ticket() -> str:
    """A session ticket: 256 random bits."""
    return secrets.token_hex(32)


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)
