"""YAML read as plain data plus the line of every key and item, so errors can point at lines.

Booleans follow YAML 1.2 (only true/false): `on:` in a join and `no` in a list of values stay
strings. Duplicate keys are errors instead of silently keeping the last one.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

Key = tuple[str | int, ...]


class YamlProblem(Exception):
    """The text is not a valid YAML document (or repeats a key); ``line`` says where."""

    def __init__(self, problem: str, line: int | None, path: Key = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.path = path


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader with YAML 1.2 booleans; libyaml's parser where PyYAML has it (catalogs load
    about 5x faster), the pure-Python one otherwise, the same nodes and lines either way."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class YamlDocument:
    """One YAML document as plain data, and the line of every mapping key and sequence item."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Key, int] = {}
        self._fields: dict[Key, dict[str, int]] | None = None
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            self.data: Any = None if node is None else self._build(loader, node, ())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problem = getattr(error, "problem", None) or str(error)
            raise YamlProblem(f"invalid YAML: {problem}",
                              mark.line + 1 if mark is not None else None) from None
        finally:
            loader.dispose()

    def _build(self, loader: _Loader, node: yaml.Node, path: Key) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if key in out:
                    raise YamlProblem(f"duplicate key {key!r}", key_node.start_mark.line + 1,
                                      path + (str(key),))
                self.lines[path + (str(key),)] = key_node.start_mark.line + 1
                out[key] = self._build(loader, value_node, path + (str(key),))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(loader, item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    def line_of(self, path: Key) -> int | None:
        """The line of the deepest known prefix of ``path``."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def fields_of(self, path: Key) -> dict[str, int]:
        """The line of each key (or item index, as text) directly under ``path``."""
        if self._fields is None:
            fields: dict[Key, dict[str, int]] = {}
            for key, line in self.lines.items():
                if key:
                    fields.setdefault(key[:-1], {})[str(key[-1])] = line
            self._fields = fields
        return self._fields.get(path, {})


def dotted(path: Key) -> str:
    """``tables[0].columns[2].name`` for ``("tables", 0, "columns", 2, "name")``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
