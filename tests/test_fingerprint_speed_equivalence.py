"""RowFingerprint's fast paths give the very digests of the frozen v2 reference
(tests/fingerprint_v2_reference.py, the spec of the digest audit records store): every Arrow
type the module handles, NULLs anywhere, sliced and chunked arrays, batches split anywhere."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from skipper import fingerprint as fast
from skipper.fingerprint import RowFingerprint, fingerprint_rows
from tests import fingerprint_v2_reference as reference

SIZES = (0, 1, 2, 3, 7, 8, 9, 31, 100, 257, 1000, 5000)


def _maybe_null(rng: random.Random, values: list, share: float) -> list:
    return [None if rng.random() < share else value for value in values]


def _text(rng: random.Random, length: int) -> str:
    alphabet = "abcXYZ019 ,.-éü€𝄞\x00"
    return "".join(rng.choice(alphabet) for _ in range(length))


def _lengths(rng: random.Random, count: int, mode: str) -> list[int]:
    if mode == "tiny":
        return [rng.randint(0, 8) for _ in range(count)]
    if mode == "short":
        return [rng.randint(0, 16) for _ in range(count)]
    if mode == "mixed":
        return [rng.randint(0, 40) for _ in range(count)]
    if mode == "fixed":
        return [rng.choice((8, 16, 25)) for _ in range(count)]
    return [rng.choice((0, 3, 40, 300, 2000)) for _ in range(count)]


def _columns(rng: random.Random, count: int, share: float) -> dict[str, pa.Array]:
    def ints(bits: int, signed: bool) -> list:
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        return _maybe_null(rng, [rng.choice((low, high, 0, rng.randint(low, high)))
                                 for _ in range(count)], share)

    columns: dict[str, pa.Array] = {}
    for bits in (8, 16, 32, 64):
        columns[f"i{bits}"] = pa.array(ints(bits, True), getattr(pa, f"int{bits}")())
        columns[f"u{bits}"] = pa.array(ints(bits, False), getattr(pa, f"uint{bits}")())
    floats = [rng.choice((0.0, -0.0, float("nan"), float("inf"), -float("inf"),
                          rng.uniform(-1e9, 1e9))) for _ in range(count)]
    columns["f64"] = pa.array(_maybe_null(rng, floats, share), pa.float64())
    columns["f32"] = pa.array(_maybe_null(rng, floats, share), pa.float32())
    columns["f16"] = pa.array(_maybe_null(rng, floats, share), pa.float64()).cast(
        pa.float16(), safe=False)
    columns["dec"] = pa.array(_maybe_null(
        rng, [Decimal(rng.randint(-10**14, 10**14)) / 100 for _ in range(count)], share),
        pa.decimal128(15, 2))
    columns["dec38"] = pa.array(_maybe_null(
        rng, [Decimal(rng.randint(-10**37, 10**37)) for _ in range(count)], share),
        pa.decimal128(38, 0))
    columns["dec256"] = pa.array(_maybe_null(
        rng, [Decimal(rng.randint(-10**40, 10**40)) for _ in range(count)], share),
        pa.decimal256(45, 3))
    days = [date(1990, 1, 1) + timedelta(days=rng.randint(0, 20000)) for _ in range(count)]
    columns["day"] = pa.array(_maybe_null(rng, days, share), pa.date32())
    columns["day64"] = pa.array(_maybe_null(rng, days, share), pa.date64())
    stamps = [datetime(2000, 1, 1) + timedelta(seconds=rng.randint(0, 10**9),
                                               microseconds=rng.randint(0, 999999))
              for _ in range(count)]
    columns["ts"] = pa.array(_maybe_null(rng, stamps, share), pa.timestamp("us"))
    columns["tsz"] = pa.array(_maybe_null(rng, stamps, share), pa.timestamp("ns", "UTC"))
    columns["time"] = pa.array(_maybe_null(rng, [s.time() for s in stamps], share),
                               pa.time64("us"))
    columns["span"] = pa.array(_maybe_null(rng, [timedelta(seconds=rng.randint(0, 99999))
                                                 for _ in range(count)], share),
                               pa.duration("us"))
    columns["fsb"] = pa.array(_maybe_null(rng, [bytes(rng.randrange(256) for _ in range(5))
                                                for _ in range(count)], share),
                              pa.binary(5))
    columns["flag"] = pa.array(_maybe_null(rng, [rng.random() < 0.5 for _ in range(count)],
                                           share), pa.bool_())
    columns["none"] = pa.nulls(count)
    for mode in ("tiny", "short", "mixed", "fixed", "long"):
        texts = [_text(rng, n) for n in _lengths(rng, count, mode)]
        columns[f"s_{mode}"] = pa.array(_maybe_null(rng, texts, share), pa.string())
    texts = [_text(rng, n) for n in _lengths(rng, count, "mixed")]
    columns["ls"] = pa.array(_maybe_null(rng, texts, share), pa.large_string())
    columns["sv"] = pa.array(_maybe_null(rng, texts, share), pa.string_view())
    raw = [bytes(rng.randrange(256) for _ in range(n)) for n in _lengths(rng, count, "short")]
    columns["bin"] = pa.array(_maybe_null(rng, raw, share), pa.binary())
    columns["lbin"] = pa.array(_maybe_null(rng, raw, share), pa.large_binary())
    columns["bv"] = pa.array(_maybe_null(rng, raw, share), pa.binary_view())
    columns["dict"] = pa.array(_maybe_null(rng, [rng.choice(("x", "yy", "a longer value z"))
                                                 for _ in range(count)], share)
                               ).dictionary_encode()
    columns["list"] = pa.array(_maybe_null(rng, [[rng.randint(0, 9), None][:rng.randint(0, 2)]
                                                 for _ in range(count)], share),
                               pa.list_(pa.int64()))
    columns["struct"] = pa.array(_maybe_null(rng, [{"k": rng.randint(0, 3), "s": "é"}
                                                   for _ in range(count)], share),
                                 pa.struct([("k", pa.int32()), ("s", pa.string())]))
    return columns


def _digests(module: object, table: pa.Table, ordered: bool, splits: list[int]) -> str:
    fingerprint = module.RowFingerprint(table.schema, ordered=ordered)  # type: ignore[attr-defined]
    bounds = [0, *splits, table.num_rows]
    pieces = list(zip(bounds[:-1], bounds[1:], strict=True))
    random.Random(len(pieces)).shuffle(pieces)  # batches come in any order
    for begin, end in pieces:
        fingerprint.add(table.slice(begin, end - begin), begin)
    return fingerprint.hexdigest()


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("share", (0.0, 0.3))
def test_same_digests_as_reference(count: int, share: float) -> None:
    rng = random.Random(count * 7 + int(share * 10))
    columns = _columns(rng, count, share)
    whole = pa.table(columns)
    for name in columns:  # one column at a time: a mismatch names its type
        table = whole.select([name])
        for ordered in (False, True):
            want = _digests(reference, table, ordered, [])
            assert _digests(fast, table, ordered, []) == want, name
    for ordered in (False, True):
        splits = sorted({rng.randint(0, count) for _ in range(rng.randint(0, 4))})
        want = _digests(reference, whole, ordered, splits)
        assert want == _digests(reference, whole, ordered, [])
        assert _digests(fast, whole, ordered, splits) == want
        assert _digests(fast, whole, ordered, []) == want


@pytest.mark.parametrize("count", (5, 100, 3000))
def test_sliced_chunked_and_offset_arrays(count: int) -> None:
    """Arrays that start mid-buffer, tables of many chunks, NULL slots that hold bytes."""
    rng = random.Random(count)
    whole = pa.table(_columns(rng, count + 10, 0.2))
    sliced = whole.slice(3, count)  # every array with a nonzero offset
    chunked = pa.Table.from_batches(sliced.to_batches(max_chunksize=max(1, count // 3)))
    for ordered in (False, True):
        want = reference.fingerprint_rows(sliced, ordered=ordered)[0]
        assert fingerprint_rows(sliced, ordered=ordered)[0] == want
        assert fingerprint_rows(chunked, ordered=ordered)[0] == want
        assert reference.fingerprint_rows(chunked, ordered=ordered)[0] == want
    texts = [_text(rng, rng.randint(0, 30)) for _ in range(count)]
    mask = pa.array([rng.random() < 0.3 for _ in range(count)])
    plain = pa.array(texts, pa.string())
    # NULLs over slots that keep their bytes: offsets and data untouched, validity masked.
    dirty = pa.Array.from_buffers(pa.string(), count,
                                  [pa.compute.invert(mask).buffers()[1], *plain.buffers()[1:]])
    assert dirty.null_count
    for array in (dirty, dirty.slice(1), dirty.cast(pa.large_string())):
        table = pa.table({"s": array})
        for ordered in (False, True):
            assert fingerprint_rows(table, ordered=ordered)[0] == \
                reference.fingerprint_rows(table, ordered=ordered)[0]


def test_empty_and_unused_buffers() -> None:
    """Strings all empty (no data buffer), all NULL, and a fingerprint of nothing at all."""
    for array in (pa.array([""] * 9), pa.array([None] * 9, pa.string()),
                  pa.array([], pa.string()), pa.array([None, ""] * 5, pa.large_binary())):
        table = pa.table({"s": array})
        for ordered in (False, True):
            assert fingerprint_rows(table, ordered=ordered)[0] == \
                reference.fingerprint_rows(table, ordered=ordered)[0]
    schema = pa.schema([("a", pa.int64())])
    assert RowFingerprint(schema).hexdigest() == reference.RowFingerprint(schema).hexdigest()


@pytest.mark.parametrize("words", (1, 3, 7, 1 << 30))
def test_same_digests_in_any_grouping(monkeypatch: pytest.MonkeyPatch, words: int) -> None:
    """However many words a group holds, values long and short hash as the reference does."""
    rng = random.Random(words)
    texts = [_text(rng, n) for n in _lengths(rng, 700, "long") + _lengths(rng, 700, "mixed")]
    table = pa.table({"s": _maybe_null(rng, texts, 0.1), "n": list(range(1400))})
    want = reference.fingerprint_rows(table, ordered=True)[0]
    monkeypatch.setattr(fast, "_CHUNK_WORDS", words)
    assert fingerprint_rows(table, ordered=True)[0] == want
