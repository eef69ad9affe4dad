"""The hand-written Town Lake catalog loads, says what the spec asks, and fits its JSON Schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from skipper.catalog import Catalog, catalog_json_schema
from skipper.catalog.models import format_duration
from skipper.yamldoc import YamlDocument

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog"
SCHEMA_FILE = ROOT / "skipper" / "catalog" / "catalog.schema.json"
TOWN_LAKE_TABLES = {
    "accounts", "domains", "http_requests_sampled", "traffic_rank_daily", "billing_usage",
    "support_tickets", "dns_queries_daily",
}
MY_FILES = sorted([CATALOG / "catalog.yaml", *(CATALOG / "tables").glob("*.yaml")])


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(CATALOG)


def test_town_lake_catalog_declares_the_demo_tables_and_not_the_salaries(catalog: Catalog) -> None:
    assert catalog.name == "Town Lake"
    assert catalog.dialect == "duckdb"
    assert {t.name for t in catalog.tables} == TOWN_LAKE_TABLES
    assert catalog.find_table("employee_salaries") is None
    assert catalog.find_table("etl_loads") is None
    assert {s.kind for s in catalog.sources} >= {"postgres", "clickhouse"}


def test_every_table_and_column_is_documented(catalog: Catalog) -> None:
    for table in catalog.tables:
        assert table.description and table.owner and table.grain and table.source, table.name
        assert table.primary_key, table.name
        for column in table.columns:
            assert column.type, f"{table.name}.{column.name}"
            assert len(column.description) > 10, f"{table.name}.{column.name}"


def test_low_cardinality_columns_list_their_values(catalog: Catalog) -> None:
    expected = {
        ("accounts", "plan"): ["free", "pro", "business", "enterprise"],
        ("accounts", "region"): ["NA", "EU", "APAC", "LATAM", "MEA"],
        ("domains", "status"): ["active", "pending", "moved"],
        ("billing_usage", "product"): [
            "r2_storage", "r2_operations", "workers_requests", "bandwidth", "images"],
        ("support_tickets", "priority"): ["P1", "P2", "P3", "P4"],
        ("support_tickets", "status"): ["open", "pending", "solved"],
    }
    for (table, column), values in expected.items():
        declared = catalog.table(table).column(column)
        assert declared is not None and declared.values == values


def test_email_is_pii(catalog: Catalog) -> None:
    email = catalog.table("accounts").column("email")
    assert email is not None and "pii" in email.tags
    pii = [f"{t.name}.{c.name}" for t in catalog.tables for c in t.columns if "pii" in c.tags]
    assert pii == ["accounts.email"]


def test_relationships_join_the_demo_tables(catalog: Catalog) -> None:
    declared = {
        (t.name, r.table): r.cardinality for t in catalog.tables for r in t.relationships
    }
    for pair, cardinality in {
        ("domains", "accounts"): "many_to_one",
        ("accounts", "domains"): "one_to_many",
        ("http_requests_sampled", "domains"): "many_to_one",
        ("traffic_rank_daily", "domains"): "many_to_one",
        ("billing_usage", "accounts"): "many_to_one",
        ("support_tickets", "accounts"): "many_to_one",
        ("dns_queries_daily", "domains"): "many_to_one",
    }.items():
        assert declared.get(pair) == cardinality, pair


def test_freshness_sampling_and_lineage(catalog: Catalog) -> None:
    fresh = {t.name: t.freshness for t in catalog.tables}
    assert all(rule is not None for rule in fresh.values())
    dns = fresh["dns_queries_daily"]
    assert dns is not None and dns.column == "day" and format_duration(dns.sla) == "1d"
    http = fresh["http_requests_sampled"]
    assert http is not None and http.column == "day" and format_duration(http.sla) == "1d"
    billing = fresh["billing_usage"]
    # The latest billing day is yesterday: a 2-day SLA keeps it fresh, unlike the DNS pipeline.
    assert billing is not None and billing.column == "usage_date"
    assert format_duration(billing.sla) == "2d"
    tickets = fresh["support_tickets"]
    assert tickets is not None and tickets.load_log is not None
    assert tickets.load_log.table == "etl_loads"

    sampling = catalog.table("http_requests_sampled").sampling
    assert sampling is not None
    assert (sampling.rate, sampling.weight_column, sampling.exact_table) == (
        0.01, "sample_interval", None)
    assert [t.name for t in catalog.tables if t.sampling] == ["http_requests_sampled"]

    lineage = catalog.table("traffic_rank_daily").lineage
    assert lineage is not None and lineage.upstream == ["http_requests_sampled"] and lineage.sql
    assert catalog.upstream("traffic_rank_daily") == ["http_requests_sampled"]


def test_catalog_loads_without_the_semantic_layer(tmp_path: Path) -> None:
    """The planner's semantics.yaml is optional: tables alone make a valid catalog."""
    copy = tmp_path / "catalog"
    copy.mkdir()
    for file in MY_FILES:
        target = copy / file.relative_to(CATALOG)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, target)
    loaded = Catalog.load(copy)
    assert {t.name for t in loaded.tables} == TOWN_LAKE_TABLES
    assert loaded.metrics == [] and loaded.verified_queries == []


def test_published_json_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(catalog_json_schema())), (
        "regenerate it: skipper catalog schema --out skipper/catalog/catalog.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(committed)


@pytest.mark.parametrize(
    "file", sorted(CATALOG.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CATALOG))
)
def test_every_catalog_file_validates_against_the_json_schema(file: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text("utf-8")))
    data = YamlDocument(file.read_text(encoding="utf-8")).data
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(data)]
    assert problems == []


@pytest.mark.parametrize("file", MY_FILES, ids=lambda p: str(p.relative_to(CATALOG)))
def test_catalog_files_point_editors_at_the_schema(file: Path) -> None:
    first = file.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    assert (file.parent / first[len(prefix):]).resolve() == SCHEMA_FILE.resolve()


def test_the_json_schema_rejects_what_the_loader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text("utf-8")))
    good = {"tables": [{"name": "t", "columns": [{"name": "a", "type": "INTEGER"}],
                        "freshness": {"column": "a", "sla": "1d"}}]}
    assert list(validator.iter_errors(good)) == []
    for bad in (
        {"tables": [{"name": "t", "columns": [{"name": "a"}], "colour": "red"}]},
        {"tables": [{"name": "t", "columns": []}]},
        {"tables": [{"name": "t", "columns": [{"name": "a"}],
                     "freshness": {"column": "a", "sla": "soon"}}]},
        {"tables": [{"name": "t", "columns": [{"name": "a"}], "sampling": {"rate": 2}}]},
    ):
        assert list(validator.iter_errors(bad)), bad


def test_a_restricted_catalog_leaves_out_what_needs_hidden_tables() -> None:
    catalog = Catalog.load(ROOT / "catalog")
    accounts = catalog.table("accounts")
    slim = accounts.model_copy(update={"columns": [c for c in accounts.columns
                                                   if c.name != "email"]})
    view = catalog.restricted([slim, catalog.table("billing_usage")])
    assert [t.name for t in view.tables] == ["accounts", "billing_usage"]
    assert view.find_table("domains") is None
    assert view.table("accounts").column("email") is None
    assert [r.table for r in view.table("accounts").relationships] == ["billing_usage"]
    assert {m.table for m in view.metrics} == {"accounts", "billing_usage"}
    assert all(view.find_metric(m.name) is m for m in view.metrics)
    assert all(view.find_metric(m.name) is None for m in catalog.metrics
               if m.table not in {"accounts", "billing_usage"})
    assert len(view.verified_queries) < len(catalog.verified_queries)
    assert view.version == catalog.version
    # The catalog itself is untouched.
    assert catalog.find_table("domains") is not None
    assert catalog.table("accounts").column("email") is not None
    assert [r.table for r in catalog.table("accounts").relationships] == [
        "domains", "billing_usage", "support_tickets"]
