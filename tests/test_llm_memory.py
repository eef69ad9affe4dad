"""Remembered answers: guarded before they are kept, answered exactly, shown as examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from skipper import Skipper
from skipper.catalog.models import CatalogFile
from skipper.errors import NotReadOnlyError, UnknownTableError
from skipper.llm.memory import VerifiedQueries, normalise
from tests.conftest import DEMO_AS_OF

SQL = ("SELECT priority, count(*) AS solved FROM support_tickets WHERE status = 'solved' "
       "GROUP BY priority ORDER BY priority")
QUESTION = "How many tickets has support closed, per priority?"


@pytest.fixture()
def skipper(demo_database: Path, demo_catalog: Path, tmp_path: Path):
    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF, llm=False,
                 audit_log=tmp_path / "audit.jsonl") as skipper:
        yield skipper


def test_remember_then_the_exact_question_is_answered_with_it(skipper: Skipper) -> None:
    before = skipper.ask(QUESTION)
    entry = skipper.remember(QUESTION, SQL, user="ana")
    assert entry.verified_by == "ana" and "remembered" in entry.tags
    answer = skipper.ask("how many tickets has support closed per priority")
    assert answer.status == "ok" and answer.planner == "catalog"
    assert answer.rows == skipper.sql(SQL).rows
    assert "remembered query" in (answer.message or "")
    assert before.sql != answer.sql
    records = list(skipper.audit.records())
    assert any(r.planner == "remember" and r.outcome == "ok" for r in records)


def test_refused_sql_is_never_remembered(skipper: Skipper) -> None:
    with pytest.raises(NotReadOnlyError):
        skipper.remember(QUESTION, "DROP TABLE support_tickets")
    with pytest.raises(UnknownTableError):
        skipper.remember(QUESTION, "SELECT * FROM employee_salaries")
    assert skipper.memory.all() == []
    assert not skipper.memory.path.exists()


def test_the_store_is_a_catalog_file_and_a_question_is_kept_once(skipper: Skipper) -> None:
    skipper.remember(QUESTION, SQL)
    skipper.remember(QUESTION.upper(), SQL.replace("ORDER BY priority", "ORDER BY solved DESC"))
    skipper.remember("How many accounts are there?", "SELECT count(*) FROM accounts")
    path = skipper.memory.path
    assert path.name == "town_lake.duckdb.verified.yaml"
    assert path.parent == skipper.audit.path.parent
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Questions answered and confirmed")
    entries = CatalogFile.model_validate(yaml.safe_load(text)).verified_queries
    assert [e.question for e in entries] == [QUESTION.upper(), "How many accounts are there?"]
    assert VerifiedQueries(path).find("how many accounts are there") is not None
    assert normalise("How many  accounts, there?") == "how many accounts there"


def test_a_follow_up_is_not_answered_from_memory(skipper: Skipper) -> None:
    skipper.remember("open tickets", "SELECT count(*) FROM support_tickets WHERE status = 'open'")
    first = skipper.ask("tickets by plan")
    answer = skipper.ask("open tickets", previous=first.semantic_query)
    assert "remembered" not in (answer.message or "")


def test_remembered_answers_become_llm_examples(
    demo_database: Path, demo_catalog: Path, tmp_path: Path
) -> None:
    from skipper.llm import LLMConfig

    config = LLMConfig(model="unused", base_url="http://127.0.0.1:9/v1")
    with Skipper(demo_catalog, demo_database, today=DEMO_AS_OF, llm=config,
                 audit_log=tmp_path / "audit.jsonl") as skipper:
        planner = skipper.llm_planner
        assert planner is not None
        _, before = planner.first_messages("tickets support solved for each priority level")
        skipper.remember(QUESTION, SQL)
        _, after = planner.first_messages("tickets support solved for each priority level")
    assert QUESTION not in before.examples and QUESTION in after.examples
