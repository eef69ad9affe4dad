"""`skipper demo`: build the Town Lake demo database, with a progress display."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from skipper.cli.output import console, err_console, fail, print_json, styled
from skipper.errors import DemoError, SkipperError


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    database: Annotated[Path, typer.Option(
        "--database", "-d", help="DuckDB file to write (replaced whole, only once complete).",
    )] = Path("townlake.duckdb"),
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="The demo's 'today' (YYYY-MM-DD); every date is relative to it. "
        "Defaults to today (UTC).", show_default=False,
    )] = None,
    scale: Annotated[int, typer.Option(
        "--scale", help="Size: 1 is ~2,000 accounts and ~10,000 domains; 20 fits 24 GB.",
    )] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same data.")] = 7,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
) -> None:
    """Build the Town Lake demo lake: accounts, domains, sampled traffic, billing, tickets, DNS."""
    from skipper.demo import build_demo

    try:
        day = _parse_day(as_of)
        if as_json:
            info = build_demo(database, as_of=day, scale=scale, seed=seed)
        else:
            with Progress(
                TextColumn("[bold]{task.description:<48}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                console=err_console, transient=True,
            ) as bar:
                task = bar.add_task("Starting", total=None)

                def report(what: str, done: int, total: int) -> None:
                    bar.update(task, description=what, completed=done, total=total)

                info = build_demo(database, as_of=day, scale=scale, seed=seed, progress=report)
    except SkipperError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json({
            "database": str(info.path), "as_of": info.as_of.isoformat(), "scale": info.scale,
            "seed": info.seed, "rows": info.rows, "seconds": round(info.seconds, 3),
        })
        return
    table = Table(title=styled("Town Lake demo at {}", info.path), title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in info.rows.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(styled(
        "Built in {} s: as of [bold]{}[/], scale {}, seed {}.\nTry: [cyan]skipper sql \"SELECT * "
        "FROM traffic_rank_daily ORDER BY day DESC, traffic_rank LIMIT 10\" --database {}[/]",
        f"{info.seconds:.1f}", info.as_of, info.scale, info.seed, info.path,
    ))


def _parse_day(text: str | None) -> date:
    if text is None:
        return datetime.now(timezone.utc).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DemoError(f"--as-of must be a date like 2025-06-30, not {text!r}",
                        code="demo.bad_as_of") from None
