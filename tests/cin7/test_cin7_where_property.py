"""Random ``where`` clauses against an independent three-valued evaluator (property test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omni2qbd_sims.cin7.where import compile_where

FIELDS = {"id": "id", "total": "total", "company": "company"}
COMPANIES = ["Acme", "acme", "O'Brien", "Zed Co", None]
RECORDS = [
    {"id": i, "total": t, "company": c}
    for i, (t, c) in enumerate(
        [(10.0, "Acme"), (-2.5, "O'Brien"), (0.0, None), (99.0, "Zed Co"), (10.0, "acme")], 1
    )
]


@dataclass
class Clause:
    text: str
    truth: Any  # record -> True | False | None


def _cmp(value: Any, op: str, literal: Any) -> bool | None:
    if value is None or literal is None:
        return None
    if isinstance(value, str):
        value, literal = value.lower(), literal.lower()
    outcome: bool = {
        "=": value == literal,
        "<>": value != literal,
        ">": value > literal,
        "<": value < literal,
        ">=": value >= literal,
        "<=": value <= literal,
    }[op]
    return outcome


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@st.composite
def comparisons(draw: st.DrawFn) -> Clause:
    op = draw(st.sampled_from(["=", "<>", ">", "<", ">=", "<="]))
    if draw(st.booleans()):
        number = draw(st.sampled_from([-5, 0, 1, 3, 10]))
        field = draw(st.sampled_from(["id", "total"]))
        return Clause(f"{field}{op}{number}", lambda r: _cmp(r[field], op, number))
    name = draw(st.sampled_from([c for c in COMPANIES if c]))
    return Clause(f"company {op} {_quote(name)}", lambda r: _cmp(r["company"], op, name))


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _extend(children: st.SearchStrategy[Clause]) -> st.SearchStrategy[Clause]:
    pair = st.tuples(children, children)
    return st.one_of(
        children.map(lambda c: Clause(f"NOT ({c.text})", lambda r: _not(c.truth(r)))),
        pair.map(
            lambda p: Clause(
                f"({p[0].text}) AND ({p[1].text})", lambda r: _and(p[0].truth(r), p[1].truth(r))
            )
        ),
        pair.map(
            lambda p: Clause(
                f"({p[0].text}) OR ({p[1].text})", lambda r: _or(p[0].truth(r), p[1].truth(r))
            )
        ),
    )


@settings(max_examples=400, deadline=None)
@given(st.recursive(comparisons(), _extend, max_leaves=6))
def test_clause_selects_what_sql_would(clause: Clause) -> None:
    predicate = compile_where(clause.text, FIELDS)
    assert [r["id"] for r in RECORDS if predicate(r)] == [
        r["id"] for r in RECORDS if clause.truth(r) is True
    ]
