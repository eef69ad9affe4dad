"""Gold results: trusted gold SQL run on a read-only DuckDB connection, turned into a Reference
that knows the freedom the SQL leaves (ties under ORDER BY, LIMIT cutting ties, random samples)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from skipper.errors import EvalError, QueryTimeoutError
from skipper.evals import statements
from skipper.evals.matching import Row, normalize_value
from skipper.evals.scoring import Reference, compare

BATCH_ROWS = 2048


class GoldDatabase:
    """A read-only DuckDB connection for gold SQL, with a per-query timeout and a row cap.

    Gold SQL is trusted (it comes from the case author), so it runs on a plain connection rather
    than through Skipper's guard; each thread gets its own cursor.
    """

    def __init__(self, path: Path, *, timeout_s: float = 30.0, max_rows: int = 100_000) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        try:
            self._connection = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            raise EvalError(f"cannot open {path} for gold queries: {error}",
                            code="eval.database") from None
        self._local = threading.local()

    def close(self) -> None:
        self._connection.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._connection.cursor()
        return cursor

    def stream(self, sql: str) -> Iterator[tuple[list[str], list[Row]]]:
        """Run ``sql`` and yield (columns, a batch of rows) until the result ends."""
        cursor = self._cursor()
        timer = threading.Timer(self.timeout_s, cursor.interrupt)
        timer.start()
        try:
            reader = cursor.sql(sql).to_arrow_reader(BATCH_ROWS)
            columns = list(reader.schema.names)
            yielded = False
            for batch in reader:
                yielded = True
                yield columns, _rows(batch)
            if not yielded:
                yield columns, []
        except duckdb.InterruptException:
            raise QueryTimeoutError(
                f"the gold SQL ran past the {self.timeout_s:g} s timeout", timeout_s=self.timeout_s
            ) from None
        except duckdb.Error as error:
            raise EvalError(f"the gold SQL failed: {str(error).splitlines()[0]}",
                            code="eval.gold_failed") from None
        finally:
            timer.cancel()

    def run(self, sql: str) -> tuple[list[str], list[Row]]:
        """The whole result of ``sql`` (at most ``max_rows`` rows, else an error)."""
        columns: list[str] = []
        rows: list[Row] = []
        for batch_columns, batch in self.stream(sql):
            columns = batch_columns
            rows.extend(batch)
            if len(rows) > self.max_rows:
                raise EvalError(
                    f"the gold result has more than {self.max_rows:,} rows; raise --max-rows "
                    "or make the question narrower", code="eval.gold_too_large")
        return columns, rows


def _rows(batch: pa.RecordBatch) -> list[Row]:
    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    return list(zip(*columns, strict=True)) if columns else [() for _ in range(batch.num_rows)]


def reference_for(database: GoldDatabase, sql: str, *, ordered: bool | None = None,
                  tolerance: float = 0.0) -> Reference:
    """Run a gold query and describe every result a correct system may return for it."""
    columns, rows = database.run(sql)
    tree = statements.parse_one(sql)
    is_ordered = ordered if ordered is not None else (
        tree is not None and statements.is_ordered(tree))
    plain = Reference(columns=columns, rows=rows, ordered=is_ordered)
    if tree is None:
        return plain
    if statements.is_unseeded_sample(tree):
        return _sampled(database, tree, plain, tolerance)
    if is_ordered and statements.is_ordered(tree):
        return _with_ties(database, tree, plain, tolerance)
    return plain


def _sampled(database: GoldDatabase, tree: Any, plain: Reference, tolerance: float) -> Reference:
    """A random sample: the population it is drawn from is the reference."""
    _, population = database.run(statements.without_samples(tree).sql(statements.DIALECT))
    candidate = Reference(columns=plain.columns, rows=plain.rows, population=population,
                          notes=["the gold draws an unseeded random sample: any rows of the "
                                 "unsampled result are correct"])
    if compare(candidate, plain.rows, predicted_columns=plain.columns,
               tolerance=tolerance).correct:
        return candidate
    return _note(plain, "the gold samples randomly but its population could not be rebuilt; "
                        "compared exactly")


def _with_ties(database: GoldDatabase, tree: Any, plain: Reference, tolerance: float) -> Reference:
    """An ordered gold: find its tie blocks (and the rows tied at a LIMIT) from its sort keys."""
    keys = statements.order_keys(tree)
    if keys is None:
        return _note(plain, "ORDER BY keys could not be read; row order compared strictly")
    limit, offset = statements.limit_of(tree)
    key_tree = statements.parse_one(keys.sql) if keys.sql is not None else tree
    if key_tree is None:
        return _note(plain, "ORDER BY keys could not be read; row order compared strictly")
    wanted = len(plain.rows)
    cut = limit is not None and not offset and wanted == limit
    sql = statements.without_limit(key_tree).sql(statements.DIALECT) if cut else (
        keys.sql if keys.sql is not None else None)
    try:
        out_rows, key_values = _keyed_rows(database, sql or "", keys, wanted if cut else None) \
            if sql else _split(plain.rows, keys)
    except EvalError:
        return _note(plain, "ORDER BY keys could not be read; row order compared strictly")
    if len(out_rows) < wanted:
        return _note(plain, "ORDER BY keys could not be read; row order compared strictly")
    blocks = _blocks(key_values[:wanted])
    tail_pool = None
    if blocks and len(key_values) > wanted:
        start = blocks[-1][0]
        tied = key_values[start]
        end = start
        while end < len(key_values) and key_values[end] == tied:
            end += 1
        if end > wanted:
            tail_pool = out_rows[start:end]
    candidate = Reference(columns=plain.columns, rows=plain.rows, ordered=True, blocks=blocks,
                          tail_pool=tail_pool)
    if compare(candidate, plain.rows, predicted_columns=plain.columns,
               tolerance=tolerance).correct:
        return candidate
    return _note(plain, "ORDER BY keys did not reproduce the gold; row order compared strictly")


def _note(reference: Reference, note: str) -> Reference:
    reference.notes.append(note)
    return reference


def _key_of(row: Row, keys: statements.OrderKeys, width: int) -> Row:
    output = width - keys.extra
    if keys.keys is None:
        return tuple(normalize_value(v) for v in row[:output])
    return tuple(
        normalize_value(row[index] if where == "out" else row[output + index])
        for where, index in keys.keys
    )


def _split(rows: Sequence[Row], keys: statements.OrderKeys) -> tuple[list[Row], list[Row]]:
    width = len(rows[0]) if rows else 0
    return list(rows), [_key_of(row, keys, width) for row in rows]


def _keyed_rows(database: GoldDatabase, sql: str, keys: statements.OrderKeys,
                wanted: int | None) -> tuple[list[Row], list[Row]]:
    """Output rows and their sort keys; with ``wanted``, read on past that many rows only until
    the group of rows tied with the last wanted row ends."""
    out_rows: list[Row] = []
    key_values: list[Row] = []
    for columns, batch in database.stream(sql):
        width = len(columns)
        output = width - keys.extra
        for row in batch:
            key = _key_of(row, keys, width)
            if wanted is not None and len(out_rows) >= wanted and (
                    wanted == 0 or key != key_values[wanted - 1]):
                return out_rows, key_values
            out_rows.append(tuple(row[:output]))
            key_values.append(key)
            if len(out_rows) > database.max_rows:
                raise EvalError("too many tied rows", code="eval.gold_too_large")
    return out_rows, key_values


def _blocks(key_values: Sequence[Row]) -> list[tuple[int, int]]:
    blocks: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(key_values) + 1):
        if i == len(key_values) or key_values[i] != key_values[start]:
            blocks.append((start, i))
            start = i
    return blocks
