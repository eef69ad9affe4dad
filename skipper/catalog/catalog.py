"""A whole catalog: the merged, cross-checked declarations of a catalog directory."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from skipper.catalog.loader import catalog_files, load_file
from skipper.catalog.models import (
    DEFAULT_DIALECT,
    CatalogFile,
    Classification,
    Dimension,
    Entry,
    GlossaryTerm,
    Group,
    Metric,
    Segment,
    Source,
    Table,
    User,
    VerifiedQuery,
)
from skipper.errors import CatalogError
from skipper.identifiers import fold


def _fail(
    entry: Entry, message: str, field: str = "", code: str = "catalog.invalid"
) -> CatalogError:
    file, _, path = entry.origin
    return CatalogError(
        message, code=code, file=file, line=entry.line_of(field), field=path + field
    )


class Catalog:
    """Tables, metrics, dimensions, segments, glossary and verified queries, checked together."""

    def __init__(self, files: Sequence[CatalogFile], *, root: Path | None = None) -> None:
        self.root = root
        self.files = list(files)
        heads = [f for f in self.files if f.name or f.description or f.dialect]
        self.name = next((f.name for f in heads if f.name), None) or (
            root.name if root else "catalog"
        )
        self.description = next((f.description for f in heads if f.description), "") or ""
        self.dialect = next((f.dialect for f in heads if f.dialect), None) or DEFAULT_DIALECT
        self.sources: list[Source] = [s for f in self.files for s in f.sources]
        self.tables: list[Table] = [t for f in self.files for t in f.tables]
        self.metrics: list[Metric] = [m for f in self.files for m in f.metrics]
        self.dimensions: list[Dimension] = [d for f in self.files for d in f.dimensions]
        self.segments: list[Segment] = [s for f in self.files for s in f.segments]
        self.glossary: list[GlossaryTerm] = [g for f in self.files for g in f.glossary]
        self.verified_queries: list[VerifiedQuery] = [
            q for f in self.files for q in f.verified_queries
        ]
        self.classifications: list[Classification] = [
            c for f in self.files for c in f.classifications
        ]
        self.groups: list[Group] = [g for f in self.files for g in f.groups]
        self.users: list[User] = [u for f in self.files for u in f.users]
        self.default_user = next((f.default_user for f in self.files if f.default_user), None)
        self._classifications = self._index(self.classifications, "classification")
        self._groups = self._index(self.groups, "group")
        self._users = self._index(self.users, "user")
        self._tables = self._index(self.tables, "table")
        self._sources = self._index(self.sources, "source")
        self._metrics = self._index(self.metrics, "metric")
        self._dimensions = self._index(self.dimensions, "dimension")
        self._segments = self._index(self.segments, "segment")
        self.version = self._hash()
        self._schema: MappingSchema | None = None
        self._check()

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """Load every ``*.yaml`` under a directory (or one file) and check it as a whole."""
        root = Path(path)
        return cls([load_file(p) for p in catalog_files(root)], root=root)

    @staticmethod
    def _index(entries: Iterable[Any], kind: str) -> dict[str, Any]:
        index: dict[str, Any] = {}
        for entry in entries:
            key = fold(entry.name)
            if key in index:
                first_file, first_line, _ = index[key].origin
                raise _fail(
                    entry,
                    f"{kind} {entry.name!r} is declared twice (first at {first_file}:{first_line})",
                    code="catalog.duplicate",
                )
            index[key] = entry
        return index

    def _hash(self) -> str:
        payload = [
            f.model_dump(mode="json", by_alias=True, exclude_defaults=True) for f in self.files
        ]
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    # ---- lookups -------------------------------------------------------------------------
    def find_table(self, name: str) -> Table | None:
        return self._tables.get(fold(name))

    def table(self, name: str) -> Table:
        found = self.find_table(name)
        if found is None:
            raise CatalogError(f"no table {name!r} in the catalog", code="catalog.unknown_table")
        return found

    def find_user(self, name: str) -> User | None:
        return self._users.get(fold(name))

    def find_group(self, name: str) -> Group | None:
        return self._groups.get(fold(name))

    def find_classification(self, name: str) -> Classification | None:
        return self._classifications.get(fold(name))

    @property
    def governed(self) -> bool:
        """Whether the catalog declares users or groups: then only they read, as granted."""
        return bool(self.users or self.groups)

    def find_metric(self, name: str) -> Metric | None:
        return self._metrics.get(fold(name))

    def find_dimension(self, name: str) -> Dimension | None:
        return self._dimensions.get(fold(name))

    def find_segment(self, name: str) -> Segment | None:
        return self._segments.get(fold(name))

    def tables_of(self, name: str) -> list[str]:
        """The table a catalog name stands for: the table itself, or the table of the metric,
        dimension or segment of that name (empty when nothing has that name)."""
        table = self.find_table(name)
        if table is not None:
            return [table.name]
        for find in (self.find_metric, self.find_dimension, self.find_segment):
            entry = find(name)
            if entry is not None:
                return [entry.table]
        return []

    def schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """``{schema: {table: {column: type}}}`` as sqlglot's MappingSchema expects."""
        out: dict[str, dict[str, dict[str, str]]] = {}
        for table in self.tables:
            columns = {c.name: (c.type or "UNKNOWN") for c in table.columns}
            out.setdefault(table.db_schema, {})[table.name] = columns
        return out

    def upstream(self, name: str) -> list[str]:
        """Every table a derived table is built from, transitively, nearest first."""
        seen: list[str] = []
        frontier = [name]
        while frontier:
            table = self.find_table(frontier.pop(0))
            if table is None or table.lineage is None:
                continue
            for parent in table.lineage.upstream:
                if parent not in seen and parent != name:
                    seen.append(parent)
                    frontier.append(parent)
        return seen

    def restricted(self, tables: Sequence[Table]) -> Catalog:
        """This catalog as someone who may read only ``tables`` sees it (each as given, so a
        policy may hide columns): relationships to other tables, and metrics, dimensions,
        segments, verified queries and glossary terms that need other tables, are left out.
        Sources, policies and the version stay the catalog's own."""
        view = copy.copy(self)
        visible = {fold(table.name) for table in tables}
        view.tables = [
            table.model_copy(update={"relationships": [
                r for r in table.relationships if fold(r.table) in visible]})
            for table in tables
        ]
        view.metrics = [  # a metric whose default exclusions cannot be applied is left out
            m for m in self.metrics if fold(m.table) in visible and all(
                (segment := self.find_segment(name)) is not None and fold(segment.table) in visible
                for name in m.excluding)]
        view.dimensions = [d for d in self.dimensions if fold(d.table) in visible]
        view.segments = [s for s in self.segments if fold(s.table) in visible]
        view.verified_queries = [
            q for q in self.verified_queries if _reads_only(q.sql, visible, self.dialect)]
        view._tables = {fold(t.name): t for t in view.tables}
        view._metrics = {fold(m.name): m for m in view.metrics}
        view._dimensions = {fold(d.name): d for d in view.dimensions}
        view._segments = {fold(s.name): s for s in view.segments}
        known = visible | set(view._metrics) | set(view._dimensions) | set(view._segments)
        view.glossary = [g for g in self.glossary
                         if all(fold(name) in known for name in g.refers_to)
                         and all(fold(name) in view._segments for name in g.excluding + g.within)]
        view._schema = None
        return view

    def summary(self) -> dict[str, int]:
        return {
            "sources": len(self.sources),
            "tables": len(self.tables),
            "columns": sum(len(t.columns) for t in self.tables),
            "relationships": sum(len(t.relationships) for t in self.tables),
            "metrics": len(self.metrics),
            "dimensions": len(self.dimensions),
            "segments": len(self.segments),
            "glossary": len(self.glossary),
            "verified_queries": len(self.verified_queries),
        }

    # ---- cross-checks --------------------------------------------------------------------
    def _check(self) -> None:
        for table in self.tables:
            self._check_table(table)
        for metric in self.metrics:
            self._require_table(metric, metric.table)
            if metric.time_column:
                self._require_column(metric, metric.table, metric.time_column, ".time_column")
            where = " AND ".join(f"({f})" for f in metric.filters) or "TRUE"
            self._check_sql(
                metric, f"SELECT {metric.expr} FROM {metric.table} WHERE {where}", ".expr"
            )
        for metric in self.metrics:
            for i, name in enumerate(metric.excluding):
                if self.find_segment(name) is None:
                    raise _fail(metric, f"excluding names {name!r}, which is not a segment of "
                                        "the catalog", f".excluding[{i}]")
        for dimension in self.dimensions:
            self._require_table(dimension, dimension.table)
            self._check_sql(dimension, f"SELECT {dimension.sql} FROM {dimension.table}", ".expr")
        for segment in self.segments:
            self._require_table(segment, segment.table)
            self._check_sql(
                segment, f"SELECT 1 FROM {segment.table} WHERE {segment.filter}", ".filter"
            )
        for query in self.verified_queries:
            self._check_sql(query, query.sql, ".sql")
        self._check_policies()
        known = set(self._tables) | set(self._metrics) | set(self._dimensions) | set(self._segments)
        for term in self.glossary:
            for i, ref in enumerate(term.refers_to):
                if fold(ref) not in known:
                    raise _fail(
                        term,
                        f"refers to {ref!r}, which the catalog does not declare",
                        f".refers_to[{i}]",
                    )
            for field in ("excluding", "within"):
                for i, name in enumerate(getattr(term, field)):
                    if self.find_segment(name) is None:
                        raise _fail(term, f"{field} names {name!r}, which is not a segment of "
                                          "the catalog", f".{field}[{i}]")

    def _check_policies(self) -> None:
        # A column classified with a name no classification declares is masked to NULL.
        for user in self.users:
            for i, name in enumerate(user.groups):
                if self.find_group(name) is None:
                    raise _fail(user, f"unknown group {name!r}", f".groups[{i}]")
        if self.default_user and self.find_user(self.default_user) is None:
            file = next((f for f in self.files if f.default_user), self.files[0])
            raise _fail(file, f"default_user {self.default_user!r} is not a declared user",
                        ".default_user")
        for group in self.groups:
            for i, name in enumerate(group.tables):
                if name != "*":
                    self._require_table(group, name, f".tables[{i}]")
            for i, name in enumerate(group.unmask):
                if name != "*" and self.find_classification(name) is None:
                    raise _fail(group, f"unknown classification {name!r}", f".unmask[{i}]")
            for row_filter in group.row_filters:
                self._require_table(row_filter, row_filter.table)
                where = sqlglot.parse_one(row_filter.where, read=self.dialect).transform(
                    lambda node: exp.Literal.string("user")
                    if isinstance(node, exp.Placeholder) else node
                ).sql(dialect=self.dialect)
                self._check_sql(row_filter, f"SELECT 1 FROM {row_filter.table} WHERE {where}",
                                ".where")

    def _check_table(self, table: Table) -> None:
        if table.source and self._sources and fold(table.source) not in self._sources:
            raise _fail(table, f"unknown source {table.source!r}", ".source")
        columns = [fold(c.name) for c in table.columns]
        if len(set(columns)) != len(columns):
            duplicate = next(c for c in columns if columns.count(c) > 1)
            raise _fail(table, f"column {duplicate!r} is declared twice", ".columns")
        for i, key in enumerate(table.primary_key):
            self._require_column(table, table.name, key, f".primary_key[{i}]")
        for rel in table.relationships:
            self._require_table(rel, rel.table)
            self._check_sql(rel, f"SELECT 1 FROM {table.name} JOIN {rel.table} ON {rel.on}", ".on")
        if table.freshness and table.freshness.column:
            self._require_column(table.freshness, table.name, table.freshness.column, ".column")
        if table.sampling:
            if table.sampling.weight_column:
                self._require_column(
                    table.sampling, table.name, table.sampling.weight_column, ".weight_column"
                )
            if table.sampling.exact_table:
                self._require_table(table.sampling, table.sampling.exact_table, ".exact_table")
        if table.lineage:
            for i, parent in enumerate(table.lineage.upstream):
                self._require_table(table.lineage, parent, f".upstream[{i}]")
            if table.lineage.sql:
                self._check_sql(table.lineage, table.lineage.sql, ".sql")

    def _require_table(self, entry: Entry, name: str, field: str = ".table") -> Table:
        table = self.find_table(name)
        if table is None:
            raise _fail(entry, f"unknown table {name!r}", field, code="catalog.unknown_table")
        return table

    def _require_column(self, entry: Entry, table: str, column: str, field: str) -> None:
        if self.table(table).column(column) is None:
            raise _fail(
                entry,
                f"table {table!r} has no column {column!r}",
                field,
                code="catalog.unknown_column",
            )

    def _mapping_schema(self) -> MappingSchema:
        """One sqlglot schema for every load-time check (building it per snippet is quadratic)."""
        if self._schema is None:
            self._schema = MappingSchema(dict(self.schema()), dialect=self.dialect, normalize=True)
        return self._schema

    def _check_sql(self, entry: Entry, sql: str, field: str) -> None:
        """Every table and column a catalog SQL snippet names must be in the catalog."""
        try:
            tree = sqlglot.parse_one(sql, read=self.dialect)
            ctes = {fold(cte.alias_or_name) for cte in tree.find_all(exp.CTE)}
            for table_ref in tree.find_all(exp.Table):
                if fold(table_ref.name) not in ctes:
                    self._require_table(entry, table_ref.name, field)
            qualify(
                tree,
                schema=self._mapping_schema(),
                dialect=self.dialect,
                validate_qualify_columns=True,
                quote_identifiers=False,
                identify=False,
            )
        except CatalogError:
            raise
        except SqlglotError as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else "invalid SQL"
            message = message.split(". Line:")[0]
            raise _fail(entry, message, field, code="catalog.bad_sql") from None


def _reads_only(sql: str, visible: set[str], dialect: str) -> bool:
    """Whether ``sql`` reads no table outside ``visible`` (CTEs aside)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return False
    ctes = {fold(cte.alias_or_name) for cte in tree.find_all(exp.CTE)}
    return all(fold(t.name) in visible or fold(t.name) in ctes
               for t in tree.find_all(exp.Table))
