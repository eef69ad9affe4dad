"""How long the guard takes to decide hostile or huge SQL, up to its size limit.

    python benchmarks/bench_guard_inputs.py [--repeats 3] [--timeout 30] [--family NAME ...]

Each family generates SQL of a growing size n (chained subscripts, slices, casts, nested
parentheses / subqueries / calls / CASE / lambdas, long IN lists, many joins, CTEs, UNION arms,
projections, long boolean and ``||`` chains, long strings ...) up to the guard's MAX_SQL_CHARS.
Every input goes through both entry points, the full ``Guard(catalog).check`` on the demo
catalog (cache off) and ``check_statement`` (the evals' catalog-free rules). It prints, per
family, the input that took longest (median of ``--repeats`` runs, and the slowest single
run), with its size and outcome (``ok`` or the error code), then the overall worst. An input
still running after ``--timeout`` seconds is stopped (SIGALRM) and reported as ``>= timeout``.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlglot.dialects.dialect import Dialect  # noqa: E402

from skipper.catalog import Catalog, CatalogFile, Column, Table  # noqa: E402
from skipper.errors import SkipperError  # noqa: E402
from skipper.guard import Guard, check_statement  # noqa: E402
from skipper.guard.parse import LIMITS, MAX_SQL_CHARS, read_tokens  # noqa: E402


def _nest(n: int, open_: str, inner: str, close: str) -> str:
    return open_ * n + inner + close * n


FAMILIES: dict[str, Callable[[int], str]] = {
    "subscripts": lambda n: "SELECT x" + "[1]" * n,
    "subscripts on a column": lambda n: "SELECT [account_id]" + "[1]" * n + " FROM accounts",
    "slices": lambda n: "SELECT x" + "[1:2]" * n,
    "casts": lambda n: "SELECT account_id" + "::INT" * n + " FROM accounts",
    "json arrows": lambda n: "SELECT x" + "->'a'" * n,
    "dotted fields": lambda n: "SELECT s" + ".a" * n,
    "method calls": lambda n: "SELECT plan" + ".upper()" * n + " FROM accounts",
    "parentheses": lambda n: "SELECT " + _nest(n, "(", "1", ")"),
    "function calls": lambda n: "SELECT " + _nest(n, "abs(", "account_id", ")") + " FROM accounts",
    "arrays": lambda n: "SELECT " + _nest(n, "[", "1", "]"),
    "structs": lambda n: "SELECT " + _nest(n, "{'a': ", "1", "}"),
    "subqueries": lambda n: "SELECT * FROM " + _nest(n, "(SELECT * FROM ", "accounts", ")"),
    "IN subqueries": lambda n: (
        "SELECT plan FROM accounts WHERE "
        + "account_id IN (SELECT account_id FROM accounts WHERE " * n
        + "TRUE" + ")" * n),
    "CASE": lambda n: "SELECT " + _nest(n, "CASE WHEN plan = 'pro' THEN ", "1",
                                        " ELSE 0 END") + " FROM accounts",
    "lambdas": lambda n: "SELECT " + "".join(f"list_transform([1], x{i} -> " for i in range(n))
                         + "1" + ")" * n,
    "NOT chain": lambda n: "SELECT plan FROM accounts WHERE " + "NOT " * n + "is_internal",
    "unary minus": lambda n: "SELECT " + "- " * n + "1",
    "IN list": lambda n: "SELECT plan FROM accounts WHERE account_id IN ("
                         + ", ".join(str(i) for i in range(n)) + ")",
    "joins": lambda n: "SELECT a0.plan FROM accounts a0"
                       + "".join(f" JOIN accounts a{i} USING (account_id)" for i in range(1, n)),
    "comma joins": lambda n: "SELECT count(*) FROM "
                             + ", ".join(f"domains d{i}" for i in range(n)),
    "CTE chain": lambda n: "WITH c0 AS (SELECT * FROM accounts)"
                           + "".join(f", c{i} AS (SELECT * FROM c{i - 1})" for i in range(1, n))
                           + f" SELECT * FROM c{n - 1}",
    "UNION arms": lambda n: " UNION ALL ".join(["SELECT plan FROM accounts"] * n),
    "projections": lambda n: "SELECT " + ", ".join(f"account_id AS c{i}" for i in range(n))
                             + " FROM accounts",
    "star projections": lambda n: "SELECT " + ", ".join(["*"] * n) + " FROM accounts",
    "window functions": lambda n: "SELECT " + ", ".join(
        f"sum(account_id) OVER (PARTITION BY plan ORDER BY created_at) AS w{i}"
        for i in range(n)) + " FROM accounts",
    "AND chain": lambda n: "SELECT plan FROM accounts WHERE "
                           + " AND ".join(f"account_id <> {i}" for i in range(n)),
    "OR chain": lambda n: "SELECT plan FROM accounts WHERE "
                          + " OR ".join(f"account_id = {i}" for i in range(n)),
    "plus chain": lambda n: "SELECT " + " + ".join(["account_id"] * n) + " FROM accounts",
    "|| chain": lambda n: "SELECT " + " || ".join(["plan"] * n) + " FROM accounts",
    "string literal": lambda n: "SELECT '" + "a" * n + "'",
    "quoted identifier": lambda n: 'SELECT 1 AS "' + "a" * n + '"',
    "comments": lambda n: "SELECT 1" + " /* c */" * n,
    "line comments": lambda n: "SELECT 1" + " -- c\n" * n,
    "statements": lambda n: "SELECT 1;" * n,
    "VALUES rows": lambda n: "SELECT * FROM (VALUES " + ", ".join(f"({i})" for i in range(n))
                             + ") t(v)",
    "GROUP BY items": lambda n: "SELECT count(*) FROM accounts GROUP BY "
                                + ", ".join(["plan"] * n),
    "IS NULL chain": lambda n: "SELECT plan" + " IS NULL" * n + " FROM accounts",
    "COLLATE chain": lambda n: "SELECT plan" + " COLLATE nocase" * n + " FROM accounts",
    "AT TIME ZONE chain": lambda n: "SELECT created_at" + " AT TIME ZONE 'UTC'" * n
                                    + " FROM accounts",
    "CTE fan-in": lambda n: "WITH c0 AS (SELECT * FROM accounts), c1 AS (SELECT * FROM accounts)"
                            + "".join(f", c{i} AS (SELECT a.* FROM c{i - 1} a JOIN c{i - 2} b "
                                      "USING (account_id))" for i in range(2, n))
                            + f" SELECT * FROM c{n - 1}",
    "wide star projections": lambda n: "SELECT " + ", ".join(["*"] * n) + " FROM wide",
    "wide CTE chain": lambda n: "WITH c0 AS (SELECT * FROM wide)" + "".join(
        f", c{i} AS (SELECT * FROM c{i - 1})" for i in range(1, n)) + f" SELECT * FROM c{n - 1}",
    "wide CTE self-joins": lambda n: "WITH c0 AS (SELECT * FROM wide)" + "".join(
        f", c{i} AS (SELECT * FROM c{i - 1} a, c{i - 1} b)" for i in range(1, n))
        + f" SELECT * FROM c{n - 1}",
    "wide CTE join chain": lambda n: "WITH c0 AS (SELECT * FROM wide)" + "".join(
        f", c{i} AS (SELECT * FROM c{i - 1}, wide w{i})" for i in range(1, n))
        + f" SELECT * FROM c{n - 1}",
    "unclosed parentheses": lambda n: "SELECT " + "(" * n + "1",
    "unclosed CASE": lambda n: "SELECT " + "CASE WHEN TRUE THEN " * n + "1",
}


def largest(generate: Callable[[int], str], fits: Callable[[str], bool], low: int) -> int:
    """The largest n >= ``low`` whose SQL ``fits`` (``generate(low)`` must fit)."""
    high = low * 2
    while fits(generate(high)):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(generate(middle)) else (low, middle)
    return low


def sizes(generate: Callable[[int], str]) -> list[int]:
    """n = 1, 2, 4, ... while the SQL fits in MAX_SQL_CHARS, the largest n that fits, and the
    largest n within every limit measured before parsing (the biggest input that is parsed)."""
    ladder, n = [], 1
    while len(generate(n)) <= MAX_SQL_CHARS:
        ladder.append(n)
        n *= 2
    ladder.append(largest(generate, lambda sql: len(sql) <= MAX_SQL_CHARS, ladder[-1]))
    if _parsed(generate(1)):
        ladder.append(largest(generate, _parsed, 1))
    return sorted(set(ladder))


_READER = Dialect.get_or_raise("duckdb")


def _parsed(sql: str) -> bool:
    """Whether ``sql`` passes the limits the guard measures before it parses."""
    try:
        read_tokens(sql, _READER)
    except SkipperError:
        return False
    return True


class Timeout(BaseException):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Timeout


@dataclass
class Run:
    family: str
    entry: str
    n: int
    chars: int
    median_s: float
    worst_s: float
    cpu_s: float
    outcome: str


def measure(entry: Callable[[str], object], sql: str, repeats: int, timeout: float
            ) -> tuple[list[float], list[float], str]:
    """Wall and CPU seconds of each run of ``entry(sql)``, and its outcome."""
    walls: list[float] = []
    cpus: list[float] = []
    outcome = "ok"
    for _ in range(repeats):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            entry(sql)
            outcome = "ok"
        except SkipperError as error:
            outcome = error.code
        except Timeout:
            outcome = f">= {timeout:g} s (stopped)"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(time.thread_time() - cpu)
        if outcome.startswith(">="):
            break
    return walls, cpus, outcome


def wide_catalog(columns: int) -> Catalog:
    """A catalog of one table ``wide`` of ``columns`` columns, read by anyone."""
    table = Table(name="wide", columns=[Column(name=f"c{i}", type="INTEGER")
                                        for i in range(columns)])
    return Catalog([CatalogFile(tables=[table])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--wide-columns", type=int, default=200,
                        help="columns of the table the 'wide' families read")
    parser.add_argument("--family", action="append", default=None,
                        help="only these families (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print every input's time")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)

    demo = Guard(Catalog.load(ROOT / "catalog"), cache_size=0)
    wide = Guard(wide_catalog(args.wide_columns), cache_size=0)
    for guard in (demo, wide):
        guard.check("SELECT 1")  # learn the function allowlist once, outside the timings
    check_statement("SELECT 1")

    families = args.family or list(FAMILIES)
    worst: list[Run] = []
    print(f"limits: {LIMITS}")
    print(f"median of {args.repeats} runs per input; cpu = this thread's CPU time (median)")
    print(f"{'family':<24} {'entry':<15} {'n':>6} {'chars':>6} {'median s':>9} "
          f"{'worst s':>8} {'cpu s':>6}  outcome")
    for family in families:
        generate = FAMILIES[family]
        guard = wide if family.startswith("wide") else demo
        entries: dict[str, Callable[[str], object]] = {
            "Guard.check": guard.check, "check_statement": check_statement}
        for name, entry in entries.items():
            runs = []
            for n in sizes(generate):
                sql = generate(n)
                walls, cpus, outcome = measure(entry, sql, args.repeats, args.timeout)
                run = Run(family, name, n, len(sql), statistics.median(walls), max(walls),
                          statistics.median(cpus), outcome)
                runs.append(run)
                if args.verbose:
                    _print(run)
                if outcome.startswith(">="):
                    break  # a bigger input would only take longer
            slowest = max(runs, key=lambda r: r.median_s)
            worst.append(slowest)
            if not args.verbose:
                _print(slowest)
    overall = max(worst, key=lambda r: r.median_s)
    single = max(worst, key=lambda r: r.worst_s)
    cpu = max(worst, key=lambda r: r.cpu_s)
    print(f"\nworst median: {overall.median_s:.3f} s ({overall.family}, {overall.entry}, "
          f"{overall.chars:,} chars, {overall.outcome})")
    print(f"slowest single run: {single.worst_s:.3f} s ({single.family}, {single.entry}, "
          f"{single.chars:,} chars, {single.outcome})")
    print(f"most CPU (median): {cpu.cpu_s:.3f} s ({cpu.family}, {cpu.entry}, "
          f"{cpu.chars:,} chars, {cpu.outcome})")
    print(f"family worsts decided in under 1 s: {sum(r.worst_s < 1 for r in worst)} of "
          f"{len(worst)} (slowest run), {sum(r.median_s < 1 for r in worst)} (median)")


def _print(run: Run) -> None:
    print(f"{run.family:<24} {run.entry:<15} {run.n:>6} {run.chars:>6} {run.median_s:>9.3f} "
          f"{run.worst_s:>8.3f} {run.cpu_s:>6.3f}  {run.outcome}", flush=True)


if __name__ == "__main__":
    main()
