"""Options every data command shares (--catalog, --database, --user, --audit-log) and how they
open Skipper."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skipper.errors import ConfigError

if TYPE_CHECKING:
    from skipper.app import Skipper

CatalogOption = Annotated[
    Path | None, typer.Option("--catalog", help="Catalog directory (default: the demo's).")
]
DatabaseOption = Annotated[
    Path | None, typer.Option("--database", help="DuckDB file (default: the demo lake).")
]
AuditLogOption = Annotated[
    Path | None,
    typer.Option("--audit-log", help="Audit log file (default: beside the database)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the answer as one JSON object.")]
MaxRowsOption = Annotated[int, typer.Option(help="Return at most this many rows.")]
TimeoutOption = Annotated[float, typer.Option(help="Per-query timeout in seconds.")]


def open_skipper(
    catalog: Path | None,
    database: Path | None,
    *,
    user: str | None = None,
    max_rows: int = 1000,
    timeout_s: float = 30.0,
    audit_log: Path | None = None,
) -> Skipper:
    """A Skipper on the given catalog and database, or on the bundled demo when neither is given
    (building the demo lake on first use)."""
    from skipper.app import Skipper

    if catalog is None and database is None:
        from skipper.app import default_demo_database
        from skipper.cli.output import err_console, styled

        path = default_demo_database()
        if not path.exists():
            err_console.print(styled("[dim]Building the Town Lake demo lake at {} (first use, a "
                                     "few seconds)…[/]", path))
        return Skipper.demo(user=user, max_rows=max_rows, timeout_s=timeout_s,
                            audit_log=audit_log)
    if catalog is None or database is None:
        missing = "--catalog" if catalog is None else "--database"
        raise ConfigError(f"{missing} is required when the other is given "
                          "(give neither to use the bundled demo)")
    return Skipper(catalog, database, user=user, max_rows=max_rows, timeout_s=timeout_s,
                   audit_log=audit_log)
