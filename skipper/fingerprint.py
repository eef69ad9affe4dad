"""Stable fingerprints of SQL texts and query results: what audit records store and replay checks.

A result's fingerprint covers column names, types, NULLs and values, is deterministic across runs
and processes, and does not depend on how Arrow chunked the rows.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def hash_sql(sql: str) -> str:
    """SHA-256 of the exact SQL text (UTF-8), hex."""
    return hashlib.sha256(sql.encode()).hexdigest()


def hash_result(table: pa.Table) -> str:
    """SHA-256 over a result's column names, types, NULLs and values, hex.

    Deterministic across runs and processes and independent of how Arrow chunked the rows;
    column order, types and NULL versus empty or zero all change it.
    """
    digest = hashlib.sha256(b"skipper.result.v1")
    _put(digest, str(table.num_rows).encode())
    for name, column in zip(table.column_names, table.columns, strict=True):
        _put(digest, name.encode())
        _hash_array(digest, column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))
    return digest.hexdigest()


def _put(digest: Any, data: bytes | memoryview) -> None:
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


_FIXED_WIDTH = (pa.types.is_integer, pa.types.is_floating, pa.types.is_temporal,
                pa.types.is_decimal, pa.types.is_fixed_size_binary)
_BINARY_LIKE = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
                pa.types.is_large_binary, pa.types.is_string_view, pa.types.is_binary_view)


@functools.lru_cache(maxsize=512)
def _layout(kind: pa.DataType) -> tuple[str, bytes]:
    """How a type's values are hashed, and the type's name as hashed."""
    if pa.types.is_boolean(kind):
        layout = "boolean"
    elif any(test(kind) for test in _FIXED_WIDTH):
        layout = "fixed"
    elif any(test(kind) for test in _BINARY_LIKE):
        layout = "binary"
    elif pa.types.is_null(kind):
        layout = "null"
    else:
        layout = "nested"
    return layout, str(kind).encode()


def _hash_array(digest: Any, array: pa.Array) -> None:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    layout, name = _layout(array.type)
    _put(digest, name)
    nulls = np.asarray(array.is_null(), dtype=bool) if array.null_count else None
    _put(digest, np.packbits(nulls).tobytes() if nulls is not None
         else bytes((len(array) + 7) // 8))
    if layout == "boolean":
        array, layout = pc.cast(array, pa.uint8()), "fixed"
    if layout == "fixed":
        width = array.type.byte_width
        buffer = array.buffers()[1]
        if buffer is None:
            _put(digest, bytes(len(array) * width))
            return
        data = np.frombuffer(buffer, dtype=np.uint8)
        values = data[array.offset * width:(array.offset + len(array)) * width]
        if nulls is not None:
            values = values.reshape(-1, width).copy()
            values[nulls] = 0
        _put(digest, values.tobytes())
    elif layout == "binary":
        lengths, values_bytes = _binary_values(array, nulls)
        _put(digest, lengths)
        _put(digest, values_bytes)
    elif layout == "nested":
        _put(digest, json.dumps(array.to_pylist(), default=_plain, ensure_ascii=False,
                                separators=(",", ":")).encode())


_OFFSETS = {pa.string(): np.int32, pa.binary(): np.int32,
            pa.large_string(): np.int64, pa.large_binary(): np.int64}


def _binary_values(array: pa.Array, nulls: np.ndarray | None) -> tuple[bytes, memoryview | bytes]:
    """Each value's byte length (int64, 0 for NULL) and all the values' bytes back to back.

    Read straight from the array's offsets and data when NULL slots hold no bytes (as
    DuckDB writes them); otherwise, and for view types, through a cast that fills NULLs
    with empty values. Either way the bytes are the same."""
    kind = _OFFSETS.get(array.type)
    if kind is not None and len(array):
        direct = np.frombuffer(array.buffers()[1], dtype=kind)[
            array.offset:array.offset + len(array) + 1]
        lengths = (direct[1:] - direct[:-1]).astype(np.int64, copy=False)
        if nulls is None or not lengths[nulls].any():
            data = array.buffers()[2]
            return lengths.tobytes(), memoryview(data)[direct[0]:direct[-1]] if data else b""
    filled = array.cast(pa.large_binary())
    if nulls is not None:
        filled = pc.fill_null(filled, b"")
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int64)[
        filled.offset:filled.offset + len(filled) + 1]
    data = filled.buffers()[2]
    return (np.diff(offsets).tobytes(),
            memoryview(data)[offsets[0]:offsets[-1]] if len(filled) and data else b"")


def _plain(value: Any) -> Any:
    """Nested values JSON does not know, as unambiguous strings (the type is hashed too)."""
    if isinstance(value, (datetime, date, clock_time)):
        return value.isoformat()
    if isinstance(value, (Decimal, timedelta)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)
