"""What the guard's rules share while checking one query: the catalog, the user and the findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.schema import MappingSchema

from skipper.catalog import Catalog, Table
from skipper.guard.parse import TimeBudget

if TYPE_CHECKING:
    from skipper.guard.column_names import DuckDBNames
    from skipper.guard.lineage import ColumnRead
    from skipper.policy import Access


@dataclass
class TableRef:
    """One place in the executed tree where the query reads a catalog table.

    Governance replaces ``node`` (an ``exp.Table`` in ``GuardContext.tree``) by a policy subquery.
    """

    node: exp.Table
    table: Table


@dataclass
class GuardContext:
    """Inputs and findings of one ``Guard.check`` call, passed to every rule in order."""

    catalog: Catalog
    dialect: str
    schema: MappingSchema
    sql_text: str = ""
    user: str | None = None
    database: str | None = None
    names: DuckDBNames | None = None
    statements: list[exp.Expression] = field(default_factory=list)
    table_refs: list[TableRef] = field(default_factory=list)
    cte_names: set[str] = field(default_factory=set)
    analysed: exp.Expression | None = None
    tables: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    column_reads: list[ColumnRead] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    access: Access | None = None
    policies: list[dict[str, str]] = field(default_factory=list)
    budget: TimeBudget = field(default_factory=TimeBudget)
    """The time left for this check (unlimited unless the guard runs it: ``run_rules``)."""

    def note(self, rewrite: str) -> None:
        """Record a human-readable note of a rewrite applied to the executed tree."""
        self.rewrites.append(rewrite)
