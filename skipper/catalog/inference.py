"""What `catalog init` can tell about a database beyond its declarations: keys, joins, value lists,
time columns and first metrics, each checked against the data where a cheap query can check it.

Everything here is a guess a person should confirm, so every guess carries a note saying what it
rests on; `introspect` writes the notes as YAML comments beside the guesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from skipper.catalog.naming import (
    INTEGER_TYPES,
    comparable_types,
    is_free_text_name,
    is_key_name,
    is_measure_name,
    is_number_type,
    is_text_type,
    is_time_type,
    key_names,
    label_of,
    main_time_column,
    referenced_tables,
)
from skipper.engine import ColumnInfo, TableInfo
from skipper.errors import SkipperError
from skipper.identifiers import fold
from skipper.policy.scan import THRESHOLD, _judge, _kinds_for

#: Tables of more rows than this are not read to check a guess (the guess is kept, unchecked,
#: or dropped, and a note says so).
ROW_BUDGET = 5_000_000
#: A text column becomes a value list with at most this many distinct values ...
MAX_VALUES = 25
#: ... that are at most this long (longer ones are free text) ...
MAX_VALUE_LENGTH = 64
#: ... and repeat: at most this share of its non-NULL values are distinct.
MAX_DISTINCT_SHARE = 0.5

Query = Callable[[str], list[tuple[Any, ...]]]

_UNIQUE_SQL = """
SELECT schema_name, table_name, constraint_column_names FROM duckdb_constraints()
WHERE database_name = current_database() AND constraint_type = 'UNIQUE'
ORDER BY schema_name, table_name, constraint_index
"""


@dataclass
class Link:
    """One direction of a join between two tables."""

    table: str
    on: str
    cardinality: str
    note: str | None = None


@dataclass
class ColumnFacts:
    tags: list[str] = field(default_factory=list)
    values: list[str] | None = None
    note: str | None = None


@dataclass
class TableFacts:
    primary_key: list[str] = field(default_factory=list)
    key_note: str | None = None
    unique: list[list[str]] = field(default_factory=list)
    columns: dict[str, ColumnFacts] = field(default_factory=dict)
    relationships: list[Link] = field(default_factory=list)
    time_column: str | None = None
    notes: list[str] = field(default_factory=list)

    def is_unique(self, columns: list[str]) -> bool:
        wanted = sorted(fold(c) for c in columns)
        return any(sorted(fold(c) for c in key) == wanted
                   for key in [self.primary_key, *self.unique] if key)

    def column(self, name: str) -> ColumnFacts:
        return self.columns.setdefault(name, ColumnFacts())

    def tag(self, name: str, tag: str) -> None:
        tags = self.column(name).tags
        if tag not in tags:
            tags.append(tag)


@dataclass
class MetricDraft:
    name: str
    label: str
    description: str
    table: str
    expr: str
    time_column: str | None
    format: str


@dataclass
class Inference:
    """Per table (by folded name) what was inferred, and the metrics drafted from it."""

    tables: dict[str, TableFacts]
    metrics: list[MetricDraft]
    skipped: list[str] = field(default_factory=list)

    @property
    def relationships(self) -> int:
        return sum(len(t.relationships) for t in self.tables.values())

    @property
    def value_lists(self) -> int:
        return sum(c.values is not None for t in self.tables.values() for c in t.columns.values())


def infer(tables: dict[str, TableInfo], query: Query, *, row_budget: int = ROW_BUDGET) -> Inference:
    """Everything `catalog init` guesses about ``tables`` (keyed by folded name), asking the
    data through ``query`` (one read statement -> its rows) for at most ``row_budget`` rows a
    check."""
    facts = {key: TableFacts() for key in tables}
    out = Inference(facts, [])
    unique = _unique_constraints(tables, query)
    for key, table in tables.items():
        _primary_key(table, facts[key], unique.get(key, []), query, row_budget)
    _declared_links(tables, facts, out.skipped)
    _named_links(tables, facts, query, row_budget)
    for key, table in tables.items():
        _time_columns(table, facts[key])
        _value_lists(table, facts[key], query, row_budget)
    out.metrics = _metrics(tables, facts)
    return out


# ---- keys ---------------------------------------------------------------------------------
def _unique_constraints(tables: dict[str, TableInfo], query: Query) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    try:
        rows = query(_UNIQUE_SQL)
    except SkipperError:
        return out
    for schema, name, columns in rows:
        table = tables.get(fold(name))
        if table is not None and table.schema == schema:
            out.setdefault(fold(name), []).append(list(columns))
    return out


def _primary_key(table: TableInfo, facts: TableFacts, unique: list[list[str]], query: Query,
                 row_budget: int) -> None:
    """The declared key; else a UNIQUE constraint on NOT NULL columns; else an ``id``-like
    column that is unique and never NULL in the data."""
    facts.unique = unique
    if table.primary_key:
        facts.primary_key = list(table.primary_key)
    else:
        nullable = {fold(c.name) for c in table.columns if c.nullable}
        declared = next((cols for cols in unique if not {fold(c) for c in cols} & nullable), None)
        if declared is not None:
            facts.primary_key = list(declared)
            facts.key_note = "from a UNIQUE constraint on NOT NULL columns"
        else:
            _key_from_data(table, facts, query, row_budget)
    for name in facts.primary_key:
        facts.tag(name, "id")


def _key_from_data(table: TableInfo, facts: TableFacts, query: Query, row_budget: int) -> None:
    names = {fold(c.name): c.name for c in table.columns}
    candidates = list(dict.fromkeys(names[w] for w in key_names(table.name) if w in names))
    if not candidates or table.is_view or table.row_count == 0:
        return
    if table.row_count > row_budget:
        facts.notes.append(f"{candidates[0]} may be the primary key: not "
                           f"checked ({table.row_count:,} rows, more than the "
                           f"{row_budget:,}-row budget of `catalog init`)")
        return
    parts = [exp.Count(this=exp.Star())]
    for name in candidates:
        ref = exp.column(name, quoted=True)
        parts += [exp.Count(this=exp.Distinct(expressions=[ref.copy()])), exp.Count(this=ref)]
    row = _one(query, exp.select(*parts).from_(_table_ref(table)))
    if row is None:
        return
    rows = row[0]
    for i, name in enumerate(candidates):
        if rows and row[1 + 2 * i] == rows and row[2 + 2 * i] == rows:
            facts.primary_key = [name]
            facts.key_note = f"inferred: unique and never NULL in all {rows:,} rows"
            return


# ---- relationships --------------------------------------------------------------------------
def _declared_links(tables: dict[str, TableInfo], facts: dict[str, TableFacts],
                    skipped: list[str]) -> None:
    """Both directions of every declared foreign key."""
    for key, table in tables.items():
        names = {fold(c.name) for c in table.columns}
        for columns, referenced, referenced_columns in table.foreign_keys:
            other = tables.get(fold(referenced))
            other_names = {fold(c.name) for c in other.columns} if other else set()
            if (
                other is None or other is table
                or not {fold(c) for c in columns} <= names
                or not {fold(c) for c in referenced_columns} <= other_names
            ):
                skipped.append(f"foreign key {table.name}({', '.join(columns)}) -> "
                               f"{referenced}: cannot be written as a relationship")
                continue
            one = facts[key].is_unique(list(columns))
            _link(facts, table, list(columns), other, list(referenced_columns), one)


def _link(facts: dict[str, TableFacts], table: TableInfo, columns: list[str], other: TableInfo,
          other_columns: list[str], one: bool, note: str | None = None) -> None:
    on = exp.and_(*(
        exp.EQ(this=exp.column(mine, table=table.name), expression=exp.column(theirs,
                                                                              table=other.name))
        for mine, theirs in zip(columns, other_columns, strict=True)
    )).sql(dialect="duckdb")
    facts[fold(table.name)].relationships.append(
        Link(other.name, on, "one_to_one" if one else "many_to_one", note))
    facts[fold(other.name)].relationships.append(
        Link(table.name, on, "one_to_one" if one else "one_to_many", note))
    for name in columns:
        facts[fold(table.name)].tag(name, "id")
    for name in other_columns:
        facts[fold(other.name)].tag(name, "id")


def _named_links(tables: dict[str, TableInfo], facts: dict[str, TableFacts], query: Query,
                 row_budget: int) -> None:
    """``orders.customer_id`` -> ``customers.customer_id`` (or ``.id``) where no foreign key
    is declared on the column, kept when every value of it is a value of the key."""
    for key, table in tables.items():
        if table.is_view:
            continue
        declared = {fold(c) for columns, _, _ in table.foreign_keys for c in columns}
        for column in table.columns:
            target = None if fold(column.name) in declared else _referenced(
                tables, facts, table, column)
            if target is None:
                continue
            other, other_column = target
            note = _subset_note(table, column, other, other_column, query, row_budget)
            if note is None:
                continue
            one = facts[key].is_unique([column.name])
            _link(facts, table, [column.name], other, [other_column.name], one, note)


def _referenced(tables: dict[str, TableInfo], facts: dict[str, TableFacts], table: TableInfo,
                column: ColumnInfo) -> tuple[TableInfo, ColumnInfo] | None:
    """The table ``column`` names (``customer_id``: customers) and its key column of the same
    name or ``id``, when the two columns' types can be compared."""
    named = referenced_tables(column.name)
    if named is None:
        return None
    other = next((tables[n] for n in named[0] if n in tables), None)
    if other is None or other is table or other.is_view:
        return None
    key = [fold(c) for c in facts[fold(other.name)].primary_key]
    names = {fold(c.name): c for c in other.columns}
    wanted = named[1]
    if key:
        found = names[key[0]] if len(key) == 1 and key[0] in wanted else None
    else:
        found = next((names[w] for w in wanted if w in names), None)
    if found is None or not comparable_types(column.type, found.type):
        return None
    return other, found


def _subset_note(table: TableInfo, column: ColumnInfo, other: TableInfo, other_column: ColumnInfo,
                 query: Query, row_budget: int) -> str | None:
    """Why the named join is kept, or None when the data contradicts it."""
    where = f"{table.name}.{column.name} -> {other.name}.{other_column.name}"
    rows = table.row_count + other.row_count
    if rows > row_budget:
        return (f"inferred from the names {where}; not checked against the data ({rows:,} rows, "
                f"more than the {row_budget:,}-row budget of `catalog init`)")
    mine = exp.column(column.name, table="r", quoted=True)
    theirs = exp.column(other_column.name, table="o", quoted=True)
    key = exp.column(other_column.name, quoted=True)
    keys = exp.select(key).distinct().from_(_table_ref(other))
    check = (
        exp.select(
            exp.Count(this=exp.Distinct(expressions=[mine.copy()])),
            exp.Filter(this=exp.Count(this=exp.Distinct(expressions=[mine.copy()])),
                       expression=exp.Where(this=exp.Is(this=theirs.copy(),
                                                        expression=exp.Null()))),
        )
        .from_(_table_ref(table).as_("r"))
        .join(keys.subquery("o"), on=exp.EQ(this=mine.copy(), expression=theirs.copy()),
              join_type="left")
        .where(exp.not_(exp.Is(this=mine.copy(), expression=exp.Null())))
    )
    row = _one(query, check)
    if row is None:
        return None
    values, missing = row
    if missing:
        return None
    if not values:
        return f"inferred from the names {where}; no values yet to check it against"
    return (f"inferred from the names {where}: all {values:,} distinct values are "
            f"{other.name}.{other_column.name} values")


# ---- columns --------------------------------------------------------------------------------
def _time_columns(table: TableInfo, facts: TableFacts) -> None:
    """Tag date and timestamp columns ``time`` and pick the table's main one, if obvious."""
    times = [c.name for c in table.columns if is_time_type(c.type)]
    for name in times:
        facts.tag(name, "time")
    facts.time_column, unclear = main_time_column(times)
    if unclear:
        facts.notes.append(f"time columns {', '.join(unclear)}: none is obviously the one that "
                           "dates a row, so metrics here have no time_column yet")


def _value_lists(table: TableInfo, facts: TableFacts, query: Query, row_budget: int) -> None:
    """The values of low-cardinality text columns, unless they look personal or free text."""
    keys = {fold(k) for k in facts.primary_key}
    candidates = [
        c for c in table.columns
        if is_text_type(c.type) and fold(c.name) not in keys
        and not {"id", "time"} & set(facts.column(c.name).tags)
        and not is_key_name(c.name) and not is_free_text_name(c.name)
    ]
    if not candidates or table.is_view or table.row_count == 0:
        return
    if table.row_count > row_budget:
        facts.notes.append(f"value lists not read ({table.row_count:,} rows, more than the "
                           f"{row_budget:,}-row budget of `catalog init`)")
        return
    parts: list[exp.Expression] = []
    for column in candidates:
        ref = exp.column(column.name, quoted=True)
        parts += [exp.Count(this=exp.Distinct(expressions=[ref.copy()])), exp.Count(this=ref),
                  exp.Max(this=exp.Length(this=exp.cast(ref.copy(), exp.DataType.Type.VARCHAR)))]
    row = _one(query, exp.select(*parts).from_(_table_ref(table)))
    if row is None:
        return
    short = []
    for i, column in enumerate(candidates):
        distinct, present, longest = row[3 * i: 3 * i + 3]
        if (present and distinct <= MAX_VALUES and distinct <= MAX_DISTINCT_SHARE * present
                and (longest or 0) <= MAX_VALUE_LENGTH):
            short.append(column)
    if not short:
        return
    lists = [
        exp.Filter(
            this=exp.ArrayAgg(this=exp.Distinct(expressions=[
                exp.cast(exp.column(c.name, quoted=True), exp.DataType.Type.VARCHAR)])),
            expression=exp.Where(this=exp.not_(exp.Is(this=exp.column(c.name, quoted=True),
                                                      expression=exp.Null()))))
        for c in short
    ]
    found = _one(query, exp.select(*lists).from_(_table_ref(table)))
    if found is None:
        return
    for column, values in zip(short, found, strict=True):
        values = sorted(str(v) for v in values or [])
        if not values or not all(v.isprintable() for v in values):
            continue
        personal = _judge(table.name, column.name, values, THRESHOLD, _kinds_for(column.type))
        if personal is not None:
            facts.tag(column.name, "pii")
            facts.column(column.name).note = (
                f"looks like {personal.kind} ({personal.reason}): classify it, see "
                "`skipper catalog scan`")
            continue
        facts.column(column.name).values = values
        facts.column(column.name).note = (
            f"the {len(values)} values found in {table.row_count:,} rows" if len(values) > 1
            else f"the only value found in {table.row_count:,} rows")


# ---- metrics --------------------------------------------------------------------------------
def _metrics(tables: dict[str, TableInfo], facts: dict[str, TableFacts]) -> list[MetricDraft]:
    """A row count per table, then sums of its columns named like amounts or quantities."""
    measures = {key: [c for c in table.columns if _is_measure(c, facts[key])]
                for key, table in tables.items()}
    counts: dict[str, int] = {}
    for column in (c for columns in measures.values() for c in columns):
        counts[fold(column.name)] = counts.get(fold(column.name), 0) + 1
    out = []
    taken = set(tables)
    for key, table in tables.items():
        time = facts[key].time_column
        dated = f" Dated by {time}." if time else ""
        out.append(MetricDraft(table.name, label_of(table.name),
                               f"Number of rows of {table.name}.{dated}", table.name, "count(*)",
                               time, "integer"))
        for column in measures[key]:
            facts[key].tag(column.name, "measure")
            alone = counts[fold(column.name)] == 1 and fold(column.name) not in taken
            name = column.name if alone else f"{table.name}_{column.name}"
            if fold(name) in taken:
                continue
            taken.add(fold(name))
            out.append(MetricDraft(
                name, label_of(column.name) + ("" if alone else f" ({table.name})"),
                f"Sum of {table.name}.{column.name}.{dated}", table.name,
                f"sum({exp.column(column.name).sql(dialect='duckdb')})", time,
                "integer" if column.type.upper() in INTEGER_TYPES else "number"))
    return out


def _is_measure(column: ColumnInfo, facts: TableFacts) -> bool:
    tags = set(facts.columns[column.name].tags) if column.name in facts.columns else set()
    return is_number_type(column.type) and "id" not in tags and is_measure_name(column.name)


# ---- queries ------------------------------------------------------------------------------
def _table_ref(table: TableInfo) -> exp.Table:
    return exp.table_(table.name, db=table.schema, quoted=True)


def _one(query: Query, tree: exp.Expression) -> tuple[Any, ...] | None:
    """The one row of a check, or None when it could not run (a check is never worth an
    error: the guess is then not made)."""
    try:
        rows = query(tree.sql(dialect="duckdb"))
    except SkipperError:
        return None
    return rows[0] if rows else None
