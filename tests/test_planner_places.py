"""Countries in a catalog column: codes and names read as countries, with their other phrases."""

from __future__ import annotations

import re

import pycountry
import pytest

from skipper.errors import PlannerError
from skipper.planner.places import (
    country_aliases,
    country_of,
    demonyms,
    is_risky,
    plain,
    read_countries,
)
from skipper.planner.words import phrase_key

PLAIN = re.compile(r"[a-z0-9]+( [a-z0-9]+)*")

COMMON = {
    "US": "american", "GB": "british", "FR": "french", "DE": "german", "BR": "brazilian",
    "CA": "canadian", "CH": "swiss", "BE": "belgian", "AT": "austrian", "NL": "dutch",
    "IN": "indian", "MX": "mexican", "JP": "japanese", "CN": "chinese", "ES": "spanish",
    "IT": "italian", "AU": "australian", "SE": "swedish", "IE": "irish", "PL": "polish",
    "PT": "portuguese", "KR": "south korean", "TR": "turkish", "NZ": "new zealander",
}


def test_alpha_2_codes_get_names_and_demonyms():
    aliases = country_aliases(["FR", "BR", "DE"])
    assert aliases is not None
    assert {"france", "french republic", "fra", "french"} <= set(aliases["FR"])
    assert {"brazil", "brazilian"} <= set(aliases["BR"])
    assert {"germany", "german", "deu"} <= set(aliases["DE"])


def test_alpha_3_codes_get_names_aliases_and_demonyms():
    column = read_countries(["FRA", "BRA", "USA", "GBR"])
    assert column is not None
    assert column.countries == {"FRA": "FR", "BRA": "BR", "USA": "US", "GBR": "GB"}
    assert {"united states", "united states of america", "america", "american"} <= set(
        column.aliases["USA"])
    assert {"uk", "britain", "great britain", "united kingdom", "british"} <= set(
        column.aliases["GBR"])
    assert "us" in column.risky["USA"] and "us" not in column.aliases["USA"]


def test_names_with_accents_resolve_and_phrases_are_folded():
    column = read_countries(["Côte d'Ivoire", "Türkiye", "Réunion", "Curaçao", "Åland Islands"])
    assert column is not None
    assert column.countries == {"Côte d'Ivoire": "CI", "Türkiye": "TR", "Réunion": "RE",
                                "Curaçao": "CW", "Åland Islands": "AX"}
    assert "ivory coast" in column.aliases["Côte d'Ivoire"]
    assert {"turkey", "turkish"} <= set(column.aliases["Türkiye"])
    assert "reunionese" in column.aliases["Réunion"]
    # The value itself, accents folded, is not a phrase of its own.
    assert "turkiye" not in column.aliases["Türkiye"]
    assert "cote divoire" not in column.aliases["Côte d'Ivoire"]


def test_names_in_any_case_and_written_loosely_resolve():
    values = ["FRANCE", "germany", "United States Of America", "bosnia & herzegovina",
              "St. Lucia", "the Netherlands", "Viet Nam", "Czech Republic"]
    column = read_countries(values)
    assert column is not None
    assert column.countries == {
        "FRANCE": "FR", "germany": "DE", "United States Of America": "US",
        "bosnia & herzegovina": "BA", "St. Lucia": "LC", "the Netherlands": "NL",
        "Viet Nam": "VN", "Czech Republic": "CZ",
    }
    assert {"holland", "dutch"} <= set(column.aliases["the Netherlands"])
    assert {"czechia", "czech"} <= set(column.aliases["Czech Republic"])
    assert {"vietnam", "vietnamese"} <= set(column.aliases["Viet Nam"])


def test_and_dropped_by_the_tokenizer_still_matches():
    column = read_countries(["BA", "TT", "FR"])
    assert column is not None
    assert {"bosnia and herzegovina", "bosnia herzegovina", "bosnia"} <= set(column.aliases["BA"])
    assert {"trinidad and tobago", "trinidad tobago"} <= set(column.aliases["TT"])
    # What a question with an ampersand tokenizes to is one of the phrases, key for key.
    keys = {phrase_key(p) for p in column.aliases["BA"]}
    assert phrase_key("sales in Bosnia & Herzegovina")[-2:] in keys


def test_well_known_aliases():
    column = read_countries(["GB", "NL", "KR", "RU", "CI", "CZ", "AE", "MM", "SZ", "CV"])
    assert column is not None
    want = {"GB": {"uk", "britain", "great britain"}, "NL": {"holland"},
            "KR": {"south korea", "korea"}, "RU": {"russia"}, "CI": {"ivory coast"},
            "CZ": {"czechia", "czech republic"}, "AE": {"uae"}, "MM": {"burma"},
            "SZ": {"swaziland"}, "CV": {"cape verde"}}
    for code, phrases in want.items():
        assert phrases <= set(column.aliases[code]), code


def test_short_aliases_resolve_only_in_capitals():
    column = read_countries(["UK", "UAE", "DRC", "France"])
    assert column is not None
    assert column.countries == {"UK": "GB", "UAE": "AE", "DRC": "CD", "France": "FR"}
    assert read_countries(["uk", "uae"]) is None
    assert read_countries(["fr", "de", "es"]) is None
    assert country_of("us") is None and country_of("US").alpha_2 == "US"


def test_not_countries_give_none():
    assert country_aliases(["free", "pro", "enterprise"]) is None
    assert country_aliases([]) is None
    assert country_aliases([None, "", "  "]) is None
    assert country_aliases(["France", "France", None]) is None  # one country is no column
    assert country_aliases([1, 2, 3]) is None


def test_regions_among_codes_are_not_a_country_column():
    # One value in three resolves: not a country column, so nothing, not a partial answer.
    assert country_aliases(["US", "EU", "APAC"]) is None
    assert country_aliases(["EMEA", "APAC", "LATAM", "NA"]) is None


def test_nearly_all_must_resolve():
    nine = ["FR", "DE", "ES", "IT", "PT", "NL", "BE", "AT", "CH"]
    column = read_countries([*nine, "Other"])
    assert column is not None
    assert set(column.aliases) == set(nine)  # the one that does not resolve gets no entry
    assert read_countries([*nine[:8], "Other", "Unknown"]) is None
    # Nulls and repeats do not count against the share.
    assert read_countries([*nine, None, "", float("nan"), "FR", "FR"]) is not None


def test_a_phrase_two_values_share_is_dropped():
    column = read_countries(["CD", "CG", "DO", "DM"])
    assert column is not None
    for value in column.aliases:
        assert "congolese" not in column.aliases[value]
        assert "dominican" not in column.aliases[value]
    assert "congo" in column.aliases["CG"] and "congo" not in column.aliases["CD"]
    # One Congo alone keeps the shared demonym.
    alone = read_countries(["CD", "FR"])
    assert alone is not None and "congolese" in alone.aliases["CD"]
    assert "dominican" in country_aliases(["DO", "FR"])["DO"]


def test_another_values_own_text_is_never_a_phrase():
    column = read_countries(["Congo", "Congo, The Democratic Republic of the", "Korea",
                             "North Korea"])
    assert column is not None
    assert column.countries["Congo"] == "CG" and column.countries["Korea"] == "KR"
    assert "congo" not in column.aliases["Congo, The Democratic Republic of the"]
    assert "korea" not in column.aliases["North Korea"]


def test_shorter_forms_two_countries_share_belong_to_neither():
    assert "virgin islands" not in country_aliases(["VG", "FR"])["VG"]
    assert "virgin islands" not in country_aliases(["VI", "FR"])["VI"]
    assert "korea" not in country_aliases(["KP", "FR"])["KP"]
    assert country_of("Virgin Islands") is None
    assert country_of("Guinea").alpha_2 == "GN"


def test_one_country_written_two_ways_shares_every_phrase():
    column = read_countries(["US", "USA", "FR"])
    assert column is not None
    assert "america" not in column.aliases["US"] and "america" not in column.aliases["USA"]
    assert "french" in column.aliases["FR"]


def test_phrases_are_plain_words_never_the_value_and_risky_ones_apart():
    values = [c.alpha_2 for c in pycountry.countries]
    column = read_countries(values)
    assert column is not None and len(column.countries) == len(values)
    for value in values:
        phrases = column.aliases[value] + column.risky[value]
        assert len(phrases) == len(set(phrases)), value
        assert plain(value) not in phrases
        for phrase in phrases:
            assert PLAIN.fullmatch(phrase), (value, phrase)
        for phrase in column.aliases[value]:
            assert not is_risky(phrase), (value, phrase)
            assert len(phrase) > 2 or phrase == "uk"
        assert all(is_risky(p) for p in column.risky[value])


def test_english_words_are_risky():
    column = read_countries(["United States", "India", "Italy", "Canada", "Peru", "Norway"])
    assert column is not None
    assert "us" in column.risky["United States"]
    assert {"in"} <= set(column.risky["India"]) and "in" not in column.aliases["India"]
    assert "it" in column.risky["Italy"]
    assert {"ca", "can"} <= set(column.risky["Canada"])
    assert "per" in column.risky["Peru"] and {"no", "nor"} <= set(column.risky["Norway"])
    assert "usa" in column.aliases["United States"]


@pytest.mark.parametrize(("code", "demonym"), sorted(COMMON.items()))
def test_demonyms_of_common_countries(code, demonym):
    other = "FR" if code != "FR" else "DE"
    aliases = country_aliases([code, other])
    assert aliases is not None
    assert demonym in aliases[code]


def test_demonyms_file_covers_iso_countries():
    table = demonyms()
    codes = {c.alpha_2 for c in pycountry.countries}
    assert set(table) <= codes
    assert len(table) >= 230
    assert all(forms for forms in table.values())
    assert table["CH"] == ("Swiss",) and "Burkinabé" in table["BF"]


def test_a_bare_string_is_refused():
    with pytest.raises(PlannerError) as caught:
        read_countries("France")
    assert caught.value.code == "planner.invalid_values"
