"""The LLM planner end to end against a scripted endpoint on 127.0.0.1, over the real demo lake."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from skipper import Skipper
from skipper.errors import (
    ConfigError,
    LLMGaveUpError,
    LLMResponseError,
    LLMTimeoutError,
    NotReadOnlyError,
)
from skipper.llm import LLMConfig, Visibility
from tests.conftest import DEMO_AS_OF
from tests.llm_stub import Reply, StubServer, completion, error, hang

MEDIAN = ("SELECT priority, median(date_diff('minute', opened_at, closed_at) / 60.0) AS "
          "median_hours FROM support_tickets WHERE closed_at IS NOT NULL GROUP BY priority "
          "ORDER BY priority")
QUESTION = "median ticket resolution time per priority"  # "median": the catalog planner stops
OPEN_P1 = {"metrics": ["tickets"], "breakdowns": ["plan"],
           "filters": [{"dimension": "ticket_status", "values": ["open"]},
                       {"dimension": "priority", "op": "in", "values": ["P1"]}]}

Lake = Callable[..., tuple[Skipper, StubServer]]


@pytest.fixture()
def lake(demo_database: Path, demo_catalog: Path, tmp_path: Path) -> Iterator[Lake]:
    """Opens a stub endpoint with a script and a Skipper on the demo lake that talks to it."""
    with ExitStack() as stack:
        def open_lake(script: list[Any], **options: Any) -> tuple[Skipper, StubServer]:
            server = stack.enter_context(StubServer(script))
            config = LLMConfig(model="stub-model", base_url=server.url, backoff_s=0.01,
                               **options)
            skipper = stack.enter_context(Skipper(
                demo_catalog, demo_database, today=DEMO_AS_OF,
                audit_log=tmp_path / "audit.jsonl", llm=config))
            return skipper, server
        yield open_lake


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tool_replies(server: StubServer) -> list[str]:
    """What Skipper sent back to the model for each tool call, in order."""
    last = server.requests[-1]["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


def sent(server: StubServer) -> str:
    return json.dumps(server.requests)


def test_end_to_end_with_repair_after_refusals(lake: Lake, demo_database: Path) -> None:
    before = digest(demo_database)
    skipper, server = lake([
        completion(("search_catalog", {"query": "ticket resolution priority"})),
        completion(("describe_table", {"table": "support_tickets"})),
        completion(("run_sql", {"sql": "DROP TABLE support_tickets"})),
        completion(("run_sql", {"sql": "SELECT priority, median(hours) FROM tickets GROUP BY 1"})),
        completion(("run_sql", {"sql": MEDIAN})),
        completion(("final_answer", {"sql": MEDIAN, "explanation": "Median hours to solve, "
                                                                   "by priority."})),
    ])
    answer = skipper.ask(QUESTION, planner="llm")

    expected = skipper.sql(MEDIAN)
    assert answer.status == "ok" and answer.planner == "llm"
    assert answer.rows == expected.rows and len(answer.rows) == 4
    assert answer.message == "Median hours to solve, by priority."
    assert answer.tables == ["support_tickets"] and answer.audit_id

    replies = tool_replies(server)
    assert "support_tickets" in replies[0]
    assert "Values: P1, P2, P3, P4" in replies[1] and "Rows: " in replies[1]
    assert replies[2].startswith("REFUSED (sql.not_read_only)")
    assert replies[3].startswith("REFUSED (sql.unknown_table)") and "'tickets'" in replies[3]
    assert json.loads(replies[4])["row_count"] == 4

    record = skipper.audit.get(answer.audit_id)
    assert record.outcome == "ok" and record.planner == "llm" and record.question == QUESTION
    llm = record.extra["llm"]
    assert llm["model"] == "stub-model" and llm["prompt_version"].startswith("v1-")
    assert (llm["prompt_tokens"], llm["completion_tokens"], llm["total_tokens"]) == (
        6 * 900, 6 * 40, 6 * 940)
    assert llm["llm_calls"] == 6 and llm["tool_call_count"] == 6
    assert llm["tool_calls"] == {"search_catalog": 1, "describe_table": 1, "run_sql": 3,
                                 "final_answer": 1}
    assert llm["refusals"] == 2 and llm["latency_ms"] > 0
    assert "support_tickets" in llm["context_tables"] and 0 < llm["context_tokens"] <= 3000

    records = list(skipper.audit.records())
    refused = [r for r in records if r.outcome == "refused"]
    assert [r.error["code"] for r in refused if r.error] == ["sql.not_read_only",
                                                          "sql.unknown_table"]
    assert all(r.planner == "llm.run_sql" for r in refused)
    assert digest(demo_database) == before
    assert skipper.sql("SELECT count(*) FROM support_tickets").rows[0][0] > 0


def test_the_first_prompt_is_grounded_and_small(lake: Lake) -> None:
    skipper, server = lake([completion(("final_answer", {"explanation": "no"}))])
    skipper.ask(QUESTION, planner="llm")
    request = server.requests[0]
    system, user = request["messages"]
    assert system["role"] == "system" and "2026-06-30" in system["content"]
    assert "### support_tickets" in user["content"] and QUESTION in user["content"]
    assert "employee_salaries" not in sent(server)
    assert [t["function"]["name"] for t in request["tools"]] == [
        "search_catalog", "describe_table", "run_sql", "final_answer"]
    assert request["temperature"] == 0


def test_a_semantic_query_compiles_through_the_catalog_compiler(lake: Lake) -> None:
    skipper, _ = lake([
        completion(("final_answer", {"semantic_query": {"metrics": ["ticket_volume"]},
                                     "explanation": "x"})),
        completion(("final_answer", {"semantic_query": OPEN_P1,
                                     "explanation": "Open P1 tickets per plan."})),
    ])
    answer = skipper.ask("which plans have unresolved sev-1 tickets?", planner="llm")
    by_catalog = skipper.ask("open P1 tickets by plan", planner="catalog")
    assert answer.status == "ok" and answer.semantic_query is not None
    assert answer.semantic_query.metrics == ["tickets"]
    assert sorted(answer.rows) == sorted(by_catalog.rows)
    assert answer.summary  # worded from the semantic query, like the catalog planner's
    record = skipper.audit.get(answer.audit_id)
    assert record.extra["llm"]["repairs"] == 1


def test_malformed_arguments_are_sent_back_once(lake: Lake) -> None:
    skipper, server = lake([
        completion(("run_sql", '{"sql": "SELECT 1')),  # cut-off JSON
        completion(("final_answer", {"sql": MEDIAN, "explanation": "ok"})),
    ])
    answer = skipper.ask(QUESTION, planner="llm")
    assert answer.status == "ok"
    assert tool_replies(server)[0].startswith("MALFORMED")


@pytest.mark.parametrize("second", [
    completion(("run_sql", "[1, 2]")),
    completion(content="SELECT * FROM accounts"),
    completion(("drop_everything", {})),
])
def test_malformed_twice_in_a_row_is_a_clear_error(lake: Lake, second: Reply) -> None:
    skipper, server = lake([completion(("run_sql", "not json at all")), second,
                            completion(("final_answer", {"sql": MEDIAN, "explanation": "late"}))])
    with pytest.raises(LLMResponseError) as caught:
        skipper.ask(QUESTION, planner="llm")
    assert caught.value.code == "llm.bad_response" and "tool call" in caught.value.message
    assert len(server.requests) == 2
    last = list(skipper.audit.records())[-1]
    assert last.outcome == "error" and last.error and last.error["code"] == "llm.bad_response"
    assert last.extra["llm"]["llm_calls"] == 2


def test_a_plain_text_reply_gets_one_reminder(lake: Lake) -> None:
    skipper, server = lake([
        completion(content="The median is about 10 hours."),
        completion(("final_answer", {"sql": MEDIAN, "explanation": "ok"})),
    ])
    assert skipper.ask(QUESTION, planner="llm").status == "ok"
    reminder = server.requests[1]["messages"][-1]
    assert reminder["role"] == "user" and reminder["content"].startswith("MALFORMED")


def test_a_model_that_keeps_writing_refused_sql_ends_in_a_clear_error(
    lake: Lake, demo_database: Path
) -> None:
    before = digest(demo_database)
    skipper, server = lake([
        completion(("run_sql", {"sql": "DROP TABLE accounts"})),
        completion(("run_sql", {"sql": "DELETE FROM accounts"})),
        completion(("final_answer", {"sql": "SELECT * FROM employee_salaries",
                                     "explanation": "salaries"})),
        completion(("final_answer", {"sql": "SELECT 1", "explanation": "never asked"})),
    ])
    with pytest.raises(LLMGaveUpError) as caught:
        skipper.ask(QUESTION, planner="llm")
    assert caught.value.code == "llm.refused_sql"
    assert "nothing it wrote was executed" in caught.value.message
    assert len(server.requests) == 3
    records = list(skipper.audit.records())
    assert [r.outcome for r in records] == ["refused", "refused", "refused", "error"]
    assert not any(r.outcome == "ok" for r in records)
    assert digest(demo_database) == before
    with pytest.raises(NotReadOnlyError):
        skipper.sql("DROP TABLE accounts")


def test_steps_are_bounded(lake: Lake) -> None:
    skipper, server = lake([completion(("search_catalog", {"query": "tickets"}))] * 10,
                           max_steps=4)
    with pytest.raises(LLMGaveUpError) as caught:
        skipper.ask(QUESTION, planner="llm")
    assert caught.value.code == "llm.step_limit" and len(server.requests) == 4


def test_the_wall_time_bounds_a_whole_question(lake: Lake) -> None:
    skipper, server = lake([hang(10)] * 3, wall_time_s=0.6, request_timeout_s=5)
    with pytest.raises(LLMTimeoutError):
        skipper.ask(QUESTION, planner="llm")
    assert len(server.requests) == 1


def test_an_empty_result_is_investigated_once(lake: Lake) -> None:
    wrong = "SELECT count(*) AS n FROM accounts WHERE plan = 'Enterprise' GROUP BY plan"
    right = "SELECT count(*) AS n FROM accounts WHERE plan = 'enterprise' GROUP BY plan"
    skipper, server = lake([
        completion(("final_answer", {"sql": wrong, "explanation": "none"})),
        completion(("describe_table", {"table": "accounts"})),
        completion(("final_answer", {"sql": right, "explanation": "Enterprise accounts."})),
    ])
    answer = skipper.ask("how many accounts are on the top plan?", planner="llm")
    assert answer.rows[0][0] > 0
    assert tool_replies(server)[0].startswith("CHECK: The query returned no rows.")


def test_an_empty_result_confirmed_by_the_model_is_accepted(lake: Lake) -> None:
    empty = "SELECT ticket_id FROM support_tickets WHERE priority = 'P0'"
    skipper, _ = lake([
        completion(("final_answer", {"sql": empty, "explanation": "none"})),
        completion(("final_answer", {"sql": empty, "explanation": "There are no P0 tickets."})),
    ])
    answer = skipper.ask("list P0 tickets", planner="llm")
    assert answer.status == "ok" and answer.row_count == 0


def test_the_model_may_say_it_cannot_answer(lake: Lake) -> None:
    skipper, _ = lake([completion(("final_answer", {
        "explanation": "The catalog has no salary data.\x1b[2J"}))])
    answer = skipper.ask("what do our engineers earn?", planner="llm")
    assert answer.status == "cannot_answer" and answer.planner == "llm"
    assert answer.message == "The catalog has no salary data. [2J"
    record = skipper.audit.get(answer.audit_id)
    assert record.outcome == "refused" and record.extra["llm"]["llm_calls"] == 1


def test_auto_uses_the_model_only_when_the_catalog_cannot_answer(lake: Lake) -> None:
    skipper, server = lake([completion(("final_answer", {"sql": MEDIAN, "explanation": "m"}))])
    plain = skipper.ask("how many enterprise accounts are in the EU?")
    assert plain.planner == "catalog" and server.requests == []
    answer = skipper.ask(QUESTION)
    assert answer.planner == "llm" and answer.status == "ok" and len(server.requests) == 1


def test_auto_falls_back_to_cannot_answer_when_the_model_fails(lake: Lake) -> None:
    skipper, _ = lake([error(401, "Incorrect API key provided")])
    answer = skipper.ask(QUESTION)
    assert answer.status == "cannot_answer" and answer.planner == "catalog"
    assert "median" in (answer.message or "") and "llm.unavailable" in (answer.message or "")


def test_without_a_model_auto_is_the_catalog_planner_and_llm_says_what_to_set(
    demo_database: Path, demo_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKIPPER_MODEL", raising=False)
    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF,
                 audit_log=tmp_path / "audit.jsonl") as skipper:
        assert skipper.llm_planner is None
        answer = skipper.ask(QUESTION)
        assert answer.status == "cannot_answer" and answer.planner == "catalog"
        with pytest.raises(ConfigError) as caught:
            skipper.ask(QUESTION, planner="llm")
    assert caught.value.code == "config.llm_missing"
    assert "SKIPPER_MODEL" in caught.value.message and "OPENAI_BASE_URL" in caught.value.message


def test_the_environment_configures_the_model(
    demo_database: Path, demo_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with StubServer([completion(("final_answer", {"sql": MEDIAN, "explanation": "m"}))]) as server:
        monkeypatch.setenv("SKIPPER_MODEL", "env-model")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF,
                     audit_log=tmp_path / "audit.jsonl") as skipper:
            answer = skipper.ask(QUESTION, planner="llm")
    assert answer.status == "ok" and server.requests[0]["model"] == "env-model"


def test_forbidden_tables_and_columns_never_reach_the_model(lake: Lake) -> None:
    skipper, server = lake([
        completion(("search_catalog", {"query": "billing revenue spend amount email"})),
        completion(("describe_table", {"table": "billing_usage"})),
        completion(("describe_table", {"table": "accounts"})),
        completion(("final_answer", {"explanation": "I cannot see billing."})),
    ])
    hidden = Visibility.of(
        visible_tables=[t.name for t in skipper.catalog.tables if t.name != "billing_usage"],
        hidden_columns={"accounts": ["email"]})
    planner = skipper.llm_planner
    assert planner is not None
    result = planner.plan("top customers by revenue, with contact details", visibility=hidden,
                          run=lambda sql, tool: skipper.sql(sql, planner=f"llm.{tool}"))
    assert result.plan.status == "cannot_answer"
    replies = tool_replies(server)
    assert replies[1] == ("No table named billing_usage. Call search_catalog to find the right "
                          "table.")  # the words a missing table gets: nothing is revealed
    written_by_skipper = [m["content"] for r in server.requests for m in r["messages"]
                          if m["role"] in ("system", "user")] + [replies[0], replies[2]]
    for secret in ("billing_usage", "amount_usd", "r2_storage", "email", "spend"):
        text = "\n".join(written_by_skipper)
        assert secret not in text, secret
    assert "### accounts" in tool_replies(server)[2]


def test_describe_table_introspection_is_cached(lake: Lake) -> None:
    skipper, server = lake([
        completion(("describe_table", {"table": "http_requests_sampled"})),
        completion(("describe_table", {"table": "http_requests_sampled"})),
        completion(("final_answer", {"explanation": "done"})),
    ])
    skipper.ask("countries", planner="llm")
    first, second = tool_replies(server)[:2]
    assert first == second and "client_country VARCHAR" in first
    assert "most common:" in first or "All values:" in first
    introspection = [r for r in skipper.audit.records() if r.planner == "llm.describe_table"]
    assert introspection and all(r.outcome == "ok" for r in introspection)
    sqls = [r.sql for r in introspection]
    assert len(sqls) == len(set(sqls))  # the second describe ran nothing: it was cached


def test_catalog_only_installs_work_without_the_llm_extra(
    demo_database: Path, demo_catalog: Path, tmp_path: Path
) -> None:
    """In a real subprocess where openai, bm25s and tiktoken cannot be imported."""
    import subprocess
    import sys

    code = f"""
import importlib.abc, os, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {{"openai", "bm25s", "tiktoken", "Stemmer"}}:
            raise ImportError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
os.environ.pop("SKIPPER_MODEL", None)
from skipper import Skipper
from skipper.errors import ConfigError
sk = Skipper({str(demo_catalog)!r}, {str(demo_database)!r}, today="2026-06-30",
             audit_log={str(tmp_path / "audit.jsonl")!r})
print(sk.ask({QUESTION!r}).status)
sk.remember("how many accounts", "SELECT count(*) FROM accounts")
print(sk.ask("How many accounts?").planner)
os.environ["SKIPPER_MODEL"] = "m"
os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
sk2 = Skipper({str(demo_catalog)!r}, {str(demo_database)!r}, today="2026-06-30",
              audit_log={str(tmp_path / "audit.jsonl")!r})
try:
    sk2.ask("x", planner="llm")
except ConfigError as error:
    print(error.code)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cannot_answer", "catalog", "config.missing_extra"]
