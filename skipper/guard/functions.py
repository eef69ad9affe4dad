"""Rule: every function call is on the reviewed allowlist in ``functions.txt``; nothing else."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from skipper.errors import FunctionNotAllowedError
from skipper.guard.context import GuardContext

_TRIAL_ARGUMENTS = ("", "x", "x, y", "x, y, z")


@dataclass(frozen=True)
class FunctionAllowlist:
    """Allowed and refused names, and the sqlglot function classes each side parses into."""

    names: frozenset[str]
    refused_names: frozenset[str]
    classes: frozenset[type[exp.Func]]
    refused_classes: dict[type[exp.Func], str]

    def refusal(self, node: exp.Func) -> str | None:
        """Why this call is refused, or None when it may run."""
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name in self.names:
                return None
            if name in self.refused_names:
                return f"function {name}() reveals or changes the environment and is not allowed"
            return f"function {name}() is not on the allowlist of DuckDB functions"
        kind = type(node)
        refused_as = self.refused_classes.get(kind)
        if refused_as is not None:
            return f"function {refused_as}() reveals or changes the environment and is not allowed"
        if kind in self.classes:
            return None
        return f"function {node.sql_name().lower()}() is not on the allowlist of DuckDB functions"


@functools.cache
def function_allowlist(dialect: str = "duckdb") -> FunctionAllowlist:
    """Read ``functions.txt`` and learn which sqlglot classes its names parse into (once)."""
    names: set[str] = set()
    refused: set[str] = set()
    syntax: list[str] = []
    text = resources.files("skipper.guard").joinpath("functions.txt").read_text(encoding="utf-8")
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("="):
            syntax.append(line[1:].strip())
        elif line.startswith("!"):
            refused.add(line[1:].strip().lower())
        else:
            names.add(line.lower())
    allowed_classes: set[type[exp.Func]] = set()
    for classes in _classes_of_calls(sorted(names), dialect).values():
        allowed_classes |= classes
    for snippet in syntax:
        allowed_classes |= _classes_of(f"SELECT {snippet}", dialect)
    refused_classes: dict[type[exp.Func], str] = {}
    refused_calls = _classes_of_calls(sorted(refused), dialect)
    for name in sorted(refused):
        for kind in refused_calls[name] | _classes_of(f"SELECT {name}", dialect):
            if kind is not exp.Anonymous:
                refused_classes.setdefault(kind, name)
    allowed_classes.discard(exp.Anonymous)
    return FunctionAllowlist(
        names=frozenset(names),
        refused_names=frozenset(refused),
        classes=frozenset(allowed_classes - set(refused_classes)),
        refused_classes=refused_classes,
    )


def allowed_functions(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    allowlist = function_allowlist(ctx.dialect)
    for node in tree.find_all(exp.Func):
        parent = node.parent
        if isinstance(parent, exp.Dot) and parent.expression is node:
            raise FunctionNotAllowedError(
                f"call functions by their plain name, not qualified or as a method "
                f"({parent.sql(ctx.dialect)}); e.g. lower(x) instead of x.lower()",
                function=function_name(node),
            )
        reason = allowlist.refusal(node)
        if reason is not None:
            raise FunctionNotAllowedError(reason, function=function_name(node))
    return tree


def function_name(node: exp.Func) -> str:
    """The name a call is written with: ``lower`` for ``LOWER(x)``, ``my_udf`` for ``my_udf(x)``."""
    return node.name.lower() if isinstance(node, exp.Anonymous) else node.sql_name().lower()


def _classes_of_calls(names: list[str], dialect: str) -> dict[str, set[type[exp.Func]]]:
    """The function classes each name becomes when sqlglot's parser reads ``name(...)``.

    Names with a plain builder in ``Parser.FUNCTIONS`` are built directly (no SQL text to
    parse, so learning ~300 names is fast); names with a custom parser are parsed as text.
    """
    dialect_object = sqlglot.Dialect.get_or_raise(dialect)
    parser = dialect_object.parser_class
    builders = {str(key).upper(): value for key, value in parser.FUNCTIONS.items()}
    custom = {str(key).upper() for key in parser.FUNCTION_PARSERS}
    custom |= {str(key).upper() for key in getattr(parser, "NO_PAREN_FUNCTION_PARSERS", {})}
    arguments = [exp.column(letter) for letter in "xyz"]
    found: dict[str, set[type[exp.Func]]] = {}
    for name in names:
        upper = name.upper()
        classes: set[type[exp.Func]] = set()
        if upper in custom:
            for listed in _TRIAL_ARGUMENTS:
                classes |= _classes_of(f"SELECT {name}({listed})", dialect)
        elif upper in builders:
            for count in range(len(arguments) + 1):
                built = _build(builders[upper], arguments[:count], dialect_object)
                if isinstance(built, exp.Expression):
                    classes |= {type(node) for node in built.find_all(exp.Func)}
        found[name] = classes
    return found


def _build(builder: Any, arguments: Sequence[exp.Expression], dialect: sqlglot.Dialect) -> Any:
    """Call a parser builder as the parser would; some take the dialect, some do not (and
    compiled builders cannot be asked which), so try both. A builder refusing a trial
    argument count is expected and yields nothing."""
    for with_dialect in (True, False):
        args = [a.copy() for a in arguments]
        try:
            return builder(args, dialect=dialect) if with_dialect else builder(args)
        except Exception:
            continue
    return None


def _classes_of(sql: str, dialect: str) -> set[type[exp.Func]]:
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (SqlglotError, ValueError, TypeError, KeyError, IndexError):
        return set()
    return {type(node) for node in tree.find_all(exp.Func)}
