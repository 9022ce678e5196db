"""What a QuickBooks status code means for an entry (reference §4 and §9).

- retry: another user holds a lock, or QuickBooks was briefly unavailable; the entry waits
  for the next Web Connector run (nothing was written).
- name_in_use (3100 on a contact add): the name exists; link to it instead of creating it.
- locked (3200 on a Mod): the transaction changed in QuickBooks since the bridge wrote it.
- failed: the data is wrong for QuickBooks; a person must fix it (the reason says what).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from omni2qbd_shared.kinds import ENTRY_LABEL

Verdict = Literal["posted", "retry", "name_in_use", "locked", "failed"]

LOCK_CODES = frozenset({3170, 3175, 3176})
TRANSIENT_CODES = frozenset({1000, 1010})
_LOCK_WORDS = (
    "modified by another user",
    "could not be locked",
    "failed to acquire the lock",
    "element is in use",
    "in use by another",
)

_KIND_LABELS = ENTRY_LABEL


def describe_entry(entry_kind: str, ref_number: str | None, cin7_id: str, source_kind: str) -> str:
    """'invoice INV-1001 (Cin7 sales order 2221)': how people recognise an entry."""
    label = _KIND_LABELS.get(entry_kind, entry_kind.replace("_", " "))
    ref = f" {ref_number}" if ref_number else ""
    return f"{label}{ref} (Cin7 {source_kind.replace('_', ' ')} {cin7_id})"


@dataclass(frozen=True)
class StatusVerdict:
    verdict: Verdict
    reason: str


def is_lock_message(message: str) -> bool:
    lowered = message.lower()
    return any(words in lowered for words in _LOCK_WORDS)


def classify(
    *, code: int, severity: str, message: str, is_mod: bool, is_contact_add: bool, what: str
) -> StatusVerdict:
    """Map one request's status to a verdict with a reason a bookkeeper can act on."""
    if severity != "Error":
        return StatusVerdict("posted", message or "Status OK")
    if code in LOCK_CODES or (code == 3180 and is_lock_message(message)):
        return StatusVerdict(
            "retry",
            f"QuickBooks could not save the {what} because someone else was editing a record "
            f"it needs (status {code}); it will be sent again on the next Web Connector run.",
        )
    if code in TRANSIENT_CODES:
        return StatusVerdict(
            "retry",
            f"QuickBooks was not available to save the {what} (status {code}); it will be "
            "sent again on the next Web Connector run.",
        )
    if code == 3100 and is_contact_add:
        return StatusVerdict("name_in_use", message)
    if code == 3200 and is_mod:
        return StatusVerdict(
            "locked",
            f"The {what} was changed in QuickBooks after the bridge wrote it (its edit "
            "sequence is out of date), so the bridge did not overwrite it. Update both "
            "systems by hand.",
        )
    if code == 3140:
        return StatusVerdict(
            "failed",
            f"QuickBooks refused the {what}: it refers to a customer, vendor, item or account "
            f"QuickBooks does not have. QuickBooks said: {message} Create or match it, then "
            "import the entry again.",
        )
    if code == 3120:
        return StatusVerdict(
            "failed",
            f"QuickBooks refused the {what}: a record it refers to no longer exists in "
            f"QuickBooks. QuickBooks said: {message}",
        )
    return StatusVerdict(
        "failed", f"QuickBooks refused the {what} (status {code}). QuickBooks said: {message}"
    )
