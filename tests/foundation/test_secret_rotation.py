"""Key ids, MultiFernet and `omni2qbd secret-key rotate` (issue 13, point 5)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from omni2qbd_shared import secrets

OLD = "old-secret-key-0123456789-0123456789-0123456789"
NEW = "new-secret-key-9876543210-9876543210-9876543210"


def test_a_secret_names_its_key_and_any_key_of_the_ring_reads_it() -> None:
    token = secrets.encrypt(OLD, "cin7-key")
    assert secrets.encrypted_with(token) == secrets.key_id(OLD)
    assert "cin7-key" not in token
    assert secrets.decrypt(f"{NEW},{OLD}", token) == "cin7-key"
    assert secrets.needs_rotation(f"{NEW},{OLD}", token)
    with pytest.raises(secrets.SecretDecryptionError) as caught:
        secrets.decrypt(NEW, token)
    assert f"encrypted with key {secrets.key_id(OLD)}" in str(caught.value)
    assert secrets.key_id(NEW) in str(caught.value)


def test_secrets_from_before_key_ids_still_read() -> None:
    legacy = secrets._fernet(OLD).encrypt(b"cin7-key").decode()
    assert secrets.decrypt(f"{NEW},{OLD}", legacy) == "cin7-key"
    assert secrets.needs_rotation(NEW, legacy)
    with pytest.raises(secrets.SecretDecryptionError):
        secrets.decrypt(NEW, legacy)


def omni2qbd(database_url: str, key: str, *args: str, stdin: str | None = None) -> str:
    env = {
        **os.environ,
        "OMNI2QBD_DATABASE_URL": database_url,
        "OMNI2QBD_SECRET_KEY": key,
        "OMNI2QBD_ENVIRONMENT": "test",
    }
    done = subprocess.run(
        [sys.executable, "-m", "omni2qbd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )
    return f"rc={done.returncode}\n{done.stdout}{done.stderr}"


def test_rotate_re_encrypts_with_the_new_key_and_an_unreadable_key_says_so(
    sqlite_database_url: str,
) -> None:
    created = omni2qbd(
        sqlite_database_url, OLD, "tenant", "create", "--name", "Acme", "--cin7-username", "acme",
        "--cin7-api-key-stdin", "--skip-cin7-check", "--json", stdin="k-123\n",
    )  # fmt: skip
    assert created.startswith("rc=0"), created
    tenant_id = created.split('"tenant_id": "')[1].split('"')[0]

    rotated = omni2qbd(sqlite_database_url, f"{NEW},{OLD}", "secret-key", "rotate")
    assert rotated.startswith("rc=0"), rotated
    assert f"re-encrypted 1 secret(s) with key {secrets.key_id(NEW)}" in rotated
    again = omni2qbd(sqlite_database_url, NEW, "secret-key", "rotate")
    assert "re-encrypted 0 secret(s)" in again and "1 already used it" in again

    # With only the old key the stored secret cannot be read, and the fetch says exactly that
    # (it used to say "no Cin7 credentials; set them first").
    fetched = omni2qbd(sqlite_database_url, OLD, "fetch", tenant_id)
    assert fetched.startswith("rc=1"), fetched
    assert "Cin7 API key cannot be decrypted" in fetched
    assert f"encrypted with key {secrets.key_id(NEW)}" in fetched


def test_secret_key_still_prints_a_new_key(sqlite_database_url: str) -> None:
    printed = omni2qbd(sqlite_database_url, OLD, "secret-key")
    assert printed.startswith("rc=0") and len(printed.split("\n")[1]) >= 48
