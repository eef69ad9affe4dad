"""Odd text: what Skipper refuses on the way in, and how it shows text on a terminal.

On the way in (``check_text``), a question, a user name or SQL is refused before anything runs
when it is not Unicode: a lone surrogate is what Python makes of bytes that were not UTF-8 (argv
decoded with surrogateescape, a JSON ``"\\ud800"`` escape) and it cannot be stored, hashed or
shown as it was sent. NUL is refused too: C strings end there. SQL is held to more, because its
two readers disagree on the rest: DuckDB's lexer drops control characters from names and reads a
byte-order mark as a space where sqlglot keeps both inside the name (``a\\x01b`` is ``ab`` to the
engine, ``a\\x01b`` to the guard). A value that holds such a character is written ``chr(27)``.
Letters of any script, accents, noncharacters and bidirectional marks are text and accepted.

On the way out (``visible``), a terminal obeys control characters: ESC starts sequences that
clear or retitle the screen, CR overwrites a line, bidirectional overrides reorder what is shown
("Trojan Source"). Every surface shows them instead as the escapes Python writes (``\\x1b``,
``\\r``, ``\\u202e``), so an auditor sees the text that ran. A backslash stays one backslash: the
six characters ``\\x1b`` and an escaped ESC read the same, but neither moves the cursor.
"""

from __future__ import annotations

import re
from typing import NoReturn

from skipper.errors import InvalidTextError

#: Shown as escapes: C0 and C1 controls and DEL (Unicode category Cc), lone surrogates, the
#: bidirectional controls and marks, and the invisible separators and byte-order mark.
_SHOWN = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ufeff]"
)
#: Newline (and tab, shown as spaces by rich) keep their meaning where the layout has lines.
_SHOWN_MULTILINE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200b\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = re.compile("\x00")
#: In SQL: every control character but the whitespace both readers agree on (\t \n \v \f \r),
#: and the byte-order mark.
_SQL_UNSAFE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff]")

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_WHAT = {"sql": "the SQL", "question": "the question", "user": "the user name"}


def escape_char(char: str) -> str:
    """One character as Python escapes it: ``\\r``, ``\\x1b``, ``\\u202e``, ``\\udcff``."""
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, multiline: bool = True) -> str:
    """``text`` with every character a terminal would obey (or hide) shown as its escape.

    ``multiline=False`` is for one-line places (a table cell, a name): newlines and tabs are
    escaped too. Idempotent: the result holds nothing it would escape."""
    pattern = _SHOWN_MULTILINE if multiline else _SHOWN
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda match: escape_char(match.group()), text)


def check_text(text: str | None, what: str) -> None:
    """Raise InvalidTextError (code ``<what>.invalid_text``) when ``text`` cannot be taken as
    ``what`` ("sql", "question" or "user"); nothing has run yet when it does."""
    if text is None:
        return
    found = _SURROGATE.search(text)
    if found is not None:
        _refuse(text, what, found.start(),
                "which is not Unicode text (bytes that were not UTF-8?); send it as UTF-8")
    found = (_SQL_UNSAFE if what == "sql" else _NUL).search(text)
    if found is None:
        return
    char = found.group()
    if what != "sql":
        _refuse(text, what, found.start(), "a NUL character; remove it")
    elif char == "\ufeff":
        _refuse(text, what, found.start(),
                "a byte-order mark the guard and DuckDB read differently; remove it")
    _refuse(text, what, found.start(),
            "a control character the guard and DuckDB read differently; remove it, or write "
            f"chr({ord(char)}) where a value holds it")


def _refuse(text: str, what: str, at: int, why: str) -> NoReturn:
    char = escape_char(text[at])
    raise InvalidTextError(f"{_WHAT.get(what, what)} holds {char} at character {at + 1}, {why}",
                           code=f"{what}.invalid_text", character=char, position=at + 1)
