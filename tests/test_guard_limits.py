"""The guard's time bound: hostile shapes up to the size limit are refused with sql.too_complex
before sqlglot's slow paths (each family here kept the guard busy for seconds to hours before the
limits), realistic big queries still pass, and a check past its time budget stops.
Speed itself is measured by benchmarks/bench_guard_inputs.py; these tests assert outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from skipper.catalog import Catalog, CatalogFile, Column, Table
from skipper.errors import GuardError, ParseError, TooComplexError
from skipper.guard import RULES, Guard, GuardContext, check_statement
from skipper.guard.expansion import MAX_EXPANDED_COLUMNS
from skipper.guard.lineage import record_lineage
from skipper.guard.parse import (
    LIMITS,
    MAX_SQL_CHARS,
    Limits,
    TimeBudget,
    parse_statements,
    read_tokens,
    token_shape,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "guard"
DUCKDB = Dialect.get_or_raise("duckdb")


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(Catalog.load(FIXTURES / "catalog"), database="lake", cache_size=0)


@pytest.fixture(scope="module")
def wide() -> Guard:
    """A guard over one table of 200 columns, where every star is expensive."""
    table = Table(name="wide", columns=[Column(name=f"c{i}", type="INTEGER")
                                        for i in range(200)])
    return Guard(Catalog([CatalogFile(tables=[table])]), cache_size=0)


def largest(generate: Callable[[int], str], limit: int = MAX_SQL_CHARS) -> str:
    """The SQL of the largest n whose text fits in ``limit`` characters."""
    low, high = 1, 2
    while len(generate(high)) <= limit:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if len(generate(middle)) <= limit else (low, middle)
    return generate(low)


def _cte_chain(body: str, n: int, first: str = "SELECT * FROM accounts") -> str:
    ctes = [f"c0 AS ({first})"] + [f"c{i} AS ({body.format(p=f'c{i - 1}', i=i)})"
                                   for i in range(1, n)]
    return "WITH " + ", ".join(ctes) + f" SELECT * FROM c{n - 1}"


# Each family at the size limit; the comment says what it cost before the limits.
HOSTILE: dict[str, Callable[[int], str]] = {
    # parse grows faster than quadratically: 1,000 -> 2 s, 2,000 -> 10 s, 16,664 -> 2,020 s
    "subscripts": lambda n: "SELECT x" + "[1]" * n,
    "subscripts on a list": lambda n: "SELECT [account_id]" + "[1]" * n + " FROM accounts",
    "slices": lambda n: "SELECT x" + "[1:2]" * n,
    "method calls": lambda n: "SELECT plan" + ".upper()" * n + " FROM accounts",
    "mixed postfix": lambda n: "SELECT x" + "[1].a::INT->'k'" * n,
    # the rules: 128 CTEs 1.3 s, 512 more than 5 s (lineage traces each column to the start)
    "CTE chain": lambda n: _cte_chain("SELECT * FROM {p}", n),
    "CTE chain of named columns": lambda n: _cte_chain(
        "SELECT account_id, plan FROM {p}", n, "SELECT account_id, plan FROM accounts"),
    # star expansion: 16,384 stars more than 5 s
    "star projections": lambda n: "SELECT " + ", ".join(["*"] * n) + " FROM accounts",
    # long lists: 8,192 GROUP BY items 1.9 s, 6,385 VALUES rows 0.9 s
    "GROUP BY items": lambda n: "SELECT count(*) FROM accounts GROUP BY "
                                + ", ".join(["plan"] * n),
    "VALUES rows": lambda n: "SELECT * FROM (VALUES " + ", ".join(f"({i})" for i in range(n))
                             + ") t(v)",
    "joins": lambda n: "SELECT a0.plan FROM accounts a0"
                       + "".join(f" JOIN accounts a{i} USING (account_id)" for i in range(1, n)),
    "projections": lambda n: "SELECT " + ", ".join(f"account_id AS c{i}" for i in range(n))
                             + " FROM accounts",
    "IN list": lambda n: "SELECT plan FROM accounts WHERE account_id IN ("
                         + ", ".join(str(i) for i in range(n)) + ")",
    # nesting: refused before parsing instead of after building the whole tree
    "parentheses": lambda n: "SELECT " + "(" * n + "1" + ")" * n,
    "subqueries": lambda n: "SELECT * FROM " + "(SELECT * FROM " * n + "accounts" + ")" * n,
    "CASE": lambda n: "SELECT " + "CASE WHEN plan = 'pro' THEN " * n + "1" + " ELSE 0 END" * n
                      + " FROM accounts",
    "lambdas": lambda n: "SELECT " + "".join(f"list_transform([1], x{i} -> " for i in range(n))
                         + "1" + ")" * n,
    "unclosed parentheses": lambda n: "SELECT " + "(" * n + "1",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("family", list(HOSTILE))
def test_hostile_family_at_the_size_limit_is_too_complex(family: str, guard: Guard) -> None:
    sql = largest(HOSTILE[family])
    for entry in (guard.check, check_statement):
        with pytest.raises(TooComplexError) as refused:
            entry(sql)
        assert refused.value.code == "sql.too_complex"
        assert "limit" in refused.value.message or "simplify" in refused.value.message


WIDE: dict[str, Callable[[int], str]] = {
    # 2,048 stars over 200 columns: more than 10 s
    "stars": lambda n: "SELECT " + ", ".join(["*"] * n) + " FROM wide",
    # 128 CTEs over 200 columns: 56 s in lineage alone
    "CTE chain": lambda n: _cte_chain("SELECT * FROM {p}", n, "SELECT * FROM wide"),
    "CTE join chain": lambda n: _cte_chain("SELECT * FROM {p}, wide w{i}", n,
                                           "SELECT * FROM wide"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("family", list(WIDE))
@pytest.mark.parametrize("n", [64, 128, 2048])
def test_stars_over_a_wide_table_are_too_complex(family: str, n: int, wide: Guard) -> None:
    with pytest.raises(TooComplexError) as refused:
        wide.check(WIDE[family](n))
    assert refused.value.code == "sql.too_complex"


def test_each_measure_has_its_own_message() -> None:
    cases = {
        "SELECT 1, 2, 3, 4, 5": (Limits(tokens=8), "tokens long"),
        "SELECT ((1))": (Limits(nesting=1), "nests brackets"),
        "SELECT CASE WHEN TRUE THEN CASE WHEN TRUE THEN 1 END END": (
            Limits(nesting=1), "nests brackets"),
        "SELECT x[1][2]": (Limits(chain=1), "in a row"),
        "SELECT x::INT::TEXT": (Limits(chain=1), "in a row"),
        "SELECT s.a.b.c": (Limits(chain=2), "in a row"),
        "SELECT 'a' || 'b'": (Limits(chars=5), "characters long"),
    }
    for sql, (limits, words) in cases.items():
        with pytest.raises(TooComplexError) as refused:
            parse_statements(sql, "duckdb", limits)
        assert words in refused.value.message, sql
        assert refused.value.details["limit"] >= 1


@pytest.mark.parametrize("sql,nesting,chain", [
    ("SELECT 1", 0, 0),
    ("SELECT x[1][2], y FROM t", 1, 2),
    ("SELECT [1, 2][1]", 1, 1),
    ("SELECT a.b, c.d, e.f FROM t", 0, 1),
    ("SELECT x.upper().lower().trim()", 1, 3),
    ("SELECT j->'a'->>'b', x::DECIMAL(10, 2)::TEXT", 1, 2),
    ("SELECT count(*) FROM t WHERE a IN (SELECT b FROM u WHERE c = (SELECT 1))", 2, 0),
    ("SELECT CASE WHEN a THEN (b) END", 2, 0),
    ("SELECT t.a + t.b + t.c FROM t", 0, 1),
])
def test_token_shape(sql: str, nesting: int, chain: int) -> None:
    shape = token_shape(DUCKDB.tokenize(sql))
    assert (shape.nesting, shape.chain) == (nesting, chain)


def test_at_the_limits_parses_one_past_them_does_not(guard: Guard) -> None:
    deep = LIMITS.nesting
    guard.check("SELECT " + "(" * deep + "account_id" + ")" * deep + " FROM accounts")
    with pytest.raises(TooComplexError):
        guard.check("SELECT " + "(" * (deep + 1) + "account_id" + ")" * (deep + 1)
                    + " FROM accounts")
    long = LIMITS.chain
    assert check_statement("SELECT x" + "[1]" * long) is not None
    with pytest.raises(TooComplexError):
        check_statement("SELECT x" + "[1]" * (long + 1))
    items = (LIMITS.tokens - 8) // 2  # SELECT ... FROM accounts WHERE account_id IN ( )
    sql = "SELECT plan FROM accounts WHERE account_id IN (" + ", ".join(["1"] * items) + ")"
    assert len(DUCKDB.tokenize(sql)) <= LIMITS.tokens
    guard.check(sql)
    with pytest.raises(TooComplexError):
        guard.check(sql.replace("(1,", "(1, 1, 1,"))


def test_stars_are_priced_before_they_expand(guard: Guard, wide: Guard) -> None:
    wide.check("SELECT * FROM wide")
    wide.check("SELECT a.*, b.* FROM wide a JOIN wide b USING (c0)")
    guard.check("SELECT count(*), count(*), * FROM accounts")
    stars = MAX_EXPANDED_COLUMNS // (200 + 1) + 1
    with pytest.raises(TooComplexError) as refused:
        wide.check("SELECT " + ", ".join(["*"] * stars) + " FROM wide")
    assert "Name the columns" in refused.value.message


def _slow_rule(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    """A rule that works for 0.3 s of CPU (the budget counts CPU time, not sleep)."""
    ends = time.thread_time() + 0.3
    while time.thread_time() < ends:
        pass
    return tree


def test_a_check_past_its_time_budget_stops_at_the_next_rule(guard: Guard) -> None:
    after: list[str] = []

    def later_rule(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
        after.append(ctx.sql_text)
        return tree

    rules = (_slow_rule, later_rule, *RULES)
    slow = Guard(guard.catalog, rules=rules, cache_size=0, limits=Limits(seconds=0.1))
    with pytest.raises(TooComplexError) as refused:
        slow.check("SELECT plan FROM accounts")
    assert "to check" in refused.value.message
    assert after == []  # nothing ran after the rule that spent the budget
    assert Guard(guard.catalog, rules=rules).check("SELECT plan FROM accounts")
    assert after == ["SELECT plan FROM accounts"]


def test_lineage_checks_the_budget_inside_its_work(guard: Guard) -> None:
    # within every limit measured before parsing; lineage traces each column to the start
    sql = _cte_chain("SELECT account_id, plan FROM {p}", 300,
                     "SELECT account_id, plan FROM accounts")
    read_tokens(sql, DUCKDB)
    ctx = guard.context(sql)
    ctx.statements = parse_statements(sql, "duckdb")
    tree = ctx.statements[0]
    for rule in RULES[:RULES.index(record_lineage)]:
        tree = rule(tree, ctx)
    ctx.budget = TimeBudget(0.0)
    with pytest.raises(TooComplexError):
        record_lineage(tree, ctx)


def test_text_that_does_not_tokenize_is_a_parse_error() -> None:
    for sql in ("SELECT 'unterminated", "SELECT \"unterminated"):
        with pytest.raises(ParseError) as refused:
            check_statement(sql)
        assert refused.value.code == "sql.parse_error"


def _realistic() -> dict[str, str]:
    """Every query the guard must accept: corpus, guard fixtures, eval gold SQL and verified
    queries of the demo catalog."""
    from tests.test_guard import ALL_CASES, read_cases

    queries = {f"fixture {c.file}:{c.line}": c.sql for c in ALL_CASES}
    for path in sorted((ROOT / "tests" / "corpus").glob("*.sql")):
        queries.update({f"corpus {path.name}:{c.line}": c.sql for c in read_cases(path)})
    evals = yaml.safe_load((ROOT / "evals" / "demo.yaml").read_text(encoding="utf-8"))
    queries.update({f"eval {case['id']}": case["gold_sql"] for case in evals["cases"]
                    if case.get("gold_sql")})
    semantics = yaml.safe_load((ROOT / "catalog" / "semantics.yaml").read_text(encoding="utf-8"))
    queries.update({f"verified {q['question']}": q["sql"]
                    for q in semantics.get("verified_queries", [])})
    return queries


def test_no_realistic_query_comes_near_the_limits() -> None:
    queries = _realistic()
    assert len(queries) > 300
    for name, sql in queries.items():
        tokens = DUCKDB.tokenize(sql)
        shape = token_shape(tokens)
        assert len(tokens) <= LIMITS.tokens // 10, name
        assert shape.nesting <= LIMITS.nesting // 10, name
        assert shape.chain <= LIMITS.chain // 4, name


BIG_REALISTIC = {
    "40 CTEs, each aggregating the last": _cte_chain(
        "SELECT plan, region, count(*) AS n FROM {p} GROUP BY plan, region", 40,
        "SELECT plan, region FROM accounts"),
    "20 nested subqueries": "SELECT * FROM " + "(SELECT * FROM " * 20 + "accounts" + ") x" * 20,
    "30 joins": "SELECT a0.plan FROM accounts a0" + "".join(
        f" JOIN domains d{i} ON d{i}.account_id = a0.account_id" for i in range(1, 31)),
    "250 projections": "SELECT " + ", ".join(
        f"sum(CASE WHEN account_id % 250 = {i} THEN 1 ELSE 0 END) AS c{i}" for i in range(250))
        + " FROM accounts",
    "500-item IN list": "SELECT plan FROM accounts WHERE account_id IN ("
                        + ", ".join(str(i) for i in range(500)) + ")",
    "100 UNION ALL arms": " UNION ALL ".join(
        f"SELECT {i} AS k, count(*) AS n FROM accounts WHERE region = 'EU'" for i in range(100)),
    "CASE nested 10 deep": "SELECT " + "CASE WHEN plan = 'pro' THEN " * 10 + "1"
                           + " ELSE 0 END" * 10 + " FROM accounts",
    "long string": "SELECT '" + "x" * 40_000 + "' AS s",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(BIG_REALISTIC))
def test_big_realistic_queries_still_pass(name: str, guard: Guard) -> None:
    try:
        guard.check(BIG_REALISTIC[name])
    except GuardError as error:  # pragma: no cover - the assertion says which and why
        pytest.fail(f"{name}: {error.code}: {error.message}")


@pytest.mark.timeout(60)
def test_evals_read_a_models_sql_within_the_same_limits() -> None:
    from skipper.evals import statements

    assert statements.tables_read("SELECT x" + "[1]" * 16_664) == []  # 2,020 s before
    assert statements.parse_one(largest(HOSTILE["method calls"])) is None
    assert statements.tables_read("SELECT plan FROM accounts JOIN domains USING (account_id)"
                                  ) == ["accounts", "domains"]
