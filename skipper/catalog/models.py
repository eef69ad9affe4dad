"""The semantic catalog as typed declarations: what tables mean, how fresh and complete they are.

Every SQL snippet in the catalog is parsed with sqlglot while the catalog loads, so a typo fails
at load time with the file, line and field, not at question time.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, cast

import sqlglot
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from sqlglot import exp

from skipper.identifiers import fold

DEFAULT_DIALECT = "duckdb"

_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$")
_DURATION_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """Read ``30m``, ``2h``, ``1d`` or ``1w`` (or a timedelta) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. '30m', '2h', '1d' or '1w'")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{_DURATION_UNITS[unit]: amount})


def format_duration(value: timedelta) -> str:
    """Write a timedelta the way the catalog spells it (``1d``, ``2h``)."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+\s*(m|min|h|d|w)$"}),
]


def _dialect(info: ValidationInfo) -> str:
    context = info.context or {}
    return str(context.get("dialect", DEFAULT_DIALECT))


def parse_expression(sql: str, dialect: str = DEFAULT_DIALECT) -> exp.Expression:
    """Parse one SQL expression (not a statement) of a catalog field."""
    try:
        tree = cast(exp.Expression, sqlglot.parse_one(sql, read=dialect, into=exp.Condition))
    except sqlglot.errors.SqlglotError as error:
        raise ValueError(f"not a valid SQL expression: {_first_line(error)}") from None
    return tree


def parse_query(sql: str, dialect: str = DEFAULT_DIALECT) -> exp.Query:
    """Parse one read query (SELECT / WITH / set operation) of a catalog field."""
    try:
        trees = sqlglot.parse(sql, read=dialect)
    except sqlglot.errors.SqlglotError as error:
        raise ValueError(f"not a valid SQL query: {_first_line(error)}") from None
    trees = [tree for tree in trees if tree is not None]
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        raise ValueError("must be exactly one read query (SELECT ...)")
    return trees[0]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _check_expression(value: str, info: ValidationInfo) -> str:
    parse_expression(value, _dialect(info))
    return value


def _check_query(value: str, info: ValidationInfo) -> str:
    parse_query(value, _dialect(info))
    return value


class Entry(BaseModel):
    """Base of every catalog declaration: strict fields, and where it was declared."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    _file: str | None = PrivateAttr(default=None)
    _line: int | None = PrivateAttr(default=None)
    _path: str = PrivateAttr(default="")
    _field_lines: dict[str, int] = PrivateAttr(default_factory=dict)

    def locate(
        self, file: str | None, line: int | None, path: str, field_lines: dict[str, int]
    ) -> None:
        self._file, self._line, self._path = file, line, path
        self._field_lines = field_lines

    def line_of(self, field: str) -> int | None:
        """The line where one of this entry's fields (``.expr``, ``.upstream[1]``) is written."""
        key = field.lstrip(".").split("[")[0].split(".")[0]
        return self._field_lines.get(key, self._line)

    @property
    def origin(self) -> tuple[str | None, int | None, str]:
        """(file, line, field path) where this entry was declared."""
        return self._file, self._line, self._path


Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Source(Entry):
    """A logical system that tables come from (a billing Postgres, an analytics ClickHouse)."""

    name: Name
    description: str = ""
    kind: str = Field("duckdb", description="Engine kind, e.g. postgres, clickhouse, duckdb.")
    owner: str | None = None


class Column(Entry):
    name: Name
    type: str | None = Field(None, description="SQL type as the engine reports it.")
    description: str = ""
    label: str | None = None
    synonyms: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="e.g. pii, id, measure")
    values: list[str | int | bool] | None = Field(
        None, description="Allowed values of a low-cardinality column."
    )
    classification: Name | None = Field(
        None, description="Kind of personal data (e.g. email, name, ip, phone): its masking rule "
        "is the catalog classification of that name.",
    )


class Relationship(Entry):
    """A join from this table to another, with its keys and cardinality."""

    table: Name = Field(description="The other table.")
    on: str = Field(description="Join condition, e.g. domains.account_id = accounts.account_id")
    cardinality: Literal["one_to_one", "one_to_many", "many_to_one", "many_to_many"]

    _check_on = field_validator("on")(_check_expression)


class LoadLog(Entry):
    """A table that records when each table was loaded."""

    table: Name
    table_column: Name = "table_name"
    time_column: Name = "loaded_at"


class Freshness(Entry):
    """How to measure how recent a table is, and how old it may get."""

    column: Name | None = Field(None, description="Date/timestamp column of the data itself.")
    load_log: LoadLog | None = Field(None, description="Recorded load times instead of a column.")
    sla: Duration = Field(description="Maximum acceptable lag, e.g. 1d, 2h.")

    @model_validator(mode="after")
    def _one_method(self) -> Freshness:
        if (self.column is None) == (self.load_log is None):
            raise ValueError("give exactly one of 'column' or 'load_log'")
        return self


class Sampling(Entry):
    """The table holds a sample; totals are estimates."""

    rate: float = Field(gt=0, le=1, description="Fraction of events kept, e.g. 0.01.")
    weight_column: Name | None = Field(
        None, description="Each row stands for this many events: estimate sum(x * weight)."
    )
    exact_table: Name | None = Field(None, description="An unsampled table with the same facts.")


class Lineage(Entry):
    """A derived table: which tables it is built from, and the SQL that builds it."""

    upstream: list[Name] = Field(min_length=1)
    sql: str | None = None

    _check_sql = field_validator("sql")(
        lambda value, info: None if value is None else _check_query(value, info)
    )


class Table(Entry):
    name: Name
    label: str | None = None
    db_schema: Name = Field("main", alias="schema", description="Schema in the database.")
    source: Name | None = None
    description: str = ""
    owner: str | None = None
    grain: str | None = Field(None, description="What one row is, e.g. 'one row per domain'.")
    synonyms: list[str] = Field(default_factory=list)
    primary_key: list[Name] = Field(default_factory=list)
    row_count: int | None = Field(None, ge=0, description="Recorded at introspection time.")
    columns: list[Column] = Field(min_length=1)
    relationships: list[Relationship] = Field(default_factory=list)
    freshness: Freshness | None = None
    sampling: Sampling | None = None
    lineage: Lineage | None = None
    reviewed: bool = Field(
        True, description="False until a person has reviewed the table (e.g. after a PII scan): "
        "unreviewed tables are queryable by nobody.",
    )

    def column(self, name: str) -> Column | None:
        """The column named ``name`` as DuckDB compares names (ASCII letters fold)."""
        folded = fold(name)
        return next((c for c in self.columns if fold(c.name) == folded), None)


class Metric(Entry):
    name: Name
    label: str | None = None
    description: str = ""
    synonyms: list[str] = Field(default_factory=list)
    table: Name
    expr: str = Field(description="Aggregate SQL expression, e.g. sum(amount_usd).")
    filters: list[str] = Field(default_factory=list, description="SQL predicates always applied.")
    time_column: Name | None = None
    format: Literal["number", "integer", "usd", "percent", "bytes"] = "number"
    excluding: list[str] = Field(
        default_factory=list,
        description="Segments left out of this metric unless a question asks for them "
                    "('internal_accounts' for customer figures); 'including internal accounts' "
                    "puts them back. The answer's interpretation says so.",
    )
    verbs: list[str] | None = Field(
        default=None,
        description="What happens when a row of the metric is counted, as base verbs ('open', "
                    "'sign up'): 'tickets opened last week' dates the metric by its "
                    "time_column, and a verb that is also a column value ('open') is read as a "
                    "value only where grammar puts one. Default: the verb of the time column's "
                    "name (opened_at -> open); [] for none.",
    )

    _check_expr = field_validator("expr")(_check_expression)

    @field_validator("filters")
    @classmethod
    def _check_filters(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for item in value:
            parse_expression(item, _dialect(info))
        return value


class Dimension(Entry):
    name: Name
    label: str | None = None
    description: str = ""
    synonyms: list[str] = Field(default_factory=list)
    table: Name
    expr: str | None = Field(None, description="SQL expression; defaults to the column `name`.")
    kind: Literal["category", "time", "boolean", "number"] = "category"

    _check_expr = field_validator("expr")(
        lambda value, info: None if value is None else _check_expression(value, info)
    )

    @property
    def sql(self) -> str:
        return self.expr or self.name


class Segment(Entry):
    """A named filter ("Top 100 by traffic", "internal accounts")."""

    name: Name
    label: str | None = None
    description: str = ""
    synonyms: list[str] = Field(default_factory=list)
    table: Name
    filter: str

    _check_filter = field_validator("filter")(_check_expression)


class GlossaryTerm(Entry):
    term: str = Field(min_length=1)
    definition: str
    synonyms: list[str] = Field(default_factory=list)
    refers_to: list[str] = Field(
        default_factory=list, description="Names of tables, metrics, dimensions or segments."
    )
    excluding: list[str] = Field(
        default_factory=list,
        description="Segments the term leaves out: a question that says the term filters them "
                    "away ('customers' = accounts excluding internal_accounts), and says so.",
    )
    within: list[str] = Field(
        default_factory=list,
        description="Segments the term is limited to ('active customers' = paying_accounts).",
    )


class VerifiedQuery(Entry):
    question: str = Field(min_length=1)
    sql: str
    verified_by: str | None = None
    verified_at: str | None = None
    tags: list[str] = Field(default_factory=list)

    _check_sql = field_validator("sql")(_check_query)


MaskKind = Literal["deny", "redact", "hash", "partial"]


class Classification(Entry):
    """A kind of personal data and how it is masked for users whose groups do not unmask it."""

    name: Name
    description: str = ""
    mask: MaskKind = Field(
        "redact", description="deny: the column is hidden; redact: NULL or `value`; hash: salted "
        "sha256 (salt from SKIPPER_POLICY_SALT or the constructor); partial: keep the first "
        "`keep_start` and last `keep_end` characters.",
    )
    value: str | None = Field(None, description="The constant a redact mask shows (default NULL).")
    keep_start: int = Field(1, ge=0)
    keep_end: int = Field(0, ge=0)
    in_predicates: bool = Field(
        False, description="Whether a masked column may appear in WHERE, JOIN, GROUP BY, ORDER "
        "BY, CASE, HAVING or window clauses (it is compared masked).",
    )


class RowFilter(Entry):
    """Rows of a table a group may see: a SQL predicate, which may say :user_name/:user_email."""

    table: Name
    where: str = Field(description="SQL predicate on the table, e.g. region = 'EU'.")

    _check_where = field_validator("where")(
        lambda value, info: (parse_expression(value, _dialect(info)), value)[1]
    )


class Group(Entry):
    """A group of users and what it may read."""

    name: Name
    description: str = ""
    tables: list[str] = Field(
        default_factory=list, description="Tables the group may read; '*' for every table."
    )
    unmask: list[str] = Field(
        default_factory=list, description="Classifications the group sees in clear; '*' for all."
    )
    row_filters: list[RowFilter] = Field(default_factory=list)


class User(Entry):
    """A person (or service) the catalog knows, with the groups they belong to."""

    name: Name
    email: str | None = None
    description: str = ""
    groups: list[Name] = Field(default_factory=list)


class CatalogFile(Entry):
    """One YAML file of a catalog directory; a catalog merges all of them."""

    name: str | None = None
    description: str | None = None
    dialect: str | None = None
    sources: list[Source] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    dimensions: list[Dimension] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    glossary: list[GlossaryTerm] = Field(default_factory=list)
    verified_queries: list[VerifiedQuery] = Field(default_factory=list)
    classifications: list[Classification] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    default_user: Name | None = Field(
        None, description="Who a query without a user runs as once the catalog declares users."
    )


def catalog_json_schema() -> dict[str, Any]:
    """JSON Schema of one catalog YAML file, for editor autocompletion."""
    schema = CatalogFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Skipper catalog file"
    return schema
