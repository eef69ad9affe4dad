"""`skipper sql`: run one SQL text through the guard, the sandbox and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skipper.cli.output import console, fail, print_json
from skipper.cli.render import print_answer
from skipper.errors import SkipperError

CatalogOption = Annotated[
    Path | None, typer.Option("--catalog", help="Catalog directory (default: the demo's).")
]
DatabaseOption = Annotated[
    Path | None, typer.Option("--database", help="DuckDB file (default: the demo lake).")
]


def sql(
    text: Annotated[str, typer.Argument(help="One read-only SQL query.")],
    catalog: CatalogOption = None,
    database: DatabaseOption = None,
    user: Annotated[str | None, typer.Option(help="Run as this catalog user.")] = None,
    json: Annotated[
        bool, typer.Option("--json", help="Print the answer as one JSON object.")
    ] = False,
    max_rows: Annotated[int, typer.Option(help="Return at most this many rows.")] = 1000,
    timeout: Annotated[float, typer.Option(help="Per-query timeout in seconds.")] = 30.0,
) -> None:
    """Run SQL through Skipper: guarded, sandboxed, annotated and audited."""
    from skipper.cli.options import open_skipper

    try:
        with open_skipper(
            catalog, database, user=user, max_rows=max_rows, timeout_s=timeout
        ) as skipper:
            answer = skipper.sql(text)
    except SkipperError as error:
        fail(error, as_json=json)
    if json:
        print_json(answer.to_dict())
    else:
        print_answer(console, answer)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
