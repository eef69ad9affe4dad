"""Engines run guarded SQL. The interface is small so DuckDB, and later other engines, fit it."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

if TYPE_CHECKING:
    from skipper.engine.relations import Allowed, Relation

#: The function governed SQL calls for a ``hash`` mask: ``sha256(salt || CAST(x AS VARCHAR))``.
#: The engine defines it on its own connection with the deployment's secret salt, so the salt
#: is never part of any SQL text; the guard's allowlist keeps users from calling it.
MASK_HASH_FUNCTION = "skipper_mask_hash"


@dataclass
class Result:
    """What an engine returns: the rows it kept (at most ``max_rows``, and at most its byte
    bound), how many there were in all, and why some were left out (``truncated_by``:
    ``"rows"`` or ``"bytes"``).

    ``result_hash`` fingerprints *every* row the query produced, kept or not, as
    ``skipper.fingerprint.RowFingerprint`` does, of the kind ``result_hash_kind`` names
    (``rows.ordered.v2`` when the engine was told the order counts, else
    ``rows.unordered.v2``). An engine that leaves it None gets the v2 fingerprint of the kept
    rows from ``Skipper``, which then says so in the record's kind.

    ``relations``: what the engine's bound plan read for this run (given ``allowed``), which
    may be fresher than the ``PendingResult.relations`` announced at submit."""

    table: pa.Table
    row_count: int
    truncated: bool
    duration_s: float
    types: list[str] = field(default_factory=list)  # the engine's own type names, per column
    result_hash: str | None = None
    result_hash_kind: str | None = None
    truncated_by: str | None = None
    relations: list[Relation] | None = None

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

    #: The relations the engine's bound plan reads, when it was given ``allowed`` (the second
    #: wall); None from an engine that does not bind ahead. An engine may announce them from
    #: the text's last run before this run's check is done: ``Result.relations`` has the
    #: relations this run's plan read, and a refusal comes from ``result()``.
    relations: list[Relation] | None

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
    that cannot may run the query inside ``result()``. ``execute`` is submit-then-wait.
    ``ordered``: the query's outermost ORDER BY fixes the row order, so the result's
    fingerprint counts it (the guard knows; the engine is told, not asked to re-parse).
    ``version`` (optional) names the engine's release in audit records.

    Given ``allowed`` (what the guard let the query read), an engine binds the query with its
    own binder before running it and refuses (``sql.unknown_table``) any relation outside it:
    two readings of the same SQL must not disagree silently. DuckDB's is
    ``skipper.engine.relations``; every engine added later needs its own equivalent."""

    dialect: str

    def submit(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None,
        ordered: bool = False, allowed: Allowed | None = None,
    ) -> PendingResult: ...

    def execute(
        self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None,
        ordered: bool = False, allowed: Allowed | None = None,
    ) -> Result: ...

    def introspect(self) -> list[TableInfo]: ...

    def close(self) -> None: ...
