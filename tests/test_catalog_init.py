"""`skipper catalog init` infers what a fresh catalog needs to answer simple questions: keys and
joins (declared, or from x_id names checked against the data), value lists, time columns and a
row-count metric per table. Real DuckDB files, a real Skipper, the CLI as a subprocess."""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from skipper import Skipper
from skipper.catalog import Catalog, Column
from skipper.catalog.introspect import init_catalog
from skipper.catalog.naming import (
    key_names,
    label_of,
    main_time_column,
    referenced_tables,
    words_of,
)

ROOT = Path(__file__).resolve().parents[1]
NSQL = ROOT.parent / "shared" / "datasets" / "duckdb-nsql" / "databases"


def skipper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skipper.cli", *args], capture_output=True,
                          text=True, timeout=120)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def relations(catalog: Catalog) -> set[tuple[str, str, str, str]]:
    return {(t.name, r.table, r.cardinality, r.on) for t in catalog.tables
            for r in t.relationships}


def col(catalog: Catalog, table: str, name: str) -> Column:
    found = catalog.table(table).column(name)
    assert found is not None, f"{table}.{name}"
    return found


def line_with(path: Path, text: str) -> str:
    return next(line for line in path.read_text().splitlines() if text in line)


SHOP = """
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, first_name VARCHAR, email VARCHAR,
                        segment VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE profiles (profile_id INTEGER PRIMARY KEY,
                       customer_id INTEGER UNIQUE REFERENCES customers (customer_id),
                       theme VARCHAR);
CREATE TABLE products (id INTEGER, title VARCHAR, category VARCHAR, price DECIMAL(10, 2));
CREATE TABLE coupons (code VARCHAR NOT NULL UNIQUE, kind VARCHAR);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY,
                     customer_id INTEGER REFERENCES customers (customer_id),
                     coupon_code VARCHAR REFERENCES coupons (code),
                     status VARCHAR, ordered_at TIMESTAMP, shipped_at DATE,
                     amount DECIMAL(10, 2), note VARCHAR, rep_email VARCHAR);
CREATE TABLE order_items (order_id INTEGER REFERENCES orders (order_id), product_id INTEGER,
                          warehouse_id INTEGER, quantity INTEGER);
CREATE TABLE warehouses (warehouse_id INTEGER, city VARCHAR);
CREATE TABLE shipments (shipment_id INTEGER, order_id BIGINT, sent_on DATE, received_on DATE,
                        packed_on DATE);
INSERT INTO customers SELECT i, CASE i % 3 WHEN 0 THEN 'Ada' WHEN 1 THEN 'Bo' ELSE 'Cy' END,
    'c' || i || '@example.com',
    CASE i % 3 WHEN 0 THEN 'retail' WHEN 1 THEN 'business' ELSE 'public' END,
    TIMESTAMP '2024-01-01' + INTERVAL (i) DAY, NULL FROM range(1, 41) t(i);
INSERT INTO profiles SELECT i, i, CASE WHEN i % 2 = 0 THEN 'dark' ELSE 'light' END
    FROM range(1, 21) t(i);
INSERT INTO products SELECT i, 'Product ' || i, CASE WHEN i < 5 THEN 'books' ELSE 'games' END,
    i * 2.5 FROM range(1, 11) t(i);
INSERT INTO coupons VALUES ('SPRING', 'percent'), ('VIP', 'fixed');
INSERT INTO orders SELECT i, 1 + i % 40, CASE WHEN i % 10 = 0 THEN 'VIP' END,
    CASE i % 4 WHEN 0 THEN 'pending' WHEN 1 THEN 'shipped' WHEN 2 THEN 'delivered'
               ELSE 'cancelled' END,
    TIMESTAMP '2024-03-01' + INTERVAL (i) HOUR, NULL, i * 1.5, 'called twice about order ' || i,
    CASE i % 2 WHEN 0 THEN 'ann@shop.example' ELSE 'bob@shop.example' END
    FROM range(1, 201) t(i);
INSERT INTO order_items SELECT 1 + i % 200, 1 + i % 10, 1 + i % 4, 1 + i % 3
    FROM range(0, 500) t(i);
INSERT INTO warehouses VALUES (1, 'Oslo'), (2, 'Bergen'), (3, 'Trondheim');
INSERT INTO shipments SELECT i, i, DATE '2024-03-02' + i::INTEGER,
    DATE '2024-03-04' + i::INTEGER, DATE '2024-03-01' + i::INTEGER FROM range(1, 51) t(i);
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(SHOP)
    return path


@pytest.fixture(scope="module")
def shop_catalog(shop: Path) -> Path:
    out = shop.parent / "catalog"
    init_catalog(shop, out)
    return out


@pytest.fixture(scope="module")
def shop_skipper(shop: Path, shop_catalog: Path) -> Iterator[Skipper]:
    # The engine's worker process holds the file, so the tests can open it read-only too.
    with Skipper(shop_catalog, shop, llm=False, audit_log=shop.parent / "audit.jsonl") as sk:
        yield sk


def duck(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


# ---- keys and joins -------------------------------------------------------------------------
def test_keys_declared_unique_and_inferred(shop_catalog: Path) -> None:
    catalog = Catalog.load(shop_catalog)
    assert catalog.table("orders").primary_key == ["order_id"]
    assert catalog.table("coupons").primary_key == ["code"]  # UNIQUE on a NOT NULL column
    assert catalog.table("products").primary_key == ["id"]  # no constraint: from the data
    assert "inferred: unique and never NULL in all 10 rows" in line_with(
        shop_catalog / "tables" / "products.yaml", "primary_key:")
    # warehouse_id is unique in its table, but order_items references 4 of which 3 exist.
    assert catalog.table("warehouses").primary_key == ["warehouse_id"]
    assert catalog.table("order_items").primary_key == []


def test_relationships_declared_and_from_names_checked_against_the_data(
    shop_catalog: Path,
) -> None:
    catalog = Catalog.load(shop_catalog)
    assert relations(catalog) == {
        ("orders", "customers", "many_to_one", "orders.customer_id = customers.customer_id"),
        ("customers", "orders", "one_to_many", "orders.customer_id = customers.customer_id"),
        # a UNIQUE foreign key is one-to-one
        ("profiles", "customers", "one_to_one", "profiles.customer_id = customers.customer_id"),
        ("customers", "profiles", "one_to_one", "profiles.customer_id = customers.customer_id"),
        ("orders", "coupons", "many_to_one", "orders.coupon_code = coupons.code"),
        ("coupons", "orders", "one_to_many", "orders.coupon_code = coupons.code"),
        ("order_items", "orders", "many_to_one", "order_items.order_id = orders.order_id"),
        ("orders", "order_items", "one_to_many", "order_items.order_id = orders.order_id"),
        # undeclared: product_id -> products.id, every value present
        ("order_items", "products", "many_to_one", "order_items.product_id = products.id"),
        ("products", "order_items", "one_to_many", "order_items.product_id = products.id"),
        # undeclared, BIGINT -> INTEGER: integers compare
        ("shipments", "orders", "many_to_one", "shipments.order_id = orders.order_id"),
        ("orders", "shipments", "one_to_many", "shipments.order_id = orders.order_id"),
        # (order_items.warehouse_id: value 4 is no warehouse, so no join is guessed)
    }
    items = (shop_catalog / "tables" / "order_items.yaml").read_text()
    assert ("# inferred from the names order_items.product_id -> products.id: all 10 distinct "
            "values are products.id values") in items
    assert "warehouses" not in items
    tags = {c.name: c.tags for c in catalog.table("order_items").columns}
    assert tags["order_id"] == ["id"] and tags["product_id"] == ["id"]


def test_a_row_budget_leaves_guesses_unchecked_and_says_so(shop: Path, tmp_path: Path) -> None:
    init_catalog(shop, tmp_path / "out", row_budget=30)
    catalog = Catalog.load(tmp_path / "out")
    # Too big to check: the names alone make the join, and its comment says so.
    items = (tmp_path / "out" / "tables" / "order_items.yaml").read_text()
    assert ("# inferred from the names order_items.product_id -> products.id; not checked "
            "against the data (510 rows, more than the 30-row budget of `catalog init`)") in items
    # Unchecked, the names would also join warehouse_id, which the data refutes: hence the note.
    assert ("# inferred from the names order_items.warehouse_id -> warehouses.warehouse_id; not "
            "checked against the data (503 rows") in items
    orders = (tmp_path / "out" / "tables" / "orders.yaml").read_text()
    assert ("# Note: value lists not read (200 rows, more than the 30-row budget of "
            "`catalog init`).") in orders
    assert col(catalog, "orders", "status").values is None
    assert col(catalog, "customers", "segment").values is None
    assert col(catalog, "products", "category").values == ["books", "games"]


# ---- columns ----------------------------------------------------------------------------------
def test_value_lists_skip_personal_data_free_text_and_keys(shop_catalog: Path) -> None:
    catalog = Catalog.load(shop_catalog)
    orders = catalog.table("orders")
    values = {c.name: c.values for c in orders.columns}
    assert values["status"] == ["cancelled", "delivered", "pending", "shipped"]
    assert values["note"] is None  # 200 distinct sentences: free text
    assert values["coupon_code"] is None  # a key
    assert col(catalog, "orders", "rep_email").tags == ["pii"]
    assert values["rep_email"] is None  # two distinct emails: personal, not a value list
    assert "looks like email" in line_with(shop_catalog / "tables" / "orders.yaml", "[pii]")
    assert col(catalog, "customers", "segment").values == ["business", "public", "retail"]
    assert col(catalog, "customers", "first_name").tags == ["pii"]
    assert col(catalog, "customers", "first_name").values is None
    assert col(catalog, "coupons", "kind").values is None  # 2 rows, 2 values: no list
    assert col(catalog, "profiles", "theme").values == ["dark", "light"]


def test_time_columns_and_the_main_one(shop_catalog: Path) -> None:
    catalog = Catalog.load(shop_catalog)
    time_tagged = {(t.name, c.name) for t in catalog.tables for c in t.columns if "time" in c.tags}
    assert time_tagged == {
        ("customers", "created_at"), ("customers", "updated_at"), ("orders", "ordered_at"),
        ("orders", "shipped_at"), ("shipments", "sent_on"), ("shipments", "received_on"),
        ("shipments", "packed_on"),
    }
    dated = {m.name: m.time_column for m in catalog.metrics}
    assert dated["customers"] == "created_at"  # updated_at never dates a row
    assert dated["orders"] == "ordered_at"  # 'ordered' beats 'shipped'
    assert dated["shipments"] == "sent_on"  # 'sent' beats 'received' and 'packed'
    assert dated["products"] is None


def test_ambiguous_time_columns_get_a_note_not_a_guess(tmp_path: Path) -> None:
    database = tmp_path / "trips.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE trips (trip_id INTEGER, left_on DATE, came_on DATE);"
                    "CREATE TABLE visits (visit_id INTEGER, visited DATE)")
    init_catalog(database, tmp_path / "out")
    assert {m.name: m.time_column for m in Catalog.load(tmp_path / "out").metrics} == {
        "trips": None, "visits": "visited"}
    assert ("# Note: time columns left_on, came_on: none is obviously the one that dates a row, "
            "so metrics here have no time_column yet.") in (
        tmp_path / "out" / "tables" / "trips.yaml").read_text()


def test_metrics_count_rows_and_sum_amounts(shop_catalog: Path) -> None:
    catalog = Catalog.load(shop_catalog)
    metrics = {m.name: (m.table, m.expr, m.label, m.format) for m in catalog.metrics}
    assert metrics == {
        "customers": ("customers", "count(*)", "Customers", "integer"),
        "profiles": ("profiles", "count(*)", "Profiles", "integer"),
        "products": ("products", "count(*)", "Products", "integer"),
        "price": ("products", "sum(price)", "Price", "number"),
        "coupons": ("coupons", "count(*)", "Coupons", "integer"),
        "orders": ("orders", "count(*)", "Orders", "integer"),
        "amount": ("orders", "sum(amount)", "Amount", "number"),
        "order_items": ("order_items", "count(*)", "Order items", "integer"),
        "quantity": ("order_items", "sum(quantity)", "Quantity", "integer"),
        "warehouses": ("warehouses", "count(*)", "Warehouses", "integer"),
        "shipments": ("shipments", "count(*)", "Shipments", "integer"),
    }
    assert col(catalog, "orders", "amount").tags == ["measure"]


def test_same_measure_in_two_tables_gets_table_named_metrics(tmp_path: Path) -> None:
    database = tmp_path / "m.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE invoices (invoice_id INTEGER, total_amount DOUBLE);"
                    "CREATE TABLE refunds (refund_id INTEGER, total_amount DOUBLE, qty BIGINT);"
                    "CREATE TABLE total_amount (x INTEGER)")
    init_catalog(database, tmp_path / "out")
    names = {m.name: m.label for m in Catalog.load(tmp_path / "out").metrics}
    assert names == {"invoices": "Invoices", "invoices_total_amount": "Total amount (invoices)",
                     "refunds": "Refunds", "refunds_total_amount": "Total amount (refunds)",
                     "qty": "Qty", "total_amount": "Total amount"}


# ---- the catalog answers questions ------------------------------------------------------------
def test_skipper_answers_simple_questions_with_the_generated_catalog(
    shop: Path, shop_skipper: Skipper,
) -> None:
    answer = shop_skipper.ask("how many orders", planner="catalog")
    assert answer.status == "ok" and answer.rows == [(200,)]
    answer = shop_skipper.ask("number of orders per status", planner="catalog")
    assert answer.status == "ok"
    assert sorted(answer.rows) == sorted(duck(
        shop, "SELECT status, count(*) FROM orders GROUP BY status"))
    answer = shop_skipper.ask("cancelled orders", planner="catalog")
    assert answer.rows == duck(shop, "SELECT count(*) FROM orders WHERE status = 'cancelled'")
    # across the declared join, by a value list of the other table
    answer = shop_skipper.ask("total amount by segment", planner="catalog")
    assert "JOIN customers" in answer.sql
    assert sorted(answer.rows) == sorted(duck(
        shop, "SELECT c.segment, sum(o.amount) FROM orders o JOIN customers c "
              "USING (customer_id) GROUP BY 1"))
    # dated by the inferred main time column
    answer = shop_skipper.ask("orders per month", planner="catalog")
    assert "ordered_at" in answer.sql and sum(r[1] for r in answer.rows) == 200
    # across an inferred join
    answer = shop_skipper.ask("quantity per category", planner="catalog")
    assert sorted(answer.rows) == sorted(duck(
        shop, "SELECT p.category, sum(i.quantity) FROM order_items i JOIN products p "
              "ON i.product_id = p.id GROUP BY 1"))


def test_orders_by_status(shop: Path, shop_skipper: Skipper) -> None:
    answer = shop_skipper.ask("orders by status", planner="catalog")
    assert sorted(answer.rows) == sorted(duck(
        shop, "SELECT status, count(*) FROM orders GROUP BY status"))


# ---- the CLI --------------------------------------------------------------------------------
def test_cli_init_then_check(shop: Path, tmp_path: Path) -> None:
    run = skipper("catalog", "init", "--database", str(shop), "--out", str(tmp_path / "cat"))
    assert run.returncode == 0, run.stderr
    assert "12 relationships, 4 value lists, 11 metrics" in " ".join(run.stdout.split())
    check = skipper("catalog", "check", str(tmp_path / "cat"), "--json")
    assert check.returncode == 0, check.stderr
    assert '"metrics": 11' in check.stdout
    budget = skipper("catalog", "init", "--database", str(shop), "--out", str(tmp_path / "b"),
                     "--row-budget", "30")
    assert budget.returncode == 0, budget.stderr
    assert "not checked" in (tmp_path / "b" / "tables" / "order_items.yaml").read_text()


def test_cli_bad_input_fails_clearly_and_writes_nothing(shop: Path, tmp_path: Path) -> None:
    run = skipper("catalog", "init", "--database", str(tmp_path / "missing.duckdb"),
                  "--out", str(tmp_path / "a"))
    assert run.returncode == 1 and "engine.database_not_found" in run.stderr
    (tmp_path / "text.duckdb").write_text("not a database")
    run = skipper("catalog", "init", "--database", str(tmp_path / "text.duckdb"),
                  "--out", str(tmp_path / "b"))
    assert run.returncode == 1 and "engine.cannot_open" in run.stderr
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.yaml").write_text("mine: true\n")
    run = skipper("catalog", "init", "--database", str(shop), "--out", str(tmp_path / "c"))
    assert run.returncode == 1 and "catalog.out_not_empty" in run.stderr
    run = skipper("catalog", "init", "--database", str(shop), "--out", str(tmp_path / "d"),
                  "--row-budget", "-1")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "text.duckdb"]
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["keep.yaml"]


# ---- third-party databases --------------------------------------------------------------------
@pytest.fixture()
def nsql_copy(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    name = request.param
    source = NSQL / name / f"{name}.duckdb"
    if not source.is_file():
        pytest.skip(f"{source} is absent (../shared/datasets/duckdb-nsql)")
    copy = tmp_path / f"{name}.duckdb"
    shutil.copyfile(source, copy)
    copy.chmod(stat.S_IRUSR)  # read-only: init must not need to write
    return copy


@pytest.mark.parametrize("nsql_copy", ["laptop"], indirect=True)
def test_laptop(nsql_copy: Path, tmp_path: Path) -> None:
    before = digest(nsql_copy)
    init_catalog(nsql_copy, tmp_path / "out")
    assert digest(nsql_copy) == before
    catalog = Catalog.load(tmp_path / "out")
    assert catalog.table("customers").primary_key == ["customer_id"]
    assert relations(catalog) == {
        ("sales", "customers", "many_to_one", "sales.customer_id = customers.customer_id"),
        ("customers", "sales", "one_to_many", "sales.customer_id = customers.customer_id"),
    }
    assert col(catalog, "products", "type").values == [
        "laptop", "pc", "printer"]
    metrics = {m.name: (m.expr, m.time_column) for m in catalog.metrics}
    assert metrics["sales"] == ("count(*)", "day")
    assert metrics["quantity"] == ("sum(quantity)", "day")
    expected = duck(nsql_copy, "SELECT type_of_payment, sum(quantity) FROM sales GROUP BY 1")
    with Skipper(catalog, nsql_copy, isolation="thread", llm=False,
                 audit_log=tmp_path / "audit.jsonl") as sk:
        assert sk.ask("how many sales", planner="catalog").rows == [(10,)]
        answer = sk.ask("quantity per type of payment", planner="catalog")
        assert sorted(answer.rows) == sorted(expected)


@pytest.mark.parametrize("nsql_copy", ["nyc"], indirect=True)
def test_nyc(nsql_copy: Path, tmp_path: Path) -> None:
    before = digest(nsql_copy)
    report = init_catalog(nsql_copy, tmp_path / "out")
    assert digest(nsql_copy) == before and report.skipped == []
    catalog = Catalog.load(tmp_path / "out")
    assert relations(catalog) == set()
    assert {m.name: m.time_column for m in catalog.metrics if m.expr == "count(*)"} == {
        "rideshare": "request_datetime", "service_requests": "created_date",
        "taxi": "tpep_pickup_datetime"}
    assert {m.name: m.table for m in catalog.metrics}["total_amount"] == "taxi"
    assert col(catalog, "service_requests", "status").values == ["Closed", "Open", "Pending"]
    assert col(catalog, "service_requests", "descriptor").values is None
    expected = duck(nsql_copy, "SELECT borough, count(*) FROM service_requests GROUP BY 1")
    with Skipper(catalog, nsql_copy, isolation="thread", llm=False,
                 audit_log=tmp_path / "audit.jsonl") as sk:
        answer = sk.ask("service requests per borough", planner="catalog")
        assert sorted(answer.rows, key=repr) == sorted(expected, key=repr)


# ---- what names say ---------------------------------------------------------------------------
@pytest.mark.parametrize("names, main, unclear", [
    (["created_at", "updated_at"], "created_at", []),
    (["updated_at"], None, []),
    (["birth_date"], None, []),
    (["day"], "day", []),
    (["tpep_pickup_datetime", "tpep_dropoff_datetime"], "tpep_pickup_datetime", []),
    (["request_datetime", "on_scene_datetime", "pickup_datetime", "dropoff_datetime"],
     "request_datetime", []),
    (["created_date", "closed_date", "due_date", "resolution_action_updated_date"],
     "created_date", []),
    (["start_date", "created_on", "sent_on"], "created_on", []),
    (["signed_up_at", "opened_at"], None, ["signed_up_at", "opened_at"]),
    (["left_on", "came_on"], None, ["left_on", "came_on"]),
])
def test_main_time_column(names: list[str], main: str | None, unclear: list[str]) -> None:
    assert main_time_column(names) == (main, unclear)


def test_what_names_point_at() -> None:
    assert words_of("PULocationID") == ["pu", "location", "id"]
    assert label_of("service_requests") == "Service requests"
    assert referenced_tables("category_id") == (
        ["categories", "categorys", "category", "categoryes"], ["category_id", "id"])
    assert referenced_tables("person_key") == (
        ["people", "persons", "person", "persones"], ["person_key", "id", "key"])
    assert referenced_tables("id") is None and referenced_tables("paid") is None
    assert key_names("boxes")[:4] == ["id", "boxes_id", "boxe_id", "box_id"]
