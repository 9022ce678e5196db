"""An HTTP proxy that sends each request to the next of several backends in turn, so one
Web Connector session's calls alternate between gateway replicas (a load balancer without
session affinity)."""

from __future__ import annotations

from collections import Counter

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class RoundRobin:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.calls: Counter[str] = Counter()  # backend -> requests it answered
        self._next = 0
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])

    async def _forward(self, request: Request) -> Response:
        backend = self.backends[self._next % len(self.backends)]
        self._next += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with httpx.AsyncClient(timeout=120) as client:
            answer = await client.request(
                request.method,
                f"{backend}{request.url.path}",
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        self.calls[backend] += 1
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        kept.pop("content-encoding", None)  # httpx already decoded the body
        return Response(answer.content, status_code=answer.status_code, headers=kept)
