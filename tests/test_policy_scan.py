"""PII scan: flags unclassified personal data by sampling, writes a review report, and closes
flagged tables (``reviewed: false``) in their YAML without disturbing comments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from skipper import Skipper
from skipper.catalog import Catalog
from skipper.errors import GuardError
from skipper.policy.scan import is_card, is_email, is_ip, is_person_name, is_phone


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skipper.cli", *args], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture()
def crm(tmp_path: Path) -> tuple[Path, Path]:
    database = tmp_path / "crm.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("""
            CREATE TABLE contacts AS SELECT
              i AS id,
              ['Ana Lee', 'Tom Berg', 'Mia Chen', 'Raj Patel'][i % 4 + 1] AS full_name,
              'user' || i || '@mail.example' AS contact,
              '10.1.2.' || i AS last_ip,
              '+1 415 555 01' || lpad((i % 100)::VARCHAR, 2, '0') AS mobile,
              ['4111 1111 1111 1111', '5500 0000 0000 0004', '4012888888881881'][i % 3 + 1]
                AS card,
              '4111 1111 1111 1112' AS not_a_card,
              'hello ' || i AS note,
              ['Acme Inc', 'Nimbus Data LLC'][i % 2 + 1] AS company,
              DATE '2026-01-01' + i::INTEGER AS day
            FROM range(50) t(i)""")
        con.execute("CREATE TABLE orders AS SELECT i AS id, i * 2 AS amount FROM range(10) t(i)")
    catalog = tmp_path / "catalog"
    made = cli("catalog", "init", "--database", str(database), "--out", str(catalog))
    assert made.returncode == 0, made.stderr
    return database, catalog


def test_detectors() -> None:
    assert is_email("a.b@c.example") and not is_email("a@b")
    assert is_ip("10.0.0.1") and is_ip("2001:db8::1") and not is_ip("10.0.0.300")
    assert is_card("4111 1111 1111 1111") and not is_card("4111 1111 1111 1112")
    assert is_phone("+44 20 7946 0001") and not is_phone("2026-01-01") and not is_phone("12")
    assert is_person_name("Ana Lee") and not is_person_name("Acme Networks Co")


def test_scan_flags_marks_and_reports(crm: tuple[Path, Path]) -> None:
    database, catalog = crm
    yaml_file = catalog / "tables" / "contacts.yaml"
    yaml_file.write_text("# kept by the scan\n" + yaml_file.read_text(), encoding="utf-8")
    run = cli("catalog", "scan", "--database", str(database), "--catalog", str(catalog), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    found = {(f["column"], f["kind"]) for f in report["findings"]}
    assert found == {("full_name", "name"), ("contact", "email"), ("last_ip", "ip"),
                     ("mobile", "phone"), ("card", "card")}
    assert report["marked_unreviewed"] == ["contacts"]
    assert (catalog / "pii_review.md").read_text().startswith("# PII review")
    assert yaml_file.read_text().startswith("# kept by the scan\n")
    loaded = Catalog.load(catalog)
    assert not loaded.table("contacts").reviewed and loaded.table("orders").reviewed
    with Skipper(loaded, database, audit_log=database.with_suffix(".audit")) as sk:
        with pytest.raises(GuardError) as refused:
            sk.sql("SELECT * FROM contacts")
        assert refused.value.code == "sql.unknown_table"
        assert sk.sql("SELECT count(*) FROM orders").rows == [(10,)]


def test_a_person_marked_reviewed_is_respected(crm: tuple[Path, Path]) -> None:
    database, catalog = crm
    assert cli("catalog", "scan", "--database", str(database), "--catalog", str(catalog)
               ).returncode == 0
    yaml_file = catalog / "tables" / "contacts.yaml"
    text = yaml_file.read_text().replace("reviewed: false  # flagged by `skipper catalog scan`",
                                         "reviewed: true")
    yaml_file.write_text(text)
    run = cli("catalog", "scan", "--database", str(database), "--catalog", str(catalog), "--json")
    report = json.loads(run.stdout)
    assert report["left_alone"] == ["contacts"] and report["marked_unreviewed"] == []
    assert Catalog.load(catalog).table("contacts").reviewed


def test_scan_of_a_missing_database_fails_cleanly(tmp_path: Path) -> None:
    catalog = Path(__file__).resolve().parents[1] / "catalog"
    run = cli("catalog", "scan", "--database", str(tmp_path / "nope.duckdb"), "--catalog",
              str(catalog), "--dry-run", "--out", str(tmp_path / "r.md"))
    assert run.returncode != 0 and "Traceback" not in run.stderr
