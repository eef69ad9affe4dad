"""Engines run guarded SQL. The interface is small so DuckDB, and later other engines, fit it."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

import pyarrow as pa

#: The function governed SQL calls for a ``hash`` mask: ``sha256(salt || CAST(x AS VARCHAR))``.
#: The engine defines it on its own connection with the deployment's secret salt, so the salt
#: is never part of any SQL text; the guard's allowlist keeps users from calling it.
MASK_HASH_FUNCTION = "skipper_mask_hash"


@dataclass
class Result:
    """What an engine returns: at most ``max_rows`` rows, and how many there were in all."""

    table: pa.Table
    row_count: int
    truncated: bool
    duration_s: float
    types: list[str] = field(default_factory=list)  # the engine's own type names, per column
    result_hash: str | None = None  # skipper.fingerprint.hash_result of ``table``, when the engine
    # computed it (cheaper where the rows were made)

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)


@dataclass
class ColumnInfo:
    name: str
    type: str
    nullable: bool = True


@dataclass
class TableInfo:
    """A table or view as the database itself describes it (for `skipper catalog init`)."""

    name: str
    schema: str
    columns: list[ColumnInfo]
    primary_key: list[str]
    row_count: int
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    is_view: bool = False


class PendingResult(Protocol):
    """A submitted query. ``result()`` waits for it; as a context manager, leaving the block
    collects the result if nobody did, so the engine is never left held."""

    def result(self) -> Result: ...

    def __enter__(self) -> PendingResult: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None: ...


class Engine(Protocol):
    """Runs SQL that the guard already accepted. Also the second wall: it must be unable to
    write, read files or reach the network even if given SQL the guard should have refused.
    To run queries over ``hash``-masked columns it defines ``MASK_HASH_FUNCTION``.

    ``submit`` starts a query and returns at once where the engine runs queries elsewhere (a
    worker process, a remote cluster), so the caller can do its own work meanwhile; an engine
    that cannot may run the query inside ``result()``. ``execute`` is submit-then-wait."""

    dialect: str

    def submit(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> PendingResult: ...

    def execute(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None
    ) -> Result: ...

    def introspect(self) -> list[TableInfo]: ...

    def close(self) -> None: ...
