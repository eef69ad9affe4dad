"""Reading catalog YAML files with line numbers, so every error can point at its line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from skipper.catalog.models import CatalogFile, Entry
from skipper.errors import CatalogError

Path_ = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `on:` and `no` stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Document:
    """A YAML document as plain data plus the line of every key and item."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            self.data: Any = {} if node is None else self._build(loader, node, ())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(error, "problem", None) or str(error)
            raise CatalogError(f"invalid YAML: {problem}", file=file, line=line) from None
        finally:
            loader.dispose()

    def _build(self, loader: _Loader, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if key in out:
                    raise CatalogError(
                        f"duplicate key {key!r}",
                        file=self.file,
                        line=key_node.start_mark.line + 1,
                        field=_dotted(path + (str(key),)),
                    )
                out[key] = self._build(loader, value_node, path + (str(key),))
                self.lines[path + (str(key),)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(loader, item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    def line_of(self, path: Path_) -> int | None:
        """The line of the deepest known prefix of ``path``."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_file(path: Path, dialect: str | None = None) -> CatalogFile:
    """Load and validate one catalog YAML file; raise CatalogError naming file, line, field."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"cannot read file: {error.strerror}", file=file) from None
    document = _Document(text, file)
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
            message, file=file, line=document.line_of(loc), field=_dotted(loc)
        ) from None
    _locate(parsed, document, ())
    return parsed


def _locate(model: BaseModel, document: _Document, path: Path_) -> None:
    """Record on every entry the file, line and field path it came from."""
    if isinstance(model, Entry):
        field_lines = {
            str(key[-1]): line
            for key, line in document.lines.items()
            if len(key) == len(path) + 1 and key[: len(path)] == path
        }
        model.locate(document.file, document.line_of(path), _dotted(path), field_lines)
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, BaseModel):
            _locate(value, document, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    _locate(item, document, path + (key, i))


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
