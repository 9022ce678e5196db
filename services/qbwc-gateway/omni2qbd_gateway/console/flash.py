"""One-line messages carried to the next page after a form (Post/Redirect/Get).

The text travels in the address, signed with the secret key, so a crafted link cannot make
the console display words it did not write.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from fastapi import Request

KINDS = ("ok", "error", "warn", "info")


def _signature(secret_key: str, message: str, kind: str) -> str:
    digest = hmac.new(secret_key.encode(), f"{kind}\n{message}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def with_flash(secret_key: str, target: str, message: str, kind: str = "ok") -> str:
    query = urlencode(
        {"flash": message, "flash_kind": kind, "flash_sig": _signature(secret_key, message, kind)}
    )
    return f"{target}{'&' if '?' in target else '?'}{query}"


def read_flash(secret_key: str, request: Request) -> tuple[str | None, str]:
    message = request.query_params.get("flash")
    kind = request.query_params.get("flash_kind") or "ok"
    given = request.query_params.get("flash_sig") or ""
    if not message or kind not in KINDS:
        return None, "ok"
    if not hmac.compare_digest(_signature(secret_key, message, kind), given):
        return None, "ok"
    return message, kind
