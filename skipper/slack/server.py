"""HTTP mode: a small threaded server that hands Slack's POSTs at /slack/events to the Bolt app.

Bolt's own development server binds every interface and serves one request at a time; this one
binds the host it is given and answers each request in its own thread, so acknowledgements are
never queued behind a slow one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt import App

EVENTS_PATH = "/slack/events"


class SlackEventServer:
    """Serves ``app`` at ``path``; ``port=0`` picks a free port (see ``.port``)."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 3000,
                 path: str = EVENTS_PATH) -> None:
        from slack_bolt.request import BoltRequest

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._send(200 if self.path == "/health" else 404, b"ok", {})

            def do_POST(self) -> None:
                request_path, _, query = self.path.partition("?")
                if request_path != path:
                    self._send(404, b"not found", {})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                response = app.dispatch(BoltRequest(body=body, query=query,
                                                    headers=dict(self.headers.items())))
                self._send(response.status, response.body.encode("utf-8"), response.headers)

            def _send(self, status: int, body: bytes,
                      headers: Mapping[str, Sequence[str]]) -> None:
                self.send_response(status)
                for key, values in headers.items():
                    if key.lower() == "content-length":
                        continue
                    for value in values:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.path = path
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.httpd.server_address[0])
        return f"http://{host}:{self.port}{self.path}"

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.1)
        finally:
            self.httpd.server_close()

    def start(self) -> SlackEventServer:
        """Serve in a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.serve_forever, name="skipper-slack-http",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
