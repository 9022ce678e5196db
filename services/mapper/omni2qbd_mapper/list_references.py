"""Which held entries a QuickBooks list change can concern (issue 15, point 2).

A list change (``qb.lists``: items, accounts, customers ... added, renamed, deactivated)
can only resolve or cause a finding of an entry that names what changed: by its ListID or
by its name, in the entry's references or in a finding's words. Only those are mapped
again, instead of every held document of the tenant. Entries waiting for the lists to be
read at all are always re-checked, and a change too large to compare (the first read of a
list) re-checks everything held, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from omni2qbd_shared import messages as m

# Beyond this many changed names a word-by-word comparison costs more than mapping again.
MAX_COMPARED_CHANGES = 200
ALWAYS_RECHECKED = frozenset({"waiting_for_quickbooks_lists"})


@dataclass(frozen=True)
class ChangedNames:
    names: frozenset[str]  # case-folded full names
    list_ids: frozenset[str]

    @classmethod
    def of(cls, changes: Sequence[m.ListChange]) -> ChangedNames | None:
        """None when there are too many to compare (everything held is re-checked)."""
        if len(changes) > MAX_COMPARED_CHANGES:
            return None
        names: set[str] = set()
        for change in changes:
            names.add(change.full_name.casefold())
            # QuickBooks full names are paths ("Parent:Child"); findings may use the leaf.
            names.add(change.full_name.rsplit(":", 1)[-1].casefold())
        return cls(frozenset(n for n in names if n), frozenset(c.list_id for c in changes))

    def mentioned_in(self, body: dict[str, Any], findings: Iterable[dict[str, Any]]) -> bool:
        finding_list = list(findings)
        if any(f.get("code") in ALWAYS_RECHECKED for f in finding_list):
            return True
        if any(self._names_value(value) for value in _strings(body)):
            return True
        for finding in (*finding_list, *body.get("findings", [])):
            message = str(finding.get("message", "")).casefold()
            if any(name in message for name in self.names):
                return True
        return False

    def _names_value(self, value: str) -> bool:
        return value in self.list_ids or value.casefold() in self.names


def _strings(value: Any) -> Iterable[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
