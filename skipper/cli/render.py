"""Answers as people read them in a terminal: a table, the caveats, then the exact SQL."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from skipper.answer import Answer, json_value

MAX_TERMINAL_ROWS = 50


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    shown = json_value(value)
    if isinstance(shown, float):
        return f"{shown:,.0f}" if shown == int(shown) else f"{shown:,.2f}"
    if isinstance(shown, int) and not isinstance(shown, bool):
        return f"{shown:,}"
    return str(shown)


def answer_renderable(answer: Answer, *, show_sql: bool = True) -> RenderableType:
    parts: list[RenderableType] = []
    if answer.summary:
        parts.append(Text(answer.summary, style="bold"))
    table = Table(show_header=True, header_style="bold cyan", show_edge=True)
    types = [str(t) for t in answer.table.schema.types]
    numeric = [t.startswith(("int", "uint", "double", "float", "decimal")) for t in types]
    for name, is_number in zip(answer.columns, numeric, strict=True):
        table.add_column(escape(name), justify="right" if is_number else "left")
    for row in answer.rows[:MAX_TERMINAL_ROWS]:
        table.add_row(*(escape(_cell(v)) for v in row))
    parts.append(table)
    shown = min(len(answer.rows), MAX_TERMINAL_ROWS)
    count = f"{answer.row_count:,} row{'s' if answer.row_count != 1 else ''}"
    if shown < answer.row_count:
        count += f" (showing {shown:,})"
    parts.append(Text(count, style="dim"))
    if answer.caveats:
        caveats = Text()
        for i, caveat in enumerate(answer.caveats):
            caveats.append(("\n" if i else "") + "! ", style="bold yellow")
            caveats.append(caveat)
        parts.append(Panel(caveats, title="Caveats", border_style="yellow", expand=False))
    if show_sql:
        parts.append(Panel(Syntax(answer.sql, "sql", word_wrap=True), title="SQL",
                           border_style="dim", expand=False))
    tables = ", ".join(answer.tables) or "none"
    parts.append(Text(f"tables: {tables}   audit id: {answer.audit_id}   "
                      f"{answer.timings.get('total_ms', 0):.0f} ms", style="dim"))
    return Group(*parts)


def print_answer(console: Console, answer: Answer, *, show_sql: bool = True) -> None:
    console.print(answer_renderable(answer, show_sql=show_sql))
