"""Guard rules one at a time, the rule tuple as an extension point, the cache, and the limits that
keep hostile input from crashing anything."""

from __future__ import annotations

import inspect
import logging
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from skipper.catalog import Catalog
from skipper.errors import (
    FunctionNotAllowedError,
    GuardError,
    NotReadOnlyError,
    ParseError,
    SkipperError,
    TableFunctionError,
    TooComplexError,
    UnknownTableError,
)
from skipper.guard import RULES, Guard, GuardContext, GuardedQuery
from skipper.guard.functions import allowed_functions, function_allowlist
from skipper.guard.lineage import record_lineage
from skipper.guard.read_only import read_only
from skipper.guard.table_functions import no_table_functions
from skipper.guard.tables import catalog_tables_only

FIXTURES = Path(__file__).parent / "fixtures" / "guard"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(FIXTURES / "catalog")


@pytest.fixture(scope="module")
def guard(catalog: Catalog) -> Guard:
    return Guard(catalog, database="lake")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("rules") / "lake.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute((FIXTURES / "lake.sql").read_text(encoding="utf-8"))
    with duckdb.connect(str(path), read_only=True) as connection:
        yield connection


def _tree(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(tree, exp.Expression)
    return tree


# ---- the policy is a tuple of small rules ------------------------------------------------------
def test_rules_are_plain_functions_each_in_its_own_module() -> None:
    assert isinstance(RULES, tuple) and len(RULES) >= 8
    modules = [rule.__module__ for rule in RULES]
    assert len(set(modules)) == len(modules)
    for rule in RULES:
        assert inspect.isfunction(rule)
        assert rule.__module__.startswith("skipper.guard.")
        assert list(inspect.signature(rule).parameters) == ["tree", "ctx"]
    names = [rule.__name__ for rule in RULES]
    assert names[0] == "single_statement" and names[-1] == "keep_column_names"
    assert names.index("read_only") < names.index("catalog_tables_only")
    assert names.index("catalog_tables_only") < names.index("qualify_columns")


def test_read_only_alone(guard: Guard) -> None:
    ctx = guard.context()
    tree = _tree("SELECT 1")
    assert read_only(tree, ctx) is tree
    with pytest.raises(NotReadOnlyError, match="INSERT"):
        read_only(_tree("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x"), ctx)
    with pytest.raises(NotReadOnlyError):
        read_only(_tree("COPY (SELECT 1) TO 'x.csv'"), ctx)


def test_no_table_functions_alone(guard: Guard) -> None:
    ctx = guard.context()
    no_table_functions(_tree("SELECT * FROM range(3) r(i), unnest([1]) u(x)"), ctx)
    with pytest.raises(TableFunctionError) as refused:
        no_table_functions(_tree("SELECT * FROM glob('*')"), ctx)
    assert refused.value.details == {"function": "glob"}
    with pytest.raises(TableFunctionError, match="files or URLs"):
        no_table_functions(_tree("SELECT * FROM 'https://example.com/x.csv'"), ctx)


def test_catalog_tables_only_points_at_the_executed_tree(guard: Guard) -> None:
    ctx = guard.context()
    tree = _tree(
        "WITH c AS (SELECT * FROM accounts) "
        "SELECT * FROM c JOIN domains d USING (account_id), finance.invoices"
    )
    assert catalog_tables_only(tree, ctx) is tree
    assert ctx.tables == ["accounts", "domains", "invoices"]
    assert sorted(ref.table.name for ref in ctx.table_refs) == ["accounts", "domains", "invoices"]
    for ref in ctx.table_refs:
        assert ref.node.root() is tree and isinstance(ref.node, exp.Table)
    assert ctx.cte_names == {"c"}
    with pytest.raises(UnknownTableError):
        catalog_tables_only(_tree("SELECT * FROM employee_salaries"), guard.context())


def test_allowed_functions_alone(guard: Guard) -> None:
    ctx = guard.context()
    allowed_functions(_tree("SELECT upper(x), strftime(d, '%Y'), count(*), x::INT"), ctx)
    with pytest.raises(FunctionNotAllowedError, match="environment"):
        allowed_functions(_tree("SELECT current_setting('threads')"), ctx)
    with pytest.raises(FunctionNotAllowedError, match="environment"):
        allowed_functions(_tree("SELECT version()"), ctx)


def test_qualify_leaves_the_executed_tree_as_written(guard: Guard) -> None:
    sql = "SELECT * EXCLUDE (email) FROM accounts JOIN domains USING (account_id) ORDER BY ALL"
    guarded = guard.check(sql)
    assert guarded.sql == _tree(sql).sql(dialect="duckdb")
    assert guarded.analysed is not None
    analysed = guarded.analysed.sql(dialect="duckdb")
    assert "EXCLUDE" not in analysed and "accounts.account_name" in analysed


def test_lineage_alone_without_qualification(guard: Guard) -> None:
    ctx = guard.context()
    tree = _tree("SELECT a.plan FROM accounts a WHERE a.region = 'EU'")
    catalog_tables_only(tree, ctx)
    record_lineage(tree, ctx)
    assert ctx.columns == {"accounts": ["plan", "region"]}


def test_a_policy_rule_can_replace_table_references(catalog: Catalog, lake) -> None:
    """Governance's shape: a rule after lineage swaps each catalog table for a subquery."""

    def only_eu_accounts(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
        for ref in ctx.table_refs:
            if ref.table.name == "accounts":
                alias = ref.node.alias_or_name
                policy = exp.select("*").from_("accounts").where("region = 'EU'")
                ref.node.replace(policy.subquery(alias))
                ctx.note("row filter on accounts: region = 'EU'")
        return tree

    rules = RULES[:-1] + (only_eu_accounts, RULES[-1])
    guarded = Guard(catalog, rules=rules).check(
        "SELECT a.region, count(*) FROM accounts a GROUP BY ALL"
    )
    assert "WHERE region = 'EU'" in guarded.sql
    assert guarded.rewrites == ["row filter on accounts: region = 'EU'"]
    assert lake.execute(guarded.sql).fetchall() == [("EU", 24)]


# ---- the cache ------------------------------------------------------------------------------
def test_cache_returns_copies_that_are_safe_to_change(catalog: Catalog) -> None:
    guard = Guard(catalog)
    first = guard.check("SELECT plan FROM accounts")
    first.tree.set("where", exp.Where(this=exp.false()))
    first.tables.append("mutated")
    first.columns["accounts"].append("mutated")
    assert first.analysed is not None
    first.analysed.set("limit", exp.Limit(expression=exp.Literal.number(1)))
    second = guard.check("SELECT plan FROM accounts")
    assert second.sql == "SELECT plan FROM accounts"
    assert second.tree.sql(dialect="duckdb") == second.sql
    assert second.tables == ["accounts"] and second.columns == {"accounts": ["plan"]}
    assert "LIMIT" not in second.analysed.sql()  # type: ignore[union-attr]
    assert second.tree is not first.tree


def test_cache_is_keyed_by_user_and_bounded(catalog: Catalog) -> None:
    guard = Guard(catalog, cache_size=2)
    guard.check("SELECT 1", user="ana")
    guard.check("SELECT 1", user="finn")
    assert len(guard._cache) == 2
    guard.check("SELECT 2")
    assert len(guard._cache) == 2
    assert not [key for key in guard._cache if key[:2] == ("SELECT 1", "ana")]
    assert [key[:2] for key in guard._cache] == [("SELECT 1", "finn"), ("SELECT 2", None)]
    uncached = Guard(catalog, cache_size=0)
    assert uncached.check("SELECT 1").sql == "SELECT 1"
    assert len(uncached._cache) == 0


def test_refusals_are_not_cached_as_successes(catalog: Catalog) -> None:
    guard = Guard(catalog)
    for _ in range(2):
        with pytest.raises(UnknownTableError):
            guard.check("SELECT * FROM employee_salaries")


def test_concurrent_checks_agree(catalog: Catalog) -> None:
    guard = Guard(catalog, cache_size=4)
    queries = [f"SELECT plan, count(*) + {i} FROM accounts GROUP BY plan" for i in range(8)]
    expected = {q: Guard(catalog, cache_size=0).check(q).sql for q in queries}
    failures: list[str] = []

    def work() -> None:
        for _ in range(20):
            for query in queries:
                if guard.check(query).sql != expected[query]:
                    failures.append(query)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# ---- limits: hostile input is refused cleanly ---------------------------------------------------
def test_huge_input_is_refused(guard: Guard) -> None:
    sql = "SELECT " + ", ".join(["1"] * 30_000)
    with pytest.raises(TooComplexError) as refused:
        guard.check(sql)
    assert refused.value.code == "sql.too_complex"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 1000 + "1" + ")" * 1000,
        "SELECT " + "abs(" * 300 + "1" + ")" * 300,
        "SELECT * FROM " + "(SELECT * FROM " * 150 + "accounts" + ") x" * 150,
        "SELECT " + " + ".join(["1"] * 2000),
        "SELECT 1 WHERE " + " OR ".join(f"{i} = {i}" for i in range(1500)),
        "SELECT " + "CASE WHEN true THEN " * 600 + "1" + " END" * 600,
        "SELECT " + "[" * 500 + "1" + "]" * 500,
    ],
    ids=["parens", "functions", "subqueries", "plus-chain", "or-chain", "case", "lists"],
)
def test_deep_nesting_is_refused_not_crashed(guard: Guard, sql: str) -> None:
    with pytest.raises(GuardError) as refused:
        guard.check(sql)
    assert refused.value.code in {"sql.too_complex", "sql.parse_error"}


def test_moderate_nesting_is_fine(guard: Guard) -> None:
    guard.check("SELECT " + "(" * 20 + "1" + ")" * 20)
    guard.check("SELECT 1 WHERE " + " OR ".join(f"{i} = {i}" for i in range(150)))
    guard.check("SELECT * FROM " + "(SELECT * FROM " * 20 + "accounts" + ") x" * 20)


def test_input_that_is_not_text(guard: Guard) -> None:
    with pytest.raises(ParseError):
        guard.check(b"SELECT 1")  # type: ignore[arg-type]


def test_garbage_never_escapes_as_an_unexpected_exception(guard: Guard) -> None:
    rng = random.Random(7)
    words = ["SELECT", "FROM", "accounts", "(", ")", "'", '"', ";", "--", "/*", "*/", ",",
             "WITH", "AS", "UNION", "JOIN", "ON", "read_csv", "1", "*", "$$", "\\", "\x00",
             "PIVOT", "USING", "COPY", "TO", "WHERE", "=", "{", "}", "[", "]", "::", "->"]
    for _ in range(400):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
        try:
            guard.check(text)
        except SkipperError as error:
            assert error.code.startswith("sql.")


def test_command_fallback_does_not_log_warnings(
    guard: Guard, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        for sql in ("CALL pragma_version()", "VACUUM", "EXPLAIN SELECT 1", "RESET threads"):
            with pytest.raises(NotReadOnlyError):
                guard.check(sql)
    assert not [r for r in caplog.records if "Command" in r.getMessage()]


def test_errors_tell_what_to_do(guard: Guard) -> None:
    cases = {
        "SELECT 1; SELECT 2": "exactly one",
        "DROP TABLE accounts": "only read queries",
        "SELECT * FROM employee_salaries": "catalog",
        "SELECT nope FROM accounts": "spelling",
        "SELECT getenv('HOME')": "not allowed",
        "SELECT * FROM read_csv('x')": "catalog tables",
    }
    for sql, hint in cases.items():
        with pytest.raises(GuardError) as refused:
            guard.check(sql)
        assert hint in refused.value.message, (sql, refused.value.message)
        assert refused.value.to_dict()["code"] == refused.value.code


# ---- the function allowlist --------------------------------------------------------------------
def test_allowlist_file_is_consistent_with_duckdb() -> None:
    allowlist = function_allowlist("duckdb")
    assert not allowlist.names & allowlist.refused_names
    con = duckdb.connect()
    kinds: dict[str, set[str]] = {}
    for name, kind in con.execute(
        "SELECT DISTINCT function_name, function_type FROM duckdb_functions()"
    ).fetchall():
        kinds.setdefault(name.lower(), set()).add(kind)
    only_tables = {n for n, k in kinds.items() if k <= {"table", "table_macro", "pragma"}}
    assert not allowlist.names & only_tables
    for dangerous in ("current_setting", "getenv", "getvariable", "version", "nextval",
                      "current_database", "which_secret", "read_csv", "query", "glob"):
        assert dangerous not in allowlist.names
    assert len(allowlist.names & set(kinds)) >= 0.95 * len(allowlist.names)


def test_allowlist_refuses_classes_that_dangerous_names_parse_into() -> None:
    allowlist = function_allowlist("duckdb")
    refused = {kind.__name__ for kind in allowlist.refused_classes}
    assert {"CurrentDatabase", "CurrentSchema", "CurrentUser", "CurrentVersion"} <= refused
    assert not set(allowlist.refused_classes) & allowlist.classes


# ---- DuckDB's column names survive sqlglot's rewriting ------------------------------------
def test_column_names_stay_as_duckdb_names_them(guard: Guard, lake) -> None:
    sql = ("SELECT datediff('hour', opened_at, closed_at), len(category), count(*), priority "
           "FROM support_tickets GROUP BY ALL ORDER BY ALL LIMIT 3")
    guarded = guard.check(sql)
    assert guarded.sql != sql
    original = lake.execute(sql)
    original_names, original_rows = [d[0] for d in original.description], original.fetchall()
    rewritten = lake.execute(guarded.sql)
    assert [d[0] for d in rewritten.description] == original_names
    assert rewritten.fetchall() == original_rows
    assert any("column names" in note for note in guarded.rewrites)


def test_guarded_query_repr_and_copy(guard: Guard) -> None:
    guarded = guard.check("SELECT 1")
    assert isinstance(guarded, GuardedQuery)
    assert "SELECT 1" in repr(guarded)
    other = guarded.copy()
    assert other.sql == guarded.sql and other.tree is not guarded.tree


def test_an_unexpected_failure_refuses_the_query(catalog: Catalog) -> None:
    """Fail closed: a rule that breaks on some input refuses it instead of crashing."""

    def broken(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
        raise KeyError("surprise")

    with pytest.raises(ParseError, match="could not analyse"):
        Guard(catalog, rules=(broken,)).check("SELECT 1")


def _capturing_guard(catalog: Catalog) -> tuple[Guard, list[GuardContext]]:
    """A guard with one extra rule at the end that keeps each check's context for inspection."""
    seen: list[GuardContext] = []

    def capture(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
        seen.append(ctx)
        return tree

    return Guard(catalog, rules=RULES + (capture,)), seen


def test_column_reads_say_where_each_column_is_used(catalog: Catalog) -> None:
    """Governance's other need: which catalog columns a predicate reads, through aliases."""
    guard, seen = _capturing_guard(catalog)
    guard.check(
        "WITH c AS (SELECT account_id AS id, email AS e FROM accounts) "
        "SELECT c.id FROM c JOIN domains d ON d.account_id = c.id WHERE c.e LIKE '%@x.example'"
    )
    reads = seen[0].column_reads
    in_predicates = sorted(
        f"{r.table.name}.{r.column}" for r in reads
        if r.node.find_ancestor(exp.Where, exp.Join) is not None
    )
    assert in_predicates == ["accounts.account_id", "accounts.email", "domains.account_id"]
    traced = {(r.table.name, r.column) for r in reads if r.through}
    assert traced == {("accounts", "account_id"), ("accounts", "email")}


def test_column_reads_trace_through_unions_and_recursive_ctes(catalog: Catalog) -> None:
    guard, seen = _capturing_guard(catalog)
    guard.check(
        "SELECT u.k FROM (SELECT region AS k FROM accounts UNION ALL "
        "SELECT priority FROM support_tickets) u WHERE u.k <> 'x'"
    )
    traced = {(r.table.name, r.column) for r in seen[-1].column_reads
              if r.through and r.node.find_ancestor(exp.Where) is not None}
    assert traced == {("accounts", "region"), ("support_tickets", "priority")}
    guard.check(
        "WITH RECURSIVE r(n, p) AS (SELECT 1, plan FROM accounts UNION ALL "
        "SELECT n + 1, p FROM r WHERE n < 3) SELECT n FROM r WHERE p = 'pro'"
    )
    traced = {(r.table.name, r.column) for r in seen[-1].column_reads if r.through}
    assert ("accounts", "plan") in traced
