"""Status codes and the words QuickBooks uses with them.

Wording comes from reference/qbwc-qbxml.md §4 (real responses collected from open-source
integrations and Intuit's status-code table). Where the reference marks the wording as
unconfirmed, the text below is our best reconstruction and is flagged in a comment; the
codes and severities are what integrators key on.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."

OK = 0
NO_MATCH = 1
PARTIAL = 500
NO_CLEARED_STATE = 600
INVALID_REQUEST_ID = 1060
INVALID_OBJECT_ID = 3000
NAME_IN_USE = 3100
OBJECT_NOT_FOUND = 3120
INVALID_REFERENCE = 3140
LOCK_MODIFIED = 3170
LOCK_IN_USE = 3175
SAVE_ERROR = 3180
STALE_EDIT_SEQUENCE = 3200
INVALID_VALUE = 3210
INVALID_CHECKSUM = 9001

LOCK_CODES = (LOCK_MODIFIED, LOCK_IN_USE, SAVE_ERROR)
LIST_LABELS = ("Customer", "Vendor", "Employee", "OtherName", "Account", "Class")


class QbxmlSetError(Exception):
    """The whole message set failed: QBWC reports hresult + message, with no response.

    This is what QuickBooks' request processor raises for a set that is not well-formed
    or not valid against the XSD of its declared version (reference §3.3).
    """

    def __init__(
        self,
        hresult: str = PARSE_ERROR_HRESULT,
        message: str = PARSE_ERROR_MESSAGE,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.hresult = hresult
        self.message = message
        # Not shown by QuickBooks (its message never says what was wrong); kept for
        # people reading simulator logs and test failures.
        self.detail = detail


@dataclass(frozen=True)
class RequestStatus:
    code: int
    severity: str
    message: str


class RequestFailed(Exception):
    """One request in the set failed with a QuickBooks status code (no data returned, except
    a 3200, which carries the object as it is now)."""

    def __init__(
        self,
        code: int,
        message: str,
        severity: str = "Error",
        rets: list[etree._Element] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = RequestStatus(code, severity, message)
        self.rets: list[etree._Element] = rets or []


STATUS_OK = RequestStatus(OK, "Info", "Status OK")
STATUS_NO_MATCH = RequestStatus(
    NO_MATCH, "Info", "A query request did not find a matching object in QuickBooks"
)
# QuickBooks puts two spaces after each sentence of its messages, as real answers captured
# in public projects show ("... cannot be found.  QuickBooks error message: Invalid
# argument.  The specified record does not exist in the list.").
RECORD_MISSING = (
    "QuickBooks error message: Invalid argument.  The specified record does not exist in the list."
)


def partial(value: str) -> RequestStatus:
    return RequestStatus(
        PARTIAL,
        "Warn",
        "The query request has not been fully completed.  There was a required element "
        f'("{value}") that could not be found in QuickBooks.',
    )


def name_in_use(name: str) -> RequestFailed:
    return RequestFailed(NAME_IN_USE, f'The name "{name}" of the list element is already in use.')


def object_not_found(object_id: str) -> RequestFailed:
    return RequestFailed(
        OBJECT_NOT_FOUND,
        f'Object "{object_id}" specified in the request cannot be found.  {RECORD_MISSING}',
    )


def invalid_object_id(object_id: str, field: str) -> RequestFailed:
    return RequestFailed(
        INVALID_OBJECT_ID, f'The given object ID "{object_id}" in the field "{field}" is invalid.'
    )


def invalid_reference(list_label: str, value: str, txn_label: str) -> RequestFailed:
    return RequestFailed(
        INVALID_REFERENCE,
        f'There is an invalid reference to QuickBooks {list_label} "{value}" in the '
        f"{txn_label}.  {RECORD_MISSING}",
    )


def stale_edit_sequence(edit_sequence: str) -> RequestFailed:
    # The trailing space is in QuickBooks' own text (reference qbxml-samples).
    return RequestFailed(
        STALE_EDIT_SEQUENCE, f'The provided edit sequence "{edit_sequence}" is out-of-date. '
    )


def invalid_value(field: str, value: str, qb_message: str) -> RequestFailed:
    return RequestFailed(
        INVALID_VALUE,
        f'The "{field}" field has an invalid value "{value}".  QuickBooks error message: '
        f"{qb_message}",
    )


def journal_not_in_balance(debits: str, credits: str) -> RequestFailed:
    # Not documented in the reference (§3.6: "The status code it returns for an unbalanced
    # entry was not confirmed"). QuickBooks reports failures of its own save logic as 3180
    # "There was an error when saving a ..." with the desktop dialog's text embedded; the
    # desktop refuses an unbalanced journal with "Transaction not in balance".
    return RequestFailed(
        SAVE_ERROR,
        "There was an error when saving a Journal Entry.  QuickBooks error message: "
        f"Transaction not in balance (debits {debits}, credits {credits}).",
    )


def lock_error(code: int, object_label: str, name: str) -> RequestFailed:
    # Wording reconstructed from the strings integrators match on (reference §4, 3170-3180);
    # the official text for 3175 is unconfirmed.
    # A list element is named as "a Customer list, element "x"" (captured 3180 answer).
    what = (
        f'{object_label} list, element "{name}"'
        if object_label in LIST_LABELS
        else f'{object_label} "{name}"'
    )
    if code == LOCK_MODIFIED:
        text = (
            f"There was an error when modifying a {what}.  "
            "QuickBooks error message: This list has been modified by another user."
        )
    elif code == LOCK_IN_USE:
        text = (
            f'Object "{name}" specified in the request cannot be locked.  '
            "QuickBooks error message: The internals could not be locked.  "
            "The list element is in use."
        )
    elif code == SAVE_ERROR:
        text = (
            f"There was an error when saving a {what}.  "
            "QuickBooks error message: This list has been modified by another user."
        )
    else:
        raise ValueError(f"{code} is not a lock status code; use one of {LOCK_CODES}")
    return RequestFailed(code, text)


def amount_not_positive(txn_label: str, total: str) -> RequestFailed:
    # QuickBooks' own words for a sale whose total is below zero; the status code it uses
    # for them through qbXML was not confirmed (3180 is its "error when saving" family).
    return RequestFailed(
        SAVE_ERROR,
        f"There was an error when saving a {txn_label}.  QuickBooks error message: "
        f"Transaction amount must be positive (total {total}).",
    )
