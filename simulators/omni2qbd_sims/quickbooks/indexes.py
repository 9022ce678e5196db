"""Indexes over a company file, so a lookup costs the same with 20,000 transactions as with 20.

They answer exactly what a scan of ``CompanyState.lists`` / ``CompanyState.txns`` answers,
in the same order; they are derived data (rebuilt after loading a saved company file, never
pickled) and every change that moves a key goes through ``CompanyState``:

- ``TxnIndex``: live transactions by ExternalGUID (upper case, "" when there is none),
  RefNumber (exact text) and the customer or vendor they name (``CustomerRef`` /
  ``VendorRef`` ListID). ``CompanyState.store_txn`` indexes a new transaction,
  ``reindex_txn`` one whose body was replaced (a Mod) or that was deleted.
- ``NameIndex``: list records by full name (case-folded). ``add_list`` indexes a new
  record; a rename changes the full names of a record's descendants too, so it rebuilds
  the index (renames are rare).

Lookups check each candidate against the record itself (still in the company, still live,
key unchanged), so a stale key can only cost a comparison, never a wrong answer; and a
company whose dict was changed directly (a test removing a customer "in QuickBooks") is
re-indexed when its size no longer matches.
"""

from __future__ import annotations

from collections.abc import Iterator

from omni2qbd_sims.quickbooks.model import ListRecord, Txn
from omni2qbd_sims.quickbooks.qbtext import findtext1, findtext2

# Which part of a transaction a TxnIndex key names.
GUID = "ExternalGUID"
REF = "RefNumber"
CUSTOMER = "CustomerRef"
VENDOR = "VendorRef"

TxnKey = tuple[str, str]


def txn_keys(txn: Txn) -> tuple[TxnKey, ...]:
    """The keys a live transaction is found under (a deleted one is found under none)."""
    if txn.deleted:
        return ()
    body = txn.body
    keys: list[TxnKey] = [(GUID, (findtext1(body, GUID) or "").upper())]
    ref_number = findtext1(body, REF)
    if ref_number is not None:
        keys.append((REF, ref_number))
    for tag in (CUSTOMER, VENDOR):
        list_id = findtext2(body, tag, "ListID")
        if list_id is not None:
            keys.append((tag, list_id))
    return tuple(keys)


class TxnIndex:
    def __init__(self, txns: dict[str, Txn]) -> None:
        self._position: dict[str, int] = {}
        self._keys: dict[str, tuple[TxnKey, ...]] = {}
        self._by_key: dict[TxnKey, dict[str, None]] = {}
        for txn in txns.values():
            self.update(txn)
        self.size = len(txns)

    def update(self, txn: Txn) -> None:
        """(Re)index ``txn`` under the keys its body has now."""
        self._position.setdefault(txn.txn_id, len(self._position))
        for key in self._keys.pop(txn.txn_id, ()):
            bucket = self._by_key.get(key)
            if bucket is not None:
                bucket.pop(txn.txn_id, None)
                if not bucket:
                    del self._by_key[key]
        keys = txn_keys(txn)
        if keys:
            self._keys[txn.txn_id] = keys
        for key in keys:
            self._by_key.setdefault(key, {})[txn.txn_id] = None

    def ids(self, field: str, value: str) -> list[str]:
        """The ids indexed under ``(field, value)``, in the order they were first stored."""
        bucket = self._by_key.get((field, value))
        if not bucket:
            return []
        return sorted(bucket, key=self._position.__getitem__)


class NameIndex:
    def __init__(self, records: Iterator[tuple[ListRecord, str]]) -> None:
        self._by_name: dict[str, dict[str, None]] = {}
        self.size = 0
        for record, full_name in records:
            self.add(record, full_name)

    def add(self, record: ListRecord, full_name: str) -> None:
        self._by_name.setdefault(full_name.casefold(), {})[record.list_id] = None
        self.size += 1

    def ids(self, casefolded_full_name: str) -> list[str]:
        return list(self._by_name.get(casefolded_full_name, ()))
