"""Happy paths of the LLM planner replayed from vcrpy cassettes in the OpenAI wire format.

The cassettes in tests/cassettes/ were written by hand (see their header): nothing here reaches
a network. ``SKIPPER_RECORD_CASSETTES=1`` with SKIPPER_MODEL and OPENAI_API_KEY (and optionally
OPENAI_BASE_URL) re-records them against a real endpoint; the checks that hold for any good model
(the rows match hand-written SQL) run either way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr
from pydantic import SecretStr
from vcr.request import Request

from skipper import Skipper
from skipper.llm import LLMConfig
from tests.conftest import DEMO_AS_OF

CASSETTES = Path(__file__).parent / "cassettes"
RECORDING = os.environ.get("SKIPPER_RECORD_CASSETTES") == "1"


def same_turn(recorded: Request, sent: Request) -> None:
    """Requests match when they ask the same model with the same tools at the same turn."""
    a, b = _body(recorded), _body(sent)
    assert a.get("model") == b.get("model"), "a different model"
    assert _tools(a) == _tools(b), "different tools"
    assert len(a.get("messages", [])) == len(b.get("messages", [])), "a different turn"
    assert _question(a) == _question(b), "a different question"


def _question(body: dict[str, Any]) -> str:
    messages = body.get("messages", [])
    return str(messages[1]["content"]).splitlines()[0] if len(messages) > 1 else ""


def _body(request: Request) -> dict[str, Any]:
    body = request.body
    return json.loads(body.decode() if isinstance(body, bytes) else body or "{}")


def _tools(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools", [])]


def cassette(name: str) -> Any:
    player = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "scheme", "host", "port", "path", "same_turn"],
        filter_headers=["authorization", "api-key", "openai-organization", "cookie",
                        "set-cookie", "openai-project"],
        decode_compressed_response=True,
    )
    player.register_matcher("same_turn", same_turn)
    return player.use_cassette(f"{name}.yaml")


@pytest.fixture()
def skipper(demo_database: Path, demo_catalog: Path, tmp_path: Path) -> Iterator[Skipper]:
    if RECORDING:
        config = LLMConfig.from_env()
        assert config is not None, "set SKIPPER_MODEL (and OPENAI_API_KEY) to re-record"
    else:  # the default endpoint, intercepted by vcrpy: no request leaves the process
        config = LLMConfig(model="gpt-4o-mini", api_key=SecretStr("sk-test-not-a-real-key"))
    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF,
                 audit_log=tmp_path / "audit.jsonl", llm=config) as skipper:
        yield skipper


def test_a_semantic_query_answer(skipper: Skipper) -> None:
    with cassette("llm_semantic_query") as played:
        answer = skipper.ask("Which plans are sitting on open sev-1 tickets right now?",
                             planner="llm")
    gold = skipper.sql(
        "SELECT a.plan, count(*) AS tickets FROM support_tickets t JOIN accounts a "
        "ON a.account_id = t.account_id WHERE t.status = 'open' AND t.priority = 'P1' "
        "GROUP BY a.plan")
    assert answer.status == "ok" and answer.planner == "llm"
    assert sorted(answer.rows) == sorted(gold.rows)
    record = skipper.audit.get(answer.audit_id)
    llm = record.extra["llm"]
    assert record.planner == "llm" and llm["prompt_version"].startswith("v")
    if not RECORDING:
        assert played.all_played and played.play_count == 2
        assert answer.semantic_query is not None and answer.semantic_query.metrics == ["tickets"]
        assert answer.message == "Open P1 (sev-1) tickets counted per customer plan."
        assert answer.summary
        assert llm["model"] == "gpt-4o-mini" and llm["llm_calls"] == 2
        assert (llm["prompt_tokens"], llm["completion_tokens"]) == (1987 + 2296, 24 + 71)
        assert llm["tool_calls"] == {"search_catalog": 1, "final_answer": 1}


def test_a_sql_answer_after_a_guard_refusal(skipper: Skipper) -> None:
    with cassette("llm_sql_repair") as played:
        answer = skipper.ask("What is the median time to resolve a ticket, per priority?",
                             planner="llm")
    gold = skipper.sql(
        "SELECT priority, median(date_diff('minute', opened_at, closed_at) / 60.0) "
        "FROM support_tickets WHERE closed_at IS NOT NULL GROUP BY priority ORDER BY priority")
    assert answer.status == "ok" and answer.rows == gold.rows
    assert answer.tables == ["support_tickets"]
    if not RECORDING:
        assert played.all_played and played.play_count == 3
        sent = _body(played.requests[2])
        replies = [m["content"] for m in sent["messages"] if m["role"] == "tool"]
        assert replies[0].startswith("REFUSED (sql.unknown_column)")
        assert "resolved_at" in replies[0]
        assert json.loads(replies[1])["row_count"] == 4
        records = list(skipper.audit.records())
        assert [(r.planner, r.outcome) for r in records] == [
            ("llm.run_sql", "refused"), ("llm.run_sql", "ok"), ("llm.final_answer", "ok"),
            ("llm", "ok"), (None, "ok")]
        assert records[3].extra["llm"]["refusals"] == 1
        assert records[3].extra["llm"]["total_tokens"] == 1995 + 58 + 2129 + 66 + 2287 + 92


def test_no_cassette_request_leaves_the_process(skipper: Skipper) -> None:
    """An unexpected extra turn fails loudly instead of reaching api.openai.com."""
    from vcr.errors import CannotOverwriteExistingCassetteException

    if RECORDING:
        pytest.skip("recording")
    with cassette("llm_semantic_query"), pytest.raises(CannotOverwriteExistingCassetteException):
        skipper.ask("median ticket resolution time per priority", planner="llm")
    question = "Which plans are sitting on open sev-1 tickets right now?"
    with cassette("llm_semantic_query"):
        skipper.ask(question, planner="llm")
        with pytest.raises(CannotOverwriteExistingCassetteException):
            skipper.ask(question, planner="llm")  # every recorded turn is played once
