"""`skipper catalog check|init|schema|scan`: validate, start from a database, publish the schema,
flag unclassified personal data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from skipper.cli.output import console, err_console, fail, print_json, styled
from skipper.errors import SkipperError

if TYPE_CHECKING:
    from skipper.catalog.models import Table as CatalogTable

catalog_app = typer.Typer(
    help="Check, create and describe semantic catalogs.", no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")


@catalog_app.command("check")
def check(
    directory: Annotated[Path, typer.Argument(help="Catalog directory (or one YAML file).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
) -> None:
    """Validate a catalog: every file, field and SQL snippet. Errors name file, line and field."""
    from skipper.catalog import Catalog

    try:
        catalog = Catalog.load(directory)
    except SkipperError as error:
        fail(error, as_json=as_json)
    undocumented = [
        f"{t.name}.{c.name}" for t in catalog.tables for c in t.columns if not c.description.strip()
    ] + [t.name for t in catalog.tables if not t.description.strip()]
    if as_json:
        print_json({"ok": True, "name": catalog.name, "version": catalog.version,
                    "summary": catalog.summary(), "undocumented": undocumented})
        return
    counts = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in catalog.summary().items())
    console.print(styled("[bold green]Catalog {} is valid[/]: {}.", repr(catalog.name), counts))
    tables = Table()
    names = [t.name if t.db_schema == "main" else f"{t.db_schema}.{t.name}" for t in catalog.tables]
    tables.add_column("table", no_wrap=True, min_width=max(map(len, names), default=5))
    tables.add_column("source")
    tables.add_column("columns", justify="right")
    counted = any(t.row_count is not None for t in catalog.tables)
    if counted:
        tables.add_column("rows", justify="right")
    tables.add_column("freshness, sampling, lineage")
    for name, table in zip(names, catalog.tables, strict=True):
        notes = [_freshness(table), _sampling(table)]
        if table.lineage:
            notes.append("built from " + ", ".join(table.lineage.upstream))
        cells = [name, table.source or "", str(len(table.columns))]
        if counted:
            cells.append("" if table.row_count is None else f"{table.row_count:,}")
        tables.add_row(*cells, "; ".join(note for note in notes if note))
    console.print(tables)
    if undocumented:
        console.print(styled("[yellow]{} tables and columns have no description yet[/] (e.g. {}).",
                             len(undocumented), ", ".join(undocumented[:3])))
    console.print(f"version {catalog.version[:12]}", style="dim")


def _freshness(table: CatalogTable) -> str:
    from skipper.catalog.models import format_duration

    rule = table.freshness
    if rule is None:
        return ""
    measured = rule.column or f"loads in {rule.load_log.table if rule.load_log else '?'}"
    return f"fresh within {format_duration(rule.sla)} by {measured}"


def _sampling(table: CatalogTable) -> str:
    sample = table.sampling
    if sample is None:
        return ""
    text = f"{sample.rate * 100:g}% sample"
    if sample.weight_column:
        text += f" (weight {sample.weight_column})"
    return text


@catalog_app.command("init")
def init(
    database: Annotated[Path, typer.Option("--database", "-d", help="DuckDB file to describe.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the catalog into.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty --out.")
    ] = False,
    row_budget: Annotated[
        int | None, typer.Option("--row-budget", min=0, help="Check inferred keys, joins and "
                                 "value lists against tables of at most this many rows (default "
                                 "5 million); larger ones are left unchecked, with a comment.")
    ] = None,
) -> None:
    """Write a catalog for a DuckDB database: every table and column with its keys and row count,
    plus inferred joins, value lists, time columns and a row-count metric per table."""
    from skipper.catalog.introspect import init_catalog

    try:
        report = init_catalog(database, out, overwrite=overwrite, row_budget=row_budget)
    except SkipperError as error:
        fail(error)
    console.print(styled("Wrote {} files to [bold]{}[/]: {} tables, {} columns, {} relationships, "
                         "{} value lists, {} metrics.", len(report.files), report.out,
                         len(report.tables), report.columns, report.relationships,
                         report.value_lists, report.metrics))
    for problem in report.skipped:
        err_console.print(styled("[yellow]skipped[/] {}", problem))
    console.print(styled("Next: describe the tables (search for TODO), check what was inferred "
                         "(the comments say what each guess rests on), then run "
                         "[cyan]skipper catalog check {}[/]", report.out))


@catalog_app.command("schema")
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of catalog YAML files (for editor autocompletion)."""
    from skipper.catalog import catalog_json_schema

    text = json.dumps(catalog_json_schema(), indent=2, sort_keys=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"Wrote the catalog JSON Schema to {out}", highlight=False)


@catalog_app.command("scan")
def scan(
    database: Annotated[Path, typer.Option("--database", help="DuckDB file to sample.")],
    catalog_dir: Annotated[Path, typer.Option("--catalog", help="Catalog directory.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Markdown report (JSON beside it); default DIR/pii_review.md."),
    ] = None,
    sample: Annotated[int, typer.Option(help="Values sampled per column.", min=1)] = 1000,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; leave the catalog's YAML as it is.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Flag likely PII the catalog does not classify yet, and mark those tables unreviewed
    (`reviewed: false`: nobody can query them) until a person classifies and reviews them."""
    from skipper.catalog import Catalog
    from skipper.policy.scan import mark_unreviewed, scan_catalog, write_report

    try:
        catalog = Catalog.load(catalog_dir)
        report = scan_catalog(catalog, database, sample_rows=sample)
        if not dry_run:
            mark_unreviewed(catalog, report)
        written = write_report(report, out or catalog_dir / "pii_review.md")
    except (SkipperError, OSError) as error:
        fail(error if isinstance(error, SkipperError) else SkipperError(str(error)),
             as_json=as_json)
    if as_json:
        print_json({**report.to_dict(), "report": [str(p) for p in written]})
        return
    if not report.findings:
        console.print("No unclassified column looks like personal data.", style="bold green")
    for finding in report.findings:
        console.print(styled("[yellow]{}.{}[/]: looks like {} ({})", finding.table,
                             finding.column, finding.kind, finding.reason))
    if report.marked_unreviewed:
        console.print("Marked reviewed: false (closed until a person reviews them): "
                      + ", ".join(report.marked_unreviewed), highlight=False)
    for name in report.not_marked:
        err_console.print(f"Could not edit {name}'s YAML safely: set reviewed: false by hand.")
    console.print(f"Report: {written[0]} and {written[1]}", highlight=False)
