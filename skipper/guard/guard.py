"""The guard's front: parse once, run the rules in order, hand back the tree to execute."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from threading import Lock

from sqlglot import exp
from sqlglot.schema import MappingSchema

from skipper.catalog import Catalog
from skipper.engine.relations import Allowed
from skipper.errors import (
    GuardError,
    NotReadOnlyError,
    ParseError,
    PolicyError,
)
from skipper.guard.column_names import DuckDBNames, keep_column_names
from skipper.guard.columns import qualify_columns
from skipper.guard.comments import drop_comments
from skipper.guard.context import GuardContext
from skipper.guard.expansion import bounded_stars
from skipper.guard.functions import allowed_functions
from skipper.guard.lineage import record_lineage
from skipper.guard.parentheses import unwrap_parenthesized_tables
from skipper.guard.parse import LIMITS, Limits, TimeBudget, parse_statements, too_deep_error
from skipper.guard.policy import apply_policies
from skipper.guard.read_only import read_only
from skipper.guard.relation_statement import select_from_relation
from skipper.guard.single_statement import single_statement
from skipper.guard.table_functions import ROW_GENERATOR_NAMES, no_table_functions
from skipper.guard.tables import catalog_tables_only
from skipper.policy import Access, Policy

Rule = Callable[[exp.Expression, GuardContext], exp.Expression]

STATEMENT_RULES: tuple[Rule, ...] = (
    single_statement,
    read_only,
    drop_comments,
    select_from_relation,
    no_table_functions,
)
"""The rules about what the statement is, whatever the catalog: one read query that writes,
configures and commands nothing and reads no table function, file or URL."""

RULES: tuple[Rule, ...] = (
    *STATEMENT_RULES,
    unwrap_parenthesized_tables,
    catalog_tables_only,
    allowed_functions,
    bounded_stars,
    qualify_columns,
    record_lineage,
    apply_policies,
    keep_column_names,
)
"""The guard's whole policy, in order. Each rule raises a GuardError or returns the tree."""


class GuardedQuery:
    """A query the guard accepted: the tree to run, its exact SQL, and what it reads.

    ``tree`` and ``analysed`` are the caller's own copies, made on first access, so changing
    them never touches the guard's cache; callers that only read ``sql`` pay for no copy.
    """

    def __init__(
        self,
        *,
        tree: exp.Query,
        sql: str,
        tables: list[str],
        columns: dict[str, list[str]],
        rewrites: list[str] | None = None,
        analysed: exp.Expression | None = None,
        user: str | None = None,
        groups: list[str] | None = None,
        policies: list[dict[str, str]] | None = None,
        reads: list[tuple[str, str]] | None = None,
    ) -> None:
        self.groups = list(groups or [])
        self.reads = list(reads or [])
        self.policies = [dict(p) for p in policies or []]
        self.sql = sql
        self.tables = list(tables)
        self.columns = {table: list(names) for table, names in columns.items()}
        self.rewrites = list(rewrites or [])
        self.user = user
        self._tree_source = tree
        self._analysed_source = analysed
        self._tree: exp.Query | None = None
        self._analysed: exp.Expression | None = None

    @property
    def tree(self) -> exp.Query:
        """The sqlglot tree the engine runs (``sql`` is ``tree.sql(dialect)``)."""
        if self._tree is None:
            self._tree = self._tree_source.copy()
        return self._tree

    @property
    def ordered(self) -> bool:
        """Whether the outermost query's ORDER BY fixes the rows' order (read, not copied)."""
        return self._tree_source.args.get("order") is not None

    @property
    def analysed(self) -> exp.Expression | None:
        """The qualified copy the guard analysed (stars expanded, columns qualified)."""
        if self._analysed is None and self._analysed_source is not None:
            self._analysed = self._analysed_source.copy()
        return self._analysed

    def copy(self) -> GuardedQuery:
        """Another handle on the same result, with its own lists and (lazily) its own trees."""
        return GuardedQuery(
            tree=self._tree_source,
            sql=self.sql,
            tables=self.tables,
            columns=self.columns,
            rewrites=self.rewrites,
            analysed=self._analysed_source,
            user=self.user,
            groups=self.groups,
            policies=self.policies,
            reads=self.reads,
        )

    def rewritten(self, tree: exp.Query, note: str, dialect: str) -> GuardedQuery:
        """This query with ``tree`` to run instead (a rewrite after the guard, e.g. pinned
        PIVOT values), noted among its rewrites."""
        return GuardedQuery(
            tree=tree, sql=tree.sql(dialect=dialect), tables=self.tables, columns=self.columns,
            rewrites=[*self.rewrites, note], analysed=self._analysed_source, user=self.user,
            groups=self.groups, policies=self.policies, reads=self.reads,
        )

    @property
    def allowed(self) -> Allowed:
        """What the engine's second wall lets this query read: the catalog tables it names and
        its governance reads (row filters' subqueries), and the harmless row generators."""
        return Allowed.of(self.reads, ROW_GENERATOR_NAMES)

    def __repr__(self) -> str:
        return f"GuardedQuery(sql={self.sql!r}, tables={self.tables!r})"


class Guard:
    """Checks SQL against a catalog: one read query over catalog tables, or a typed refusal."""

    def __init__(
        self,
        catalog: Catalog,
        dialect: str = "duckdb",
        *,
        database: str | None = None,
        rules: tuple[Rule, ...] = RULES,
        cache_size: int = 256,
        limits: Limits = LIMITS,
        policy: Policy | None = None,
    ) -> None:
        """``database`` is the name DuckDB gives the opened file (its stem, e.g. ``lake`` for
        ``lake.duckdb``), so ``lake.accounts`` and ``lake.main.accounts`` are recognised.
        ``limits`` bound the work of one check (size, tokens, nesting, time)."""
        self.catalog = catalog
        self.dialect = dialect
        self.database = database
        self.rules = rules
        self.policy = policy if policy is not None else Policy(catalog, dialect=dialect)
        self.limits = limits
        tables: dict[str, object] = dict(catalog.schema())
        self.schema = MappingSchema(tables, dialect=dialect, normalize=True)
        self._cache: OrderedDict[tuple[str, str | None, str, str], GuardedQuery] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()
        self._names = DuckDBNames() if dialect == "duckdb" else None

    def check(self, sql: str, user: str | None = None) -> GuardedQuery:
        """The guarded query for ``sql``, or a GuardError subclass saying what to change."""
        principal = self.policy.principal(user)
        if not principal.known:
            # Names are self-asserted (``user=``, ``--user``), so saying a name is unknown
            # reveals nothing about the data; forbidden tables still look like missing ones.
            raise PolicyError(
                f"user {principal.name!r} is not a user of this catalog, so it may read "
                "nothing; ask a catalog owner to add them under `users:`",
                code="policy.unknown_user",
            )
        access = self.policy.access_for(principal)
        key = (sql, user, self.catalog.version, access.key)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is not None:
            return cached.copy()
        guarded = self._check(sql, user, access)
        with self._lock:
            self._cache[key] = guarded
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return guarded.copy()

    def context(
        self, sql: str = "", user: str | None = None, access: Access | None = None
    ) -> GuardContext:
        """A fresh context for running rules by hand (tests, or one rule at a time).

        The rules see the catalog as ``user`` may see it: forbidden tables and hidden columns
        are simply absent, so refusals do not tell them apart from names that do not exist.
        """
        access = access if access is not None else self.policy.access(user)
        full = access.catalog is self.catalog
        return GuardContext(
            catalog=access.catalog,
            dialect=self.dialect,
            schema=self.schema if full else access.schema,
            access=access,
            sql_text=sql,
            user=user,
            database=self.database,
            names=self._names,
        )

    def _check(self, sql: str, user: str | None, access: Access) -> GuardedQuery:
        ctx = self.context(sql, user, access)
        tree, text = run_rules(ctx, self.rules, self.limits)
        if not isinstance(tree, exp.Query):
            raise NotReadOnlyError("only read queries are allowed (SELECT, WITH, FROM ...)")
        return GuardedQuery(
            tree=tree,
            sql=text,
            tables=ctx.tables,
            columns=ctx.columns,
            rewrites=ctx.rewrites,
            analysed=ctx.analysed,
            user=user,
            groups=list(access.principal.groups),
            policies=ctx.policies,
            reads=_reads(ctx, access, self.catalog),
        )


def run_rules(ctx: GuardContext, rules: tuple[Rule, ...], limits: Limits = LIMITS
              ) -> tuple[exp.Expression, str]:
    """Parse ``ctx.sql_text`` and run ``rules`` on its first statement: the tree and its SQL,
    or a GuardError. Fails closed: what the rules cannot analyse is a ParseError. The text is
    measured before it is parsed, and parsing and the rules share ``limits.seconds``: a check
    past its budget stops at the next rule (or the next step of lineage) with sql.too_complex."""
    ctx.budget = TimeBudget(limits.seconds)
    try:
        ctx.statements = parse_statements(ctx.sql_text, ctx.dialect, limits)
        tree = ctx.statements[0]
        for rule in rules:
            ctx.budget.check()
            tree = rule(tree, ctx)
        ctx.budget.check()
        return tree, tree.sql(dialect=ctx.dialect)
    except GuardError:
        raise
    except RecursionError:
        raise too_deep_error() from None
    except Exception as error:  # fail closed: what the guard cannot analyse does not run
        raise ParseError(
            f"the guard could not analyse this query ({type(error).__name__}); "
            "rewrite it more plainly"
        ) from None


def check_statement(sql: str, dialect: str = "duckdb") -> exp.Expression:
    """The one read statement in ``sql`` as the guard's catalog-free rules
    (``STATEMENT_RULES``) leave it, or the GuardError they raise: whether a statement is one a
    read-only agent must refuse, asked without a catalog (the evals ask it of gold SQL)."""
    ctx = GuardContext(catalog=_no_catalog(), dialect=dialect,
                       schema=MappingSchema(dialect=dialect), sql_text=sql)
    tree, _ = run_rules(ctx, STATEMENT_RULES)
    return tree


def _reads(ctx: GuardContext, access: Access, catalog: Catalog) -> list[tuple[str, str]]:
    """The stored tables the guarded query reads as ``(schema, name)``: those it names, and
    those its row filters read (a filter may look at another table, e.g. accounts)."""
    tables = {ref.table.name: ref.table for ref in ctx.table_refs}
    for name in list(tables):
        policy = access.table_policy(name)
        if policy is None or policy.row_filter is None:
            continue
        for node in policy.row_filter.find_all(exp.Table):
            table = catalog.find_table(node.name)
            if table is not None:
                tables.setdefault(table.name, table)
    return sorted((table.db_schema, table.name) for table in tables.values())


@functools.cache
def _no_catalog() -> Catalog:
    """The empty catalog the statement rules run against (they never read it)."""
    return Catalog([])
