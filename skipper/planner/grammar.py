"""The planner's own English: the few function words and phrases that shape a query.

Everything a question is *about* comes from the catalog; this module only knows how questions
are put together ("top 10 ... by ...", "excluding ...", "compared to ..."), plus the words that
carry no meaning of their own. A word in neither place, and not in the catalog, is not
understood, and the question is not answered.
"""

from __future__ import annotations

from skipper.planner.query import Grain

# Phrases (stemmed words) -> keyword kind. Longest match wins.
KEYWORDS: dict[tuple[str, ...], str] = {}


def _key(kind: str, *phrases: str) -> None:
    for phrase in phrases:
        KEYWORDS[tuple(phrase.split())] = kind


_key("by", "by", "per", "for each", "for every", "each", "every", "by each", "grouped by",
     "group by", "split by", "split into", "broken down by", "break down by", "break it down by",
     "break this down by", "break them down by", "breakdown by", "broken out by", "break out by",
     "split it by", "split them by", "segmented by", "bucketed by", "sliced by", "slice by",
     "group it by", "group them by", "across", "in each", "within each", "for all")
_key("sort", "sorted by", "ordered by", "order by", "sort by", "ranked by", "rank by",
     "rank them by", "sort them by", "sort it by")
_key("not", "excluding", "exclude", "excluded", "except", "except for", "without", "ignore",
     "ignoring", "ignored", "not", "no", "minus", "other than", "apart from", "aside from",
     "leave out", "leaving out", "leave", "omit", "omitting", "non", "but not", "filter out",
     "filtering out", "filtered out", "don't count", "dont count", "not counting",
     "disregard", "disregarding", "skip", "skipping", "discount", "discounting")
_key("only", "only", "just", "solely", "exclusively", "limited to", "restricted to",
     "filtered to", "filter to", "filter on", "filtered on", "filter by", "filtered by", "where",
     "among", "amongst")
_key("include", "include", "including", "included", "with", "put back", "bring back", "add back")
_key("most", "most", "highest", "largest", "biggest", "greatest", "maximum", "top", "heaviest",
     "busiest", "best", "leading", "descending", "desc", "high to low")
_key("least", "least", "fewest", "lowest", "smallest", "minimum", "bottom", "lightest", "quietest",
     "worst", "ascending", "asc", "low to high")
_key("howmany", "how many", "number of", "count of", "count", "total number of", "num of")
# A part over the whole ("what share of orders were paid with PayPal"): a fraction, 0.25 = 25%.
_key("share", "share", "share of", "what share of", "percentage", "percentage of",
     "what percentage of", "percent of", "what percent of", "proportion", "proportion of",
     "what proportion of", "fraction", "fraction of", "what fraction of", "% of", "pct of")
# Aggregates of one column ("average cost", "how many distinct cities").
_key("avg", "average", "avg", "mean", "average of", "avg of", "mean of", "on average")
_key("median", "median", "median of")
_key("min", "minimum", "min", "minimum of")
_key("max", "maximum", "max", "maximum of")
_key("distinct", "distinct", "different", "unique", "how many distinct", "how many different",
     "how many unique", "number of distinct", "number of different", "number of unique",
     "count of distinct", "count of unique", "count distinct")
_key("compare", "compared to", "compared with", "compare to", "compare with", "compare",
     "comparing", "versus", "vs", "against", "relative to", "change", "changed", "difference",
     "delta", "growth", "grown", "grew", "increase", "decrease", "change from", "change since",
     "change over", "change in", "trend against", "as opposed to")
_key("previous_period", "previous period", "prior period", "period before", "preceding period",
     "period prior", "last period", "previous one", "one before", "before that",
     "day before", "week before", "month before", "quarter before", "year before",
     "previous day", "prior day", "prior week", "prior month", "prior quarter", "prior year",
     "week prior", "month prior", "quarter prior", "year prior")
_key("previous_year", "same period last year", "year over year", "yoy", "year on year",
     "previous year same period", "a year earlier", "a year ago", "same time last year")
_key("instead", "instead", "instead of", "rather", "rather than", "switch to", "change to")
_key("also", "also", "add", "plus", "as well as", "too", "additionally", "along with", "and also")
_key("remove", "remove", "drop", "get rid of", "take out", "take away", "no longer", "stop",
     "undo", "clear")
_key("list", "list", "which", "what", "name", "names of", "who", "what are", "enumerate")
_key("and", "and", "or", ",", ";", "&", "as well")

GRAIN_WORDS: dict[str, Grain] = {
    "day": "day", "daily": "day", "date": "day", "days": "day", "dates": "day", "day by day": "day",
    "week": "week", "weekly": "week", "weeks": "week",
    "month": "month", "monthly": "month", "months": "month",
    "quarter": "quarter", "quarterly": "quarter", "quarters": "quarter",
    "year": "year", "yearly": "year", "annual": "year", "annually": "year", "years": "year",
}

# Verbs that ask to change data or the database: always refused, Skipper only reads.
CHANGE_VERBS = frozenset({
    "delete", "truncate", "insert", "update", "alter", "create", "grant", "revoke", "erase",
    "wipe", "purge", "overwrite", "destroy", "rename", "merge", "upsert", "modify", "attach",
    "detach", "install", "vacuum", "checkpoint", "pragma", "execute", "exec", "shutdown", "kill",
    "corrupt", "deleting", "dropping", "inserting", "updating", "deleted", "dropped", "edit",
    "edited", "replace", "write", "writing", "change_data", "set", "reset", "restore", "import",
    "export", "backup", "move", "shift", "transfer", "refund", "cancel", "deactivate", "suspend",
    "ban", "disable", "enable",
})
# Objects that turn "drop"/"remove"/"clear" into a request to change data.
DATA_OBJECTS = frozenset({
    "table", "tables", "database", "databases", "db", "schema", "schemas", "row", "rows",
    "column", "columns", "record", "records", "data", "everything", "all", "index", "view",
    "views", "file", "files", "entries", "entry",
})

FOLLOW_UP_CUES = frozenset({"now", "then", "also", "and", "instead", "same", "but", "only",
                            "just", "what", "how", "ok", "okay", "next", "plus", "again"})

_STOP_TEXT = """
a an the of for in on at to from into onto with within over under during up out off about as
is are was were be been being am do does did done doing have has had having will would shall
should can could may might must
show shows showing shown me give gives giving tell display get gets getting find see let lets
please kindly want need like know look looking see seeing interested wondering curious
what whats when where why who whom whose that those these this there here their them they it its
itself we our ours you your yours i my mine he she his her him
all any some both either each every total totals overall whole entire full complete
value values figure figures data result results number numbers amount stats statistics
metric metrics measure info information details report breakdown summary overview view
much many so than how then also too very really actually currently right now just again ever
got make makes made happen happened happening occur occurred see seen
thanks thank ok okay hey hi hello yes
did does there's it's what's how's that's
along together same respective respectively corresponding related associated
ones one them
sum summed sums
come came coming go goes went gone going
per cent
is has have
currently presently
still yet so far anyway anyhow basically essentially simply literally honestly quick quickly
pls plz thx ty btw cheers hmm um uh folks guys team quick quickly briefly exactly precisely
sorted ordered
number's
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

