"""A parser and evaluator for the SQL-like ``where`` clause of Cin7 Omni list calls (§3.2).

Grammar (keywords and field names case-insensitive)::

    expr       := and_expr ("OR" and_expr)*
    and_expr   := not_expr ("AND" not_expr)*
    not_expr   := "NOT" not_expr | "(" expr ")" | comparison
    comparison := field ( op value | ["NOT"] "IN" "(" value ("," value)* ")"
                        | ["NOT"] "LIKE" string | "IS" ["NOT"] "NULL" )
    op         := "=" | "<>" | "!=" | ">" | "<" | ">=" | "<="
    value      := 'string' (with '' escapes) | number | unquoted ISO date | TRUE | FALSE | NULL

Comparisons follow SQL Server, where Cin7 Omni keeps its data: text compares without regard to
case, and logic is three-valued: a comparison with NULL is unknown, ``NOT unknown`` is still
unknown, and only records whose clause is true are returned.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omni2qbd_sims.cin7.dates import looks_like_date, parse_date

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]
Truth = bool | None  # None: SQL's "unknown"
_Node = Callable[[Record], Truth]


class WhereError(ValueError):
    """The clause cannot be parsed or names a field the resource does not have."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "ident", "string", "number", "date", "op", "(", ")", ","
    text: str


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<date>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><>|!=|>=|<=|=|>|<)
      | (?P<punct>[(),])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise WhereError(f"unexpected text at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        tokens.append(_Token(kind if kind != "punct" else value, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, str]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = fields  # lower-case name -> canonical name

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda _record: True
        node = self._or()
        if self.pos != len(self.tokens):
            raise WhereError(f"unexpected {self.tokens[self.pos].text!r}")
        return lambda record: node(record) is True

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token and token.kind == "ident" and token.text.upper() == word:
            self.pos += 1
            return True
        return False

    def _expect(self, kind: str) -> _Token:
        token = self._peek()
        if token is None or token.kind != kind:
            found = token.text if token else "end of clause"
            raise WhereError(f"expected {kind!r} but found {found!r}")
        self.pos += 1
        return token

    def _or(self) -> _Node:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda record: _any([part(record) for part in parts])

    def _and(self) -> _Node:
        parts = [self._not()]
        while self._keyword("AND"):
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda record: _all([part(record) for part in parts])

    def _not(self) -> _Node:
        if self._keyword("NOT"):
            inner = self._not()
            return lambda record: _negate(inner(record))
        token = self._peek()
        if token and token.kind == "(":
            self.pos += 1
            inner = self._or()
            self._expect(")")
            return inner
        return self._comparison()

    def _field(self) -> str:
        token = self._expect("ident")
        name = self.fields.get(token.text.lower())
        if name is None:
            raise WhereError(f"unknown field {token.text!r}")
        return name

    def _value(self) -> Any:
        token = self._peek()
        if token is None:
            raise WhereError("expected a value but the clause ended")
        self.pos += 1
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "date":
            return parse_date(token.text)
        if token.kind == "ident" and token.text.upper() in ("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if token.kind == "ident" and token.text.upper() == "NULL":
            return None
        raise WhereError(f"expected a value but found {token.text!r}")

    def _comparison(self) -> _Node:
        field = self._field()
        if self._keyword("IS"):
            negate = self._keyword("NOT")
            if not self._keyword("NULL"):
                raise WhereError("IS must be followed by NULL or NOT NULL")
            return lambda record: (record.get(field) is None) != negate
        negate = self._keyword("NOT")
        if self._keyword("IN"):
            self._expect("(")
            values = [self._value()]
            while self._peek() and self._peek().kind == ",":  # type: ignore[union-attr]
                self.pos += 1
                values.append(self._value())
            self._expect(")")
            return lambda record: _in(record.get(field), values, negate)
        if self._keyword("LIKE"):
            pattern = self._value()
            if not isinstance(pattern, str):
                raise WhereError("LIKE needs a quoted pattern")
            regex = _like_regex(pattern)
            return lambda record: _like(record.get(field), regex, negate)
        if negate:
            raise WhereError("NOT must be followed by IN or LIKE here")
        op = self._expect("op").text
        value = self._value()
        return lambda record: _compare(record.get(field), op, value)


def _coerce(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Bring a literal to the field's type, as SQL Server's implicit conversion would."""
    if left is None or right is None:
        return None
    if isinstance(left, datetime):
        return _coerce_to_date(left, right)
    if isinstance(left, bool):  # before numbers: a bool is an int
        return _coerce_to_bool(left, right)
    if isinstance(left, int | float):
        return _coerce_to_number(left, right)
    if isinstance(left, str):
        return None if isinstance(right, datetime) else (left.lower(), str(right).lower())
    return None


def _coerce_to_date(left: datetime, right: Any) -> tuple[Any, Any] | None:
    if isinstance(right, str):
        right = _literal_date(right)
    return (left, right) if isinstance(right, datetime) else None


@functools.lru_cache(maxsize=256)
def _literal_date(text: str) -> datetime | None:
    """A quoted literal as a date (None if it is not one), parsed once per query rather than
    once per record compared with it (a page request compares every record of the resource)."""
    return parse_date(text) if looks_like_date(text) else None


def _coerce_to_bool(left: bool, right: Any) -> tuple[Any, Any] | None:
    if isinstance(right, bool):
        return left, right
    if isinstance(right, int | float):
        return int(left), right
    if isinstance(right, str) and right.lower() in ("true", "false", "1", "0"):
        return left, right.lower() in ("true", "1")
    return None


def _coerce_to_number(left: float, right: Any) -> tuple[Any, Any] | None:
    if isinstance(right, str):
        try:
            right = float(right)
        except ValueError:
            return None
    return (left, right) if isinstance(right, int | float) else None


def _any(values: list[Truth]) -> Truth:
    if True in values:
        return True
    return None if None in values else False


def _all(values: list[Truth]) -> Truth:
    if False in values:
        return False
    return None if None in values else True


def _negate(value: Truth) -> Truth:
    return None if value is None else not value


def _compare(left: Any, op: str, right: Any) -> Truth:
    if left is None or right is None:
        return None
    pair = _coerce(left, right)
    if pair is None:
        return False
    a, b = pair
    try:
        if op == "=":
            return bool(a == b)
        if op in ("<>", "!="):
            return bool(a != b)
        if op == ">":
            return bool(a > b)
        if op == "<":
            return bool(a < b)
        if op == ">=":
            return bool(a >= b)
        return bool(a <= b)
    except TypeError:
        return False


def _in(left: Any, values: list[Any], negate: bool) -> Truth:
    found = _any([_compare(left, "=", value) for value in values])
    return _negate(found) if negate else found


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _like(value: Any, regex: re.Pattern[str], negate: bool) -> Truth:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return False
    return (regex.fullmatch(str(value)) is not None) != negate


def compile_where(text: str | None, fields: Mapping[str, str]) -> Predicate:
    """Compile a clause against a resource's fields (lower-case name -> canonical name)."""
    return _Parser(text or "", fields).parse()
