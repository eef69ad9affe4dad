"""Countries in a catalog column: ISO codes and names read as countries, with the other phrases
people use for each one (short names, aliases, demonyms), so 'French customers' finds 'FR'.

Codes and names come from ``pycountry``; aliases are listed here; demonyms are the reviewed data
file ``demonyms.txt`` beside this module. Everything is loaded on first use and kept.

Choices a caller should know:

* A column is read as countries only when at least 90% of its distinct non-null values resolve
  and they name at least two countries. ``['US', 'EU', 'APAC']`` is therefore not a country
  column (one value in three resolves), and nothing is returned for it: a column that merely
  contains a country code among regions would otherwise give its regions no phrases and its one
  country misleading ones. Values that do not resolve in a country column get no entry.
* A code is a code only in capitals: ``'FR'``, ``'FRA'``. Short aliases written in capitals
  (``'UK'``, ``'UAE'``, ``'DRC'``) resolve too; ``'fr'`` or ``'us'`` as values do not. Names
  resolve in any case and with or without accents, ``&`` for ``and`` and ``St`` for ``Saint``.
* Demonyms are phrases, not values: a column of ``'French'``, ``'German'`` (a nationality or a
  cuisine) is not read as countries.
* Phrases are plain words, the way :func:`skipper.planner.words.tokens` reads text: lower case,
  accents folded, punctuation gone ("bosnia herzegovina" beside "bosnia and herzegovina",
  "cote divoire" for "Côte d'Ivoire"). A value's own text is never one of its phrases, and a
  phrase that belongs to two values of the column (``'congo'`` when both Congos are there,
  ``'dominican'``, or any phrase when one country is written two ways) is dropped.
* Phrases that are also common English words are kept apart in ``CountryColumn.risky``, never
  in ``aliases``: every two-letter phrase but ``'uk'`` (``'us'``, ``'in'``, ``'it'``, ``'no'``,
  and codes that read as units or abbreviations: ``'kg'``, ``'ml'``, ``'hr'``, ``'pr'``) and the
  three-letter codes that are words (``'can'``, ``'per'``, ``'and'``, ``'ago'``, ``'are'``). A
  caller may match those only where the question writes them as a code (in capitals).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from skipper.errors import PlannerError
from skipper.planner.words import fold_accents, tokens

MIN_SHARE = 0.9
MIN_COUNTRIES = 2

# Names people use that ISO's name, official name and common name do not give. Aliases of three
# letters or fewer resolve a value only when it is written in capitals.
_ALIASES: dict[str, tuple[str, ...]] = {
    "AE": ("UAE", "Emirates"),
    "AG": ("Antigua",),
    "AX": ("Aland",),
    "BA": ("Bosnia", "Bosnia-Herzegovina"),
    "BL": ("St Barts", "St Barths", "Saint Barts"),
    "BN": ("Brunei",),
    "BO": ("Bolivia",),
    "BS": ("The Bahamas",),
    "CC": ("Cocos Keeling Islands", "Cocos Islands", "Keeling Islands"),
    "CD": ("DR Congo", "DRC", "Democratic Republic of the Congo", "Congo-Kinshasa"),
    "CG": ("Republic of the Congo", "Congo-Brazzaville"),
    "CI": ("Ivory Coast", "Cote d'Ivoire"),
    "CN": ("PRC", "Mainland China"),
    "CV": ("Cape Verde",),
    "CZ": ("Czech Republic", "Czechia"),
    "FK": ("Falklands", "Falkland Islands"),
    "FM": ("Micronesia",),
    "GB": ("UK", "Britain", "Great Britain"),
    "GM": ("The Gambia",),
    "GS": ("South Georgia",),
    "HM": ("Heard Island",),
    "IR": ("Iran",),
    "KN": ("Saint Kitts", "St Kitts"),
    "KP": ("North Korea", "DPRK"),
    "KR": ("South Korea", "Korea", "Republic of Korea"),
    "LA": ("Laos",),
    "MD": ("Moldova",),
    "MK": ("Macedonia", "North Macedonia"),
    "MM": ("Burma",),
    "MO": ("Macau",),
    "NL": ("Holland", "The Netherlands"),
    "PH": ("The Philippines",),
    "PN": ("Pitcairn Islands",),
    "PS": ("Palestine",),
    "RU": ("Russia",),
    "SA": ("KSA",),
    "SJ": ("Svalbard",),
    "ST": ("Sao Tome",),
    "SY": ("Syria",),
    "SZ": ("Swaziland", "eSwatini"),
    "TL": ("East Timor",),
    "TR": ("Turkey", "Turkiye"),
    "TT": ("Trinidad",),
    "TW": ("Taiwan",),
    "TZ": ("Tanzania",),
    "US": ("USA", "US", "America", "United States of America", "United States"),
    "VA": ("Vatican", "Vatican City"),
    "VE": ("Venezuela",),
    "VG": ("British Virgin Islands", "BVI"),
    "VI": ("US Virgin Islands", "USVI"),
    "VN": ("Vietnam",),
}

# Three-letter phrases (codes, mostly) that are also English words, names or common
# abbreviations; two-letter phrases are all risky but 'uk'.
_RISKY_WORDS = frozenset({
    "ago", "and", "are", "arm", "ben", "bra", "can", "cod", "cog", "col", "com", "cub", "dom",
    "est", "fin", "gab", "gin", "gum", "guy", "iot", "jam", "ken", "lie", "mac", "mar", "nor",
    "pan", "per", "png", "pri", "pry", "ssd", "tls", "ton", "tun", "vat",
})
_SAFE_SHORT = frozenset({"uk"})
_CODE_2 = re.compile(r"[A-Z]{2}")
_CODE_3 = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Country:
    """One ISO country and every phrase it goes by, in plain words, most used first."""

    alpha_2: str
    alpha_3: str
    name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class CountryColumn:
    """A column read as countries: for each value that resolves, its country and its phrases.

    ``aliases`` holds the phrases safe to match anywhere; ``risky`` those that are also common
    English words (``'us'``, ``'in'``, ``'can'``). Both have a key for every resolved value.
    """

    countries: dict[str, str]
    aliases: dict[str, list[str]]
    risky: dict[str, list[str]]


@dataclass(frozen=True)
class _Atlas:
    by_alpha_2: dict[str, Country]
    by_alpha_3: dict[str, Country]
    by_name: dict[str, Country]
    by_capitals: dict[str, Country]


def plain(text: str) -> str:
    """A phrase as the planner's tokenizer reads it: ``Bosnia & Herzegovina`` ->
    ``bosnia herzegovina``, ``Côte d'Ivoire`` -> ``cote divoire``."""
    return " ".join(t.text for t in tokens(fold_accents(text)) if t.text not in {",", ";"})


def is_risky(phrase: str) -> bool:
    """True for a phrase that is also a common English word or abbreviation (see module doc)."""
    return (len(phrase) == 2 and phrase not in _SAFE_SHORT) or phrase in _RISKY_WORDS


def country_aliases(values: Sequence[str | None]) -> dict[str, list[str]] | None:
    """value -> its safe phrases, or None when the column does not look like countries."""
    column = read_countries(values)
    return None if column is None else column.aliases


def read_countries(values: Sequence[str | None]) -> CountryColumn | None:
    """Read a column's values as countries, or None when they do not look like countries."""
    if isinstance(values, (str, bytes)):
        raise PlannerError("country values must be a list of strings, not one string",
                           code="planner.invalid_values", values=str(values)[:80])
    distinct = list(dict.fromkeys(v for v in values if not _is_null(v)))
    if not distinct:
        return None
    countries = {v: c for v in distinct if isinstance(v, str) and (c := country_of(v))}
    if (len(countries) < MIN_SHARE * len(distinct)
            or len({c.alpha_2 for c in countries.values()}) < MIN_COUNTRIES):
        return None
    owners: dict[str, set[str]] = {}
    for value in distinct:
        text = value if isinstance(value, str) else str(value)
        owners.setdefault(plain(text), set()).add(text)
        for phrase in countries[value].phrases if value in countries else ():
            owners.setdefault(phrase, set()).add(text)
    aliases: dict[str, list[str]] = {}
    risky: dict[str, list[str]] = {}
    for value, country in countries.items():
        own = plain(value)
        kept = [p for p in country.phrases if p != own and len(owners[p]) == 1]
        aliases[value] = [p for p in kept if not is_risky(p)]
        risky[value] = [p for p in kept if is_risky(p)]
    return CountryColumn({v: c.alpha_2 for v, c in countries.items()}, aliases, risky)


def country_of(value: str) -> Country | None:
    """The country one value names: a code in capitals, a name, or a well-known alias."""
    text = value.strip()
    atlas = _atlas()
    if _CODE_2.fullmatch(text):
        return atlas.by_alpha_2.get(text) or atlas.by_capitals.get(text)
    if _CODE_3.fullmatch(text):
        return atlas.by_alpha_3.get(text) or atlas.by_capitals.get(text)
    key = _name_key(text)
    return atlas.by_name.get(key) if len(key) > 3 else None


def demonyms() -> dict[str, tuple[str, ...]]:
    """alpha-2 -> English demonyms as written in ``demonyms.txt`` (accents kept)."""
    return dict(_demonyms())


def _is_null(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _name_key(text: str) -> str:
    """How a value is looked up as a name: plain words without 'and', 'St' read as 'Saint'."""
    words = ["saint" if w == "st" else w for w in plain(text).split() if w != "and"]
    return " ".join(words)


@functools.cache
def _demonyms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    text = resources.files("skipper.planner").joinpath("demonyms.txt").read_text("utf-8")
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, _, forms = line.partition("\t")
        rows.append((code.strip(), tuple(f.strip() for f in forms.split(",") if f.strip())))
    return tuple(rows)


def _names(country: object) -> tuple[list[str], list[str], list[str]]:
    """ISO's names of one country: (names a value may be written as; those of them that are
    phrases, leaving out ISO's inverted list forms 'Korea, Republic of' and parentheses; shorter
    forms derived from them, which yield to another country's own name)."""
    names = [getattr(country, field, None) for field in ("common_name", "name", "official_name")]
    primary = [n for n in names if n]
    phrases, derived = [], []
    for name in primary:
        bare = re.sub(r"\s*\(.*?\)", "", name)
        if bare != name:
            inside = re.findall(r"\((.*?)\)$", name)
            derived += [bare, *(i for i in inside if "part" not in i)]
        head, _, tail = bare.partition(", ")
        if tail.endswith((" of", " of the")) or (tail and " " not in tail):
            derived += [head, f"{tail} {head}"]
        elif tail:
            derived.append(head)
            phrases.append(name)
        elif bare == name:
            phrases.append(name)
    return primary, phrases, derived


def _variants(phrase: str) -> list[str]:
    """A phrase and the ways it is also written: without 'and', 'st' for 'saint'."""
    out = [phrase]
    words = phrase.split()
    if "and" in words and len(words) > 2:
        out.append(" ".join(w for w in words if w != "and"))
    if words and words[0] == "saint":
        out += [" ".join(["st", *w.split()[1:]]) for w in list(out)]
    return out


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


@functools.cache
def _atlas() -> _Atlas:
    import pycountry

    forms = dict(_demonyms())
    records = list(pycountry.countries)
    phrases: dict[str, tuple[str, ...]] = {}
    shorter: dict[str, set[str]] = {}
    primary_keys: dict[str, set[str]] = {}
    derived_keys: dict[str, set[str]] = {}
    capitals: dict[str, str] = {}
    for record in records:
        code = record.alpha_2
        primary, named, derived = _names(record)
        aliases = list(_ALIASES.get(code, ()))
        spoken = [*named, *derived, *(a for a in aliases if len(a) > 3)]
        phrases[code] = _unique([
            *(p for text in spoken for p in _variants(plain(text))),
            *(plain(a) for a in aliases if len(a) <= 3),
            code.lower(), record.alpha_3.lower(),
            *(plain(f) for f in forms.get(code, ())),
        ])
        shorter[code] = ({p for text in derived for p in _variants(plain(text))}
                         - {p for text in (*named, *aliases) for p in _variants(plain(text))})
        for text in (*primary, *(a for a in aliases if len(a) > 3)):
            primary_keys.setdefault(_name_key(text), set()).add(code)
        for text in derived:
            derived_keys.setdefault(_name_key(text), set()).add(code)
        capitals.update((a.upper(), code) for a in aliases if len(a) <= 3)
    # A shorter form two countries share ('congo', 'korea', 'virgin islands') is neither's.
    holders: dict[str, set[str]] = {}
    for code, said in phrases.items():
        for phrase in said:
            holders.setdefault(phrase, set()).add(code)
    countries = {
        r.alpha_2: Country(
            r.alpha_2, r.alpha_3, getattr(r, "common_name", None) or r.name,
            tuple(p for p in phrases[r.alpha_2]
                  if p not in shorter[r.alpha_2] or len(holders[p]) == 1))
        for r in records
    }
    by_name = {k: countries[next(iter(c))] for k, c in derived_keys.items() if len(c) == 1}
    for key, codes in primary_keys.items():
        if len(codes) == 1:
            by_name[key] = countries[next(iter(codes))]
        else:
            by_name.pop(key, None)
    return _Atlas(countries, {c.alpha_3: c for c in countries.values()}, by_name,
                  {a: countries[code] for a, code in capitals.items()})
