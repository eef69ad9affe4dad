"""`skipper ask`: a plain-English question answered from the catalog, with the SQL it ran."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from skipper.cli.options import (
    AuditLogOption,
    CatalogOption,
    DatabaseOption,
    JsonOption,
    MaxRowsOption,
    TimeoutOption,
    open_skipper,
)
from skipper.cli.output import EXIT_CANNOT_ANSWER, console, fail, print_json
from skipper.errors import SkipperError

if TYPE_CHECKING:
    pass



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
    if getattr(answer, "status", "ok") == "cannot_answer":
        _cannot_answer(answer, as_json=json)
        raise typer.Exit(EXIT_CANNOT_ANSWER)
    if json:
        print_json(answer.to_dict())
        return
    from skipper.cli.render import print_answer

    print_answer(console, answer)


def _cannot_answer(answer: Any, *, as_json: bool) -> None:
    message = getattr(answer, "message", "") or "The question cannot be answered from the catalog."
    suggestions = list(getattr(answer, "suggestions", []) or [])
    if as_json:
        print_json({
            "status": "cannot_answer",
            "question": getattr(answer, "question", None),
            "message": message,
            "suggestions": suggestions,
            "unknown_words": list(getattr(answer, "unknown_words", []) or []),
        })
        return
    from rich.markup import escape

    console.print(f"[bold yellow]Cannot answer[/]: {escape(message)}", highlight=False,
                  soft_wrap=True)
    if suggestions:
        console.print("Try: " + escape(", ".join(suggestions)), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
