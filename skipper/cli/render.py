"""Answers in the terminal: the CLI prints what skipper.display renders."""

from __future__ import annotations

from rich.console import Console

from skipper.answer import Answer
from skipper.display import answer_renderable


def print_answer(console: Console, answer: Answer, *, show_sql: bool = True) -> None:
    console.print(answer_renderable(answer, show_sql=show_sql))
