"""How the CLI talks to people: rich for humans, one JSON object for machines, no tracebacks."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from skipper.errors import SkipperError

console = Console()
err_console = Console(stderr=True)

EXIT_ERROR = 1
EXIT_REFUSED = 2
EXIT_CANNOT_ANSWER = 3


def print_json(payload: Any) -> None:
    """One JSON object on stdout (dates, decimals and the like as strings)."""
    sys.stdout.write(json.dumps(payload, default=str, ensure_ascii=False) + "\n")


def fail(error: SkipperError, *, as_json: bool = False, exit_code: int | None = None) -> NoReturn:
    """Report a Skipper error readably (or as ``{"error": ...}``) and exit non-zero."""
    from skipper.errors import GuardError

    code = exit_code if exit_code is not None else (
        EXIT_REFUSED if isinstance(error, GuardError) else EXIT_ERROR
    )
    if as_json:
        print_json({"error": {"code": error.code, "message": error.message}})
    else:
        err_console.print(f"[bold red]Error[/] [dim]({error.code})[/]: {error.message}",
                          highlight=False, soft_wrap=True)
    raise typer.Exit(code)
