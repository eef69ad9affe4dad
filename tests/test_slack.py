"""The Slack bot end to end: the real Bolt app over HTTP, its Web API a local recorder."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("slack_bolt")

from skipper.slack import SlackSettings, create_app  # noqa: E402
from skipper.slack.server import SlackEventServer  # noqa: E402
from tests.slack_recorder import (  # noqa: E402
    BOT_USER,
    SIGNING_SECRET,
    SlackRecorder,
    action_body,
    block_text,
    command_body,
    event_body,
    post,
    signed_headers,
)

EMAILS = {"U_ANA": "ana@example.com", "U_ADA": "ada@example.com", "U_ZED": "zed@elsewhere.org"}


@pytest.fixture(autouse=True)
def never_slack_com(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail any attempt to resolve slack.com (the recorder is the only Slack here)."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, (str, bytes)) and "slack.com" in str(host):
            attempts.append(str(host))
            raise OSError("tests never contact slack.com")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield attempts
    assert attempts == [], f"contacted {attempts}"


@dataclass
class Bot:
    recorder: SlackRecorder
    server: SlackEventServer
    skipper: Any

    def event(self, event: dict[str, Any], *, secret: str = SIGNING_SECRET) -> tuple[int, str]:
        body = event_body(event)
        return post(self.server.url, body, signed_headers(body, secret))

    def command(self, text: str, user: str = "U_ANA", channel: str = "C1") -> tuple[int, str]:
        body = command_body(text, user, channel, self.recorder.base + "/response/1")
        return post(self.server.url, body, signed_headers(body),
                    content_type="application/x-www-form-urlencoded")


def start_bot(skipper: Any, **options: Any) -> tuple[SlackRecorder, SlackEventServer]:
    recorder = SlackRecorder(emails=dict(EMAILS), locked_channels={"C_LOCKED"})
    settings = SlackSettings(bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                             api_url=recorder.api_url, **options)
    app = create_app(skipper, settings)
    return recorder, SlackEventServer(app, host="127.0.0.1", port=0).start()


@pytest.fixture()
def bot(skipper_on_demo: Any) -> Iterator[Bot]:
    recorder, server = start_bot(skipper_on_demo, users={"U_ANA": "ana"})
    yield Bot(recorder, server, skipper_on_demo)
    server.stop()
    recorder.close()


def mention(text: str, user: str = "U_ANA", channel: str = "C1", ts: str = "1.000100",
            thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}",
             "channel": channel, "ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def test_app_checks_its_token_against_the_configured_api(bot: Bot) -> None:
    assert bot.recorder.of("auth.test")
    assert bot.server.url.startswith("http://127.0.0.1:")


def test_mention_is_answered_in_its_thread_with_table_caveats_sql_audit_id_and_chart(
    bot: Bot,
) -> None:
    status, _ = bot.event(mention("tickets by priority", ts="1.000100"))
    assert status == 200
    [reply] = bot.recorder.posts(1)
    assert reply.params["channel"] == "C1"
    assert reply.params["thread_ts"] == "1.000100"
    text = block_text(reply)
    assert "P3 has the most tickets" in text
    assert "```priority" in text and "P1" in text  # monospaced table of the top rows
    assert "4 rows" in text
    assert "SELECT" in text and "support_tickets" in text
    audit_id = text.split("audit id `", 1)[1].split("`", 1)[0]
    record = bot.skipper.audit.get(audit_id)
    assert record.question == "tickets by priority" and record.user == "ana"
    assert reply.params["unfurl_links"] is False
    assert all(block["text"].get("verbatim") for block in reply.params["blocks"]
               if block.get("type") == "section")
    # the bar chart goes up as a PNG in the same thread (files upload v2)
    upload = bot.recorder.wait_for(lambda: bot.recorder.of("upload"))[0]
    assert upload.body.startswith(b"\x89PNG\r\n\x1a\n")
    complete = bot.recorder.wait_for(lambda: bot.recorder.of("files.completeUploadExternal"))[0]
    assert complete.params["channel_id"] == "C1"
    assert complete.params["thread_ts"] == "1.000100"
    assert "Tickets by priority" in json.loads(complete.params["files"])[0]["title"]
    eyes = bot.recorder.of("reactions.add")
    assert eyes and eyes[0].params["timestamp"] == "1.000100"


def test_caveats_reach_the_reply(bot: Bot) -> None:
    bot.event(mention("daily requests last 30 days", ts="2.000100"))
    [reply] = bot.recorder.posts(1)
    assert ":warning: *Caveats*" in block_text(reply)
    assert "1% sample" in block_text(reply)


def test_thread_follow_up_continues_the_session(bot: Bot) -> None:
    bot.event(mention("tickets by priority", ts="3.000100"))
    bot.recorder.posts(1)
    # a plain reply in the bot's thread (no mention) refines the question
    bot.event({"type": "message", "channel_type": "channel", "user": "U_ANA", "channel": "C1",
               "text": "now by status", "ts": "3.000200", "thread_ts": "3.000100"})
    replies = bot.recorder.posts(2)
    assert replies[1].params["thread_ts"] == "3.000100"
    assert "ticket_status" in block_text(replies[1])
    # a message in some other thread is not for the bot
    bot.event({"type": "message", "channel_type": "channel", "user": "U_ANA", "channel": "C1",
               "text": "lunch?", "ts": "4.000200", "thread_ts": "4.000100"})
    time.sleep(0.3)
    assert len(bot.recorder.of("chat.postMessage")) == 2


def test_direct_message_and_its_thread(bot: Bot) -> None:
    bot.event({"type": "message", "channel_type": "im", "user": "U_ANA", "channel": "D1",
               "text": "tickets by priority", "ts": "5.000100"})
    [first] = bot.recorder.posts(1)
    assert first.params["channel"] == "D1" and first.params["thread_ts"] == "5.000100"
    bot.event({"type": "message", "channel_type": "im", "user": "U_ANA", "channel": "D1",
               "text": "only P1", "ts": "5.000200", "thread_ts": "5.000100"})
    second = bot.recorder.posts(2)[1]
    assert "with priority P1" in block_text(second)
    # the bot's own messages are not questions
    bot.event({"type": "message", "channel_type": "im", "bot_id": "BBOT", "channel": "D1",
               "text": "tickets by priority", "ts": "5.000300"})
    time.sleep(0.3)
    assert len(bot.recorder.of("chat.postMessage")) == 2


def test_slash_command_acknowledges_then_answers_in_a_thread(bot: Bot) -> None:
    started = time.monotonic()
    status, body = bot.command("tickets by priority <!channel>")
    assert status == 200 and time.monotonic() - started < 3
    assert "Looking into" in body
    posts = bot.recorder.posts(2)
    question, answer = posts[0], posts[1]
    assert question.params["text"].startswith("<@U_ANA> asked: tickets by priority")
    assert "<!channel>" not in question.params["text"]
    assert "&lt;!channel&gt;" in question.params["text"]
    assert answer.params["thread_ts"] == "1700000000.000001"


def test_slash_command_in_a_channel_without_the_bot_says_what_to_do(bot: Bot) -> None:
    bot.command("tickets by priority", channel="C_LOCKED")
    response = bot.recorder.wait_for(lambda: bot.recorder.of("response_url"))[0]
    assert "/invite" in response.params["text"]


def test_empty_slash_command_gets_help(bot: Bot) -> None:
    status, body = bot.command("")
    assert status == 200 and "Ask me a question" in body


def test_unknown_user_is_refused_politely_and_nothing_runs(bot: Bot) -> None:
    bot.event(mention("tickets by priority", user="U_ZED", ts="6.000100"))
    [reply] = bot.recorder.posts(1)
    assert "isn't linked to a Skipper user" in reply.params["text"]
    assert "```" not in block_text(reply)
    assert bot.recorder.of("users.info")[0].params["user"] == "U_ZED"
    assert bot.skipper.audit.path.exists() is False or not bot.skipper.audit.path.read_text()


def test_user_found_by_catalog_email(skipper_on_demo: Any) -> None:
    if not getattr(skipper_on_demo.catalog, "users", None):
        pytest.skip("the catalog declares no users yet (governance)")
    recorder, server = start_bot(skipper_on_demo)
    try:
        body = event_body(mention("accounts by region", user="U_ADA", ts="7.000100"))
        post(server.url, body, signed_headers(body))
        [reply] = recorder.posts(1)
        assert "asked as ada" in block_text(reply)
    finally:
        server.stop()
        recorder.close()


def test_a_mapped_name_the_catalog_does_not_know_is_refused(skipper_on_demo: Any) -> None:
    if not getattr(skipper_on_demo.catalog, "governed", False):
        pytest.skip("the catalog declares no users")
    recorder, server = start_bot(skipper_on_demo, users={"U_ANA": "ghost"})
    try:
        body = event_body(mention("tickets by priority", ts="7.000200"))
        post(server.url, body, signed_headers(body))
        [reply] = recorder.posts(1)
        assert "isn't linked to a Skipper user" in reply.params["text"]
    finally:
        server.stop()
        recorder.close()


def test_errors_reply_politely(demo_database: Any, demo_catalog: Any, tmp_path: Any) -> None:
    from skipper import Skipper
    from tests.conftest import DEMO_AS_OF

    skipper = Skipper(demo_catalog, demo_database, today=DEMO_AS_OF,
                      audit_log=tmp_path / "audit.jsonl")
    skipper.close()  # every query now fails with engine.closed
    recorder, server = start_bot(skipper, users={"U_ANA": "ana"})
    try:
        body = event_body(mention("tickets by priority", ts="7.000300"))
        post(server.url, body, signed_headers(body))
        [reply] = recorder.posts(1)
        assert reply.params["text"].startswith("I couldn't answer that: ")
        assert "(engine.closed)" in reply.params["text"]
        assert reply.params["thread_ts"] == "7.000300"
    finally:
        server.stop()
        recorder.close()


def test_bad_signature_gets_401_and_no_reply(bot: Bot) -> None:
    status, _ = bot.event(mention("tickets by priority"), secret="not-the-secret")
    assert status == 401
    body = event_body(mention("tickets by priority"))
    stale = signed_headers(body, timestamp=int(time.time()) - 3600)
    assert post(bot.server.url, body, stale)[0] == 401
    assert post(bot.server.url, body, {})[0] == 401
    time.sleep(0.3)
    assert bot.recorder.of("chat.postMessage") == []


def test_url_verification_challenge(bot: Bot) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    status, text = post(bot.server.url, body, signed_headers(body))
    assert status == 200 and "abc123" in text


def test_cannot_answer_replies_with_suggestions(bot: Bot) -> None:
    bot.event(mention("what is the meaning of life", ts="8.000100"))
    [reply] = bot.recorder.posts(1)
    assert "couldn't answer that from the catalog" in reply.params["text"]
    assert "Try asking with" in block_text(reply)


def test_answers_say_how_the_question_was_read(bot: Bot) -> None:
    bot.event(mention("tickets by priority last week", ts="8.500100"))
    [reply] = bot.recorder.posts(1)
    text = block_text(reply)
    assert "*Read as:* Tickets (count of support tickets rows), opened" in text
    assert text.index("Read as") < text.index("```priority")  # above the rows


def test_two_readings_offer_buttons_and_a_click_asks_that_reading(bot: Bot) -> None:
    bot.event(mention("tickets open last week", ts="8.700100"))
    [reply] = bot.recorder.posts(1)
    assert "Which did you mean?" in reply.params["text"]
    blocks = reply.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    [actions] = [b for b in blocks if b.get("type") == "actions"]
    values = [button["value"] for button in actions["elements"]]
    assert values == ["tickets opened last week", "tickets with ticket status open last week"]
    body = action_body(values[1], "U_ANA", "C1", "8.800100", "8.700100",
                       actions["elements"][1]["action_id"])
    status, _ = post(bot.server.url, body, signed_headers(body),
                     content_type="application/x-www-form-urlencoded")
    assert status == 200
    [_, answer] = bot.recorder.posts(2)
    assert answer.params["thread_ts"] == "8.700100"
    text = block_text(answer)
    assert "with ticket status open" in text and "SELECT" in text
    audit_id = text.split("audit id `", 1)[1].split("`", 1)[0]
    assert bot.skipper.audit.get(audit_id).question == values[1]


def test_rate_limit_per_user(skipper_on_demo: Any) -> None:
    recorder, server = start_bot(skipper_on_demo, users={"U_ANA": "ana", "U_ADA": "ada"},
                                 rate_limit=1, charts=False)
    try:
        for ts, user in (("9.000100", "U_ANA"), ("9.000200", "U_ANA"), ("9.000300", "U_ADA")):
            body = event_body(mention("tickets by priority", user=user, ts=ts))
            post(server.url, body, signed_headers(body))
            recorder.posts(int(ts[-3]))
        posts = recorder.of("chat.postMessage")
        by_thread = {p.params["thread_ts"]: p.params["text"] for p in posts}
        assert "please ask again in" in by_thread["9.000200"]
        assert "P3 has the most tickets" in by_thread["9.000300"]
    finally:
        server.stop()
        recorder.close()


def test_thumbs_up_remembers_the_question_and_sql(bot: Bot) -> None:
    if not hasattr(bot.skipper, "remember"):
        pytest.skip("Skipper.remember is not available")
    bot.event(mention("tickets by priority", ts="10.000100"))
    bot.recorder.posts(1)
    answer_ts = "1700000000.000001"
    bot.event({"type": "reaction_added", "user": "U_ANA", "reaction": "+1",
               "item": {"type": "message", "channel": "C1", "ts": answer_ts},
               "item_user": BOT_USER, "event_ts": "10.000300"})
    saved = bot.recorder.posts(2)[1]
    assert "Saved as a verified query" in saved.params["text"]
    assert saved.params["thread_ts"] == "10.000100"
    remembered = [q.question for q in bot.skipper.memory.all()]
    assert "tickets by priority" in remembered


def test_values_cannot_form_links_or_mentions() -> None:
    import pyarrow as pa

    from skipper.annotate import Lineage
    from skipper.answer import Answer
    from skipper.slack.message import answer_message

    hostile = "<@U123> <!channel> <https://evil.example|click> & ```x"
    answer = Answer(
        sql="SELECT 1", table=pa.table({"name": [hostile, "ok"], "n": [1, 2]}), row_count=2,
        truncated=False, lineage=Lineage(tables=[], columns={}),
        caveats=[f"caveat {hostile}"], freshness={}, sampling=[], audit_id="a1", timings={},
        summary=f"{hostile} leads",
    )
    text, blocks = answer_message(answer)
    everything = text + json.dumps(blocks)
    for formed in ("<@U123>", "<!channel>", "<https://", "\\u003c"):
        assert formed not in everything
    assert "&lt;@U123&gt;" in text
    table_block = blocks[1]["text"]["text"]
    assert table_block.startswith("```") and table_block.endswith("```")
    assert table_block[3:-3].count("```") == 0
