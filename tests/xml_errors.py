"""lxml-stubs declares ``XMLSchema.error_log`` as an opaque class with no members; at run time it
is an iterable of log entries. One cast here instead of an ignore at every call site."""

from collections.abc import Iterable
from typing import Protocol, cast

from lxml import etree


class LogEntry(Protocol):
    @property
    def message(self) -> str: ...

    @property
    def line(self) -> int: ...


def schema_errors(schema: etree.XMLSchema) -> list[str]:
    """The messages of the schema's last validation (empty after a successful one)."""
    return [entry.message for entry in cast(Iterable[LogEntry], schema.error_log)]
