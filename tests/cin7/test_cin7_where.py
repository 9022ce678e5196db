"""The simulator's ``where`` parser: every documented operator, quoting and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omni2qbd_sims.cin7.where import WhereError, compile_where

FIELDS = {
    name.lower(): name for name in ("id", "reference", "company", "modifiedDate", "isVoid", "total")
}


def _record(
    id_: int, ref: str, company: str | None, when: datetime, void: bool, total: float
) -> dict[str, object]:
    return {
        "id": id_,
        "reference": ref,
        "company": company,
        "modifiedDate": when,
        "isVoid": void,
        "total": total,
    }


RECORDS = [
    _record(1, "SO-1", "O'Brien & Sons", datetime(2025, 1, 1, tzinfo=UTC), False, 10.5),
    _record(2, "SO-2", "Acme Ltd", datetime(2025, 6, 1, tzinfo=UTC), True, -3.0),
    _record(3, "#1050", None, datetime(2025, 6, 1, 12, tzinfo=UTC), False, 0.0),
]


def ids(clause: str) -> list[int]:
    predicate = compile_where(clause, FIELDS)
    found: list[int] = []
    for record in RECORDS:
        if predicate(record):
            ident = record["id"]
            assert isinstance(ident, int)
            found.append(ident)
    return found


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("id=2", [2]),
        ("id<>2", [1, 3]),
        ("id!=2", [1, 3]),
        ("id>1", [2, 3]),
        ("id<2", [1]),
        ("id>=2", [2, 3]),
        ("id<=2", [1, 2]),
        ("total<0", [2]),
        ("total=10.5", [1]),
        ("reference='so-1'", [1]),  # text compares without regard to case
        ("company='O''Brien & Sons'", [1]),  # '' escapes a quote
        ("company LIKE '%ltd%'", [2]),
        ("company LIKE 'O_Brien%'", [1]),
        ("company NOT LIKE '%ltd%'", [1]),  # NULL never matches
        ("reference LIKE '#%'", [3]),
        ("id IN (1,3)", [1, 3]),
        ("id IN(2)", [2]),
        ("reference IN ('SO-2','#1050')", [2, 3]),
        ("id NOT IN (1,3)", [2]),
        ("company IS NULL", [3]),
        ("company is not null", [1, 2]),
        ("modifiedDate>='2025-06-01T00:00:00Z'", [2, 3]),
        ("modifiedDate>=2025-06-01T06:00:00Z", [3]),  # unquoted dates, as S10 sends them
        ("modifieddate>'2025-06-01 00:00:00'", [3]),  # field names are case-insensitive
        ("modifiedDate<'2025-06-01T14:00:00+02:00'", [1, 2]),
        ("isVoid=true", [2]),
        ("isVoid=0", [1, 3]),
        ("id=1 OR id=3", [1, 3]),
        ("id>1 AND isVoid=false", [3]),
        ("(id=1 OR id=2) AND total>0", [1]),
        ("NOT id=1", [2, 3]),
        ("id=1 OR id=2 AND total>0", [1]),  # AND binds tighter than OR
        ("company='x' and Id = 1 OR Reference = 'SO-2'", [2]),
        ("", [1, 2, 3]),
        ("NOT company='Acme Ltd'", [1]),  # NOT of unknown (NULL company) is still unknown
        ("NOT (company='x' AND id=3)", [1, 2]),  # unknown AND true stays unknown
        ("NOT (company='x' AND id=2)", [1, 2, 3]),  # unknown AND false is false
        ("company='x' OR id=3", [3]),  # unknown OR true is true
        ("id IN (1, NULL)", [1]),
        ("id NOT IN (1, NULL)", []),  # as on SQL Server: NULL in the list makes it unknown
    ],
)
def test_operator(clause: str, expected: list[int]) -> None:
    assert ids(clause) == expected


@pytest.mark.parametrize(
    "clause",
    [
        "nosuchfield=1",
        "id==1",
        "id=",
        "(id=1",
        "id IN 1",
        "company LIKE 5",
        "id=1 AND",
        "company IS 3",
        "id='unterminated",
    ],
)
def test_bad_clause_is_refused(clause: str) -> None:
    with pytest.raises(WhereError):
        compile_where(clause, FIELDS)
