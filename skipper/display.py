"""Answers as notebooks and terminals show them: HTML for Jupyter, rich for terminals (where
every value is shown, never obeyed: control characters as escapes, no markup)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text

from skipper.answer import Answer, json_value
from skipper.text import visible

if TYPE_CHECKING:
    import pyarrow as pa

MAX_HTML_ROWS = 20
MAX_TERMINAL_ROWS = 50
MAX_CELL_CHARS = 200

_STYLE = """<style>
.skipper-answer{font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;margin:4px 0}
.skipper-answer .sk-question{color:#555;margin:0 0 4px}
.skipper-answer .sk-summary{font-weight:600;margin:0 0 6px}
.skipper-answer table.sk-rows{border-collapse:collapse;margin:4px 0}
.skipper-answer table.sk-rows th,.skipper-answer table.sk-rows td{border:1px solid #ddd;
padding:2px 8px;text-align:left}
.skipper-answer table.sk-rows td.sk-num{text-align:right;font-variant-numeric:tabular-nums}
.skipper-answer .sk-count,.skipper-answer .sk-meta{color:#777;font-size:12px;margin:2px 0}
.skipper-answer .sk-caveats{background:#fff4d6;border-left:4px solid #e0a800;padding:4px 8px;
margin:6px 0;color:#5c4400}
.skipper-answer .sk-cannot{background:#eef3ff;border-left:4px solid #5b7bd5;padding:4px 8px}
.skipper-answer details{margin:6px 0}
.skipper-answer details pre{margin:4px 0;padding:6px;overflow-x:auto}
</style>"""


def format_cell(value: Any) -> str:
    """A result value as people read it: thousands separators, two decimals, NULL for None."""
    if value is None:
        return "NULL"
    shown = json_value(value)
    if isinstance(shown, bool):
        return str(shown).lower()
    if isinstance(shown, float):
        return f"{shown:,.0f}" if shown == int(shown) else f"{shown:,.2f}"
    if isinstance(shown, int):
        return f"{shown:,}"
    text = shown if isinstance(shown, str) else str(shown)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def is_numeric(type_: pa.DataType) -> bool:
    """Whether a result column holds numbers (right-aligned in tables, a measure in charts)."""
    import pyarrow as pa

    return bool(pa.types.is_integer(type_) or pa.types.is_floating(type_)
                or pa.types.is_decimal(type_))


def numeric_columns(answer: Answer) -> list[bool]:
    return [is_numeric(t) for t in answer.table.schema.types]


def count_words(answer: Answer, shown: int) -> str:
    count = f"{answer.row_count:,} row{'' if answer.row_count == 1 else 's'}"
    return count + (f" (showing {shown:,})" if shown < answer.row_count else "")


def sql_html(sql: str) -> str:
    """The SQL highlighted by pygments with inline styles (notebooks strip <style> sometimes)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    return highlight(sql, SqlLexer(), HtmlFormatter(noclasses=True, nowrap=False))


def answer_html(answer: Answer, *, max_rows: int = MAX_HTML_ROWS, style: bool = True) -> str:
    """The answer as one HTML fragment; every value from data, question or catalog is escaped."""
    e = html.escape
    parts = ['<div class="skipper-answer">']
    if style:
        parts.append(_STYLE)
    if answer.question:
        parts.append(f'<p class="sk-question">Q: {e(answer.question)}</p>')
    if answer.status == "needs_clarification":
        parts.append(f'<div class="sk-clarify"><b>Which did you mean?</b> '
                     f'{e(answer.message or "")}<ol>')
        parts.extend(f"<li><code>{e(choice)}</code></li>" for choice in answer.choices)
        parts.append("</ol></div>")
    elif answer.status == "cannot_answer":
        parts.append(f'<div class="sk-cannot"><b>Cannot answer.</b> {e(answer.message or "")}')
        if answer.suggestions:
            parts.append("<br>Try: " + ", ".join(f"<code>{e(s)}</code>"
                                                 for s in answer.suggestions))
        parts.append("</div>")
    else:
        if answer.interpretation:
            parts.append(f'<p class="sk-reading"><b>Read as:</b> {e(answer.interpretation)}</p>')
        if answer.summary:
            parts.append(f'<p class="sk-summary">{e(answer.summary)}</p>')
        if answer.message and not answer.interpretation:
            parts.append(f'<p class="sk-message">{e(answer.message)}</p>')
        parts.append(_table_html(answer, max_rows))
        shown = min(len(answer.rows), max_rows)
        parts.append(f'<p class="sk-count">{e(count_words(answer, shown))}</p>')
    if answer.caveats:
        items = "".join(f"<li>{e(c)}</li>" for c in answer.caveats)
        parts.append(f'<div class="sk-caveats"><b>&#9888; Caveats</b><ul>{items}</ul></div>')
    if answer.sql:
        parts.append(f"<details><summary>SQL</summary>{sql_html(answer.sql)}</details>")
    meta = []
    if answer.tables:
        meta.append("tables: " + ", ".join(e(t) for t in answer.tables))
    meta.append(f"audit id: <code>{e(answer.audit_id)}</code>")
    if answer.user:
        meta.append(f"user: {e(answer.user)}")
    if "total_ms" in answer.timings:
        meta.append(f"{answer.timings['total_ms']:.0f} ms")
    parts.append(f'<p class="sk-meta">{" · ".join(meta)}</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _table_html(answer: Answer, max_rows: int) -> str:
    e = html.escape
    numeric = numeric_columns(answer)
    head = "".join(f"<th>{e(c)}</th>" for c in answer.columns)
    body = []
    for row in answer.rows[:max_rows]:
        cells = "".join(
            f'<td class="sk-num">{e(format_cell(v))}</td>' if is_number
            else f"<td>{e(format_cell(v))}</td>"
            for v, is_number in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return (f'<table class="sk-rows"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def thread_html(answers: Iterable[Answer]) -> str:
    """A conversation (a Session's answers) as one thread, each turn under its question."""
    turns = [answer_html(a, style=i == 0) for i, a in enumerate(answers)]
    if not turns:
        return '<div class="skipper-thread"><i>No questions asked yet.</i></div>'
    joined = '\n<hr style="border:0;border-top:1px dashed #ccc">\n'.join(turns)
    return f'<div class="skipper-thread" style="border-left:3px solid #ccc;padding-left:10px">' \
           f"\n{joined}\n</div>"


def _text(value: str, style: str = "", *, multiline: bool = True) -> Text:
    """Text for a rich console as plain text: never markup, control characters as escapes."""
    return Text(visible(value, multiline=multiline), style=style)


def answer_renderable(answer: Answer, *, show_sql: bool = True) -> RenderableType:
    """An answered query for a terminal: summary, rows, count, caveats, the SQL, audit id.

    Every string from data, the question, the catalog or the SQL goes in as a Text of its
    visible form (skipper.text.visible), so it renders the same on any rich console, whatever
    its markup setting, and cannot drive the terminal."""
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table

    parts: list[RenderableType] = []
    if answer.interpretation:
        reading = Text("Read as: ", style="bold")
        reading.append(visible(answer.interpretation))
        parts.append(reading)
    if answer.summary:
        parts.append(_text(answer.summary, "bold"))
    table = Table(show_header=True, header_style="bold cyan", show_edge=True)
    for name, is_number in zip(answer.columns, numeric_columns(answer), strict=True):
        table.add_column(_text(name, multiline=False), justify="right" if is_number else "left")
    shown = answer.rows[:MAX_TERMINAL_ROWS]
    for row in shown:
        table.add_row(*(_text(format_cell(v), multiline=False) for v in row))
    parts.append(table)
    parts.append(Text(count_words(answer, len(shown)), style="dim"))
    if answer.caveats:
        caveats = Text()
        for i, caveat in enumerate(answer.caveats):
            caveats.append(("\n" if i else "") + "! ", style="bold yellow")
            caveats.append(visible(caveat))
        parts.append(Panel(caveats, title="Caveats", border_style="yellow", expand=False))
    if show_sql:
        parts.append(Panel(Syntax(visible(answer.sql), "sql", word_wrap=True), title="SQL",
                           border_style="dim", expand=False))
    tables = ", ".join(answer.tables) or "none"
    parts.append(_text(f"tables: {tables}   audit id: {answer.audit_id}   "
                       f"{answer.timings.get('total_ms', 0):.0f} ms", "dim"))
    return Group(*parts)


def answer_rich(answer: Answer) -> RenderableType:
    """The answer for a rich console (the CLI's rendering, with the question and refusals)."""
    parts: list[RenderableType] = []
    if answer.question:
        parts.append(_text(f"Q: {answer.question}", "dim"))
    if answer.status == "needs_clarification":
        parts.append(clarification_rich(answer))
        parts.append(_text(f"audit id: {answer.audit_id}", "dim"))
    elif answer.status == "cannot_answer":
        text = Text("Cannot answer: ", style="bold yellow")
        text.append(visible(answer.message or ""))
        if answer.suggestions:
            text.append(visible("\nTry: " + ", ".join(answer.suggestions)))
        parts.append(text)
        parts.append(_text(f"audit id: {answer.audit_id}", "dim"))
    else:
        parts.append(answer_renderable(answer))
    return Group(*parts)


def clarification_rich(answer: Answer) -> Text:
    """"Which did you mean?" and the numbered readings, each a question that runs as is."""
    text = Text("Which did you mean? ", style="bold yellow")
    text.append(visible(answer.message or ""))
    for i, choice in enumerate(answer.choices, 1):
        text.append(f"\n  {i}. ", style="bold")
        text.append(visible(choice))
    return text


def thread_rich(answers: Iterable[Answer]) -> RenderableType:
    from rich.rule import Rule

    parts: list[RenderableType] = []
    for i, answer in enumerate(answers):
        if i:
            parts.append(Rule(style="dim"))
        parts.append(answer_rich(answer))
    return Group(*parts)
