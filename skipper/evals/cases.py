"""Eval cases as YAML files: questions with gold SQL or expected rows, validated at the door."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from skipper.errors import EvalCaseError
from skipper.evals.scoring import DEFAULT_TOLERANCE, Semantics
from skipper.yamldoc import Key, YamlDocument, YamlProblem, dotted

Expect = Literal["answer", "cannot_answer", "refused"]
DEMO = "demo"
DEFAULT_TARGET = "default"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Expectation(_Strict):
    """What one question must produce: rows (from gold SQL or written out) or a decline."""

    question: str = Field(min_length=1)
    expect: Expect = "answer"
    gold_sql: str | None = None
    expected_rows: list[list[Any]] | None = None
    expected_columns: list[str] | None = None
    ordered: bool | None = None
    tolerance: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_source_of_truth(self) -> _Expectation:
        if self.gold_sql is not None and self.expected_rows is not None:
            raise ValueError("give gold_sql or expected_rows, not both")
        if self.expect == "answer" and self.gold_sql is None and self.expected_rows is None:
            raise ValueError("an answerable question needs gold_sql or expected_rows")
        if self.expect != "answer" and self.expected_rows is not None:
            raise ValueError(f"expect: {self.expect} cannot have expected_rows")
        if self.expected_columns is not None:
            if self.expected_rows is None:
                raise ValueError("expected_columns needs expected_rows")
            for number, row in enumerate(self.expected_rows, 1):
                if len(row) != len(self.expected_columns):
                    raise ValueError(
                        f"expected_rows row {number} has {len(row)} value(s) but "
                        f"expected_columns names {len(self.expected_columns)}"
                    )
        elif self.expected_rows:
            widths = {len(row) for row in self.expected_rows}
            if len(widths) > 1:
                raise ValueError("expected_rows rows have different numbers of values")
        return self


class Turn(_Expectation):
    """A follow-up question in the same conversation, scored on its own."""


class Case(_Expectation):
    """One question (and optional follow-ups) with what a correct system must do.

    ``ordered`` defaults to "the gold's outermost query has ORDER BY" (False for expected_rows);
    ``tolerance`` defaults to the file's. ``db`` picks one of the file's ``databases``.
    ``evidence`` is outside knowledge given with the question (BIRD's hints): planners get it
    after the question. ``notes`` are for people reading the case and its report.
    """

    id: str
    tags: list[str] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    user: str | None = None
    semantics: Semantics | None = None
    db: str | None = None
    evidence: str | None = None
    notes: str | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"case id {value!r} must start with a letter or digit and use only letters, "
                "digits and _ . : -"
            )
        return value


class Target(_Strict):
    """Where a case runs: a catalog directory and a database (``demo`` builds the demo lake)."""

    catalog: str | None = None
    database: str
    as_of: dt.date | None = None
    scale: int = Field(default=1, ge=1)


class CasesFile(_Strict):
    """A cases file. ``catalog``/``database``/``as_of`` describe the default target; files that
    span several databases (imported benchmarks) name them under ``databases`` instead."""

    description: str | None = None
    catalog: str | None = None
    database: str | None = None
    as_of: dt.date | None = None
    scale: int = Field(default=1, ge=1)
    databases: dict[str, Target] = Field(default_factory=dict)
    tolerance: float = Field(default=DEFAULT_TOLERANCE, ge=0)
    semantics: Semantics = "spider"
    timeout_s: float = Field(default=30.0, gt=0)
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _targets(self) -> CasesFile:
        if self.database is None and self.catalog is not None:
            raise ValueError("catalog is set but database is not")
        if DEFAULT_TARGET in self.databases and self.database is not None:
            raise ValueError(f"databases cannot define {DEFAULT_TARGET!r} when database is set")
        return self


@dataclass(frozen=True)
class ResolvedTarget:
    """A target with paths made absolute; ``database`` is None for the demo lake."""

    name: str
    catalog: Path | None
    database: Path | None
    as_of: dt.date | None
    scale: int

    @property
    def is_demo(self) -> bool:
        return self.database is None


@dataclass
class CaseSuite:
    """A loaded cases file: its cases, where each runs, and the line each case starts on."""

    path: Path
    spec: CasesFile
    targets: dict[str, ResolvedTarget]
    lines: dict[str, int]

    @property
    def cases(self) -> list[Case]:
        return self.spec.cases

    def target_of(self, case: Case) -> ResolvedTarget:
        return self.targets[case.db or DEFAULT_TARGET]

    def tolerance_of(self, case: Case, turn: _Expectation | None = None) -> float:
        for owner in (turn, case):
            if owner is not None and owner.tolerance is not None:
                return owner.tolerance
        return self.spec.tolerance

    def semantics_of(self, case: Case) -> Semantics:
        return case.semantics or self.spec.semantics


# ---- loading -------------------------------------------------------------------------------


_Key = Key


def _read_yaml(text: str, file: str) -> YamlDocument:
    try:
        return YamlDocument(text)
    except YamlProblem as problem:
        raise EvalCaseError(problem.problem, file=file, line=problem.line) from None


def load_cases(path: str | Path) -> CaseSuite:
    """Load and validate a cases file; errors name the file, the line and the case id."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise EvalCaseError(f"cannot read the cases file: {error.strerror}", file=file,
                            code="eval.cases_not_found") from None
    document = _read_yaml(text, file)
    data, lines = document.data, document.lines
    if not isinstance(data, dict):
        raise EvalCaseError("a cases file must be a mapping with a `cases:` list", file=file)
    try:
        spec = CasesFile.model_validate(data)
    except ValidationError as error:
        raise _case_error(error, data, document, file) from None
    seen: dict[str, int] = {}
    case_lines: dict[str, int] = {}
    for index, case in enumerate(spec.cases):
        line = lines.get(("cases", index))
        if case.id in seen:
            raise EvalCaseError(f"duplicate case id (first defined at line {seen[case.id]})",
                                file=file, line=line, case=case.id)
        seen[case.id] = line or 0
        case_lines[case.id] = line or 0
    targets = _resolve_targets(spec, path)
    for index, case in enumerate(spec.cases):
        name = case.db or DEFAULT_TARGET
        if name not in targets:
            known = ", ".join(sorted(targets)) or "none"
            what = f"db {case.db!r} is not under `databases:`" if case.db else (
                "no database: set `database:` at the top of the file or `db:` on the case")
            raise EvalCaseError(f"{what} (known: {known})", file=file,
                                line=lines.get(("cases", index, "db"), case_lines[case.id]),
                                case=case.id)
    return CaseSuite(path=path, spec=spec, targets=targets, lines=case_lines)


def _case_error(error: ValidationError, data: dict[str, Any], document: YamlDocument,
                file: str) -> EvalCaseError:
    first = error.errors()[0]
    loc: _Key = tuple(part for part in first["loc"]
                      if isinstance(part, int) or not str(part).startswith("function-"))
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r}"
    elif first["type"] == "missing":
        message = f"missing required field {loc[-1]!r}"
    inner = loc[2:-1] if first["type"] in ("extra_forbidden", "missing") else loc[2:]
    field = dotted(inner)
    if field:
        message = f"{field}: {message}"
    count = error.error_count()
    if count > 1:
        message += f" (and {count - 1} more problem{'s' if count > 2 else ''})"
    case = None
    if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
        cases = data.get("cases")
        if isinstance(cases, list) and loc[1] < len(cases) and isinstance(cases[loc[1]], dict):
            raw = cases[loc[1]].get("id")
            case = str(raw) if raw is not None else f"#{loc[1] + 1}"
    elif loc and first["type"] != "extra_forbidden":
        message = f"{'.'.join(str(p) for p in loc)}: {message}"
    return EvalCaseError(message, file=file, line=document.line_of(loc), case=case)


def _resolve_targets(spec: CasesFile, path: Path) -> dict[str, ResolvedTarget]:
    base = path.resolve().parent
    targets: dict[str, ResolvedTarget] = {}
    declared = dict(spec.databases)
    if spec.database is not None:
        declared[DEFAULT_TARGET] = Target(catalog=spec.catalog, database=spec.database,
                                          as_of=spec.as_of, scale=spec.scale)
    for name, target in declared.items():
        demo = target.database == DEMO
        catalog = (base / target.catalog).resolve() if target.catalog else None
        if catalog is None and not demo:
            raise EvalCaseError(f"target {name!r} needs a catalog directory", file=str(path),
                                code="eval.invalid_case")
        targets[name] = ResolvedTarget(
            name=name,
            catalog=catalog,
            database=None if demo else (base / target.database).resolve(),
            as_of=target.as_of or spec.as_of,
            scale=target.scale,
        )
    return targets


class _Dumper(yaml.SafeDumper):
    """Writes multi-line SQL as a literal block, so gold queries stay readable."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


def dump_cases(spec: CasesFile) -> str:
    """A cases file as YAML, fields in declaration order and defaults left out."""
    data = spec.model_dump(mode="python", exclude_defaults=True)
    first = ("id", "question", "expect", "tags", "db", "evidence", "gold_sql", "expected_rows")
    data["cases"] = [
        {**{key: case[key] for key in first if key in case},
         **{key: value for key, value in case.items() if key not in first}}
        for case in data["cases"]
    ]
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
