"""What names and types say about a column, for `catalog init`'s guesses: ``customer_id`` points
at ``customers``, ``created_at`` dates a row, ``total_amount`` is worth summing."""

from __future__ import annotations

import re

from skipper.identifiers import fold

INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_TEXT_TYPES = {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"}

_MEASURE_WORDS = {"amount", "price", "total", "revenue", "cost", "quantity", "qty"}
_FREE_TEXT_WORDS = {"description", "comment", "comments", "note", "notes", "text", "message",
                    "body", "summary", "remark", "remarks", "details", "title", "subject",
                    "content", "address", "url", "path"}
#: Time columns that never date a row's event (a birthday, a deadline, a last edit).
_NOT_EVENT_TIME = {"birth", "birthday", "dob", "born", "due", "deadline", "expires", "expiry",
                   "expiration", "deleted", "updated", "modified", "closed", "end", "ended",
                   "resolved", "finished", "completed", "dropoff", "arrival", "last"}
_GENERIC_TIME_NAMES = {"date", "day", "ts", "timestamp", "datetime", "time", "event_time",
                       "event_date", "occurred_at", "happened_at"}
#: Words that make a time column the one that dates a row, strongest first.
_EVENT_TIME_TIERS = (
    {"created", "creation", "create"},
    {"order", "ordered", "placed", "request", "requested", "submitted", "opened", "signup",
     "signed", "registered", "issued", "occurred", "event", "booked", "transaction", "purchase",
     "purchased", "sale", "sold", "posted", "published", "invoice", "invoiced", "start",
     "started", "begin", "sent"},
    {"pickup", "departure", "received", "loaded"},
)
_REFERENCE = re.compile(r"([a-z][a-z0-9_]*?)_(id|key)")
_KEY_LIKE = re.compile(r"(^|_)(id|key|uuid|guid)$")


# ---- types --------------------------------------------------------------------------------
def is_time_type(type_name: str) -> bool:
    """DATE and TIMESTAMP (any precision or zone): what can date a metric; not TIME."""
    upper = type_name.upper()
    return upper == "DATE" or upper.startswith(("TIMESTAMP", "DATETIME"))


def is_text_type(type_name: str) -> bool:
    upper = type_name.upper()
    return upper in _TEXT_TYPES or upper.startswith(("VARCHAR(", "CHAR(", "ENUM("))


def is_number_type(type_name: str) -> bool:
    upper = type_name.upper()
    return upper in INTEGER_TYPES or upper in _FLOAT_TYPES or upper.startswith("DECIMAL")


def comparable_types(a: str, b: str) -> bool:
    """Whether a join on columns of these types compares values, not casts of them."""
    return (a.upper() == b.upper() or {a.upper(), b.upper()} <= INTEGER_TYPES
            or (is_text_type(a) and is_text_type(b)))


# ---- names ----------------------------------------------------------------------------------
def words_of(name: str) -> list[str]:
    """``tpep_pickup_datetime`` -> tpep, pickup, datetime; ``PULocationID`` -> pu, location, id."""
    split = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", split)
    return [w for w in fold(split).split("_") if w]


def label_of(name: str) -> str:
    """``order_items`` -> ``Order items``."""
    words = " ".join(words_of(name))
    return words[:1].upper() + words[1:]


def singulars_of(name: str) -> list[str]:
    """What one row of table ``name`` may be called: ``warehouses`` -> warehouse, warehous."""
    word = fold(name)
    out = [word]
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    if word.endswith("es"):
        out.append(word[:-2])
    if word == "people":
        out.append("person")
    return out


def referenced_tables(column: str) -> tuple[list[str], list[str]] | None:
    """For ``customer_id``: the table names it may point at (customers, customer, ...) and the
    names its key there may have (customer_id, id); None for a name that points nowhere."""
    match = _REFERENCE.fullmatch(fold(column))
    if match is None:
        return None
    stem, suffix = match.groups()
    tables = [f"{stem}s", stem, f"{stem}es"]
    if stem.endswith("y"):
        tables.insert(0, f"{stem[:-1]}ies")
    if stem == "person":
        tables.insert(0, "people")
    return tables, [fold(column), "id", *(["key"] if suffix == "key" else [])]


def key_names(table: str) -> list[str]:
    """Names of columns that would be ``table``'s own key, most likely first."""
    stems = singulars_of(table)
    return ["id", *(f"{s}_id" for s in stems), *(f"{s}_key" for s in stems), "key"]


def is_key_name(name: str) -> bool:
    return bool(_KEY_LIKE.search(fold(name)))


def is_free_text_name(name: str) -> bool:
    return bool(set(words_of(name)) & _FREE_TEXT_WORDS)


def is_measure_name(name: str) -> bool:
    return bool(set(words_of(name)) & _MEASURE_WORDS)


def main_time_column(names: list[str]) -> tuple[str | None, list[str]]:
    """The time column that dates a row of the table (the only event-like one, else the one
    the strongest words name), and the event-like ones when none of them is obvious."""
    events = [n for n in names if not set(words_of(n)) & _NOT_EVENT_TIME]
    if len(events) <= 1:
        return (events[0] if events else None), []
    generic = [n for n in events if fold(n) in _GENERIC_TIME_NAMES]
    tiers = [generic, *([n for n in events if set(words_of(n)) & tier]
                        for tier in _EVENT_TIME_TIERS)]
    found = next((tier for tier in tiers if tier), [])
    return (found[0], []) if len(found) == 1 else (None, events)
