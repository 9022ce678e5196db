"""Every state a Web Connector session, a sent message set and an outbox entry can be in.

The values are the strings already stored in the database (``StrEnum``: a member *is* its
string), so existing rows read the same and nothing changes on the wire.
"""

from __future__ import annotations

from enum import StrEnum

# An outbox entry's states: shared, as the mapper's states are translated into them
# (``kinds.GATEWAY_STATE``).
from omni2qbd_shared.kinds import EntryState as EntryState


class SessionState(StrEnum):
    AUTHENTICATED = "authenticated"  # logged in, nothing sent yet
    WORKING = "working"  # at least one message set went out
    CLOSED = "closed"  # closeConnection, a new login, rotation or an operator ended it
    EXPIRED = "expired"  # the Web Connector stopped calling
    FAILED = "failed"  # the session stopped with a reason (getLastError says it)


LIVE_SESSION_STATES: tuple[SessionState, ...] = (SessionState.AUTHENTICATED, SessionState.WORKING)


class NextCall(StrEnum):
    """The Web Connector call the session expects next (reference §1.3)."""

    SEND = "sendRequestXML"
    RECEIVE = "receiveResponseXML"
    LAST_ERROR = "getLastError"
    CLOSE = "closeConnection"
    # Closed and told so: the ticket answers nothing of the tenant any more.
    NOTHING = "none"


class Purpose(StrEnum):
    """What a message set is for, in plan order (``plan.py``); START before the first set."""

    START = "start"
    RECOVERY = "recovery"
    LINK = "link"
    LISTS = "lists"
    DRAFTS = "drafts"
    WRITES = "writes"


class RequestState(StrEnum):
    SENT = "sent"
    ANSWERED = "answered"
    FAILED = "failed"  # nothing was written (set refused whole, or a query that failed)
    IN_DOUBT = "in_doubt"  # a write set whose answer does not say what QuickBooks did
    RESOLVED = "resolved"  # an in-doubt set after recovery decided each entry
