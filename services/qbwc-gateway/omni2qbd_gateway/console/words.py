"""The console's vocabulary: every state and kind in the words a bookkeeper uses."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from omni2qbd_gateway.workflow.states import API_STATES
from omni2qbd_shared.kinds import ADDED_TO_LIST, ENTRY_LABEL, QB_TYPE, EntryKind

# The API's states, in the order a bookkeeper works through them (the workflow's list).
STATES: tuple[str, ...] = API_STATES

STATE_WORDS: dict[str, str] = {
    "needs_attention": "Needs attention",
    "waiting_in_cin7": "Waiting in Cin7",
    "ready": "Ready to import",
    "approved": "Approved, waiting for the Web Connector",
    "sent": "Sent, waiting for QuickBooks' answer",
    "posted": "In QuickBooks",
    "failed": "Refused by QuickBooks",
    "locked": "Changed in QuickBooks (locked)",
    "in_doubt": "Not confirmed yet",
    "withdrawn": "Withdrawn",
}

STATE_HINTS: dict[str, str] = {
    "needs_attention": "Something must be fixed in Cin7 or in the settings before it can go.",
    "waiting_in_cin7": "Not finished in Cin7 yet (for example not invoiced or not dispatched).",
    "ready": "Checked and balanced; select it and press Import.",
    "approved": "Goes to QuickBooks at the next Web Connector run.",
    "sent": "The Web Connector has it; QuickBooks' answer is on its way.",
    "posted": "QuickBooks accepted it.",
    "failed": "QuickBooks said no; the reason and the fix are shown on the entry.",
    "locked": "Finalised, paid or edited in QuickBooks: change both systems by hand.",
    "in_doubt": "The answer got lost; the next run checks QuickBooks before sending again.",
    "withdrawn": "The Cin7 document no longer needs it; nothing was sent.",
}


def _heading(kind: EntryKind) -> str:
    """An entry kind's label (``ENTRY_LABEL``) as a heading: "credit memo" -> "Credit memo"."""
    label = ENTRY_LABEL[kind]
    return label[:1].upper() + label[1:]


_TRANSACTIONS = (
    EntryKind.INVOICE,
    EntryKind.CREDIT_MEMO,
    EntryKind.BILL,
    EntryKind.VENDOR_CREDIT,
    EntryKind.JOURNAL,
)
# Entry kinds in the words of kinds.ENTRY_LABEL, plus the console's own rows (COGS journals,
# stock adjustments and new items are shown apart); the order is the console's kind filter.
KIND_WORDS: dict[str, str] = {
    **{kind.value: _heading(kind) for kind in _TRANSACTIONS},
    "cogs": "COGS journal",
    "stock_adjustment": "Stock adjustment",
    EntryKind.CUSTOMER_ADD.value: _heading(EntryKind.CUSTOMER_ADD),
    EntryKind.VENDOR_ADD.value: _heading(EntryKind.VENDOR_ADD),
    "item_add": "New item",
}

# What an entry is in QuickBooks, by its qbXML type (``kinds.QB_TYPE``): a transaction by its
# kind's heading, a list add-entry as a name on that list.
QB_TYPE_WORDS: dict[str, str] = {
    qb_type: ADDED_TO_LIST.get(kind) or _heading(EntryKind(kind))
    for kind, qb_type in QB_TYPE.items()
}

ROLE_WORDS: dict[str, str] = {
    "operator": "Operator (every tenant)",
    "bookkeeper": "Bookkeeper",
    "viewer": "Viewer (read only)",
}


def state_words(state: str | None) -> str:
    if not state:
        return ""
    return STATE_WORDS.get(state, state.replace("_", " ").capitalize())


def kind_words(kind: str | None) -> str:
    if not kind:
        return ""
    return KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())


def money(value: object) -> str:
    """1234.5 -> '1,234.50'; negatives in parentheses, as an accounting report prints them."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return str(value)
    text = f"{abs(amount):,.2f}"
    return f"({text})" if amount < 0 else text


def money_or_blank(value: object) -> str:
    """Like ``money``, but a zero is left blank (a debit/credit column shows one side)."""
    text = money(value)
    return "" if text in ("0.00", "(0.00)") else text


def qb_type_words(qb_type: str | None) -> str:
    if not qb_type:
        return ""
    return QB_TYPE_WORDS.get(qb_type, qb_type)
