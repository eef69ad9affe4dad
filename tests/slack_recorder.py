"""A local stand-in for Slack's Web API that records every call (SLACK_API_URL points here)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNING_SECRET = "test-signing-secret"
BOT_USER = "UBOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    body: bytes = b""


@dataclass
class SlackRecorder:
    """Answers auth.test, users.info, chat.postMessage, files upload v2, reactions; records all."""

    emails: dict[str, str] = field(default_factory=dict)
    locked_channels: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = urllib.parse.urlparse(self.path).path
                kind = self.headers.get("Content-Type", "")
                status, payload = recorder.handle(path, raw, kind)
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base + "/api/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- the fake API -----------------------------------------------------------------
    def handle(self, path: str, raw: bytes, kind: str) -> tuple[int, Any]:
        if path.startswith("/upload/"):
            self._record(Call("upload", {"path": path}, raw))
            return 200, b"OK"
        if path.startswith("/response/"):
            self._record(Call("response_url", json.loads(raw or b"{}")))
            return 200, b"ok"
        method = path.removeprefix("/api/")
        if "json" in kind:
            params: dict[str, Any] = json.loads(raw or b"{}")
        else:
            params = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        self._record(Call(method, params))
        return 200, self.reply(method, params)

    def reply(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1",
                    "user": "skipper", "team": "Town Lake", "url": self.base + "/"}
        if method == "users.info":
            email = self.emails.get(params.get("user", ""))
            if email is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": params["user"], "is_bot": False,
                                         "profile": {"email": email}}}
        if method == "chat.postMessage":
            if params.get("channel") in self.locked_channels:
                return {"ok": False, "error": "not_in_channel"}
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"text": params.get("text"), "ts": ts}}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "upload_url": f"{self.base}/upload/F1", "file_id": "F1"}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": "F1", "title": "chart"}]}
        return {"ok": True}

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    # ---- reading what happened --------------------------------------------------------
    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout}s; calls: "
                             f"{[(c.method, c.params.get('text')) for c in self.calls]}")

    def posts(self, n: int, timeout: float = 15.0) -> list[Call]:
        """Wait until at least ``n`` chat.postMessage calls were made; return them all."""
        return self.wait_for(lambda: (p := self.of("chat.postMessage")) and len(p) >= n and p,
                             timeout)  # type: ignore[no-any-return]


def signed_headers(body: str, secret: str = SIGNING_SECRET,
                   timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def post(url: str, body: str, headers: dict[str, str],
         content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={**headers, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


_events = itertools.count(1)


def event_body(event: dict[str, Any]) -> str:
    return json.dumps({
        "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": f"Ev{next(_events)}", "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
    })


def command_body(text: str, user: str, channel: str, response_url: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": "T1", "channel_id": channel, "user_id": user,
        "command": "/skipper", "text": text, "response_url": response_url,
        "trigger_id": "trigger", "api_app_id": "A1",
    })


def block_text(call: Call) -> str:
    """All text of a posted message's blocks, in order."""
    blocks = call.params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    texts: list[str] = []
    for block in blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        for element in block.get("elements", []):
            texts.append(element.get("text", ""))
    return "\n".join(texts)


def action_body(value: str, user: str, channel: str, message_ts: str, thread_ts: str,
                action_id: str) -> str:
    """A block_actions payload, as Slack posts a button click (form-encoded JSON)."""
    payload = {
        "type": "block_actions", "team": {"id": "T1"}, "api_app_id": "A1",
        "user": {"id": user}, "channel": {"id": channel}, "trigger_id": "trigger",
        "message": {"ts": message_ts, "thread_ts": thread_ts, "type": "message"},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                     "value": value, "action_ts": "9.9"}],
        "response_url": "http://127.0.0.1:9/unused",
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
