"""What an answer rests on: lineage, freshness and sampling of the tables read, as caveats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skipper.catalog import Catalog
from skipper.freshness import TableFreshness, describe_lag
from skipper.identifiers import fold

if TYPE_CHECKING:
    from skipper.engine.relations import Relation
    from skipper.guard import GuardedQuery


@dataclass
class Lineage:
    """Tables and columns a query read, and the tables those were derived from."""

    tables: list[str]
    columns: dict[str, list[str]]
    upstream: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "columns": self.columns, "upstream": self.upstream}


@dataclass
class SamplingNote:
    table: str
    rate: float
    via: str | None  # the table read, when the sample is upstream of it
    weight_column: str | None
    exact_table: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rate": self.rate,
            "via": self.via,
            "weight_column": self.weight_column,
            "exact_table": self.exact_table,
        }


@dataclass
class Annotation:
    lineage: Lineage
    freshness: dict[str, TableFreshness]
    sampling: list[SamplingNote]
    caveats: list[str]


@dataclass
class BoundLineage:
    """The catalog tables and columns a query read as the engine bound it, and every relation
    its plan read (``Relation.qualified``), row filters' reads and row generators included."""

    tables: list[str]
    columns: dict[str, list[str]]
    relations: list[str]


def bound_lineage(catalog: Catalog, guarded: GuardedQuery,
                  relations: list[Relation] | None) -> BoundLineage:
    """Lineage from the engine's bound plan: a table the guard recorded that DuckDB did not
    bind (a name it took for a CTE) is not in it. Without a plan (an engine that has no second
    wall) the guard's reading stands."""
    if relations is None:
        return BoundLineage(guarded.tables, guarded.columns, [])
    bound = {(fold(r.schema), fold(r.name)) for r in relations if r.kind != "function"}
    tables = []
    for name in guarded.tables:
        table = catalog.find_table(name)
        if table is not None and (fold(table.db_schema), fold(table.name)) in bound:
            tables.append(name)
    columns = {name: cols for name, cols in guarded.columns.items() if name in tables}
    return BoundLineage(tables, columns, [r.qualified for r in relations])


def _percent(rate: float) -> str:
    value = rate * 100
    return f"{value:g}%"


def annotate(
    catalog: Catalog,
    tables: list[str],
    columns: dict[str, list[str]],
    freshness: dict[str, TableFreshness],
) -> Annotation:
    """Lineage (including upstreams of derived tables), freshness (as ``FreshnessMonitor.check``
    measured it for ``tables``) and sampling, as caveats."""
    upstream = {name: parents for name in tables if (parents := catalog.upstream(name))}
    caveats: list[str] = []
    for name in tables:
        measured = freshness.get(name)
        if measured is None or not measured.stale:
            continue
        if measured.error:
            caveats.append(f"{name}'s freshness could not be measured ({measured.error}); "
                           "check its freshness settings in the catalog against the database.")
        elif measured.withheld:
            caveats.append(
                f"{name} is older than its freshness SLA ({describe_lag(measured.sla)}); its "
                "last data point is not shown because a row filter limits what you read of it."
            )
        elif measured.last is None:
            caveats.append(f"{name} has no data yet, so its freshness cannot be checked.")
        else:
            caveats.append(
                f"{name} is {measured.age} old (last data {measured.last.isoformat()}; "
                f"SLA {describe_lag(measured.sla)})."
            )
    sampling: list[SamplingNote] = []
    for name in tables:
        for source in [name, *upstream.get(name, [])]:
            table = catalog.find_table(source)
            if table is None or table.sampling is None:
                continue
            note = SamplingNote(
                table=source,
                rate=table.sampling.rate,
                via=None if source == name else name,
                weight_column=table.sampling.weight_column,
                exact_table=table.sampling.exact_table,
            )
            sampling.append(note)
            if note.via is None:
                text = f"{source} is a {_percent(note.rate)} sample: figures are estimates"
            else:
                text = (
                    f"{note.via} is derived from {source}, a {_percent(note.rate)} sample: "
                    "figures are estimates"
                )
            if note.exact_table:
                text += f" (exact figures are in {note.exact_table})"
            caveats.append(text + ".")
    return Annotation(
        lineage=Lineage(tables=list(tables), columns=columns, upstream=upstream),
        freshness=freshness,
        sampling=sampling,
        caveats=caveats,
    )
