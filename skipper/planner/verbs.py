"""Verbs: the events a metric counts ("tickets are *opened*", "parcels *ship*"), in every form.

A catalog names a metric's verbs (``verbs: [open]``) or lets them follow from its time column's
name (``opened_at`` -> open). Their inflections come from lemminflect, so "opened", "opens",
"opening" and "open" all name the event; the reader decides from grammar whether a word that is
also a column value ("open" tickets) is the verb or the value.
"""

from __future__ import annotations

from functools import lru_cache

from lemminflect import getAllInflections, getAllLemmas

_TIME_SUFFIXES = ("_at", "_on", "_date", "_time", "_ts", "_day")


@lru_cache(maxsize=4096)
def inflections(verb: str) -> tuple[str, ...]:
    """Every form of a base verb phrase: "sign up" -> sign up, signs up, signed up, signing up."""
    head, _, rest = verb.strip().lower().partition(" ")
    forms = {head}
    for values in getAllInflections(head, upos="VERB").values():
        forms.update(values)
    tail = f" {rest}" if rest else ""
    return tuple(sorted(f"{form}{tail}" for form in forms))


@lru_cache(maxsize=4096)
def verb_lemma(word: str) -> str | None:
    """The base verb of a past participle or other verb form, if English has one."""
    lemmas = getAllLemmas(word.lower(), upos="VERB").get("VERB")
    return lemmas[0] if lemmas else None


def verbs_of_time_column(name: str) -> list[str]:
    """``opened_at`` -> [open]; ``signed_up_at`` -> [sign up]; ``usage_date`` -> []."""
    lowered = name.lower()
    for suffix in _TIME_SUFFIXES:
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
            break
    else:
        return []
    words = [w for w in lowered.split("_") if w]
    if not words or not words[0].endswith("ed"):
        return []  # "usage_date", "day": a noun, not an event
    lemma = verb_lemma(words[0])
    if lemma is None or lemma == words[0]:
        return []
    return [" ".join([lemma, *words[1:]])]


def past_tense(verb: str) -> str:
    """"open" -> "opened", "sign up" -> "signed up" (the word itself when English has none)."""
    head, _, rest = verb.strip().lower().partition(" ")
    lemma = verb_lemma(head) or head
    forms = getAllInflections(lemma, upos="VERB").get("VBN") or getAllInflections(
        lemma, upos="VERB").get("VBD") or (head,)
    return f"{forms[0]} {rest}".strip()


def metric_verbs(verbs: list[str] | None, time_column: str | None) -> list[str]:
    """A metric's verbs: as declared, else the verb of its time column's name."""
    if verbs is not None:
        return verbs
    return verbs_of_time_column(time_column) if time_column else []
