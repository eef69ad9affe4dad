"""Odd text at every door: text that is not Unicode is refused (typed, audited, nothing run);
text that is merely unusual is answered. Each call leaves exactly one audit record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skipper import Skipper
from skipper.audit import AuditLog
from skipper.errors import InvalidTextError
from skipper.text import check_text
from tests.conftest import DEMO_AS_OF

ROOT = Path(__file__).resolve().parents[1]

#: Not Unicode: every kind of lone surrogate, and what surrogateescape makes of bytes 0x80-0xff.
NOT_UNICODE = {
    "high surrogate": "\ud800",
    "last high surrogate": "\udbff",
    "low surrogate": "\udc00",
    "reversed pair": "\udc00\ud800",
    "surrogateescape 0x80": "\udc80",
    "surrogateescape 0xff": "\udcff",
    "undecodable UTF-8 tail": "caf\udcc3\udca9",
}
NUL = {"NUL": "\x00", "NUL at the end": "x\x00"}
#: Refused in SQL only: its two readers disagree on them (DuckDB drops controls from names
#: and reads a BOM as a space; sqlglot keeps both in the name).
SQL_ONLY = {"ESC": "\x1b", "SOH": "\x01", "DEL": "\x7f", "NEL (C1)": "\x85", "CSI (C1)": "\x9b",
            "BOM": "\ufeff"}
#: Text, if unusual: accepted everywhere (SQL included, inside a literal).
ACCEPTED = {"accents": "Zürich café", "CJK": "東京", "Arabic": "مرحبا", "emoji": "🚢",
            "noncharacter": "\uffff", "noncharacter plane 1": "\U0001fffe",
            "bidi override": "\u202e", "bidi isolate": "\u2066x\u2069", "ZWJ": "a\u200db",
            "tab and newline": "a\tb\nc"}


def _records(audit: AuditLog) -> list[Any]:
    return list(audit.records()) if audit.path.exists() else []


@pytest.fixture()
def sk(demo_database: Path, demo_catalog: Path, tmp_path: Path) -> Iterator[Skipper]:
    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF,
                 audit_log=AuditLog(tmp_path / "audit.jsonl")) as skipper:
        yield skipper
    assert skipper.audit.verify().ok


# ---- the rule ----------------------------------------------------------------------------

@pytest.mark.parametrize("odd", [*NOT_UNICODE.values(), *NUL.values()],
                         ids=[*NOT_UNICODE, *NUL])
@pytest.mark.parametrize("what", ["sql", "question", "user"])
def test_not_unicode_and_nul_are_refused_everywhere(odd: str, what: str) -> None:
    with pytest.raises(InvalidTextError) as raised:
        check_text(f"how many {odd} accounts", what)
    assert raised.value.code == f"{what}.invalid_text"
    first = next(i for i, c in enumerate(odd) if c == "\x00" or "\ud800" <= c <= "\udfff")
    assert raised.value.details["position"] == len("how many ") + first + 1
    # the message names the character as an escape, so it can be shown and audited as is
    assert raised.value.message.isprintable() and "\\" in raised.value.message
    raised.value.message.encode("utf-8")


@pytest.mark.parametrize("odd", SQL_ONLY.values(), ids=SQL_ONLY.keys())
def test_controls_and_bom_are_refused_in_sql_only(odd: str) -> None:
    with pytest.raises(InvalidTextError, match="guard and DuckDB read differently"):
        check_text(f"SELECT '{odd}'", "sql")
    check_text(f"how many accounts {odd}", "question")


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_unusual_text_is_accepted(text: str) -> None:
    for what in ("sql", "question", "user"):
        check_text(text, what)


# ---- the Python API: refused before anything runs, the refusal audited ---------------------

@pytest.mark.parametrize("odd", [*NOT_UNICODE.values(), *NUL.values()],
                         ids=[*NOT_UNICODE, *NUL])
def test_sql_refuses_and_audits_once(sk: Skipper, odd: str) -> None:
    sql = f"SELECT count(*) FROM accounts WHERE name = '{odd}'"
    with pytest.raises(InvalidTextError) as raised:
        sk.sql(sql)
    assert raised.value.code == "sql.invalid_text"
    [record] = _records(sk.audit)
    assert record.outcome == "refused" and record.error["code"] == "sql.invalid_text"
    assert record.row_count == 0 and record.tables == []


@pytest.mark.parametrize("odd", [*NOT_UNICODE.values(), *NUL.values()],
                         ids=[*NOT_UNICODE, *NUL])
def test_ask_refuses_before_planning_and_audits_once(sk: Skipper, odd: str) -> None:
    # The reported case: the question planned and ran, then its record could not be written.
    with pytest.raises(InvalidTextError) as raised:
        sk.ask(f"How many accounts are there {odd}")
    assert raised.value.code == "question.invalid_text"
    [record] = _records(sk.audit)
    assert record.outcome == "refused" and record.sql == ""
    assert record.error["code"] == "question.invalid_text"


def test_odd_user_and_odd_question_beside_good_sql_are_refused(sk: Skipper) -> None:
    with pytest.raises(InvalidTextError, match="user name"):
        sk.sql("SELECT 1", user="ana\udcff")
    with pytest.raises(InvalidTextError, match="question"):
        sk.sql("SELECT 1", question="one\x00")
    with pytest.raises(InvalidTextError, match="user name"):
        sk.ask("How many accounts are there", user="\ud800")
    assert [r.outcome for r in _records(sk.audit)] == ["refused"] * 3


def test_follow_ups_and_remember_are_refused_too(sk: Skipper) -> None:
    session = sk.session()
    first = session.ask("How many accounts are there")
    assert first.status == "ok"
    with pytest.raises(InvalidTextError):
        session.ask("now by plan \udcff")
    with pytest.raises(InvalidTextError):
        sk.remember("How many accounts \ud800", "SELECT count(*) FROM accounts")
    with pytest.raises(InvalidTextError):
        sk.remember("How many accounts", "SELECT count(*) FROM accounts -- \x00")
    assert sk.memory.all() == [] or all("\ud800" not in q.question for q in sk.memory.all())
    assert [r.outcome for r in _records(sk.audit)] == ["ok", "refused", "refused", "refused"]


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_unusual_text_is_answered_and_audited_once(sk: Skipper, text: str) -> None:
    literal = text.replace("'", "''")
    answer = sk.sql(f"SELECT '{literal}' AS value")
    assert answer.rows == [(text,)]
    asked = sk.ask(f"How many accounts are there {text}")
    assert asked.status in ("ok", "cannot_answer")
    records = _records(sk.audit)
    assert len(records) == 2 and records[0].outcome == "ok"
    assert records[1].question == f"How many accounts are there {text}"


# ---- the command line: undecodable argv bytes, no traceback, one record --------------------

def run_cli(*args: str | bytes, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200", "SKIPPER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "skipper.cli", *args], capture_output=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.fixture()
def cli_args(demo_database: Path, demo_catalog: Path, tmp_path: Path) -> list[str]:
    return ["--catalog", str(demo_catalog), "--database", str(demo_database),
            "--audit-log", str(tmp_path / "cli.jsonl")]


def _assert_readable_refusal(done: subprocess.CompletedProcess[bytes], code: str) -> None:
    err = done.stderr.decode()  # strict: the message itself is UTF-8
    assert done.returncode == 2, err
    assert "Traceback" not in err and code in err


@pytest.mark.parametrize("raw", [b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80"],
                         ids=["xff", "x80", "truncated", "encoded surrogate"])
def test_cli_sql_and_ask_with_undecodable_bytes(raw: bytes, cli_args: list[str],
                                                tmp_path: Path) -> None:
    sql = run_cli("sql", b"SELECT '" + raw + b"' AS v", *cli_args, home=tmp_path)
    _assert_readable_refusal(sql, "sql.invalid_text")
    ask = run_cli("ask", b"How many accounts are there " + raw, *cli_args, home=tmp_path)
    _assert_readable_refusal(ask, "question.invalid_text")
    as_json = run_cli("ask", b"How many accounts " + raw, *cli_args, "--json", home=tmp_path)
    assert json.loads(as_json.stdout)["error"]["code"] == "question.invalid_text"
    user = run_cli("sql", "SELECT 1", "--user", b"ana" + raw, *cli_args, home=tmp_path)
    _assert_readable_refusal(user, "user.invalid_text")
    log = tmp_path / "cli.jsonl"
    records = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert [r["outcome"] for r in records] == ["refused"] * 4
    verify = run_cli("audit", "verify", "--log", str(log), home=tmp_path)
    assert verify.returncode == 0 and b"4 records" in verify.stdout


def test_cli_audit_and_catalog_with_undecodable_bytes(cli_args: list[str],
                                                      tmp_path: Path) -> None:
    run_cli("sql", "SELECT 1", *cli_args, home=tmp_path)
    log = str(tmp_path / "cli.jsonl")
    for args in (("audit", "show", b"01\xff", "--log", log),
                 ("audit", "show", b"01\xff", "--log", log, "--json"),
                 ("audit", "replay", b"\xff", *cli_args[:4], "--log", log),
                 ("audit", "list", "--log", log.encode() + b"\xff"),
                 ("catalog", "check", str(tmp_path).encode() + b"/\xff"),
                 ("catalog", "check", str(tmp_path).encode() + b"/\xff", "--json")):
        done = run_cli(*args, home=tmp_path)
        out, err = done.stdout.decode(), done.stderr.decode()  # strict UTF-8 both
        assert done.returncode == 1, (args, out, err)
        assert "Traceback" not in err and ("\\udcff" in out + err or "\\xff" in out + err)
        if "--json" in args:
            assert json.loads(out)["error"]["code"]


# ---- Slack: a JSON "\ud800" escape in a message --------------------------------------------

def test_slack_question_with_a_lone_surrogate(skipper_on_demo: Skipper) -> None:
    pytest.importorskip("slack_bolt")
    from skipper.slack import SlackSettings, create_app
    from skipper.slack.server import SlackEventServer
    from tests.slack_recorder import (
        BOT_USER,
        SIGNING_SECRET,
        SlackRecorder,
        block_text,
        event_body,
        post,
        signed_headers,
    )

    recorder = SlackRecorder(emails={"U_ANA": "ana@example.com"})
    settings = SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                             api_url=recorder.api_url, users={"U_ANA": "ana"})
    server = SlackEventServer(create_app(skipper_on_demo, settings), host="127.0.0.1",
                              port=0).start()
    try:
        body = event_body({"type": "app_mention", "user": "U_ANA", "channel": "C1",
                           "text": f"<@{BOT_USER}> tickets by priority \ud800",
                           "ts": "9.000100"})
        assert "\\ud800" in body  # Slack sends it as a JSON escape
        status, _ = post(server.url, body, signed_headers(body))
        assert status == 200
        [reply] = recorder.posts(1)
        assert "question.invalid_text" in block_text(reply)
        assert "\\ud800" in block_text(reply) and "```" not in block_text(reply)
    finally:
        server.stop()
        recorder.close()
    [record] = _records(skipper_on_demo.audit)
    assert record.outcome == "refused" and record.user == "ana"
    assert skipper_on_demo.audit.verify().ok
