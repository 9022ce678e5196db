"""The HTTP limits a gateway facing the internet needs below the ASGI app (issue 16 point 6).

uvicorn's httptools protocol reads a request head of any size for as long as the client
likes. This subclass refuses a head (request line and headers) larger than
``max_head_bytes`` with 431 and closes a connection whose head is not complete within
``head_seconds``; the body's own deadline is kept by the app
(``soap_endpoint._read_capped``).

It also sends each response as one segment: uvicorn writes the status line and headers,
then the body, as two ``send`` calls, and each wakes the Web Connector's side of the
connection. On a loaded machine each wake-up is a trip through the scheduler (the answer
to a small SOAP call took several times its CPU time to arrive); what a response writes
during one step of the event loop now goes out in one ``send``, with the same bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
# How long a refused connection keeps reading (and dropping) what the client still sends.
# Closing with unread bytes makes the kernel answer with a reset, which can destroy the 431
# before the client has read it; a short "lingering close" (as nginx does) lets it arrive.
LINGER_SECONDS = 2.0
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 32\r\n\r\n"
    b"request header fields too large\n"
)


class _OneSegmentTransport:
    """A transport that holds what is written during one step of the event loop and sends
    it as one ``write`` at the end of the step (or before closing); the rest is the real
    transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held = []
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: int = MAX_HEAD_BYTES
    head_seconds: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_bytes = 0
        self._in_head = True
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        # Every write of the connection (responses, errors, the 431 below) in one segment
        # per loop step; reading and flow control stay on the real transport.
        self.transport = _OneSegmentTransport(transport, self.loop)  # type: ignore[assignment]
        self._start_head_timer()

    def _start_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _head_too_slow(self) -> None:
        if self._in_head and not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused head: read and dropped until the linger ends
        was_idle = not self._in_head
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # The head is still incomplete after this chunk: it counts against the limit
            # (httptools keeps it in memory until the blank line).
            if was_idle:
                self._start_head_timer()  # the next request on a kept-alive connection
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()

    def _refuse_head(self) -> None:
        """Answer 431, stop sending (FIN) and drop whatever else arrives, then close."""
        self._refused = True
        self.transport.write(_TOO_LARGE)
        self.transport.flush()  # type: ignore[attr-defined]
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self._end_linger)

    def _end_linger(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = False  # until the next request begins

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


def guarded_protocol(head_seconds: float, max_head_bytes: int = MAX_HEAD_BYTES) -> type[Any]:
    """The protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    return type(
        "GatewayHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"head_seconds": head_seconds, "max_head_bytes": max_head_bytes},
    )
