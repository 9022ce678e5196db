"""A stand-in Cin7 that counts: a real HTTP server answering every GET with an empty list and
remembering each path, for tests that prove an address is (or is not) contacted."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator


class Recorder(http.server.ThreadingHTTPServer):
    """Answers every GET with an empty JSON list and remembers the paths it was asked."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(self.path)
                body = b"[]"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"

    @classmethod
    @contextlib.contextmanager
    def serving(cls) -> Iterator[Recorder]:
        """The server, answering on its own thread until the block ends."""
        server = cls()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()
