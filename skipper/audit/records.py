"""The audit record: its fields, its canonical JSON form and hash, and drafts sealed later."""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time as _time
from dataclasses import dataclass
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python
from typing_extensions import TypedDict

from skipper.errors import AuditError
from skipper.fingerprint import hash_sql

#: The ``prev_hash`` of the first record.
GENESIS = "0" * 64
#: Fields the log assigns; a caller passing one is a mistake.
ASSIGNED = frozenset({"id", "seq", "time", "prev_hash", "hash"})
#: Fields only the result tells: ``AuditLog.commit`` may set these, and nothing else.
OUTCOME = ("row_count", "truncated", "result_hash", "result_hash_kind", "duration_ms")


class AuditErrorInfo(TypedDict):
    """Why a query was refused or failed: the error's stable code and its message."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    code: str
    message: str


class AuditRecord(BaseModel):
    """One execution or refusal. ``hash`` covers every other field, ``prev_hash`` is the hash
    of the record before it, so editing, removing, inserting or reordering records shows."""

    model_config = ConfigDict(extra="forbid")

    id: str
    seq: int = Field(ge=1)
    time: str  # ISO 8601, from the log's clock, exactly as stored
    user: str | None = None  # as given (None: nobody was named)
    effective_user: str | None = None  # whom the policy ran it as (its default user, say)
    groups: list[str] = Field(default_factory=list)  # the effective user's
    question: str | None = None
    planner: str | None = None
    sql: str
    sql_hash: str
    catalog_version: str | None = None
    engine: dict[str, Any] | None = None  # name, version, mask salt id (see Skipper.sql)
    tables: list[str] = Field(default_factory=list)
    columns: dict[str, list[str]] = Field(default_factory=dict)
    freshness: dict[str, Any] = Field(default_factory=dict)
    row_count: int = 0
    truncated: bool = False
    result_hash: str | None = None
    #: skipper.fingerprint's kind (rows.unordered.v2, rows.ordered.v2); None: the v1 hash of
    #: the rows kept, in order (records written before v2)
    result_hash_kind: str | None = None
    duration_ms: float = 0.0
    outcome: Literal["ok", "refused", "error"]
    error: AuditErrorInfo | None = None
    policies: list[Any] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


# ---- drafts -----------------------------------------------------------------------------

#: Fields filled in when a draft is sealed; every other field's JSON text is fixed by then.
_SEALED = ("id", "seq", "time", "prev_hash", *OUTCOME)
#: Valid stand-ins for the assigned fields, so a draft validates like a whole record.
_PLACEHOLDERS = {"id": "", "seq": 1, "time": "", "prev_hash": "", "hash": ""}
_READING_ORDER = tuple(name for name in AuditRecord.model_fields if name != "hash")
_CANONICAL_ORDER = tuple(sorted(_READING_ORDER))
#: The sealed fields' texts in the order each template takes them (the line's ends in hash).
_CANONICAL_SLOTS = itemgetter(*(name for name in _CANONICAL_ORDER if name in _SEALED))
_READING_SLOTS = itemgetter(*(name for name in _READING_ORDER if name in _SEALED), "hash")
_KEYS = {name: f',"{name}":' for name in _READING_ORDER}


@dataclass(eq=False)
class AuditDraft:
    """A record checked and serialized before its result and its place in the chain are
    known: ``AuditLog.commit`` adds those and seals it, once. It holds no seq and no lock, so
    a draft may wait while other records are appended.

    The record's JSON is kept as text around the fields still to fill, twice: in canonical
    form (keys sorted at every level, what the hash covers) and in reading order (the line).
    The random half of its id is drawn here too; the time half is the commit's."""

    record: AuditRecord  # validated, with placeholders for the fields the log assigns
    canonical: str  # the canonical text, ``%s`` where each sealed field's value goes
    reading: str  # the line, in reading order, the same way (``hash`` last)
    outcome: dict[str, str]  # the outcome fields' JSON text as drafted
    id_bits: int  # the random bits of its id
    committed: bool = False

    def again(self) -> AuditDraft:
        """A fresh draft of the same record, to commit once more: its own id bits, not yet
        committed, its record a copy. The copies share the drafted field values (lists and
        dicts), as the records committed from them do: records are not to be changed."""
        return AuditDraft(record=self.record.model_copy(), canonical=self.canonical,
                          reading=self.reading, outcome=self.outcome,
                          id_bits=secrets.randbits(_ID_RANDOM_BITS))


def draft_record(fields: dict[str, Any]) -> AuditDraft:
    """Check ``fields`` as a record (all but what the log assigns) and serialize each once."""
    assigned = ASSIGNED & fields.keys()
    if assigned:
        raise AuditError(f"the audit log assigns {', '.join(sorted(assigned))} itself",
                         code="audit.invalid_record")
    if "sql_hash" not in fields and isinstance(fields.get("sql"), str):
        fields["sql_hash"] = hash_sql(fields["sql"])
    try:
        record = AuditRecord.model_validate({**fields, **_PLACEHOLDERS})
    except ValidationError as error:
        raise AuditError(f"invalid audit record: {first_problem(error)}",
                         code="audit.invalid_record") from None
    body = record.model_dump(mode="json", exclude=set(ASSIGNED))
    for name in _FREE_FORM:
        # pydantic's JSON mode replaces a lone surrogate in a dict key with U+FFFD: these
        # fields are converted here instead, so their keys are recorded as given.
        value = getattr(record, name)
        if value:
            body[name] = _jsonable(value)
    canonical = {name: canonical_text(value) for name, value in body.items()}
    # Nested dicts keep the caller's order on the line; the hash sorts them.
    reading = {**canonical, **{name: canonical_text(value, sort=False)
                               for name, value in body.items() if _holds_dict(value)}}
    return AuditDraft(record=record, canonical=_template(_CANONICAL_ORDER, canonical, "}"),
                      reading=_template(_READING_ORDER, reading, ',"hash":%s}\n'),
                      outcome={name: canonical[name] for name in OUTCOME},
                      id_bits=secrets.randbits(_ID_RANDOM_BITS))


def check_outcome(outcome: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The outcome fields ``commit`` was given, checked: their values and JSON texts."""
    values: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for name, value in outcome.items():
        if name == "row_count" and isinstance(value, int) and not isinstance(value, bool) \
                and value >= 0:
            values[name] = int(value)
            texts[name] = str(values[name])
        elif name == "truncated" and isinstance(value, bool):
            values[name] = value
            texts[name] = "true" if value else "false"
        elif name in ("result_hash", "result_hash_kind") and (value is None
                                                            or isinstance(value, str)):
            values[name] = value
            texts[name] = "null" if value is None else encode_basestring(value)
        elif name == "duration_ms" and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value):
            values[name] = float(value)
            texts[name] = repr(values[name])
        elif name in OUTCOME:
            raise AuditError(f"invalid audit record: {name} cannot be {value!r} (row_count: an "
                             "int >= 0, truncated: a bool, result_hash(_kind): a str or None, "
                             "duration_ms: a finite number)", code="audit.invalid_record")
        else:
            raise AuditError(f"invalid audit record: commit sets only {', '.join(OUTCOME)}, "
                             f"not {name}", code="audit.invalid_record")
    return values, texts


def seal(draft: AuditDraft, values: dict[str, Any], texts: dict[str, str], *, record_id: str,
         seq: int, time: str, prev_hash: str) -> tuple[dict[str, Any], bytes]:
    """The sealed values (outcome, place in the chain, hash) and the record's line: the
    canonical text is assembled from the draft's pieces (the same bytes ``digest`` hashes),
    never serialized again."""
    filled = {**draft.outcome, **texts, "id": encode_basestring(record_id), "seq": str(seq),
              "time": encode_basestring(time), "prev_hash": encode_basestring(prev_hash)}
    sealed = hashlib.sha256(encode(draft.canonical % _CANONICAL_SLOTS(filled))).hexdigest()
    filled["hash"] = f'"{sealed}"'
    line = encode(draft.reading % _READING_SLOTS(filled))
    return {**values, "id": record_id, "seq": seq, "time": time, "prev_hash": prev_hash,
            "hash": sealed}, line


def finish(draft: AuditDraft, sealed: dict[str, Any]) -> AuditRecord:
    """The draft's record, filled in place with the values its line was sealed with.

    Those were checked by ``check_outcome`` or assigned by the log, and the rest was
    validated when drafted, so nothing is validated twice (this runs on the answer's path,
    after the wait for the result, where every call is slow); a draft is sealed only once."""
    record = draft.record
    record.__dict__.update(sealed)
    record.__pydantic_fields_set__.update(sealed)
    return record


def _template(order: tuple[str, ...], texts: dict[str, str], end: str) -> str:
    """``{"key":value,...}`` in ``order`` as a %-format, ``%s`` where each sealed field's
    value goes (``end`` is a format too)."""
    parts = ["{"]
    for position, name in enumerate(order):
        parts.append(_KEYS[name] if position else _KEYS[name][1:])  # no comma before the first
        parts.append("%s" if name in _SEALED else texts[name].replace("%", "%%"))
    parts.append(end)
    return "".join(parts)


#: Fields that hold dicts of the caller's own (keys may be any text).
_FREE_FORM = ("columns", "freshness", "policies", "extra", "error", "engine")


def _jsonable(value: Any) -> Any:
    """``value`` as JSON values, dict keys kept exactly (others as pydantic's JSON mode)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None  # as pydantic's JSON mode
    if isinstance(value, dict):
        return {key if isinstance(key, str) else str(to_jsonable_python(key)): _jsonable(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return to_jsonable_python(value)


def _holds_dict(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value)


# ---- canonical form ---------------------------------------------------------------------

#: ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
#: allow_nan=False)``, without building an encoder per call; and the same keeping key order.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode
_IN_ORDER = json.JSONEncoder(sort_keys=False, separators=(",", ":"), ensure_ascii=False,
                             allow_nan=False).encode


def canonical_text(value: Any, *, sort: bool = True) -> str:
    """A value's JSON text: compact, UTF-8 as is, no NaN; keys sorted at every level (unless
    ``sort`` is false)."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if not value and (kind is list or kind is dict):
        return "[]" if kind is list else "{}"
    try:
        return (_CANONICAL if sort else _IN_ORDER)(value)
    except ValueError as error:
        raise AuditError(f"an audit record cannot hold {error}",
                         code="audit.invalid_record") from None


def digest(body: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON (keys sorted at every level), ``hash`` left out."""
    return hashlib.sha256(encode(canonical_text(body))).hexdigest()


def encode(text: str) -> bytes:
    """JSON text as UTF-8, never failing: a lone surrogate (``"\\udcff"``, which Python
    strings may hold and UTF-8 cannot) becomes its JSON escape ``\\udcff``, which reads back
    as the same character. It can only occur inside a JSON string, where that escape is valid,
    so any Python str is recorded losslessly and the hash is the same when re-checked."""
    return text.encode("utf-8", "backslashreplace")


def first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


# ---- ids --------------------------------------------------------------------------------

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
#: Every 10-bit number as two base-32 digits: an id is eight lookups.
_PAIRS = tuple(high + low for high in _ALPHABET for low in _ALPHABET)
_ID_RANDOM_BITS = 30


def new_id(random_bits: int | None = None) -> str:
    """16 characters: wall-clock milliseconds then 30 random bits, so ids sort by time.
    ``random_bits``: the random part drawn ahead (a draft draws it, with ``secrets``, when it
    is prepared, so the commit spends no system call on it)."""
    if random_bits is None:
        random_bits = secrets.randbits(_ID_RANDOM_BITS)
    number = (_time.time_ns() // 1_000_000) << _ID_RANDOM_BITS | random_bits
    pairs = _PAIRS
    return (pairs[number >> 70 & 1023] + pairs[number >> 60 & 1023]
            + pairs[number >> 50 & 1023] + pairs[number >> 40 & 1023]
            + pairs[number >> 30 & 1023] + pairs[number >> 20 & 1023]
            + pairs[number >> 10 & 1023] + pairs[number & 1023])
