"""`skipper sql`: run one SQL text through the guard, the sandbox and the audit log."""

from __future__ import annotations

from typing import Annotated

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
from skipper.cli.output import console, fail, print_json
from skipper.cli.render import print_answer
from skipper.errors import SkipperError


def sql(
    text: Annotated[str, typer.Argument(help="One read-only SQL query.")],
    catalog: CatalogOption = None,
    database: DatabaseOption = None,
    user: Annotated[str | None, typer.Option(help="Run as this catalog user.")] = None,
    json: JsonOption = False,
    max_rows: MaxRowsOption = 1000,
    timeout: TimeoutOption = 30.0,
    audit_log: AuditLogOption = None,
) -> None:
    """Run SQL through Skipper: guarded, sandboxed, annotated and audited."""
    try:
        with open_skipper(
            catalog, database, user=user, max_rows=max_rows, timeout_s=timeout,
            audit_log=audit_log,
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
