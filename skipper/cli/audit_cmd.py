"""`skipper audit list|show|verify|replay`: read, check and re-run the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from skipper.cli.options import CatalogOption, open_skipper
from skipper.cli.output import EXIT_ERROR, console, err_console, fail, print_json, styled
from skipper.errors import AuditError, SkipperError
from skipper.text import visible

if TYPE_CHECKING:
    from skipper.audit import AuditLog, AuditRecord

audit_app = typer.Typer(
    help="List, show, verify and replay audit records.", no_args_is_help=True,
)

LogOption = Annotated[Path | None, typer.Option(
    "--log", help="The audit log file (default: the one beside --database).")]
DatabaseOption = Annotated[Path | None, typer.Option(
    "--database", help="The DuckDB file whose log to read (default: the demo lake).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("list")
def list_records(
    limit: Annotated[int, typer.Option(min=1, help="Show the last N records.")] = 20,
    log: LogOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The latest audit records, oldest first."""
    try:
        audit = _open(log, database)
        records = audit.tail(limit)
    except SkipperError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json({"log": str(audit.path),
                    "records": [r.model_dump(mode="json") for r in records]})
        return
    table = Table(title=Text(str(audit.path)), title_justify="left", title_style="dim",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    rows = [(r.id, str(r.seq), r.time[:16].replace("T", " "),
             visible(r.user or "", multiline=False), r.outcome, f"{r.row_count:,}",
             visible(" ".join(r.sql.split()), multiline=False)) for r in records]
    names = ("id", "seq", "time", "user", "outcome", "rows")
    widths = [max([len(name)] + [len(row[i]) for row in rows]) for i, name in enumerate(names)]
    for name, width in zip(names, widths, strict=True):
        table.add_column(name, no_wrap=True, min_width=width,
                         justify="right" if name in ("seq", "rows") else "left")
    # The SQL gets what is left of the line, cut with an ellipsis; the id is never cut.
    left = console.width - sum(widths) - 2 * len(widths) - 1
    table.add_column("sql", no_wrap=True, overflow="ellipsis", max_width=max(left, 10))
    for record, row in zip(records, rows, strict=True):
        table.add_row(*row[:4], _outcome(record, with_code=False), *row[5:])
    console.print(table)


@audit_app.command("show")
def show(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="The audit record's id.")],
    log: LogOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """One audit record in full."""
    try:
        record = _open(log, database).get(record_id)
    except SkipperError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in record.model_dump(mode="json", exclude={"sql"}).items():
        if name == "outcome":
            table.add_row(name, _outcome(record))
            continue
        if name == "error" and value:
            value = f"{value['code']}: {value['message']}"
        elif isinstance(value, (list, dict)):
            value = _short(value)
        table.add_row(name, "" if value is None else str(value))
    console.print(table)
    console.print("sql", style="bold")
    console.print(record.sql, highlight=False, soft_wrap=True)


@audit_app.command("verify")
def verify(
    log: LogOption = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every record's hash, the chain and the head; exit non-zero on any problem."""
    try:
        audit = _open(log, database)
        report = audit.verify()
    except SkipperError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json({"log": str(audit.path), "ok": report.ok, "count": report.count,
                    "problems": report.problems})
    elif report.ok:
        console.print(styled("[bold green]OK[/]: {} records in {}, each sealed and chained to "
                             "the one before.", f"{report.count:,}", audit.path))
    else:
        err_console.print(styled("[bold red]The audit log {} fails verification[/] ({} records "
                                 "read, {} problems):", audit.path, f"{report.count:,}",
                                 len(report.problems)))
        for problem in report.problems:
            err_console.print(f"  - {problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@audit_app.command("replay")
def replay(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="The audit record's id.")],
    catalog: CatalogOption = None,
    database: DatabaseOption = None,
    log: LogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run a record's exact SQL; say whether the result hash still matches (exit 1 if not)."""
    try:
        with open_skipper(catalog, database, audit_log=log) as skipper:
            outcome = skipper.replay(record_id)
            catalog_changed = outcome.record.catalog_version not in (None, skipper.catalog.version)
    except SkipperError as error:
        fail(error, as_json=as_json)
    record = outcome.record
    if as_json:
        print_json({"id": record.id, "matches": outcome.matches,
                    "recorded_hash": record.result_hash, "result_hash": outcome.result_hash,
                    "recorded_row_count": record.row_count, "row_count": outcome.row_count,
                    "catalog_changed": catalog_changed, "replay_id": outcome.answer.audit_id})
    elif outcome.matches:
        console.print(styled("[bold green]Matches[/]: record {} (seq {}) gives the same result "
                             "today ({} rows, hash {}…).", record.id, record.seq,
                             f"{outcome.row_count:,}", outcome.result_hash[:16]))
    else:
        console.print(styled("[bold red]Differs[/]: record {} (seq {}) gave {} rows hashing {}…; "
                             "today it gives {} rows hashing {}…. The data (or the SQL's meaning) "
                             "changed.", record.id, record.seq, f"{record.row_count:,}",
                             (record.result_hash or "?")[:16], f"{outcome.row_count:,}",
                             outcome.result_hash[:16]))
    if catalog_changed and not as_json:
        console.print("The catalog changed since this record was written.", style="yellow")
    if not outcome.matches:
        raise typer.Exit(EXIT_ERROR)


def _open(log: Path | None, database: Path | None) -> AuditLog:
    """The log named by --log, beside --database, or beside the demo lake; it must exist."""
    from skipper.app import default_demo_database
    from skipper.audit import AuditLog

    audit = AuditLog(log) if log is not None else AuditLog.beside(
        database or default_demo_database())
    if not audit.path.exists() and not audit.head_path.exists():
        hint = "" if log is not None else " yet: run a query first (skipper sql ...) or pass --log"
        raise AuditError(f"no audit log at {audit.path}{hint}", code="audit.no_log",
                         path=str(audit.path))
    return audit


def _outcome(record: AuditRecord, *, with_code: bool = True) -> Text:
    colour = {"ok": "green", "refused": "yellow", "error": "red"}[record.outcome]
    text = Text(record.outcome, style=colour)
    if record.error is not None and with_code:
        text.append(" " + visible(str(record.error["code"]), multiline=False), style="dim")
    return text


def _short(value: Any, limit: int = 200) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"
