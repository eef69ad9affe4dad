"""`skipper slack`: readable configuration errors, and the real command serving signed events."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("slack_bolt")

from tests.slack_recorder import (  # noqa: E402
    SIGNING_SECRET,
    SlackRecorder,
    block_text,
    event_body,
    post,
    signed_headers,
)

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "examples" / "slack" / "manifest.yaml"
# The command as `skipper slack` runs it; until the CLI registers the module, a Typer app with
# just this command (same options, same code).
REGISTERED = "slack_cmd" in (ROOT / "skipper" / "cli" / "__init__.py").read_text()
RUNNER = (
    "import typer\nfrom skipper.cli import slack_cmd\n"
    "app = typer.Typer(pretty_exceptions_enable=False)\n"
    "app.callback()(lambda: None)\nslack_cmd.register(app)\napp()\n"
)


def command(*args: str) -> list[str]:
    if REGISTERED:
        return [sys.executable, "-m", "skipper.cli", "slack", *args]
    return [sys.executable, "-c", RUNNER, "slack", *args]


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(values)
    return env


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=60,
                          env=environment(**env), cwd=ROOT)


def test_missing_bot_token_is_a_readable_error() -> None:
    result = run("--port", "0")
    assert result.returncode == 1
    assert "SLACK_BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_http_mode_needs_the_signing_secret() -> None:
    result = run(SLACK_BOT_TOKEN="xoxb-test")
    assert result.returncode == 1
    assert "SLACK_SIGNING_SECRET is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_socket_mode_needs_the_app_token_and_excludes_port() -> None:
    result = run("--socket", SLACK_BOT_TOKEN="xoxb-test")
    assert result.returncode == 1 and "SLACK_APP_TOKEN is not set" in result.stderr
    result = run("--socket", "--port", "3000", SLACK_BOT_TOKEN="xoxb-test")
    assert result.returncode == 1 and "not both" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"skipper slack exited: {process.communicate()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("skipper slack did not start")


def test_skipper_slack_serves_signed_events(demo_database: Path, demo_catalog: Path,
                                            tmp_path: Path) -> None:
    database = tmp_path / "lake.duckdb"
    shutil.copy(demo_database, database)
    users = tmp_path / "users.yaml"
    users.write_text("U_ANA: ana\n")
    recorder = SlackRecorder()
    port = free_port()
    process = subprocess.Popen(
        command("--catalog", str(demo_catalog), "--database", str(database),
                "--port", str(port), "--users", str(users)),
        env=environment(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SIGNING_SECRET,
                        SLACK_API_URL=recorder.api_url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process)
        url = f"http://127.0.0.1:{port}/slack/events"
        body = event_body({"type": "app_mention", "user": "U_ANA", "channel": "C9",
                           "text": "<@UBOT> tickets by priority", "ts": "1.000001"})
        assert post(url, body, signed_headers(body, "wrong"))[0] == 401
        assert post(url, body, signed_headers(body))[0] == 200
        [reply] = recorder.posts(1, timeout=30)
        assert reply.params["thread_ts"] == "1.000001"
        assert "P3 has the most tickets" in block_text(reply)
        assert "asked as ana" in block_text(reply)
        assert recorder.of("auth.test")
    finally:
        process.terminate()
        process.communicate(timeout=10)
        recorder.close()


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())  # type: ignore[no-any-return]


def test_manifest_matches_what_the_bot_handles() -> None:
    app = manifest()
    [slash] = app["features"]["slash_commands"]
    assert slash["command"] == "/skipper" and slash["url"].endswith("/slack/events")
    events = app["settings"]["event_subscriptions"]
    assert events["request_url"].endswith("/slack/events")
    assert set(events["bot_events"]) >= {"app_mention", "message.im", "reaction_added",
                                         "message.channels"}
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    assert scopes >= {"app_mentions:read", "chat:write", "commands", "files:write",
                      "users:read", "users:read.email", "im:history", "reactions:read"}
