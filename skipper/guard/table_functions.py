"""Rule: no table functions and no file or URL reads; only harmless row generators may be FROM'd."""

from __future__ import annotations

from sqlglot import exp

from skipper.errors import TableFunctionError
from skipper.guard.context import GuardContext
from skipper.guard.functions import function_name

ROW_GENERATORS: tuple[type[exp.Expression], ...] = (exp.Unnest, exp.GenerateSeries)
"""Typed row generators allowed in FROM: ``unnest(list)``, ``range(n)``, ``generate_series``."""

ROW_GENERATOR_NAMES = frozenset({"unnest", "range", "generate_series"})

_RELATION_SLOTS: tuple[type[exp.Expression], ...] = (exp.Lateral, exp.From, exp.Join, exp.Subquery)
_PATH_CHARACTERS = frozenset("./\\:*?~")


def no_table_functions(tree: exp.Expression, ctx: GuardContext) -> exp.Expression:
    for node in tree.walk():
        if isinstance(node, exp.Func) and _in_table_position(node):
            if not _is_row_generator(node):
                name = function_name(node)
                raise TableFunctionError(
                    f"table function {name}() is not allowed: queries may read only catalog "
                    "tables (row generators range, generate_series and unnest are fine)",
                    function=name,
                )
        elif isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            name = node.name
            if _PATH_CHARACTERS & set(name):
                raise TableFunctionError(
                    f"reading files or URLs ({name!r}) is not allowed: "
                    "queries may read only catalog tables",
                    path=name,
                )
    return tree


def _in_table_position(node: exp.Func) -> bool:
    """A function FROM'd: ``FROM f()``, ``JOIN f()``, ``LATERAL f()``, ``ROWS FROM (f(), g())``."""
    parent = node.parent
    if isinstance(parent, exp.Table):
        return True
    return isinstance(parent, _RELATION_SLOTS) and node.arg_key == "this"


def _is_row_generator(node: exp.Func) -> bool:
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in ROW_GENERATOR_NAMES
    return isinstance(node, ROW_GENERATORS)
