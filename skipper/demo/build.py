"""Writing the Town Lake DuckDB file: schema, chunked Arrow loads, and an all-or-nothing swap."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from skipper.demo import townlake
from skipper.errors import DemoError, SkipperError

Progress = Callable[[str, int, int], None]
"""Called as ``progress(what, done, total)`` while the demo builds; ``done`` reaches ``total``."""

DERIVED_TABLE = "traffic_rank_daily"

SCHEMA = """
CREATE TABLE accounts (
    account_id BIGINT PRIMARY KEY,
    account_name VARCHAR NOT NULL UNIQUE,
    email VARCHAR NOT NULL,
    plan VARCHAR NOT NULL CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    region VARCHAR NOT NULL CHECK (region IN ('NA', 'EU', 'APAC', 'LATAM', 'MEA')),
    country_code VARCHAR NOT NULL,
    is_internal BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE domains (
    domain_id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (account_id),
    domain_name VARCHAR NOT NULL UNIQUE,
    status VARCHAR NOT NULL CHECK (status IN ('active', 'pending', 'moved')),
    signed_up_at TIMESTAMP NOT NULL
);
CREATE TABLE http_requests_sampled (
    day DATE NOT NULL,
    domain_id BIGINT NOT NULL,
    client_country VARCHAR NOT NULL,
    requests BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    cached_requests BIGINT NOT NULL,
    threats BIGINT NOT NULL,
    sample_interval INTEGER NOT NULL
);
CREATE TABLE billing_usage (
    usage_date DATE NOT NULL,
    account_id BIGINT NOT NULL,
    product VARCHAR NOT NULL CHECK (
        product IN ('r2_storage', 'r2_operations', 'workers_requests', 'bandwidth', 'images')),
    quantity DOUBLE NOT NULL,
    unit VARCHAR NOT NULL,
    amount_usd DECIMAL(12,2) NOT NULL
);
CREATE TABLE support_tickets (
    ticket_id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (account_id),
    opened_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    priority VARCHAR NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    category VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('open', 'pending', 'solved'))
);
CREATE TABLE dns_queries_daily (
    day DATE NOT NULL,
    domain_id BIGINT NOT NULL,
    queries BIGINT NOT NULL,
    nxdomain BIGINT NOT NULL
);
CREATE TABLE employee_salaries (
    employee_id BIGINT PRIMARY KEY,
    name VARCHAR NOT NULL,
    department VARCHAR NOT NULL,
    salary_usd DECIMAL(12,2) NOT NULL
);
CREATE TABLE etl_loads (
    table_name VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);
"""


@dataclass
class DemoInfo:
    """What a demo build produced, and how long it took."""

    path: Path
    as_of: date
    scale: int
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def build_demo(
    path: str | Path,
    *,
    as_of: date,
    scale: int = 1,
    seed: int = 7,
    progress: Progress | None = None,
    catalog: str | Path | None = None,
) -> DemoInfo:
    """Write the Town Lake demo database to ``path``, replacing it only once it is complete.

    ``catalog`` is the catalog whose lineage SQL builds the derived tables (the bundled one by
    default). Same arguments, same data: every random draw is seeded.
    """
    target = _check_arguments(path, as_of, scale, seed)
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.building")
    try:
        lineage_sql = _lineage_sql(catalog)
        rows = _write(temporary, as_of, scale, seed, lineage_sql, progress or _quiet)
        stale_wal = target.with_name(target.name + ".wal")
        if stale_wal.exists():
            stale_wal.unlink()
        os.replace(temporary, target)
    except SkipperError:
        raise
    except (duckdb.Error, OSError, ValueError) as error:
        raise DemoError(f"could not build the demo database at {target}: {error}",
                        code="demo.build_failed") from error
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(temporary.with_name(temporary.name + ".tmp"), ignore_errors=True)
    return DemoInfo(target, as_of, scale, seed, rows, time.perf_counter() - started)


def demo_as_of(path: str | Path) -> date | None:
    """The as-of day a Town Lake file was built for (its last day of traffic), or None when the
    file is missing or is not a Town Lake demo."""
    target = Path(path)
    if not target.is_file():
        return None
    try:
        with duckdb.connect(str(target), read_only=True,
                            config={"enable_external_access": False}) as con:
            row = con.execute("SELECT max(day) FROM http_requests_sampled").fetchone()
    except duckdb.Error:
        return None
    day = row[0] if row else None
    return day if isinstance(day, date) else None


def _quiet(what: str, done: int, total: int) -> None:
    return None


def _check_arguments(path: str | Path, as_of: object, scale: object, seed: object) -> Path:
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise DemoError(f"as_of must be a date such as 2025-06-30, not {as_of!r}",
                        code="demo.bad_as_of")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise DemoError(f"scale must be a whole number of at least 1, not {scale!r}",
                        code="demo.bad_scale")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DemoError(f"seed must be a whole number of at least 0, not {seed!r}",
                        code="demo.bad_seed")
    target = Path(path)
    if target.is_dir():
        raise DemoError(f"{target} is a directory; give a file name such as townlake.duckdb",
                        code="demo.bad_path")
    return target


def _lineage_sql(catalog: str | Path | None) -> str:
    """The SQL the catalog records for the derived table: the demo runs exactly that."""
    from skipper.catalog import Catalog
    from skipper.demo import bundled_catalog_path

    table = Catalog.load(catalog if catalog is not None else bundled_catalog_path()).table(
        DERIVED_TABLE
    )
    if table.lineage is None or not table.lineage.sql:
        raise DemoError(f"the catalog gives no lineage SQL for {DERIVED_TABLE}",
                        code="demo.no_lineage")
    return table.lineage.sql


def _write(
    file: Path, as_of: date, scale: int, seed: int, lineage_sql: str, progress: Progress
) -> dict[str, int]:
    http_days = range(townlake.HISTORY_DAYS)
    billing_days = range(townlake.HISTORY_DAYS - 1)
    dns_days = range(townlake.HISTORY_DAYS - townlake.DNS_LAG_DAYS)
    chunk = 10
    total = 6 + len(http_days) + 2 * len(range(0, townlake.HISTORY_DAYS, chunk))
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        progress(what, done, total)

    progress("Creating accounts and domains", done, total)
    world = townlake.build_world(as_of, scale, seed)
    con = duckdb.connect(str(file), config={"threads": 2, "preserve_insertion_order": False})
    try:
        con.execute(SCHEMA)
        _append(con, "accounts", world.accounts)
        step("Accounts")
        _append(con, "domains", world.domains)
        step("Domains")
        _append(con, "support_tickets", townlake.support_tickets(world))
        _append(con, "employee_salaries", townlake.employee_salaries(world))
        _append(con, "etl_loads", townlake.etl_loads(world))
        step("Support tickets")
        for t in http_days:
            _append(con, "http_requests_sampled", townlake.http_requests_day(world, t))
            step(f"HTTP requests, day {t + 1}/{len(http_days)}")
        con.execute(f"CREATE TABLE {DERIVED_TABLE} AS {lineage_sql}")
        step("Traffic ranks (from the catalog's lineage SQL)")
        for days in townlake.chunks(billing_days, chunk):
            _append(con, "billing_usage", townlake.billing_days(world, days))
            step("Billing usage")
        for days in townlake.chunks(dns_days, chunk):
            _append(con, "dns_queries_daily", townlake.dns_queries_days(world, days))
            step("DNS queries")
        rows = {
            name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # type: ignore[index]
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT internal ORDER BY table_name"
            ).fetchall()
        }
        con.execute("CHECKPOINT")
        step("Checkpoint")
    finally:
        con.close()
    while done < total:
        step("Done")
    return rows


def _append(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    con.register("incoming", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
    finally:
        con.unregister("incoming")
