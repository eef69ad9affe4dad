"""The second wall: DuckDB's own binder decides what a query reads, and the engine refuses
anything the guard did not allow, even when the guard (the first wall) is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from skipper import Skipper
from skipper.annotate import bound_lineage
from skipper.engine.duckdb import DuckDBEngine
from skipper.engine.relations import Allowed, Relation
from skipper.errors import EngineError, GuardError, UncheckableError, UnknownTableError
from skipper.guard import tables as guard_tables

GENERATORS = ("range", "generate_series", "unnest")

#: Every non-ASCII character that Python's lower(), upper() or casefold() maps to a string
#: holding ASCII letters: the characters on which a Python imitation of DuckDB's identifier
#: folding goes wrong. Computed, so a new Unicode version adds its own.
CASE_TRAPS = sorted({
    chr(cp) for cp in range(0x80, 0x110000)
    if not 0xD800 <= cp <= 0xDFFF and any(
        any(c.isascii() and c.isalpha() for c in fold(chr(cp)))
        for fold in (str.lower, str.upper, str.casefold))
})


def _ascii_part(trap: str) -> str:
    return "".join(c for c in trap.casefold() if c.isascii() and c.isalpha()) or \
        "".join(c for c in trap.lower() if c.isascii() and c.isalpha()) or \
        "".join(c for c in trap.upper().lower() if c.isascii() and c.isalpha())


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one catalog table, one catalog view, secret tables the catalog never
    lists (one per case trap, named after the ASCII the trap folds to) and a secret view."""
    root = tmp_path_factory.mktemp("wall")
    path = root / "wall.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE open_data AS SELECT range AS x FROM range(5)")
    con.execute("CREATE TABLE secret AS SELECT 'top secret' AS s, range AS x FROM range(3)")
    con.execute("CREATE VIEW open_view AS SELECT x * 10 AS y FROM secret")
    for part in sorted({_ascii_part(trap) for trap in CASE_TRAPS}):
        con.execute(f'CREATE TABLE "t_{part}" AS SELECT \'leaked\' AS s')
    con.close()
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "wall.yaml").write_text(
        "name: wall\ndescription: The second wall's lake.\ndialect: duckdb\ntables:\n"
        "  - name: open_data\n    description: Open numbers.\n"
        "    columns:\n      - {name: x, type: BIGINT}\n"
        "  - name: open_view\n    description: A view over a table the catalog leaves out.\n"
        "    columns:\n      - {name: y, type: BIGINT}\n",
        encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["process", "thread"])
def engine(request: pytest.FixtureRequest, lake: Path) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(lake, isolation=request.param) as engine:
        yield engine


@pytest.fixture()
def sk(lake: Path, tmp_path: Path) -> Iterator[Skipper]:
    with Skipper(lake.parent / "catalog", lake, audit_log=tmp_path / "audit.jsonl",
                 isolation="thread") as skipper:
        yield skipper


OPEN = Allowed.of([("main", "open_data")], GENERATORS)


# ---- the engine alone ---------------------------------------------------------------------

def test_allowed_reads_run_and_name_what_the_plan_read(engine: DuckDBEngine) -> None:
    with engine.submit("SELECT sum(x) FROM open_data, range(2)", allowed=OPEN) as pending:
        assert pending.relations == [
            Relation(kind="function", name="range"),
            Relation(kind="table", catalog="wall", schema="main", name="open_data"),
        ]
        assert pending.result().table.to_pylist() == [{"sum(x)": 20}]


def test_a_text_run_again_is_checked_again_and_names_what_this_run_read(
        engine: DuckDBEngine) -> None:
    """The worker engine remembers what a text's plan read and announces it when the text is
    submitted again (so the caller drafts its record before the query runs); the worker still
    checks the text against what this run allows, and the result names what this run's plan
    read. A refusal is not remembered, and a check passed with more allowed passes nothing."""
    sql = "SELECT max(x) FROM open_data, range(3)"
    read = [Relation(kind="function", name="range"),
            Relation(kind="table", catalog="wall", schema="main", name="open_data")]
    assert engine.expected_relations(sql, OPEN) is None
    assert engine.execute(sql, allowed=OPEN).relations == read
    remembered = engine.isolation == "process"
    assert engine.expected_relations(sql, OPEN) == (read if remembered else None)
    with engine.submit(sql, allowed=OPEN) as pending:
        assert pending.relations == read
        result = pending.result()
    assert result.relations == read and result.table.to_pylist() == [{"max(x)": 4}]
    without_range = Allowed.of([("main", "open_data")])
    for _ in range(2):
        with pytest.raises(UnknownTableError):
            engine.execute(sql, allowed=without_range)
        assert engine.expected_relations(sql, without_range) is None
    assert engine.execute(sql, allowed=OPEN).relations == read
    assert engine.execute(sql).relations is None  # no wall asked for, none reported


@pytest.mark.parametrize("sql", [
    "SELECT * FROM secret",
    "SELECT * FROM main.secret",
    "SELECT * FROM wall.main.secret",
    "SELECT (SELECT count(*) FROM secret) FROM open_data",
    "SELECT * FROM open_data WHERE x IN (SELECT x FROM secret)",
    "SELECT * FROM open_data, LATERAL (SELECT s FROM secret WHERE secret.x = open_data.x)",
    # An optimizer would drop these scans; the unoptimized plan still has them.
    "SELECT * FROM secret WHERE false",
    "SELECT * FROM secret LIMIT 0",
    "WITH RECURSIVE secret AS (SELECT 1 AS x UNION ALL BY NAME SELECT x FROM secret) "
    "SELECT * FROM secret",
    "WITH RECURSIVE secret AS (SELECT 1 AS x INTERSECT SELECT x FROM secret) SELECT * FROM secret",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM pg_settings",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM query_table('secret')",
    "SELECT * FROM open_view",  # a view the guard did not allow
])
def test_anything_else_is_refused_before_it_runs(engine: DuckDBEngine, sql: str) -> None:
    with pytest.raises(UnknownTableError) as refused:
        engine.execute(sql, allowed=OPEN)
    assert refused.value.code == "sql.unknown_table"
    assert "is not in the catalog" in refused.value.message
    # The engine still answers: a refusal leaves nothing half-done.
    assert engine.execute("SELECT count(*) FROM open_data", allowed=OPEN).row_count == 1


def test_a_view_allows_what_it_reads_and_is_credited(engine: DuckDBEngine) -> None:
    allowed = Allowed.of([("main", "open_view")], GENERATORS)
    with engine.submit("SELECT sum(y) FROM open_view", allowed=allowed) as pending:
        kinds = {(r.kind, r.name) for r in pending.relations or []}
        assert kinds == {("table", "secret"), ("view", "open_view")}
        assert pending.result().table.column(0).to_pylist() == [30]
    # A plan does not say which scan came from the view, so the wall admits the view's base
    # table however it is reached; naming it directly is the guard's to refuse (below).


def test_bind_errors_name_no_candidates(engine: DuckDBEngine) -> None:
    """DuckDB's "Did you mean" would enumerate tables and columns the user may not see."""
    for sql in ("SELECT * FROM secre", "SELECT * FROM t_s_", "SELECT sx FROM open_data"):
        with pytest.raises(EngineError) as failed:
            engine.execute(sql, allowed=OPEN)
        assert "secret" not in failed.value.message and "Did you mean" not in failed.value.message
        assert "Candidate" not in failed.value.message


def test_a_statement_duckdb_cannot_bind_ahead_is_not_run(engine: DuckDBEngine) -> None:
    with pytest.raises(UncheckableError) as refused:
        engine.execute("PIVOT open_data ON x USING count(*)", allowed=OPEN)
    assert refused.value.code == "sql.uncheckable"
    assert "IN" in refused.value.message
    result = engine.execute("PIVOT open_data ON x IN (1, 2) USING count(*)", allowed=OPEN)
    assert result.columns == ["1", "2"]


# ---- through Skipper, with the first wall broken on purpose ---------------------------------

def _old_recursive_union(body: exp.Expr | None) -> bool:
    """The guard's reading before issue 11: any set operation in WITH RECURSIVE recursed."""
    return isinstance(body, exp.SetOperation)


SET_OPERATIONS = ["UNION", "UNION ALL", "UNION BY NAME", "UNION ALL BY NAME", "INTERSECT",
                  "INTERSECT ALL", "EXCEPT", "EXCEPT ALL"]
NON_RECURSIVE = [op for op in SET_OPERATIONS if op not in ("UNION", "UNION ALL")]
TARGETS = ["secret", "duckdb_tables", "pg_settings", "sqlite_master", "pragma_database_list",
           "duckdb_views"]


@pytest.mark.parametrize("first_wall", ["fixed", "broken"])
@pytest.mark.parametrize("operation", NON_RECURSIVE)
@pytest.mark.parametrize("target", TARGETS)
def test_recursive_cte_bypass_family(sk: Skipper, monkeypatch: pytest.MonkeyPatch,
                                     first_wall: str, operation: str, target: str) -> None:
    """Every set operation in which DuckDB does not recurse binds the CTE's own name to the
    stored relation. Refused by the guard; with the guard's old reading, by the engine."""
    if first_wall == "broken":
        monkeypatch.setattr(guard_tables, "_recursive_union", _old_recursive_union)
    sql = (f"WITH RECURSIVE {target} AS (SELECT 1 AS x {operation} SELECT 1 FROM {target}) "
           f"SELECT * FROM {target}")
    with pytest.raises(GuardError) as refused:
        sk.sql(sql)
    assert refused.value.code == "sql.unknown_table"
    last = sk.audit.tail(1)[0]
    assert last.outcome == "refused" and last.error is not None
    assert last.error["code"] == "sql.unknown_table"


@pytest.mark.parametrize("operation", ["UNION", "UNION ALL"])
def test_a_real_recursion_reads_only_itself(sk: Skipper, operation: str) -> None:
    answer = sk.sql(f"WITH RECURSIVE secret AS (SELECT 1 AS x {operation} SELECT x + 1 "
                    "FROM secret WHERE x < 3) SELECT list(x ORDER BY x) AS xs FROM secret")
    assert answer.rows == [([1, 2, 3],)]
    assert answer.lineage.tables == []
    assert sk.audit.tail(1)[0].extra.get("relations") is None


@pytest.mark.parametrize("first_wall", ["fixed", "broken"])
@pytest.mark.parametrize("trap", CASE_TRAPS, ids=[f"U+{ord(t):04X}" for t in CASE_TRAPS])
def test_case_folding_family(sk: Skipper, monkeypatch: pytest.MonkeyPatch, first_wall: str,
                             trap: str) -> None:
    """A CTE named with a character Python folds into ASCII must not hide a reference to the
    stored table of the ASCII name (DuckDB folds ASCII letters only)."""
    if first_wall == "broken":
        monkeypatch.setattr(guard_tables, "fold", str.lower)
    table = f"t_{_ascii_part(trap)}"
    spellings = {f"t_{trap}", f"t_{trap.upper()}", f"t_{trap.lower()}"}
    for lookalike in sorted(name for name in spellings if not name.isascii()):
        sql = f'WITH "{lookalike}" AS (SELECT 1 AS x) SELECT * FROM {table}'
        with pytest.raises(GuardError) as refused:
            sk.sql(sql)
        assert refused.value.code == "sql.unknown_table", sql


def test_case_traps_cover_the_known_ones() -> None:
    assert {"\u212a", "\u017f", "\u0131", "\u0130", "\u00df", "\ufb01"} <= set(CASE_TRAPS)


def test_lineage_and_audit_come_from_the_bound_plan(sk: Skipper) -> None:
    answer = sk.sql("SELECT count(*) AS n FROM open_data, range(3)")
    assert answer.rows == [(15,)]
    assert answer.lineage.tables == ["open_data"]
    record = sk.audit.get(answer.audit_id)
    assert record.tables == ["open_data"]
    assert record.extra["relations"] == ["range()", "wall.main.open_data"]
    view = sk.sql("SELECT sum(y) AS total FROM open_view")
    assert view.lineage.tables == ["open_view"]
    assert sk.audit.get(view.audit_id).extra["relations"] == [
        "wall.main.secret", "view wall.main.open_view"]
    with pytest.raises(GuardError) as refused:
        sk.sql("SELECT s FROM secret, open_view")
    assert refused.value.code == "sql.unknown_table"


def test_a_record_drafted_from_a_texts_last_run_names_what_this_run_read(
        lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked again, a text's record is drafted before the query runs, from what its plan read
    the last time; should this run's plan read anything else, the record and the lineage
    name what this run read."""
    with Skipper(lake.parent / "catalog", lake, audit_log=tmp_path / "audit.jsonl") as sk:
        sql = "SELECT count(*) AS n FROM open_data, range(3)"
        first = sk.audit.get(sk.sql(sql).audit_id)
        assert first.extra["relations"] == ["range()", "wall.main.open_data"]
        guarded = sk.guard.check(sql)
        assert sk.engine.expected_relations(guarded.sql, guarded.allowed) == [
            Relation(kind="function", name="range"),
            Relation(kind="table", catalog="wall", schema="main", name="open_data")]
        stale = [Relation(kind="function", name="range")]
        monkeypatch.setattr(sk.engine, "expected_relations", lambda *_: list(stale))
        again = sk.sql(sql)
        record = sk.audit.get(again.audit_id)
        assert record.extra["relations"] == ["range()", "wall.main.open_data"]
        assert record.tables == again.lineage.tables == ["open_data"]
        assert record.columns == first.columns
        assert sk.audit.verify().ok


def test_the_check_comes_before_the_query_runs(engine: DuckDBEngine) -> None:
    """A refused query is refused at once, not after running: a scan that would take far
    longer than its timeout ends in sql.unknown_table, never in a timeout."""
    with pytest.raises(UnknownTableError):
        engine.execute("SELECT count(*) FROM secret, range(100000000000)", allowed=OPEN,
                       timeout_s=5)
    assert engine.execute("SELECT 1", allowed=OPEN).row_count == 1


def test_lineage_names_only_what_duckdb_bound(sk: Skipper) -> None:
    """A table the guard recorded but DuckDB's plan did not read (a name DuckDB took for a
    CTE, say) is not in the lineage: lineage comes from the bound relations."""
    guarded = sk.guard.check("SELECT count(*) FROM open_data, range(2)")
    assert guarded.tables == ["open_data"]
    only_range = [Relation(kind="function", name="range")]
    assert bound_lineage(sk.catalog, guarded, only_range).tables == []
    assert bound_lineage(sk.catalog, guarded, only_range).relations == ["range()"]
    read = [Relation(kind="table", catalog="wall", schema="main", name="open_data")]
    assert bound_lineage(sk.catalog, guarded, read).tables == ["open_data"]
    assert bound_lineage(sk.catalog, guarded, None).tables == ["open_data"]  # no second wall
