"""A scripted OpenAI-compatible Chat Completions server on 127.0.0.1, for fault tests.

Each POST to ``/v1/chat/completions`` takes the next step of the script: a chat completion
(text or tool calls, in the exact wire format), an HTTP error with headers (429 + Retry-After,
500), a hang, or a body that is not JSON. Every request body is kept, so tests can read what
the model was sent. The server only listens on loopback and stops with the test.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0
    raw: bytes | None = None


def completion(
    *calls: tuple[str, Any], content: str | None = None, model: str = "stub-model",
    prompt_tokens: int = 900, completion_tokens: int = 40,
) -> Reply:
    """A chat completion whose assistant message calls ``calls`` = (tool name, arguments).

    Arguments that are not a string are JSON-encoded; a string is sent as written (so a test can
    send malformed JSON).
    """
    tool_calls = [
        {"id": f"call_{next(_ids):04d}", "type": "function",
         "function": {"name": name,
                      "arguments": args if isinstance(args, str) else json.dumps(args)}}
        for name, args in calls
    ]
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None,
                               "annotations": []}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return Reply(body={
        "id": f"chatcmpl-stub{next(_ids):06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
        "service_tier": "default",
        "system_fingerprint": "fp_stub",
    })


def error(status: int, message: str = "scripted failure", **headers: str) -> Reply:
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
    return Reply(status=status, headers={k.replace("_", "-"): v for k, v in headers.items()},
                 body={"error": {"message": message, "type": kind, "param": None, "code": kind}})


def hang(seconds: float) -> Reply:
    return Reply(hang_s=seconds, body=None)


class StubServer:
    """Serves ``script`` in order; past its end, answers 500 so a runaway client shows."""

    def __init__(self, script: Sequence[Reply | Callable[[dict[str, Any]], Reply]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode("utf-8", "replace")}
                reply = server._next(body, self.path)
                if reply.hang_s:
                    server._stop.wait(reply.hang_s)
                    if reply.body is None:
                        return
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.send_header("x-request-id", f"req_stub{len(server.requests)}")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def _next(self, body: dict[str, Any], path: str) -> Reply:
        with self._lock:
            self.requests.append({"path": path, **body})
            self.times.append(time.monotonic())
            if not self.script:
                return error(500, "the test script ran out of replies")
            step = self.script.pop(0)
        return step(body) if callable(step) else step

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def remaining(self) -> int:
        return len(self.script)

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
