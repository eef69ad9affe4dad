"""Reading catalog YAML files with line numbers, so every error can point at its line."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from skipper.catalog.models import CatalogFile, Entry
from skipper.errors import CatalogError
from skipper.yamldoc import Key, YamlDocument, YamlProblem, dotted


def load_file(path: Path, dialect: str | None = None) -> CatalogFile:
    """Load and validate one catalog YAML file; raise CatalogError naming file, line, field."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"cannot read file: {error.strerror}", file=file) from None
    try:
        document = YamlDocument(text)
    except YamlProblem as problem:
        raise CatalogError(problem.problem, file=file, line=problem.line,
                           field=dotted(problem.path) or None) from None
    if not isinstance(document.data, dict):
        raise CatalogError("a catalog file must be a mapping (tables:, metrics:, ...)", file=file)
    context = {"dialect": dialect or document.data.get("dialect") or "duckdb"}
    try:
        parsed = CatalogFile.model_validate(document.data, context=context)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(part for part in first["loc"] if not str(part).startswith("function-"))
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
        elif first["type"] == "missing":
            message = f"missing required field {loc[-1]!r}"
        count = error.error_count()
        if count > 1:
            message += f" (and {count - 1} more problem{'s' if count > 2 else ''})"
        raise CatalogError(
            message, file=file, line=document.line_of(loc), field=dotted(loc)
        ) from None
    _locate(parsed, document, file, ())
    return parsed


def _locate(model: BaseModel, document: YamlDocument, file: str, path: Key) -> None:
    """Record on every entry the file, line and field path it came from."""
    if isinstance(model, Entry):
        model.locate(file, document.line_of(path), dotted(path), document.fields_of(path))
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, BaseModel):
            _locate(value, document, file, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _locate(item, document, file, path + (key, i))


def catalog_files(directory: Path) -> list[Path]:
    """The YAML files of a catalog directory, in a stable order."""
    if not directory.exists():
        raise CatalogError(
            f"catalog directory {directory} does not exist", code="catalog.not_found"
        )
    if directory.is_file():
        return [directory]
    files = sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not files:
        raise CatalogError(
            f"no .yaml files in {directory}; create one with `skipper catalog init`",
            code="catalog.not_found",
        )
    return files
