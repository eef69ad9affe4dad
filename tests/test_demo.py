"""The Town Lake demo: deterministic, shaped as specified, true to its catalog, built atomically."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from skipper.catalog import Catalog
from skipper.catalog.introspect import init_catalog, introspect_duckdb
from skipper.demo import DemoInfo, build_demo, bundled_catalog_path, demo_as_of, townlake
from skipper.errors import DemoError

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoInfo:
    calls: list[tuple[str, int, int]] = []
    info = build_demo(
        tmp_path_factory.mktemp("demo") / "townlake.duckdb", as_of=AS_OF,
        progress=lambda what, done, total: calls.append((what, done, total)),
    )
    assert calls and calls[-1][1] == calls[-1][2]
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)
    return info


@pytest.fixture()
def con(demo: DemoInfo) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(demo.path), read_only=True)
    yield connection
    connection.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def table_hashes(path: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every table's contents."""
    with duckdb.connect(str(path), read_only=True) as connection:
        names = [n for (n,) in connection.execute(
            "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        out = {}
        for name in names:
            row = connection.execute(
                f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {name} AS t").fetchone()
            assert row is not None
            out[name] = (int(row[0]), int(row[1] or 0))
        return out


def test_scale_one_builds_quickly(demo: DemoInfo) -> None:
    print(f"\nTown Lake scale 1 built in {demo.seconds:.1f} s: {demo.rows}")
    assert demo.seconds < 60  # the target is 15 s on 2 cores; CI machines vary
    assert (demo.as_of, demo.scale, demo.seed) == (AS_OF, 1, 7)


def test_a_built_lake_tells_its_as_of_day(demo: DemoInfo, tmp_path: Path) -> None:
    assert demo_as_of(demo.path) == AS_OF
    assert demo_as_of(tmp_path / "missing.duckdb") is None
    (tmp_path / "text.duckdb").write_text("not a database")
    assert demo_as_of(tmp_path / "text.duckdb") is None
    duckdb.connect(str(tmp_path / "other.duckdb")).close()
    assert demo_as_of(tmp_path / "other.duckdb") is None


def test_row_counts_are_about_the_advertised_size(demo: DemoInfo) -> None:
    rows = demo.rows
    assert rows["accounts"] == 2_000 and rows["domains"] == 10_000
    assert rows["http_requests_sampled"] > 1_000_000
    assert rows["billing_usage"] > 100_000 and rows["dns_queries_daily"] > 100_000
    assert 1_000 < rows["support_tickets"] < 20_000
    assert rows["employee_salaries"] > 0 and rows["etl_loads"] > 0


def test_dates_are_relative_to_as_of(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT max(day) FROM http_requests_sampled") == AS_OF
    assert one(con, "SELECT min(day) FROM http_requests_sampled") == AS_OF - timedelta(days=89)
    assert one(con, "SELECT max(day) FROM traffic_rank_daily") == AS_OF
    assert one(con, "SELECT max(usage_date) FROM billing_usage") == AS_OF - timedelta(days=1)
    assert one(con, "SELECT max(day) FROM dns_queries_daily") == AS_OF - timedelta(days=8)
    signups_today = one(con, f"SELECT count(*) FROM domains WHERE CAST(signed_up_at AS DATE) = "
                             f"DATE '{AS_OF}'")
    assert isinstance(signups_today, int) and signups_today >= 10
    horizon = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time())
    for table, column in (("accounts", "created_at"), ("domains", "signed_up_at"),
                          ("support_tickets", "opened_at"), ("support_tickets", "closed_at"),
                          ("etl_loads", "loaded_at")):
        latest = one(con, f"SELECT max({column}) FROM {table}")
        assert isinstance(latest, datetime) and latest < horizon, (table, column)


def test_catalog_freshness_rules_give_the_intended_verdicts(con: duckdb.DuckDBPyConnection) -> None:
    """Lag in whole days from the as-of day: DNS is stale, billing and traffic are not."""
    catalog = Catalog.load(bundled_catalog_path())
    verdicts = {}
    for table in catalog.tables:
        rule = table.freshness
        assert rule is not None
        if rule.column:
            last = one(con, f"SELECT CAST(max({rule.column}) AS DATE) FROM {table.name}")
        else:
            assert rule.load_log is not None
            last = one(con, f"SELECT CAST(max({rule.load_log.time_column}) AS DATE) FROM "
                            f"{rule.load_log.table} WHERE {rule.load_log.table_column} = "
                            f"'{table.name}'")
        assert isinstance(last, date)
        verdicts[table.name] = timedelta(days=(AS_OF - last).days) >= rule.sla
    assert verdicts.pop("dns_queries_daily") is True
    assert not any(verdicts.values()), verdicts


def test_sample_and_derived_ranks(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT list(DISTINCT sample_interval) FROM http_requests_sampled") == [100]
    assert one(con, "SELECT count(*) FROM http_requests_sampled WHERE requests <= 0 "
                    "OR cached_requests > requests OR threats > requests") == 0
    lineage = Catalog.load(bundled_catalog_path()).table("traffic_rank_daily").lineage
    assert lineage is not None and lineage.sql
    differences = one(con, f"SELECT count(*) FROM ((FROM traffic_rank_daily EXCEPT ({lineage.sql}))"
                           f" UNION ALL (({lineage.sql}) EXCEPT FROM traffic_rank_daily))")
    assert differences == 0
    top = con.execute(
        f"SELECT domain_id, est_requests FROM traffic_rank_daily WHERE day = DATE '{AS_OF}' "
        "ORDER BY traffic_rank LIMIT 2").fetchall()
    busiest = con.execute(
        "SELECT domain_id, sum(requests * sample_interval) AS est FROM http_requests_sampled "
        f"WHERE day = DATE '{AS_OF}' GROUP BY ALL ORDER BY est DESC, domain_id LIMIT 2").fetchall()
    assert top == busiest
    assert one(con, "SELECT count(*) FROM (SELECT day, count(*) AS n, max(traffic_rank) AS worst "
                    "FROM traffic_rank_daily GROUP BY day) WHERE n <> worst") == 0


def test_distributions_look_real(con: duckdb.DuckDBPyConnection) -> None:
    # Skewed traffic: the busiest 1% of domains serve a large share of all requests.
    share = one(con, """
        WITH per AS (SELECT domain_id, sum(requests * sample_interval) AS r
                     FROM http_requests_sampled GROUP BY ALL)
        SELECT sum(r) FILTER (WHERE rank <= (SELECT count(*) FROM per) / 100) / sum(r)
        FROM (SELECT r, row_number() OVER (ORDER BY r DESC) AS rank FROM per)""")
    assert isinstance(share, float) and share > 0.3
    spend = dict(con.execute("""
        SELECT plan, sum(amount_usd) / count(DISTINCT a.account_id)
        FROM accounts a LEFT JOIN billing_usage b USING (account_id) GROUP BY plan""").fetchall())
    assert spend["enterprise"] > 10 * spend["business"] > 10 * spend["pro"]
    assert spend["free"] == 0
    internal = one(con, "SELECT count(*) FROM accounts WHERE is_internal")
    assert isinstance(internal, int) and 3 <= internal <= 20
    assert one(con, "SELECT count(DISTINCT plan) FROM accounts") == 4
    assert one(con, "SELECT count(DISTINCT region) FROM accounts") == 5
    assert one(con, "SELECT count(DISTINCT status) FROM domains") == 3
    units = con.execute("SELECT product, count(DISTINCT unit) FROM billing_usage GROUP BY ALL")
    assert sorted(n for _, n in units.fetchall()) == [1] * 5


def test_support_tickets(con: duckdb.DuckDBPyConnection) -> None:
    by_status = dict(con.execute(
        "SELECT status, count(*) FROM support_tickets GROUP BY ALL").fetchall())
    assert set(by_status) == {"open", "pending", "solved"}
    assert one(con, "SELECT count(*) FROM support_tickets "
                    "WHERE (closed_at IS NULL) <> (status <> 'solved')") == 0
    assert one(con, "SELECT count(*) FROM support_tickets WHERE closed_at < opened_at") == 0
    assert one(con, "SELECT list(DISTINCT priority ORDER BY priority) FROM support_tickets") == [
        "P1", "P2", "P3", "P4"]
    category = Catalog.load(bundled_catalog_path()).table("support_tickets").column("category")
    assert category is not None and category.values
    assert one(con, "SELECT list(DISTINCT category ORDER BY category) FROM support_tickets") == \
        sorted(str(v) for v in category.values)


def test_keys_hold_and_references_resolve(con: duckdb.DuckDBPyConnection) -> None:
    catalog = Catalog.load(bundled_catalog_path())
    for table in catalog.tables:
        keys = ", ".join(table.primary_key)
        duplicates = one(con, f"SELECT count(*) FROM (SELECT {keys} FROM {table.name} "
                              "GROUP BY ALL HAVING count(*) > 1)")
        assert duplicates == 0, table.name
    for child, parent, key in (
        ("domains", "accounts", "account_id"), ("billing_usage", "accounts", "account_id"),
        ("support_tickets", "accounts", "account_id"),
        ("http_requests_sampled", "domains", "domain_id"),
        ("traffic_rank_daily", "domains", "domain_id"),
        ("dns_queries_daily", "domains", "domain_id"),
    ):
        orphans = one(con, f"SELECT count(*) FROM {child} ANTI JOIN {parent} USING ({key})")
        assert orphans == 0, (child, parent)
    assert one(con, "SELECT count(*) FROM domains d JOIN accounts a USING (account_id) "
                    "WHERE d.signed_up_at < a.created_at") == 0
    assert one(con, "SELECT count(*) FROM http_requests_sampled h JOIN domains d USING "
                    "(domain_id) WHERE h.day < CAST(d.signed_up_at AS DATE) "
                    "OR d.status = 'pending'") == 0


def test_database_matches_the_catalog_exactly(con: duckdb.DuckDBPyConnection) -> None:
    catalog = Catalog.load(bundled_catalog_path())
    actual = {t.name: t for t in introspect_duckdb(con, count_rows=False)}
    assert set(actual) - {t.name for t in catalog.tables} == {"employee_salaries", "etl_loads"}
    for table in catalog.tables:
        found = actual[table.name]
        assert [(c.name, c.type) for c in table.columns] == \
            [(c.name, c.type) for c in found.columns], table.name
        if found.primary_key:
            assert found.primary_key == table.primary_key, table.name
    declared = {t.name: t.primary_key for t in actual.values() if t.primary_key}
    assert declared == {"accounts": ["account_id"], "domains": ["domain_id"],
                        "support_tickets": ["ticket_id"], "employee_salaries": ["employee_id"]}


def test_same_arguments_same_data_through_the_cli(demo: DemoInfo, tmp_path: Path) -> None:
    target = tmp_path / "again.duckdb"
    run = subprocess.run(
        [sys.executable, "-m", "skipper.cli", "demo", "--database", str(target),
         "--as-of", AS_OF.isoformat()],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "http_requests_sampled" in run.stdout and "Traceback" not in run.stderr
    assert table_hashes(target) == table_hashes(demo.path)


def test_another_seed_gives_other_data() -> None:
    first = townlake.build_world(AS_OF, 1, 7)
    again = townlake.build_world(AS_OF, 1, 7)
    other = townlake.build_world(AS_OF, 1, 8)
    assert first.accounts.equals(again.accounts) and first.domains.equals(again.domains)
    assert townlake.http_requests_day(first, 5).equals(townlake.http_requests_day(again, 5))
    assert not first.accounts.equals(other.accounts)
    assert not townlake.http_requests_day(first, 5).equals(townlake.http_requests_day(other, 5))


@pytest.mark.parametrize("arguments, code", [
    ({"as_of": AS_OF, "scale": 0}, "demo.bad_scale"),
    ({"as_of": AS_OF, "scale": "2"}, "demo.bad_scale"),
    ({"as_of": "2025-06-30"}, "demo.bad_as_of"),
    ({"as_of": datetime(2025, 6, 30, 12)}, "demo.bad_as_of"),
    ({"as_of": AS_OF, "seed": -1}, "demo.bad_seed"),
])
def test_bad_input_is_refused_before_touching_the_file(
    tmp_path: Path, arguments: dict[str, object], code: str
) -> None:
    target = tmp_path / "keep.duckdb"
    target.write_bytes(b"previous contents")
    with pytest.raises(DemoError) as raised:
        build_demo(target, **arguments)  # type: ignore[arg-type]
    assert raised.value.code == code
    assert target.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.duckdb"]


def test_a_failed_build_leaves_the_old_file_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "keep.duckdb"
    target.write_bytes(b"previous contents")

    def interrupt(what: str, done: int, total: int) -> None:
        if done >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_demo(target, as_of=AS_OF, progress=interrupt)
    assert target.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.duckdb"]


def test_lineage_sql_that_fails_in_duckdb_is_a_demo_error(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(bundled_catalog_path(), catalog)
    ranks = catalog / "tables" / "traffic_rank_daily.yaml"
    text = ranks.read_text(encoding="utf-8")
    assert "CAST(est_requests AS BIGINT)" in text
    ranks.write_text(text.replace("CAST(est_requests AS BIGINT)",
                                  "CAST(error('pipeline broke') AS BIGINT)"), encoding="utf-8")
    target = tmp_path / "keep.duckdb"
    target.write_bytes(b"previous contents")
    with pytest.raises(DemoError) as raised:
        build_demo(target, as_of=AS_OF, catalog=catalog)
    assert raised.value.code == "demo.build_failed" and "pipeline broke" in raised.value.message
    assert target.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "keep.duckdb"]


def test_cli_refuses_bad_input_readably(tmp_path: Path) -> None:
    target = tmp_path / "keep.duckdb"
    target.write_bytes(b"previous contents")
    for extra, code in ((["--as-of", "2025-02-30"], "demo.bad_as_of"),
                        (["--scale", "0"], "demo.bad_scale")):
        run = subprocess.run(
            [sys.executable, "-m", "skipper.cli", "demo", "--database", str(target), *extra],
            capture_output=True, text=True, timeout=120,
        )
        assert run.returncode != 0
        assert code in run.stderr and "Traceback" not in run.stderr + run.stdout
    assert target.read_bytes() == b"previous contents"


def test_catalog_init_on_the_demo(demo: DemoInfo, tmp_path: Path) -> None:
    report = init_catalog(demo.path, tmp_path / "skeleton")
    catalog = Catalog.load(tmp_path / "skeleton")
    assert set(catalog.schema()["main"]) == set(demo.rows)
    assert {t.name: t.row_count for t in catalog.tables} == demo.rows
    assert catalog.table("domains").primary_key == ["domain_id"]
    relations = {(t.name, r.table, r.cardinality) for t in catalog.tables for r in t.relationships}
    assert ("domains", "accounts", "many_to_one") in relations
    assert ("accounts", "domains", "one_to_many") in relations
    assert report.skipped == []


def test_bundled_catalog_falls_back_to_the_checkout() -> None:
    assert bundled_catalog_path() == ROOT / "catalog"


def test_wheel_ships_the_catalog(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    if built.returncode != 0 and "hatchling" in built.stderr.lower():
        pytest.skip("hatchling is not installed, so the wheel cannot be built offline")
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("skipper-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for file in (ROOT / "catalog").rglob("*.yaml"):
        assert f"skipper/demo/bundled_catalog/{file.relative_to(ROOT / 'catalog')}" in names
    assert "skipper/catalog/catalog.schema.json" in names
    found = subprocess.run(
        [sys.executable, "-c", "from skipper.demo import bundled_catalog_path as p; print(p())"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": ""},
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == tmp_path / "site" / "skipper" / "demo" / "bundled_catalog"
    assert Catalog.load(Path(found.stdout.strip())).find_table("traffic_rank_daily") is not None
