"""What one Web Connector update did, and what QBWC would have shown for it.

``log`` holds QBWC's log lines (wording from reference §1.6 where it is known), and
``status`` the text QBWC shows in its Status column at the end of the update.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ConnectionErrorCall:
    hresult: str
    message: str
    answer: str


@dataclass
class SessionReport:
    round_trips: int = 0
    calls: list[str] = field(default_factory=list)
    server_version: str | None = None
    client_version_answer: str | None = None
    authenticate: list[str] | None = None
    ticket: str | None = None
    auth_status: str | None = None
    postpone_seconds: int | None = None
    min_run_every_seconds: int | None = None
    company_path: str | None = None
    qbxml_version: str | None = None
    requests_processed: int = 0
    request_sets: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    set_failures: list[tuple[str, str]] = field(default_factory=list)
    progress: list[int] = field(default_factory=list)
    noops: int = 0
    last_errors: list[str] = field(default_factory=list)
    connection_errors: list[ConnectionErrorCall] = field(default_factory=list)
    close_result: str | None = None
    errors: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    status: str = ""
    dropped: bool = False

    @property
    def completed(self) -> bool:
        """The gateway said 100 and the session was closed normally."""
        return bool(self.progress) and self.progress[-1] >= 100 and self.close_result is not None

    def add_log(self, line: str) -> None:
        self.log.append(line)

    def summary(self) -> str:
        lines = [*self.log, f"Status: {self.status}"]
        if self.progress:
            lines.append("Progress: " + ", ".join(f"{p}%" for p in self.progress))
        lines.append(
            f"Round trips: {self.round_trips}; request sets processed by QuickBooks: "
            f"{self.requests_processed}"
        )
        return "\n".join(lines)
