"""`skipper ask`: a plain-English question answered from the catalog, with the SQL it ran."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from skipper.cli.output import EXIT_CANNOT_ANSWER, console, fail, print_json
from skipper.errors import SkipperError

if TYPE_CHECKING:
    pass

CatalogOption = Annotated[
    Path | None, typer.Option("--catalog", help="Catalog directory (default: the demo's).")
]
DatabaseOption = Annotated[
    Path | None, typer.Option("--database", help="DuckDB file (default: the demo lake).")
]


def ask(
    question: Annotated[str, typer.Argument(help="A question in plain English.")],
    catalog: CatalogOption = None,
    database: DatabaseOption = None,
    user: Annotated[str | None, typer.Option(help="Ask as this catalog user.")] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the answer as one JSON object.")
    ] = False,
    max_rows: Annotated[int, typer.Option(help="Return at most this many rows.")] = 1000,
    timeout: Annotated[float, typer.Option(help="Per-query timeout in seconds.")] = 30.0,
    planner: Annotated[
        str,
        typer.Option(help="auto (catalog, then the LLM if configured), catalog or llm."),
    ] = "auto",
) -> None:
    """Answer a question from the catalog: a summary, the rows, caveats and the exact SQL.

    Exits 3 when the question cannot be answered from the catalog (it says which words it did
    not understand and suggests catalog terms), 1 on errors.
    """
    from skipper.cli.options import open_skipper

    try:
        with open_skipper(catalog, database, user=user, max_rows=max_rows,
                          timeout_s=timeout) as skipper:
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
