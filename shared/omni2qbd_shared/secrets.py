"""Encryption at rest (Cin7 API keys) and password hashing (Web Connector passwords).

``OMNI2QBD_SECRET_KEY`` is a key ring: one key, or several separated by commas during a
rotation. The first encrypts; every one decrypts (Fernet's ``MultiFernet``). Each stored
secret names the key it was encrypted with (``v2:<key id>:<Fernet token>``), so a secret whose
key is missing from the ring says which key it needs instead of failing vaguely. Rotation:
put the new key first (``NEW,OLD``), restart, run ``omni2qbd secret-key rotate`` (re-encrypts
every secret with NEW), then drop OLD.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane): every Web Connector login pays one
# verification, and with hundreds of tenants starting their runs together the library default
# (64 MiB, 3 passes, 4 lanes) made logins queue for seconds. Existing hashes keep the
# parameters they were made with; verification reads them from the hash.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this when the user name is unknown makes "no such user" cost the same
# time as "wrong password", so timing does not reveal which user names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# Web Connector passwords are never chosen by a person: the product generates each one
# (``new_password``: 144 random bits) and a person only copies it into the Web Connector. No
# amount of hashing cost changes how guessable 144 random bits are, so their hash needs only
# to be one-way, not slow: Argon2id with one pass over 4 MiB (about 2 ms) instead of OWASP's
# baseline for human passwords (about 20-35 ms here). That is what lets 50 Web Connectors log
# in at once on a 2-core host in well under a second (issue 16, docs/gateway.md). Hashes made
# with the older, slower parameters still verify and are replaced at the next good login.
_generated_hasher = PasswordHasher(time_cost=1, memory_cost=4 * 1024, parallelism=1)
_DUMMY_GENERATED_HASH = _generated_hasher.hash(secrets.token_urlsafe(16))


class SecretDecryptionError(ValueError):
    pass


TOKEN_VERSION = "v2"  # noqa: S105 (a format marker, not a secret)


def _fernet(secret_key: str) -> Fernet:
    # Fernet needs 32 url-safe base64 bytes; derive them so any long random string works.
    digest = hashlib.sha256(b"omni2qbd:encryption-at-rest:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def key_ring(secret_key: str) -> list[str]:
    """The keys of an ``OMNI2QBD_SECRET_KEY`` value, the current one first."""
    return [key.strip() for key in secret_key.split(",") if key.strip()]


def key_id(secret_key: str) -> str:
    """A short public name of one key (it reveals nothing about the key)."""
    return hashlib.sha256(b"omni2qbd:key-id:" + secret_key.encode()).hexdigest()[:8]


def encrypt(secret_key: str, plaintext: str) -> str:
    current = key_ring(secret_key)[0]
    token = _fernet(current).encrypt(plaintext.encode("utf-8")).decode("ascii")
    return f"{TOKEN_VERSION}:{key_id(current)}:{token}"


def encrypted_with(token: str) -> str | None:
    """The id of the key a stored secret was encrypted with (None for the old format)."""
    version, _, rest = token.partition(":")
    return rest.partition(":")[0] if version == TOKEN_VERSION else None


def needs_rotation(secret_key: str, token: str) -> bool:
    return encrypted_with(token) != key_id(key_ring(secret_key)[0])


def decrypt(secret_key: str, token: str) -> str:
    ring = key_ring(secret_key)
    wanted = encrypted_with(token)
    if wanted is not None:
        keys = [key for key in ring if key_id(key) == wanted]
        if not keys:
            raise SecretDecryptionError(
                f"a stored secret was encrypted with key {wanted}, which is not in "
                f"OMNI2QBD_SECRET_KEY (it holds {', '.join(key_id(k) for k in ring)}): add that "
                "key back (comma separated, after the current one) to read it"
            )
        body = token.split(":", 2)[2]
    else:
        keys, body = ring, token  # written before key ids: try every key
    try:
        plain = MultiFernet([_fernet(key) for key in keys]).decrypt(body.encode("ascii"))
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: OMNI2QBD_SECRET_KEY differs from the key "
            "it was encrypted with"
        ) from exc
    return plain.decode("utf-8")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort check: an unknown user still costs one Argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def hash_generated_password(password: str) -> str:
    """The hash of a password the product generated (``new_password``), never a person's."""
    return _generated_hasher.hash(password)


def verify_generated_password(password_hash: str | None, password: str) -> bool:
    """``verify_password`` for generated passwords: an unknown user costs one verification too."""
    try:
        return (
            _generated_hasher.verify(password_hash or _DUMMY_GENERATED_HASH, password)
            and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def generated_hash_is_outdated(password_hash: str) -> bool:
    """True for a hash made with other parameters (the slower ones used before)."""
    try:
        return _generated_hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def new_password() -> str:
    return secrets.token_urlsafe(18)


def new_ticket() -> str:
    """A session ticket: 256 random bits."""
    return secrets.token_hex(32)


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)
