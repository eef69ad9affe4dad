"""Importing public text-to-SQL benchmarks (Spider, DuckDB-NSQL, BIRD) as cases and catalogs.

Both layouts become the same thing in ``OUT``: ``cases.yaml`` (case ids ``<db_id>-<index in the
split file>``), ``catalogs/<db_id>/`` (a skeleton from ``skipper catalog init``) and, for SQLite
databases, ``databases/<db_id>.duckdb`` converted from them. A gold that is not one plain read
query (SET, PRAGMA, CALL, DDL, DML, COPY, ATTACH, a file or URL read) becomes
``expect: refused``: a read-only agent must refuse that request. Gold written for SQLite is
transpiled to DuckDB with sqlglot; the original text is kept in the case's notes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot

from skipper.errors import DatasetError
from skipper.evals import statements
from skipper.evals.cases import Case, CasesFile, Target, dump_cases
from skipper.evals.sqlite import convert_sqlite

CASES_FILE = "cases.yaml"
Progress = Callable[[str], None]


@dataclass
class ImportReport:
    """What an import wrote, and what it left out (with reasons)."""

    out: Path
    cases_file: Path
    cases: int = 0
    answerable: int = 0
    refused: int = 0
    databases: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def import_spider(directory: str | Path, out: str | Path, *, split: str = "dev",
                  overwrite: bool = False, progress: Progress | None = None) -> ImportReport:
    """Import the Spider layout (also DuckDB-NSQL's): ``<split>.json`` with ``db_id``,
    ``question`` and ``query``; ``tables.json``; ``database/<db>/`` or ``databases/<db>/``
    holding ``<db>.duckdb`` or ``<db>.sqlite``."""
    root = _dataset_dir(directory)
    entries = _entries(root / f"{split}.json", ("db_id", "question", "query"))
    known = _tables_json_ids(root)
    report = _start(out, overwrite)
    if known is not None:
        missing = sorted({e["db_id"] for e in entries} - known)
        if missing:
            report.warnings.append(f"tables.json does not describe: {', '.join(missing)}")
    folders = [root / "database", root / "databases"]
    return _write(root, entries, report, folders, query_key="query", progress=progress)


def import_bird(directory: str | Path, out: str | Path, *, split: str = "dev",
                overwrite: bool = False, progress: Progress | None = None) -> ImportReport:
    """Import BIRD's layout: ``<split>.json`` with ``db_id``, ``question``, ``evidence`` and
    ``SQL``; databases in ``<split>_databases/<db>/<db>.sqlite``."""
    root = _dataset_dir(directory)
    entries = _entries(root / f"{split}.json", ("db_id", "question", "SQL"))
    report = _start(out, overwrite)
    folders = [root / f"{split}_databases", root / "databases", root / "database"]
    return _write(root, entries, report, folders, query_key="SQL", progress=progress)


def _dataset_dir(directory: str | Path) -> Path:
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"dataset directory {root} does not exist", code="eval.dataset_missing")
    return root


def _entries(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise DatasetError(f"{path} is missing; is this the dataset's top folder?",
                           code="eval.dataset_missing") from None
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of questions")
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise DatasetError(f"{path}: item {index} is not an object")
        absent = [key for key in required if not isinstance(entry.get(key), str)]
        if absent:
            raise DatasetError(f"{path}: item {index} has no {', '.join(absent)}")
    return data


def _tables_json_ids(root: Path) -> set[str] | None:
    path = root / "tables.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: cannot read it ({error})") from None
    return {str(item.get("db_id")) for item in data if isinstance(item, dict)}


def _start(out: str | Path, overwrite: bool) -> ImportReport:
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise DatasetError(f"{target} exists and is not a directory", code="eval.bad_out")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise DatasetError(f"{target} is not empty; pass --overwrite to replace it",
                               code="eval.out_not_empty")
        for name in ("catalogs", "databases", CASES_FILE):
            path = target / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    target.mkdir(parents=True, exist_ok=True)
    return ImportReport(out=target, cases_file=target / CASES_FILE)


def _find_database(folders: list[Path], db_id: str) -> Path | None:
    for folder in folders:
        base = folder / db_id
        for candidate in (base / f"{db_id}.duckdb", base / f"{db_id}.sqlite",
                          folder / f"{db_id}.duckdb", folder / f"{db_id}.sqlite"):
            if candidate.is_file():
                return candidate
        if base.is_dir():
            found = sorted(base.glob("*.duckdb")) or sorted(base.glob("*.sqlite"))
            if found:
                return found[0]
    return None


def _write(root: Path, entries: list[dict[str, Any]], report: ImportReport,
           folders: list[Path], *, query_key: str, progress: Progress | None) -> ImportReport:
    from skipper.catalog.introspect import init_catalog

    say = progress or (lambda _message: None)
    targets: dict[str, Target] = {}
    dialects: dict[str, str] = {}
    for db_id in dict.fromkeys(entry["db_id"] for entry in entries):
        source = _find_database(folders, db_id)
        if source is None:
            report.warnings.append(f"no database for {db_id!r} under "
                                   f"{' or '.join(str(f) for f in folders)}")
            continue
        database = source.resolve()
        if source.suffix == ".sqlite":
            say(f"converting {source.name} to DuckDB")
            database = (report.out / "databases" / f"{db_id}.duckdb").resolve()
            database.parent.mkdir(parents=True, exist_ok=True)
            convert_sqlite(source, database)
            report.converted.append(db_id)
            dialects[db_id] = "sqlite"
        say(f"writing the catalog of {db_id}")
        init_catalog(database, report.out / "catalogs" / db_id, overwrite=True)
        targets[db_id] = Target(catalog=f"catalogs/{db_id}", database=str(database))
        report.databases.append(db_id)
    cases: list[Case] = []
    for index, entry in enumerate(entries):
        case_id = f"{entry['db_id']}-{index}"
        if entry["db_id"] not in targets:
            report.skipped.append((case_id, "its database is missing"))
            continue
        case = _case(case_id, entry, entry[query_key], dialects.get(entry["db_id"]), report)
        if case is not None:
            cases.append(case)
    if not cases:
        raise DatasetError(f"no case could be imported from {root}")
    spec = CasesFile(databases=targets, cases=cases,
                     description=f"Imported from {root} by `skipper eval import`.")
    report.cases_file.write_text(dump_cases(spec), encoding="utf-8")
    report.cases = len(cases)
    report.refused = sum(1 for case in cases if case.expect == "refused")
    report.answerable = report.cases - report.refused
    return report


def _case(case_id: str, entry: dict[str, Any], gold: str, dialect: str | None,
          report: ImportReport) -> Case | None:
    notes: list[str] = []
    if dialect is not None:
        try:
            translated = sqlglot.transpile(gold, read=dialect, write=statements.DIALECT)
        except sqlglot.errors.SqlglotError as error:
            report.skipped.append((case_id, f"its {dialect} gold cannot be parsed: "
                                            f"{str(error).splitlines()[0]}"))
            return None
        notes.append(f"gold transpiled from {dialect}; original: {gold.strip()}")
        gold = ";\n".join(translated)
    kind = statements.classify(gold)
    setup = str(entry.get("setup_sql") or "").strip().strip(";").strip()
    if setup:
        if kind.read:
            report.skipped.append((case_id, "its gold reads tables its setup_sql must create "
                                            "first, and databases are read-only"))
            return None
        notes.append("setup_sql not run: nothing runs for a refused request")
    tags = [entry["db_id"]]
    for key in ("category", "difficulty", "hardness"):
        if isinstance(entry.get(key), str) and entry[key] not in tags:
            tags.append(entry[key])
    evidence = entry.get("evidence")
    if not kind.read:
        notes.insert(0, f"not a plain read query: {kind.reason}")
    return Case(
        id=case_id,
        question=entry["question"].strip(),
        gold_sql=gold.strip(),
        expect="answer" if kind.read else "refused",
        tags=tags,
        db=entry["db_id"],
        evidence=evidence.strip() if isinstance(evidence, str) and evidence.strip() else None,
        notes="; ".join(notes) or None,
    )
