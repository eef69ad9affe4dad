"""Answers in notebooks (HTML) and terminals (rich): what they show, and that data is escaped."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from rich.console import Console

from skipper.annotate import Lineage
from skipper.answer import Answer
from skipper.display import answer_html, format_cell

HOSTILE = '<script>alert("x")</script>'


def hostile_answer() -> Answer:
    return Answer(
        sql=f"SELECT '{HOSTILE}' AS v", table=pa.table({HOSTILE: [HOSTILE, "b & c"], "n": [1, 2]}),
        row_count=2, truncated=False, lineage=Lineage(tables=[HOSTILE], columns={}),
        caveats=[f"careful {HOSTILE}"], freshness={}, sampling=[], audit_id=f"id{HOSTILE}",
        timings={"total_ms": 3.0}, user=HOSTILE, question=f"why {HOSTILE}?",
        summary=f"{HOSTILE} leads", message=HOSTILE,
    )


def test_answer_html_shows_summary_table_count_caveats_sql_and_audit_id(
    skipper_on_demo: Any,
) -> None:
    answer = skipper_on_demo.ask("daily requests last 30 days", user="ana")
    html = answer._repr_html_()
    assert answer.summary and answer.summary in html
    assert "<table" in html and "<th>day</th>" in html and "2026-06-30" in html
    assert html.count("<tr>") == 1 + 20  # header + the first 20 rows
    assert "30 rows (showing 20)" in html
    assert 'class="sk-caveats"' in html and "1% sample" in html
    assert "<details><summary>SQL</summary>" in html
    assert "http_requests_sampled" in html.split("<details>", 1)[1]
    assert "style=" in html.split("<details>", 1)[1]  # pygments highlighting, inline styles
    assert answer.audit_id in html
    assert 'class="sk-num">13,313,902,700<' in html  # numbers formatted and right-aligned


def test_every_value_is_escaped() -> None:
    html = answer_html(hostile_answer())
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 8  # column, value, caveat, table, id, user, question…
    assert "b &amp; c" in html


def test_cannot_answer_html_shows_the_message_and_suggestions(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("what is the meaning of life", user="ana")
    html = answer_html(answer)
    assert "Cannot answer." in html and "<table" not in html
    assert all(f"<code>{s}</code>" in html for s in answer.suggestions[:2])
    assert answer.audit_id in html


def test_session_renders_as_a_thread(skipper_on_demo: Any) -> None:
    session = skipper_on_demo.session(user="ana")
    assert "No questions asked yet" in session._repr_html_()
    session.ask("tickets by priority")
    session.ask("now by status")
    html = session._repr_html_()
    assert html.startswith('<div class="skipper-thread"')
    first, second = html.index("Q: tickets by priority"), html.index("Q: now by status")
    assert first < second
    assert html.count("<style>") == 1
    assert "ticket_status" in html[second:]


def test_rich_rendering(skipper_on_demo: Any) -> None:
    answer = skipper_on_demo.ask("tickets by priority", user="ana")
    console = Console(record=True, width=120, color_system=None)
    console.print(answer)
    text = console.export_text()
    assert "Q: tickets by priority" in text
    assert "P3 has the most tickets" in text
    assert "2,389" in text and "audit id: " + answer.audit_id in text
    console = Console(record=True, width=120, color_system=None)
    session = skipper_on_demo.session(user="ana")
    session.ask("tickets by priority")
    session.ask("what is the meaning of life")
    console.print(session)
    text = console.export_text()
    assert "Q: tickets by priority" in text and "Cannot answer" in text


def test_rich_does_not_read_markup_from_data() -> None:
    answer = hostile_answer()
    answer.question = "[bold red]injected[/]"
    console = Console(record=True, width=120, color_system=None)
    console.print(answer)
    assert "[bold red]injected[/]" in console.export_text()


def test_format_cell() -> None:
    assert format_cell(None) == "NULL"
    assert format_cell(1234567) == "1,234,567"
    assert format_cell(2.5) == "2.50"
    assert format_cell(True) == "true"
    assert format_cell("x" * 500).endswith("…")
