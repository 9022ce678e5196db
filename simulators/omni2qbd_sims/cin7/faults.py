"""Fault injection for the Cin7 simulator, driven through its admin API (``/_sim/faults``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

FaultKind = Literal["status", "slow", "change_between_pages"]


@dataclass
class FaultRule:
    """One fault. ``times`` counts the requests it still applies to (None: until cleared).

    - ``status``: answer ``status`` (500, 503, ...) instead of serving the request;
    - ``slow``: sleep ``delay_seconds`` before answering;
    - ``change_between_pages``: after serving a list page, edit ``count`` records of that page
      (their modifiedDate moves to now), so later records shift between two page requests.
    """

    kind: FaultKind
    status: int = 500
    delay_seconds: float = 0.0
    count: int = 1
    times: int | None = 1
    resource: str | None = None
    username: str | None = None
    method: str | None = None

    def matches(self, username: str, resource: str, method: str) -> bool:
        return (
            (self.times is None or self.times > 0)
            and (self.resource is None or self.resource.lower() == resource.lower())
            and (self.username is None or self.username == username)
            and (self.method is None or self.method.upper() == method)
        )

    def consume(self) -> None:
        if self.times is not None:
            self.times -= 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        self.rules.append(rule)

    def clear(self) -> None:
        self.rules.clear()

    def take(self, kind: FaultKind, username: str, resource: str, method: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.kind == kind and rule.matches(username, resource, method):
                rule.consume()
                return rule
        return None
