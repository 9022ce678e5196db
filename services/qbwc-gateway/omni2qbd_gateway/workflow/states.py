"""The states the API and console show, mapped from the gateway's internal ones in one place.

| API state         | internal (outbox)         | meaning                                        |
|-------------------|---------------------------|------------------------------------------------|
| `needs_attention` | `held`                    | a blocking finding: a person must fix something |
| `waiting_in_cin7` | (a fetched document, no entry) | Cin7 has it, but it is not importable yet  |
| `ready`           | `ready`                   | checked, waiting for approval                  |
| `approved`        | `approved`, `queued`      | approved; the next Web Connector run sends it  |
| `sent`            | `sent`                    | sent, QuickBooks has not answered yet          |
| `posted`          | `posted`                  | in QuickBooks                                  |
| `failed`          | `failed`                  | QuickBooks refused it; the reason says why     |
| `locked`          | `locked`                  | changed in QuickBooks; update both by hand     |
| `in_doubt`        | `in_doubt`                | the answer was lost; checked before re-sending |
| `withdrawn`       | `superseded` (newest version) | the Cin7 document no longer needs it       |
"""

from __future__ import annotations

from typing import Literal, get_args

from omni2qbd_gateway.states import EntryState

ApiState = Literal[
    "needs_attention",
    "waiting_in_cin7",
    "ready",
    "approved",
    "sent",
    "posted",
    "failed",
    "locked",
    "in_doubt",
    "withdrawn",
]
API_STATES: tuple[ApiState, ...] = get_args(ApiState)
WAITING_IN_CIN7: ApiState = "waiting_in_cin7"

NEEDS_ATTENTION: ApiState = "needs_attention"

_FROM_INTERNAL: dict[str, ApiState] = {
    EntryState.HELD: NEEDS_ATTENTION,
    EntryState.READY: "ready",
    EntryState.APPROVED: "approved",
    EntryState.QUEUED: "approved",
    EntryState.SENT: "sent",
    EntryState.POSTED: "posted",
    EntryState.FAILED: "failed",
    EntryState.LOCKED: "locked",
    EntryState.IN_DOUBT: "in_doubt",
    EntryState.SUPERSEDED: "withdrawn",
}


def api_state(internal: str) -> ApiState:
    """The API state of an outbox state (an unknown one reads as needing attention)."""
    return _FROM_INTERNAL.get(internal, NEEDS_ATTENTION)


def internal_states(state: ApiState) -> list[str]:
    """The outbox states shown as ``state`` (none for ``waiting_in_cin7``)."""
    return [internal for internal, shown in _FROM_INTERNAL.items() if shown == state]


# Internal states and what a person may do from them.
APPROVABLE = (EntryState.READY,)
UNAPPROVABLE = (EntryState.APPROVED, EntryState.QUEUED)
RETRYABLE = (EntryState.FAILED,)
