"""A Cin7 that misbehaves on purpose: a fake of the external system, speaking raw HTTP/1.1.

The first path segment chooses the misbehaviour (``/drip/api/v1/SalesOrders``); every
resource but SalesOrders answers ``[]`` so a whole tenant sync reaches the bad one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import parse_qs, urlsplit

NaN_PAGE = b'[{"id": 1, "modifiedDate": "2024-01-01T00:00:00Z", "total": NaN}]'


class HostileCin7:
    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._next_id = 1000
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def base_url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/api"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                self.requests += 1
                await self._answer(target, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, target: str, writer: asyncio.StreamWriter) -> None:
        url = urlsplit(target)
        mode, resource = url.path.split("/")[1], url.path.rsplit("/", 1)[-1]
        rows = int(parse_qs(url.query).get("rows", ["250"])[0])
        if resource != "SalesOrders":
            return self._send(writer, 200, b"[]")
        if mode == "drip":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: 1000\r\n\r\n[")
            while True:  # one byte at a time, never finishing
                await asyncio.sleep(0.2)
                writer.write(b" ")
                await writer.drain()
        if mode == "redirect":
            return self._send(writer, 302, b"", location="https://elsewhere.example/api/v1/")
        if mode == "huge-declared":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 209715200\r\n\r\n[")
            await writer.drain()
            return None
        if mode == "huge":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[")
            for _ in range(64):
                writer.write(b" " * 65536)
                await writer.drain()
            writer.close()
            return None
        if mode == "nan":
            return self._send(writer, 200, NaN_PAGE)
        if mode == "retry-after":
            return self._send(writer, 429, b"{}", retry_after="999999")
        if mode == "wrong-types":
            page: list[dict[str, object]] = [{"id": "SO-1", "modifiedDate": "2024-01-01T00:00:00Z"}]
            return self._send(writer, 200, json.dumps(page).encode())
        if mode == "same-page":
            page = [
                {"id": n, "modifiedDate": "2024-01-01T00:00:00Z", "reference": f"SO-{n}"}
                for n in range(1, rows + 1)
            ]
            return self._send(writer, 200, json.dumps(page).encode())
        if mode == "endless":  # every page full of new documents, a second later each
            page = []
            for _ in range(rows):
                self._next_id += 1
                seconds = self._next_id
                stamp = f"2024-01-{1 + seconds // 86400:02d}T{seconds % 86400 // 3600:02d}:"
                stamp += f"{seconds % 3600 // 60:02d}:{seconds % 60:02d}Z"
                page.append({"id": self._next_id, "modifiedDate": stamp, "reference": "junk"})
            return self._send(writer, 200, json.dumps(page).encode())
        return self._send(writer, 404, b"{}")

    @staticmethod
    def _send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        location: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
        lines.append(f"Content-Length: {len(body)}")
        if location:
            lines.append(f"Location: {location}")
        if retry_after:
            lines.append(f"Retry-After: {retry_after}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
