"""`skipper audit list|show|verify|replay|keygen`: read, check, re-run and sign the audit log."""

from __future__ import annotations

import os
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
KeyOption = Annotated[Path | None, typer.Option(
    "--key", help="The audit key file (default: $SKIPPER_AUDIT_KEY_FILE): also check the "
    "signed checkpoints, i.e. authenticity, not only integrity.")]


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
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every record's hash, the chain and the head, and with a key the signed
    checkpoints (records cut off the end, rewritten, a forged head); exit non-zero on any
    problem."""
    try:
        audit = _open(log, database, key=key)
        report = audit.verify()
    except SkipperError as error:
        fail(error, as_json=as_json)
    unsigned = report.last_seq - report.verified_seq
    if as_json:
        print_json({"log": str(audit.path), "ok": report.ok, "count": report.count,
                    "problems": report.problems, "authenticated": report.authenticated,
                    "checkpoints": report.checkpoints, "verified_seq": report.verified_seq,
                    "verified_time": report.verified_time, "last_seq": report.last_seq})
    elif report.ok:
        console.print(styled("[bold green]OK[/]: {} records in {}, each sealed and chained to "
                             "the one before.", f"{report.count:,}", audit.path))
        if not report.authenticated:
            console.print("Integrity only, not authenticity: no audit key was given (--key or "
                          "$SKIPPER_AUDIT_KEY_FILE), so this cannot tell the log from one "
                          "rewritten, or cut short, by someone who can write its directory.",
                          style="yellow")
        else:
            console.print(styled("Authentic up to seq {} (checkpoint signed at {}; {} valid "
                                 "checkpoints){}.", report.verified_seq,
                                 report.verified_time or "-", report.checkpoints,
                                 f"; the {unsigned:,} records after it are chained but not "
                                 "signed yet" if unsigned else ""))
    else:
        err_console.print(styled("[bold red]The audit log {} fails verification[/] ({} records "
                                 "read, {} problems):", audit.path, f"{report.count:,}",
                                 len(report.problems)))
        for problem in report.problems:
            err_console.print(f"  - {problem}", highlight=False)
        if report.authenticated:
            err_console.print(styled("The last record a signed checkpoint vouches for is seq "
                                     "{}.", report.verified_seq))
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@audit_app.command("keygen")
def keygen(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="Where to write audit.key and mask.salt: NOT the log's directory.")],
    log: LogOption = None,
    database: DatabaseOption = None,
) -> None:
    """Make the deployment's secrets, once: the audit key that signs checkpoints and the hash
    mask's salt (a stable salt lets replays of hash-masked columns match)."""
    import secrets

    from skipper.app import default_demo_database
    from skipper.audit import AuditKey
    from skipper.audit.checkpoints import KEY_ENV, KEY_FILE, SALT_FILE, refuse_inside
    from skipper.audit.log import AuditLog
    from skipper.policy.access import SALT_ENV

    try:
        target = AuditLog(log, key=None) if log is not None else None
        log_path = target.path if target is not None else \
            AuditLog.beside(database or default_demo_database()).path
        directory = directory.expanduser()
        key_path, salt_path = directory / KEY_FILE, directory / SALT_FILE
        refuse_inside(key_path, log_path)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        AuditKey.generate().write(key_path)
        if not salt_path.exists():
            fd = os.open(salt_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    except SkipperError as error:
        fail(error)
    except OSError as error:
        fail(AuditError(f"cannot write to {directory}: {error.strerror}",
                        code="audit.bad_key", path=str(directory)))
    console.print(styled("Wrote {} and {}. Give them to the processes that write the log "
                         "(and to whoever verifies it), never to the log's directory:",
                         key_path, salt_path))
    console.print(f"  export {KEY_ENV}={key_path}", highlight=False)
    console.print(f'  export {SALT_ENV}="$(cat {salt_path})"', highlight=False)


@audit_app.command("replay")
def replay(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="The audit record's id.")],
    catalog: CatalogOption = None,
    database: DatabaseOption = None,
    log: LogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run a record's exact SQL and compare results: identical, different_rows,
    different_order, different_columns or cannot_replay (exit 1 unless identical)."""
    try:
        with open_skipper(catalog, database, audit_log=log) as skipper:
            outcome = skipper.replay(record_id)
            catalog_changed = outcome.record.catalog_version not in (None, skipper.catalog.version)
    except SkipperError as error:
        fail(error, as_json=as_json)
    record = outcome.record
    if as_json:
        print_json({"id": record.id, "verdict": outcome.verdict, "matches": outcome.matches,
                    "reason": outcome.reason, "code": outcome.code,
                    "recorded_hash": record.result_hash, "result_hash": outcome.result_hash,
                    "result_hash_kind": record.result_hash_kind,
                    "recorded_row_count": record.row_count, "row_count": outcome.row_count,
                    "catalog_changed": catalog_changed,
                    "replay_id": outcome.answer.audit_id if outcome.answer else None})
    elif outcome.matches:
        console.print(styled("[bold green]Identical[/]: record {} (seq {}) gives the same result "
                             "today ({} rows, hash {}…).", record.id, record.seq,
                             f"{outcome.row_count:,}", (outcome.result_hash or "")[:16]))
    elif outcome.verdict == "cannot_replay":
        console.print(styled("[bold red]Cannot replay[/] record {} (seq {}): {}", record.id,
                             record.seq, outcome.reason))
    else:
        console.print(styled("[bold red]{}[/]: record {} (seq {}) gave {} rows; today {} "
                             "({}).", outcome.verdict.replace("_", " ").capitalize(),
                             record.id, record.seq, f"{record.row_count:,}",
                             f"{outcome.row_count or 0:,}", outcome.reason))
    if catalog_changed and not as_json:
        console.print("The catalog changed since this record was written.", style="yellow")
    if not outcome.matches:
        raise typer.Exit(EXIT_ERROR)


def _open(log: Path | None, database: Path | None, *, key: Path | None = None) -> AuditLog:
    """The log named by --log, beside --database, or beside the demo lake; it must exist."""
    from skipper.app import default_demo_database
    from skipper.audit import AuditLog

    audit = AuditLog(log, key=key) if log is not None else AuditLog.beside(
        database or default_demo_database(), key=key)
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
