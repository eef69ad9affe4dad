"""Options every data command shares (--catalog, --database, --user) and how they open Skipper."""

from __future__ import annotations

from pathlib import Path

from skipper.app import Skipper
from skipper.errors import ConfigError


def open_skipper(
    catalog: Path | None,
    database: Path | None,
    *,
    user: str | None = None,
    max_rows: int = 1000,
    timeout_s: float = 30.0,
) -> Skipper:
    """A Skipper on the given catalog and database, or on the bundled demo when neither is given
    (building the demo lake on first use)."""
    if catalog is None and database is None:
        from skipper.app import default_demo_database
        from skipper.cli.output import err_console

        path = default_demo_database()
        if not path.exists():
            err_console.print(f"[dim]Building the Town Lake demo lake at {path} (first use, a "
                              "few seconds)…[/]", highlight=False)
        return Skipper.demo(user=user, max_rows=max_rows, timeout_s=timeout_s)
    if catalog is None or database is None:
        missing = "--catalog" if catalog is None else "--database"
        raise ConfigError(f"{missing} is required when the other is given "
                          "(give neither to use the bundled demo)")
    return Skipper(catalog, database, user=user, max_rows=max_rows, timeout_s=timeout_s)
