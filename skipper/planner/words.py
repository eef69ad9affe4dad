"""Words as the planner compares them: tokens of a question or a catalog phrase, stemmed alike."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}"  # ISO dates
    r"|\d{4}/\d{1,2}/\d{1,2}"
    r"|\d+(?:,\d{3})*(?:\.\d+)?%?"  # numbers
    r"|[^\W_]+(?:'[^\W_]+)?"  # words in any script, with digits (p1, r2) and apostrophes
    r"|[,;]"  # separators that can end a list
)
_ARTICLES = frozenset({"the", "a", "an"})
_KEEP = frozenset({"is", "was", "has", "this", "its", "us", "as", "yes", "plus", "bus", "gas", "vs",
                   "news", "series", "species", "less", "ytd", "mtd", "qtd", "dns", "sms", "os",
                   "ss", "gps", "https", "http", "aws", "ios", "always", "towards", "status",
                   "analysis", "basis", "axis", "previous", "various", "across", "bonus",
                   "campus", "virus", "census", "focus", "canvas", "christmas", "thus"})


@dataclass(frozen=True)
class Token:
    """One word of a question: as written (lower-cased) and stemmed."""

    text: str
    stem: str

    @property
    def plural(self) -> bool:
        return self.stem != self.text and self.text.endswith("s")


def stem(word: str) -> str:
    """A light English stemmer: plurals only, so 'countries' ~ 'country', 'statuses' ~ 'status'."""
    if len(word) <= 3 or word in _KEEP or not word.isalpha():
        return word
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "uses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def fold_accents(text: str) -> str:
    """``São Paulo`` -> ``Sao Paulo``: accents off, so a word typed without them still matches.

    Letters of other scripts stay as they are (and are then words the catalog must know).
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def tokens(text: str) -> list[Token]:
    """Lower-case, fold accents, split into words (underscores and hyphens split too), drop
    articles, stem. A word in another script is a word too: never dropped."""
    return list(_tokens(text))


@lru_cache(maxsize=65536)
def _tokens(text: str) -> tuple[Token, ...]:
    lowered = fold_accents(text.lower()).replace("\u2019", "'").replace("_", " ")
    lowered = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", " ", lowered)
    out = []
    for match in _TOKEN.finditer(lowered):
        word = match.group(0)
        if word.endswith("'s"):
            word = word[:-2]
        elif "'" in word:
            word = word.replace("'", "")
        if word in _ARTICLES:
            continue
        out.append(Token(word, stem(word)))
    return tuple(out)


def phrase_key(text: str) -> tuple[str, ...]:
    """The stems of a catalog phrase, the key it is looked up by."""
    return tuple(t.stem for t in tokens(text) if t.stem not in {",", ";"})


def humanise(name: str) -> str:
    """``r2_storage_cost`` -> ``r2 storage cost``."""
    return name.replace("_", " ").strip()
