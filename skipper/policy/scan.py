"""PII scan: sample column values, flag likely personal data the catalog does not classify yet,
write a review report, and mark flagged tables unreviewed until a person has looked at them."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
from sqlglot import exp

from skipper.catalog import Catalog, Table
from skipper.errors import DatabaseNotFoundError

SAMPLE_ROWS = 1000
THRESHOLD = 0.6
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{6,}[0-9]$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CARD = re.compile(r"^[0-9][0-9 -]{11,21}[0-9]$")
_PERSON = re.compile(r"^[A-Z][a-z'’-]+(?: [A-Z][a-z'’.-]+){1,2}$")
_COMPANY_WORDS = {"inc", "llc", "ltd", "gmbh", "co", "corp", "sa", "sas", "ag", "ab", "kk", "bv",
                  "group", "labs", "data", "systems", "media", "studio", "shop", "bank"}
_NAME_COLUMNS = {"name", "first_name", "last_name", "full_name", "given_name", "family_name",
                 "surname", "person_name", "contact_name", "employee_name", "customer_name",
                 "display_name", "username"}
_NOT_PERSON = ("domain", "account", "company", "product", "file", "host", "table", "category",
               "plan", "org", "team", "city", "country", "street", "brand")


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_card(value: str) -> bool:
    digits = _digits(value)
    return bool(_CARD.match(value)) and 13 <= len(digits) <= 19 and _luhn(digits)


def is_phone(value: str) -> bool:
    digits = _digits(value)
    if not _PHONE.match(value) or _DATE.match(value) or is_card(value):
        return False
    return 7 <= len(digits) <= 15 and (not value.isdigit() or value.startswith("+"))


def is_person_name(value: str) -> bool:
    if not _PERSON.match(value):
        return False
    return not any(word.lower().strip(".") in _COMPANY_WORDS for word in value.split())


DETECTORS: dict[str, Callable[[str], bool]] = {
    "email": is_email, "ip": is_ip, "card": is_card, "phone": is_phone, "name": is_person_name,
}


@dataclass
class Finding:
    """One column that looks like personal data of one kind."""

    table: str
    column: str
    kind: str
    share: float
    sampled: int
    examples: int
    reason: str


@dataclass
class ScanReport:
    """What a scan found, and which tables it marked unreviewed."""

    database: str
    catalog: str
    findings: list[Finding] = field(default_factory=list)
    marked_unreviewed: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    """Flagged tables a person already marked ``reviewed: true`` (the scan respects them)."""
    not_marked: list[str] = field(default_factory=list)
    """Flagged tables whose YAML the scan could not edit safely: mark them by hand."""

    @property
    def flagged_tables(self) -> list[str]:
        return sorted({f.table for f in self.findings})

    def to_dict(self) -> dict[str, object]:
        return {"database": self.database, "catalog": self.catalog,
                "flagged_tables": self.flagged_tables,
                "findings": [asdict(f) for f in self.findings],
                "marked_unreviewed": self.marked_unreviewed, "left_alone": self.left_alone,
                "not_marked": self.not_marked}

    def to_markdown(self) -> str:
        lines = ["# PII review", "",
                 f"Database `{self.database}`, catalog `{self.catalog}`.", ""]
        if not self.findings:
            lines.append("No unclassified column looks like personal data.")
            return "\n".join(lines) + "\n"
        lines += ["| table | column | looks like | share of sampled values | why |",
                  "|---|---|---|---|---|"]
        for f in self.findings:
            lines.append(f"| {f.table} | {f.column} | {f.kind} | {f.share:.0%} of {f.sampled} "
                         f"| {f.reason} |")
        lines += ["", "For each column: add `classification: <kind>` in the catalog (or decide it "
                  "is not personal data), then set `reviewed: true` on the table.", ""]
        if self.marked_unreviewed:
            lines.append("Marked `reviewed: false` (nobody can query them until then): "
                         + ", ".join(self.marked_unreviewed) + ".")
        if self.left_alone:
            lines.append("Already `reviewed: true`, left as they are: "
                         + ", ".join(self.left_alone) + ".")
        if self.not_marked:
            lines.append("Could not edit the YAML safely, mark `reviewed: false` by hand: "
                         + ", ".join(self.not_marked) + ".")
        return "\n".join(lines) + "\n"


def scan_catalog(catalog: Catalog, database: str | Path, *, sample_rows: int = SAMPLE_ROWS,
         threshold: float = THRESHOLD) -> ScanReport:
    """Flag unclassified columns of catalog tables whose sampled values look like PII."""
    path = Path(database)
    if not path.is_file():
        raise DatabaseNotFoundError(f"database {path} does not exist")
    report = ScanReport(database=str(path), catalog=str(catalog.root or catalog.name))
    config: dict[str, str | bool | int | float | list[str]] = {
        "enable_external_access": False, "autoload_known_extensions": False,
    }
    with duckdb.connect(str(path), read_only=True, config=config) as connection:
        for table in catalog.tables:
            for column in table.columns:
                kinds = _kinds_for(column.type)
                if column.classification or not kinds:
                    continue
                values = _sample(connection, table, column.name, sample_rows)
                finding = _judge(table.name, column.name, values, threshold, kinds)
                if finding is not None:
                    report.findings.append(finding)
    return report


def _sample(connection: duckdb.DuckDBPyConnection, table: Table, column: str,
            rows: int) -> list[str]:
    source = exp.table_(table.name, db=table.db_schema, quoted=True)
    ref = exp.column(column, quoted=True)
    query = (exp.select(exp.cast(ref.copy(), exp.DataType.Type.VARCHAR).as_("v"))
             .from_(source).where(exp.not_(exp.Is(this=ref.copy(), expression=exp.Null())))
             .limit(rows))
    try:
        fetched = connection.execute(query.sql(dialect="duckdb")).fetchall()
    except duckdb.Error:
        return []
    return [str(row[0]).strip() for row in fetched if row[0] is not None]


def _kinds_for(type_: str | None) -> tuple[str, ...]:
    """Text can hold any kind; whole numbers only card numbers; dates and measures none."""
    lowered = (type_ or "VARCHAR").upper()
    if any(word in lowered for word in ("CHAR", "TEXT", "STRING", "UNKNOWN", "JSON")):
        return tuple(DETECTORS)
    if lowered in {"BIGINT", "HUGEINT", "UBIGINT", "DECIMAL(19,0)", "DECIMAL(20,0)"}:
        return ("card",)
    return ()


def _judge(table: str, column: str, values: list[str], threshold: float,
           kinds: tuple[str, ...] = tuple(DETECTORS)) -> Finding | None:
    lowered = column.lower()
    not_a_person = any(word in lowered for word in _NOT_PERSON)
    if "name" in kinds and lowered in _NAME_COLUMNS and not not_a_person:
        share = _share(values, is_person_name)
        return Finding(table, column, "name", share, len(values), round(share * len(values)),
                       f"column name {column!r}"
                       + (f"; {share:.0%} of values look like person names" if values else ""))
    if not values:
        return None
    for kind, detector in DETECTORS.items():
        if kind not in kinds:
            continue
        if kind == "name" and not_a_person:
            continue
        share = _share(values, detector)
        if share >= threshold:
            return Finding(table, column, kind, share, len(values), round(share * len(values)),
                           f"{share:.0%} of sampled values look like {kind}s"
                           + (" (Luhn-valid)" if kind == "card" else ""))
    return None


def _share(values: list[str], detector: Callable[[str], bool]) -> float:
    return sum(1 for v in values if detector(v)) / len(values) if values else 0.0


def mark_unreviewed(catalog: Catalog, report: ScanReport) -> None:
    """Write ``reviewed: false`` into flagged tables' YAML, line by line so comments stay."""
    edits: dict[str, list[Table]] = {}
    for name in report.flagged_tables:
        table = catalog.table(name)
        if "reviewed" in table.model_fields_set:  # a person (or an earlier scan) decided
            if table.reviewed:
                report.left_alone.append(name)
            continue
        file = table.origin[0]
        if file is None:
            report.not_marked.append(name)
            continue
        edits.setdefault(file, []).append(table)
    for file, tables in edits.items():
        path = Path(file)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for table in sorted(tables, key=lambda t: -(t.line_of(".name") or 0)):
            number = table.line_of(".name")
            line = lines[number - 1] if number and number <= len(lines) else ""
            key_at = line.find("name:")
            if not number or key_at < 0 or "{" in line:
                report.not_marked.append(table.name)
                continue
            indent = " " * key_at
            lines.insert(number, f"{indent}reviewed: false  # flagged by `skipper catalog scan`\n")
            report.marked_unreviewed.append(table.name)
        path.write_text("".join(lines), encoding="utf-8")
    report.marked_unreviewed.sort()


def write_report(report: ScanReport, out: Path) -> tuple[Path, Path]:
    """The markdown report at ``out`` and the same findings as JSON beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.to_markdown(), encoding="utf-8")
    as_json = out.with_suffix(".json")
    as_json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return out, as_json
