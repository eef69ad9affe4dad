"""`skipper ask`: a plain-English question answered from the catalog, with the SQL it ran."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from skipper.answer import Answer
from skipper.cli.options import (
    AuditLogOption,
    CatalogOption,
    DatabaseOption,
    JsonOption,
    MaxRowsOption,
    TimeoutOption,
    open_skipper,
)
from skipper.cli.output import EXIT_CANNOT_ANSWER, console, fail, print_json, styled
from skipper.errors import SkipperError


def ask(
    question: Annotated[str, typer.Argument(help="A question in plain English.")],
    catalog: CatalogOption = None,
    database: DatabaseOption = None,
    user: Annotated[str | None, typer.Option(help="Ask as this catalog user.")] = None,
    json: JsonOption = False,
    max_rows: MaxRowsOption = 1000,
    timeout: TimeoutOption = 30.0,
    audit_log: AuditLogOption = None,
    planner: Annotated[
        str,
        typer.Option(help="auto (catalog, then the LLM if configured), catalog or llm."),
    ] = "auto",
) -> None:
    """Answer a question from the catalog: a summary, the rows, caveats and the exact SQL.

    Exits 3 when the question cannot be answered from the catalog (it says which words it did
    not understand and suggests catalog terms), 1 on errors.
    """
    try:
        with open_skipper(catalog, database, user=user, max_rows=max_rows,
                          timeout_s=timeout,
                          audit_log=audit_log) as skipper:
            answer = skipper.ask(question, user=user, planner=planner)
    except SkipperError as error:
        fail(error, as_json=json)
    if json:
        print_json(answer.to_dict())
    elif answer.status == "cannot_answer":
        _cannot_answer(answer)
    elif answer.status == "needs_clarification":
        _clarify(answer)
    else:
        from skipper.cli.render import print_answer

        print_answer(console, answer)
    if answer.status != "ok":
        raise typer.Exit(EXIT_CANNOT_ANSWER)


def _cannot_answer(answer: Answer) -> None:
    message = answer.message or "The question cannot be answered from the catalog."
    console.print(styled("[bold yellow]Cannot answer[/]: {}", message), soft_wrap=True)
    if answer.suggestions:
        console.print("Try: " + ", ".join(answer.suggestions), highlight=False, soft_wrap=True)


def _clarify(answer: Answer) -> None:
    from skipper.display import clarification_rich

    console.print(clarification_rich(answer), soft_wrap=True)
    console.print("Ask again with one of them, e.g. skipper ask " + shlex.quote(answer.choices[0])
                  if answer.choices else "", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
