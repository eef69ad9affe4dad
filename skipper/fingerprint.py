"""Stable fingerprints of SQL texts and query results: what audit records store and replay checks.

A result's fingerprint covers column names, types, NULLs and values, is deterministic across runs
and processes, and does not depend on how Arrow chunked the rows.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def hash_sql(sql: str) -> str:
    """SHA-256 of the exact SQL text (UTF-8; a lone surrogate as its `\\udcxx` escape), hex."""
    return hashlib.sha256(sql.encode("utf-8", "backslashreplace")).hexdigest()


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


# ---- v2: every row, order-independent unless the query's ORDER BY fixes the order ----------

#: Kinds of result fingerprint an audit record names (``result_hash_kind``). A record without
#: one holds the v1 fingerprint (``hash_result``) of the rows it kept, in their order.
UNORDERED = "rows.unordered.v2"
ORDERED = "rows.ordered.v2"
LEGACY = "table.v1"

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)
_STEP = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0x243F6A8885A308D3)
_NULL = np.uint64(0xA4093822299F31D0)
_POSITION = np.uint64(0x452821E638D01377)
_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)
_NESTED_CHUNK = 4096


def _mix(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place: a bijection that spreads every input bit."""
    x ^= x >> _SHIFT
    x *= _M1
    x ^= x >> _SHIFT
    x *= _M2
    x ^= x >> _SHIFT
    return x


#: Batches of at most this many rows fold their column hashes with Python integers.
_PYTHON_ROWS = 6
_BITS_INT = int(_ALL_BITS)
_SEED_INT = int(_SEED)
_POSITION_INT = int(_POSITION)
_M1_INT = int(_M1)
_M2_INT = int(_M2)


def _mix_int(x: int) -> int:
    """``_mix`` of one Python integer below 2^64."""
    x ^= x >> 33
    x = (x * _M1_INT) & _BITS_INT
    x ^= x >> 33
    x = (x * _M2_INT) & _BITS_INT
    return x ^ (x >> 33)


class RowFingerprint:
    """A result's fingerprint built batch by batch, over every row the engine produced.

    Each row becomes a 64-bit hash of its values, column by column (NULL distinct from every
    value); the rows' hashes are summed mod 2^64, so the order rows come in changes nothing.
    With ``ordered`` (the outermost query has an ORDER BY) each row is also hashed with its
    position and those are summed too, so the order counts. ``add`` takes batches in any order,
    each with the position of its first row, so the rows a query kept can be hashed after the
    ones it dropped. It detects changes, not forgeries: the per-row hash is not cryptographic.

    The digest is ``<columns>.<rows>`` (``.<sequence>`` when ordered) in hex: 16 digits for the
    column names and types, 32 for the multiset of rows and their count, 32 for the rows in
    order. A replay compares the parts to say what changed. Vectorised with numpy (strings are
    read eight bytes at a time); only nested values (lists, structs, maps) go row by row.
    """

    def __init__(self, schema: pa.Schema, *, ordered: bool = False) -> None:
        self.ordered = ordered
        self.kind = ORDERED if ordered else UNORDERED
        self.columns = _columns_digest(schema)
        self.rows = 0
        self._sum = np.uint64(0)
        self._positional = np.uint64(0)

    def add(self, batch: pa.RecordBatch | pa.Table, start: int) -> None:
        """Fold in the rows of ``batch``, the first of which is row ``start`` of the result."""
        count = batch.num_rows
        if not count:
            return
        self.rows += count
        arrays = [_as_array(column) for column in batch.columns]
        if count <= _PYTHON_ROWS:
            self._add_few([_few_hashes(array) for array in arrays], start, count)
            return
        hashes = _column_hashes(arrays, count)
        row: np.ndarray | None = None
        for hashed in hashes:
            if row is None:
                row = hashed
                row ^= _SEED
            else:
                row ^= hashed
            _mix(row)
        if row is None:
            row = np.full(count, _SEED, dtype=np.uint64)
        with np.errstate(over="ignore"):
            self._sum += row.sum(dtype=np.uint64)
            if self.ordered:
                where = np.arange(start, start + count, dtype=np.uint64)
                where ^= _POSITION
                row ^= _mix(where)
                self._positional += _mix(row).sum(dtype=np.uint64)

    def _add_few(self, hashes: list[list[int]], start: int, count: int) -> None:
        """``add``'s fold of column hashes into rows, for a few rows: the same arithmetic on
        Python integers, cheaper than a numpy call per step."""
        rows = [_SEED_INT] * count
        for hashed in hashes:
            rows = [_mix_int(row ^ value) for row, value in zip(rows, hashed, strict=True)]
        self._sum = np.uint64((int(self._sum) + sum(rows)) & _BITS_INT)
        if self.ordered:
            positional = sum(_mix_int(row ^ _mix_int(where ^ _POSITION_INT))
                             for where, row in enumerate(rows, start))
            self._positional = np.uint64((int(self._positional) + positional) & _BITS_INT)

    def hexdigest(self) -> str:
        rows = hashlib.sha256(f"{self.kind}:{self.columns}:{self.rows}".encode())
        rows.update(int(self._sum).to_bytes(8, "little"))
        parts = [self.columns, rows.hexdigest()[:32]]
        if self.ordered:
            rows.update(int(self._positional).to_bytes(8, "little"))
            parts.append(rows.hexdigest()[:32])
        return ".".join(parts)


#: Column digests by the schema's exact IPC bytes (a result's schema repeats from run to run;
#: DataType equality would not do as the key: it ignores names that ``str`` shows, such as a
#: list's item field).
_COLUMN_DIGESTS: dict[bytes, str] = {}
_COLUMN_DIGESTS_MAX = 512


def _columns_digest(schema: pa.Schema) -> str:
    """The fingerprint's first part: the column names and types."""
    key = schema.serialize().to_pybytes()
    found = _COLUMN_DIGESTS.get(key)
    if found is not None:
        return found
    columns = hashlib.sha256(b"skipper.columns.v2")
    for name in schema.names:
        _put(columns, name.encode("utf-8", "backslashreplace"))
    for kind in schema.types:
        _put(columns, str(kind).encode())
    if len(_COLUMN_DIGESTS) >= _COLUMN_DIGESTS_MAX:
        _COLUMN_DIGESTS.clear()
    digest = _COLUMN_DIGESTS[key] = columns.hexdigest()[:16]
    return digest


def fingerprint_rows(table: pa.Table, *, ordered: bool = False) -> tuple[str, str]:
    """A whole table's v2 fingerprint and its kind (for rows that are all at hand)."""
    fingerprint = RowFingerprint(table.schema, ordered=ordered)
    fingerprint.add(table, 0)
    return fingerprint.hexdigest(), fingerprint.kind


_LAYOUTS: dict[int, str] = {}


def _layout_of(kind: pa.DataType) -> str:
    """``_layout``'s layout alone, which the type's id decides (looked up by the id: cheaper
    than hashing a parametrised type)."""
    layout = _LAYOUTS.get(kind.id)
    if layout is None:
        layout = _LAYOUTS[kind.id] = _layout(kind)[0]
    return layout


def _as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    else:
        array = column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def _nulls(array: pa.Array) -> np.ndarray | None:
    """Where ``array`` is NULL (None if nowhere), read from its validity bitmap when it has one."""
    if not array.null_count:
        return None
    validity = array.buffers()[0]
    if validity is None:
        return np.asarray(array.is_null(), dtype=bool)
    return _bits(validity, array.offset, len(array)) == 0


def _bits(buffer: pa.Buffer, offset: int, count: int) -> np.ndarray:
    """``count`` bits of an Arrow bitmap from bit ``offset`` on, as uint8 zeros and ones."""
    first = offset >> 3
    raw = np.frombuffer(buffer, dtype=np.uint8, count=((offset + count + 7) >> 3) - first,
                        offset=first)
    skip = offset & 7
    return np.unpackbits(raw, bitorder="little")[skip:skip + count]


def _column_hash(array: pa.Array) -> np.ndarray:
    """One 64-bit hash per value of ``array``, NULL its own constant."""
    layout = _layout_of(array.type)
    if layout == "null":
        return np.full(len(array), _NULL, dtype=np.uint64)
    if layout == "nested":
        values = _nested_hash(array)
        if array.null_count:
            values[np.asarray(array.is_null(), dtype=bool)] = _NULL
        return values
    nulls = _nulls(array)
    if layout == "boolean":  # as the uint8 0 or 1 it casts to: one word
        values = np.bitwise_xor(_bits(array.buffers()[1], array.offset, len(array)), _SEED,
                                dtype=np.uint64)
        values += _STEP
        _mix(values)
    elif layout == "fixed":
        values = _fixed_hash(array)
    else:
        values = _binary_hash(array, nulls)
    if nulls is not None:
        values[nulls] = _NULL
    return values


_NARROW = {1: "<u1", 2: "<u2", 4: "<u4"}
_STEP_INT = int(_STEP)
_NULL_INT = int(_NULL)


def _few_hashes(array: pa.Array) -> list[int]:
    """``_column_hash`` of a few values, as Python integers: the same arithmetic, value by
    value, for fixed widths of 1, 2, 4 or 8k bytes and strings; numpy for the other kinds."""
    layout = _layout_of(array.type)
    count = len(array)
    if layout == "boolean":
        words = _bits(array.buffers()[1], array.offset, count).tolist()
        hashes = [_mix_int(((_SEED_INT ^ word) + _STEP_INT) & _BITS_INT) for word in words]
    elif layout == "fixed":
        width = array.type.byte_width
        buffer = array.buffers()[1]
        if buffer is None or not (width in _NARROW or width % 8 == 0):
            return _column_hash(array).tolist()
        places = max(1, width >> 3)
        words = np.frombuffer(buffer, dtype=_NARROW.get(width, "<u8"), count=count * places,
                              offset=array.offset * width).tolist()
        hashes = []
        for row in range(0, count * places, places):
            value = _SEED_INT
            for word in words[row:row + places]:
                value = _mix_int(((value ^ word) + _STEP_INT) & _BITS_INT)
            hashes.append(value)
    elif layout == "binary":
        hashes = _few_binary_hashes(array)
    else:
        return _column_hash(array).tolist()
    nulls = _nulls(array)
    if nulls is not None:
        for row in np.flatnonzero(nulls).tolist():
            hashes[row] = _NULL_INT
    return hashes


def _few_binary_hashes(array: pa.Array) -> list[int]:
    """``_binary_hash`` of a few values (those of NULLs hashed too, and overwritten)."""
    kind = _OFFSETS.get(array.type)
    if kind is None:
        array, kind = array.cast(pa.large_binary()), np.int64
    count = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=kind, count=count + 1,
                            offset=array.offset * np.dtype(kind).itemsize).tolist()
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    hashes = []
    for begin, end in zip(offsets[:-1], offsets[1:], strict=True):
        length = end - begin
        value = data[begin:end].tobytes() + bytes(-length % 8)
        total = 0
        for place, (word,) in enumerate(_WORDS.iter_unpack(value)):
            word = ((word ^ ((place * _STEP_INT) & _BITS_INT)) * _M1_INT) & _BITS_INT
            total += word ^ (word >> 29)
        total = ((total & _BITS_INT) ^ ((length * _M2_INT) & _BITS_INT)) + _SEED_INT
        hashes.append(_mix_int(total & _BITS_INT))
    return hashes


_WORDS = struct.Struct("<Q")


def _fixed_hash(array: pa.Array) -> np.ndarray:
    """Fixed-width values as rows of 64-bit words, each word mixed in with its place."""
    width = array.type.byte_width
    count = len(array)
    buffer = array.buffers()[1]
    if buffer is None:
        raw = np.zeros(count * width, dtype=np.uint8)
    else:
        raw = np.frombuffer(buffer, dtype=np.uint8, count=count * width,
                            offset=array.offset * width)
    if width in _NARROW:
        out = np.bitwise_xor(raw.view(_NARROW[width]), _SEED, dtype=np.uint64)
        out += _STEP
        return _mix(out)
    if width % 8 == 0:
        words = raw.view("<u8").reshape(count, width // 8)
    else:
        padded = np.zeros((count, -(-width // 8) * 8), dtype=np.uint8)
        padded[:, :width] = raw.reshape(count, width)
        words = padded.view("<u8")
    out = np.bitwise_xor(words[:, 0], _SEED, dtype=np.uint64)
    out += _STEP
    _mix(out)
    for place in range(1, words.shape[1]):
        out ^= words[:, place]
        out += _STEP
        _mix(out)
    return out


def _binary_hash(array: pa.Array, nulls: np.ndarray | None) -> np.ndarray:
    """Strings and bytes: each value read as 64-bit words straight from the Arrow buffer (its
    last word masked to its own bytes), each word mixed with its place, summed per value, then
    mixed with the value's length (``_value_hashes``)."""
    kind = _OFFSETS.get(array.type)
    if kind is None:
        array, kind = array.cast(pa.large_binary()), np.int64
    count = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=kind)[
        array.offset:array.offset + count + 1].astype(np.int64)
    lengths = offsets[1:] - offsets[:-1]
    if nulls is not None:
        lengths[nulls] = 0
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None \
        else np.zeros(0, dtype=np.uint8)
    if count and int(offsets.max()) + 8 > len(data):  # room to read a whole word at the end
        data = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    return _value_hashes(data, offsets[:-1], lengths)


def _value_hashes(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The hashes of the values at ``starts`` in ``data`` (bytes with room to read a whole word
    past every value's end), of ``lengths`` bytes (int64, 0 for NULL; ours to change).

    Values of at most ``_MATRIX_WORDS`` words go as a table of one row per value (a row's
    unused places summed in and taken out again), with few numpy calls. Others, and many short
    values among a few long ones, go in groups of at most ``_CHUNK_WORDS`` words, and a longer
    value alone, through strided views of its words: memory stays bounded."""
    count = len(lengths)
    width = (int(lengths.max()) + 7) >> 3 if count else 0
    if not width:
        sums = np.zeros(count, dtype=np.uint64)
    else:
        # Every byte offset as the start of a little-endian word (an unaligned strided view).
        words_at = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data.data, strides=(1,))
        if width <= _MATRIX_WORDS and (count * width <= _MATRIX_CELLS or
                                       count * width * 8 <= 3 * (int(lengths.sum()) + 8 * count)):
            sums = _table_sums(words_at, starts, lengths, width)
        else:
            sums = _grouped_sums(words_at, starts, lengths)
    sums ^= lengths.view(np.uint64) * _M2
    sums += _SEED
    return _mix(sums)


#: Batches of at most this many rows hash their string columns all at once, and their
#: fixed-width columns of one width all at once: fewer numpy calls, the same hashes.
_BATCH_ROWS = 2048


def _column_hashes(arrays: list[pa.Array], count: int) -> list[np.ndarray]:
    """Each column's hashes (``_column_hash``), fresh arrays; columns alike go together in a
    small batch."""
    hashes: list[np.ndarray | None] = [None] * len(arrays)
    if count <= _BATCH_ROWS and len(arrays) > 1:
        groups: dict[int, list[int]] = {}
        for index, array in enumerate(arrays):
            layout = _layout_of(array.type)
            if layout == "binary":
                groups.setdefault(0, []).append(index)
            elif layout == "fixed" and array.buffers()[1] is not None:
                width = array.type.byte_width
                if width in _NARROW or width % 8 == 0:
                    groups.setdefault(width, []).append(index)
        for width, members in groups.items():
            if len(members) < 2:
                continue
            group = [arrays[index] for index in members]
            nulls = [_nulls(array) for array in group]
            together = _binary_hashes(group, nulls, count) if not width \
                else _fixed_hashes(group, width, count)
            for values, index, where in zip(together, members, nulls, strict=True):
                if where is not None:
                    values[where] = _NULL
                hashes[index] = values
    return [_column_hash(array) if values is None else values
            for values, array in zip(hashes, arrays, strict=True)]


def _fixed_hashes(group: list[pa.Array], width: int, count: int) -> np.ndarray:
    """``_fixed_hash`` of arrays of one width (1, 2, 4 or a multiple of 8 bytes), one row each."""
    if width in _NARROW:
        out = np.concatenate([
            np.frombuffer(array.buffers()[1], dtype=_NARROW[width], count=count,
                          offset=array.offset * width) for array in group], dtype=np.uint64)
        out ^= _SEED
        out += _STEP
        return _mix(out).reshape(len(group), count)
    places = width // 8
    words = np.concatenate([
        np.frombuffer(array.buffers()[1], dtype="<u8", count=count * places,
                      offset=array.offset * width) for array in group]).reshape(-1, places)
    out = np.bitwise_xor(words[:, 0], _SEED, dtype=np.uint64)
    out += _STEP
    _mix(out)
    for place in range(1, places):
        out ^= words[:, place]
        out += _STEP
        _mix(out)
    return out.reshape(len(group), count)


def _binary_hashes(group: list[pa.Array], nulls: list[np.ndarray | None],
                   count: int) -> np.ndarray:
    """``_binary_hash`` of string or binary arrays, one row each: their bytes copied back to
    back (small batches only), their values hashed all at once."""
    begins, ends, pieces, shifts = [], [], [], []
    size = 0
    for array in group:
        kind = _OFFSETS.get(array.type)
        if kind is None:
            array, kind = array.cast(pa.large_binary()), np.int64
        _, offsets_buffer, data_buffer = array.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=kind, count=count + 1,
                                offset=array.offset * np.dtype(kind).itemsize)
        first, last = int(offsets[0]), int(offsets[-1])
        begins.append(offsets[:-1])
        ends.append(offsets[1:])
        if data_buffer is not None and last > first:
            pieces.append(np.frombuffer(data_buffer, dtype=np.uint8, count=last - first,
                                        offset=first))
        shifts.append(size - first)
        size += last - first
    pieces.append(np.zeros(8, dtype=np.uint8))  # room to read a whole word at the end
    starts = np.concatenate(begins, dtype=np.int64)
    lengths = np.concatenate(ends, dtype=np.int64)
    lengths -= starts
    starts += np.repeat(np.array(shifts, dtype=np.int64), count)
    for column, where in enumerate(nulls):
        if where is not None:
            lengths[column * count:(column + 1) * count][where] = 0
    return _value_hashes(np.concatenate(pieces), starts, lengths).reshape(len(group), count)


_CHUNK_WORDS = 1 << 20
_MATRIX_WORDS = 32
_MATRIX_CELLS = 1 << 14
_BYTE_PLACES = np.arange(0, 8 * _MATRIX_WORDS, 8, dtype=np.int64)
_PLACE_STEPS = np.arange(_MATRIX_WORDS, dtype=np.uint64) * _STEP
#: The mask of a word's own bytes, by the bytes its value has left from the word on, that count
#: plus ``8 * _MATRIX_WORDS``: none at 0 or fewer, all at 8 or more.
_MASKS = np.array([(1 << (8 * min(max(left, 0), 8))) - 1
                   for left in range(-8 * _MATRIX_WORDS, 8 * _MATRIX_WORDS + 1)], dtype=np.uint64)
_MASK_PLACES = 8 * _MATRIX_WORDS - _BYTE_PLACES


@functools.lru_cache(maxsize=_MATRIX_WORDS)
def _unused_places(width: int) -> np.ndarray:
    """By value length (0 to ``8 * width`` bytes): minus the mixed zero words a table row of
    ``width`` words holds past the value's own, so that adding it leaves the value's sum."""
    zeros = _word_mix(np.zeros(width, dtype=np.uint64), np.arange(width, dtype=np.uint64))
    before = np.zeros(width + 1, dtype=np.uint64)
    np.cumsum(zeros, dtype=np.uint64, out=before[1:])
    own = (np.arange(8 * width + 1, dtype=np.int64) + 7) >> 3
    return before[own] - before[width]


def _table_sums(words_at: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
                width: int) -> np.ndarray:
    """Each value's sum of mixed words, values of at most ``width`` words, ``_CHUNK_WORDS``
    words' worth of rows at a time."""
    rows = max(1, _CHUNK_WORDS // width)
    if len(offsets) > rows:
        return np.concatenate([
            _table_sums(words_at, offsets[begin:begin + rows], lengths[begin:begin + rows],
                        width) for begin in range(0, len(offsets), rows)])
    at = offsets[:, None] + _BYTE_PLACES[:width]
    np.minimum(at, len(words_at) - 1, out=at)  # only unused places reach past the data
    words = words_at[at]
    words &= _MASKS[lengths[:, None] + _MASK_PLACES[:width]]
    words ^= _PLACE_STEPS[:width]
    words *= _M1
    words ^= words >> np.uint64(29)
    sums = words.sum(axis=1, dtype=np.uint64)
    sums += _unused_places(width)[lengths]
    return sums


def _grouped_sums(words_at: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each value's sum of mixed words, values of any length: groups of at most
    ``_CHUNK_WORDS`` words, and a longer value alone."""
    count = len(lengths)
    words_per_value = (lengths + 7) >> 3
    sums = np.zeros(count, dtype=np.uint64)
    long = words_per_value > _CHUNK_WORDS
    for row in np.flatnonzero(long):
        sums[row] = _long_value_sum(words_at, int(offsets[row]), int(lengths[row]))
    short = np.where(long, 0, words_per_value)
    ends = np.cumsum(short)
    begin = 0
    while begin < count:
        stop = int(np.searchsorted(ends, ends[begin] - short[begin] + _CHUNK_WORDS,
                                   side="right"))
        stop = max(stop, begin + 1)
        part = slice(begin, stop)
        sums[part] += _short_values_sum(words_at, offsets[part], lengths[part], short[part])
        begin = stop
    return sums


def _word_mix(words: np.ndarray, place: np.ndarray) -> np.ndarray:
    words ^= place * _STEP
    words *= _M1
    words ^= words >> np.uint64(29)
    return words


def _short_values_sum(words_at: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
                      words_per_value: np.ndarray) -> np.ndarray:
    """Each value's sum of mixed words, for values of few words (a gather of them all)."""
    sums = np.zeros(len(offsets), dtype=np.uint64)
    ends = np.cumsum(words_per_value)
    total = int(ends[-1])
    if not total:
        return sums
    first = ends - words_per_value
    place = np.arange(total, dtype=np.int64)
    place -= np.repeat(first, words_per_value)
    start = place * 8
    start += np.repeat(offsets, words_per_value)
    words = words_at[start]
    filled = words_per_value > 0
    tail = (lengths[filled] - 8 * (words_per_value[filled] - 1)).astype(np.uint64)
    words[(ends - 1)[filled]] &= _ALL_BITS >> (np.uint64(64) - 8 * tail)
    _word_mix(words, place.view(np.uint64))
    sums[filled] = np.add.reduceat(words, first[filled])
    return sums


def _long_value_sum(words_at: np.ndarray, offset: int, length: int) -> np.uint64:
    """One long value's sum of mixed words, ``_CHUNK_WORDS`` at a time (strided views)."""
    count = (length + 7) >> 3
    total = np.uint64(0)
    with np.errstate(over="ignore"):
        for begin in range(0, count, _CHUNK_WORDS):
            stop = min(begin + _CHUNK_WORDS, count)
            words = words_at[offset + 8 * begin:offset + 8 * stop:8].copy()
            if stop == count:
                tail = np.uint64(length - 8 * (count - 1))
                words[-1] &= _ALL_BITS >> (np.uint64(64) - 8 * tail)
            _word_mix(words, np.arange(begin, stop, dtype=np.uint64))
            total += words.sum(dtype=np.uint64)
    return total


def _nested_hash(array: pa.Array) -> np.ndarray:
    """Lists, structs, maps, unions: each value's JSON text hashed with SHA-256, row by row."""
    out = np.empty(len(array), dtype=np.uint64)
    for begin in range(0, len(array), _NESTED_CHUNK):
        values = array.slice(begin, _NESTED_CHUNK).to_pylist()
        digests = b"".join(
            hashlib.sha256(json.dumps(value, default=_plain, ensure_ascii=True,
                                      separators=(",", ":")).encode()).digest()[:8]
            for value in values)
        out[begin:begin + len(values)] = np.frombuffer(digests, dtype="<u8")
    return out
