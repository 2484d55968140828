"""Natural-language query → filters + the text left for semantic search (seed §3.1.2 step 1).

`parse(text)` returns a plain, JSON-serialisable dict in canonical form (sorted, de-duplicated lists; a
single `any` platform is an `all` platform), so two phrasings with the same meaning compare equal — the
cache keys on it:

    {"text": str, "platforms": {"all": [], "any": [], "none": []}, "regions": [],
     "genres": {"all": [], "none": []}, "type": "movie"|"series"|None,
     "year": {"min": int|None, "max": int|None} | None, "ratings": [], "warnings": []}

Rule-based on purpose: every rule is a regex over the original string; matched spans are removed from the
text, anything not understood stays in `text`. No string is bad input: a query that contradicts itself (a
platform both required and excluded, an empty year range, a genre both wanted and not) is parsed as written and
the contradiction is listed in `warnings`. A bug in the parser itself raises `QueryParseError`; it is never
hidden behind an unfiltered query, which would silently widen a filtered search.
"""
from __future__ import annotations

import re
from typing import Any

from mgw.data.normalize import FAMILY_FRIENDLY, GENRES, PLATFORM_ALIASES
from mgw.errors import DataError, QueryParseError

# ---------------------------------------------------------------- vocabularies
# Query-side genre words → canonical genres (mgw.data.normalize.GENRES). Longest phrases match first.
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "romantic comedy": ("romance", "comedy"), "romantic comedies": ("romance", "comedy"),
    "romcom": ("romance", "comedy"), "romcoms": ("romance", "comedy"), "rom-com": ("romance", "comedy"),
    "rom-coms": ("romance", "comedy"), "rom com": ("romance", "comedy"), "rom coms": ("romance", "comedy"),
    "sci-fi": ("scifi",), "scifi": ("scifi",), "sci fi": ("scifi",), "science fiction": ("scifi",),
    "science-fiction": ("scifi",),
    "documentary": ("documentary",), "documentaries": ("documentary",), "docs": ("documentary",),
    "docuseries": ("documentary",), "docu-series": ("documentary",), "docu": ("documentary",),
    "doc": ("documentary",),
    "true crime": ("crime", "documentary"),
    "stand-up comedy": ("standup", "comedy"), "stand-up": ("standup", "comedy"),
    "standup": ("standup", "comedy"), "stand up comedy": ("standup", "comedy"),
    "action": ("action",), "action-packed": ("action",), "adventure": ("adventure",),
    "adventures": ("adventure",), "animated": ("animation",), "animation": ("animation",),
    "cartoon": ("animation", "kids"), "cartoons": ("animation", "kids"), "anime": ("anime", "animation"),
    "biopic": ("biography",), "biopics": ("biography",), "biography": ("biography",),
    "biographies": ("biography",), "biographical": ("biography",),
    "classic": ("classic",), "classics": ("classic",), "cult classic": ("classic",),
    "comedy": ("comedy",), "comedies": ("comedy",), "funny": ("comedy",), "comedic": ("comedy",),
    "sitcom": ("comedy",), "sitcoms": ("comedy",),
    "crime": ("crime",), "heist": ("crime",), "heists": ("crime",), "gangster": ("crime",),
    "cop": ("crime",), "police": ("crime",),
    "drama": ("drama",), "dramas": ("drama",), "dramatic": ("drama",),
    "family": ("family",), "fantasy": ("fantasy",), "superhero": ("action", "fantasy"),
    "history": ("history",), "historical": ("history",), "period": ("history",),
    "horror": ("horror",), "scary": ("horror",), "slasher": ("horror",), "slashers": ("horror",),
    "kids": ("kids",), "kid": ("kids",), "children's": ("kids",), "childrens": ("kids",),
    "lgbtq": ("lgbtq",), "lgbtq+": ("lgbtq",), "lgbt": ("lgbtq",), "queer": ("lgbtq",),
    "music": ("music",), "musical": ("music",), "musicals": ("music",), "concert": ("music",),
    "concerts": ("music",),
    "mystery": ("mystery",), "mysteries": ("mystery",), "whodunit": ("mystery",), "whodunits": ("mystery",),
    "nature": ("nature",), "wildlife": ("nature",), "news": ("news",),
    "reality": ("reality",), "reality tv": ("reality",),
    "romance": ("romance",), "romantic": ("romance",), "romances": ("romance",), "love stories": ("romance",),
    "science": ("science",), "sports": ("sports",), "sport": ("sports",), "sporting": ("sports",),
    "thriller": ("thriller",), "thrillers": ("thriller",), "suspense": ("thriller",),
    "suspenseful": ("thriller",), "spy": ("thriller",), "espionage": ("thriller",),
    "war": ("war",), "western": ("western",), "westerns": ("western",),
    "travel": ("travel",), "cooking": ("food",), "food": ("food",),
    "faith": ("faith",), "religious": ("faith",), "christian": ("faith",),
    "international": ("international",), "foreign": ("international",),
    "indie": ("independent",), "independent": ("independent",), "arthouse": ("independent",),
    "talk show": ("talk-show",), "talk shows": ("talk-show",), "late night": ("talk-show",),
    "game show": ("game-show",), "game shows": ("game-show",), "variety": ("variety",),
    "lifestyle": ("lifestyle",), "teen": ("teen",), "teens": ("teen",), "coming of age": ("teen", "drama"),
    "coming-of-age": ("teen", "drama"),
}
assert all(g in GENRES for gs in GENRE_WORDS.values() for g in gs), "GENRE_WORDS must map to canonical genres"

# Region names, codes and demonyms → ISO 3166-1 alpha-2. Names are matched bare; demonyms are adjectives
# ("Canadian documentaries"); two-letter codes only after "in" (uppercase, or us/uk in any case).
REGION_NAMES: dict[str, str] = {
    "united states of america": "US", "united states": "US", "usa": "US", "u.s.a.": "US", "u.s.": "US",
    "america": "US", "the states": "US",
    "canada": "CA", "united kingdom": "GB", "great britain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "u.k.": "GB",
    "australia": "AU", "germany": "DE", "france": "FR", "india": "IN", "japan": "JP", "brazil": "BR",
    "mexico": "MX", "spain": "ES", "italy": "IT", "ireland": "IE", "netherlands": "NL", "sweden": "SE",
    "norway": "NO", "denmark": "DK", "south korea": "KR", "korea": "KR", "new zealand": "NZ",
    "argentina": "AR", "colombia": "CO", "chile": "CL", "poland": "PL", "south africa": "ZA",
    "nigeria": "NG", "egypt": "EG", "philippines": "PH", "indonesia": "ID", "thailand": "TH",
    "singapore": "SG", "china": "CN", "hong kong": "HK", "taiwan": "TW", "russia": "RU", "belgium": "BE",
    "switzerland": "CH", "austria": "AT", "portugal": "PT", "finland": "FI", "israel": "IL",
}
DEMONYMS: dict[str, str] = {
    "american": "US", "canadian": "CA", "british": "GB", "australian": "AU", "aussie": "AU",
    "german": "DE", "french": "FR", "indian": "IN", "bollywood": "IN", "japanese": "JP",
    "brazilian": "BR", "mexican": "MX", "spanish": "ES", "italian": "IT", "irish": "IE", "dutch": "NL",
    "swedish": "SE", "norwegian": "NO", "danish": "DK", "korean": "KR", "kiwi": "NZ",
    "argentinian": "AR", "argentine": "AR", "colombian": "CO", "polish": "PL", "nigerian": "NG",
    "egyptian": "EG", "filipino": "PH", "thai": "TH", "chinese": "CN", "taiwanese": "TW", "russian": "RU",
    "belgian": "BE", "swiss": "CH", "austrian": "AT", "portuguese": "PT", "finnish": "FI", "israeli": "IL",
    "south african": "ZA", "south korean": "KR",
}
_LOWER_CODES = {"us": "US", "uk": "GB", "usa": "US"}
# Genre words narrower than the genre they map to: they set the filter AND stay in `text`, so semantic
# search still sees "heist" in "heist movies" (the filter alone would only know "crime").
NARROW_GENRE_WORDS = frozenset({
    "heist", "heists", "gangster", "cop", "police", "spy", "espionage", "superhero", "slasher", "slashers",
    "whodunit", "whodunits", "wildlife", "cooking", "biopic", "biopics", "period", "concert", "concerts",
    "cartoon", "cartoons", "true crime", "christian", "religious", "arthouse", "late night", "coming of age",
    "coming-of-age", "love stories", "cult classic"})

MATURE = ("NC-17", "R", "TV-MA")
RATING_WORDS: dict[str, tuple[str, ...]] = {
    "family friendly": tuple(FAMILY_FRIENDLY), "family-friendly": tuple(FAMILY_FRIENDLY),
    "kid friendly": tuple(FAMILY_FRIENDLY), "kid-friendly": tuple(FAMILY_FRIENDLY),
    "kids friendly": tuple(FAMILY_FRIENDLY), "child friendly": tuple(FAMILY_FRIENDLY),
    "child-friendly": tuple(FAMILY_FRIENDLY), "for the whole family": tuple(FAMILY_FRIENDLY),
    "suitable for kids": tuple(FAMILY_FRIENDLY), "suitable for children": tuple(FAMILY_FRIENDLY),
    "safe for kids": tuple(FAMILY_FRIENDLY), "for kids": tuple(FAMILY_FRIENDLY),
    "for children": tuple(FAMILY_FRIENDLY), "for young kids": tuple(FAMILY_FRIENDLY),
    "for adults": MATURE, "adults only": MATURE, "adult only": MATURE, "mature": MATURE,
    "unrated": ("NR",), "not rated": ("NR",),
}
_WORD_NUM = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
             "seventies": 1970, "eighties": 1980, "nineties": 1990}
MIN_YEAR, MAX_YEAR = 1900, 2035
_MAY_HOLD_YEAR = re.compile(r"\d|" + "|".join(_WORD_NUM), re.IGNORECASE)

_FILLER = re.compile(
    r"\b(?:please|find|list|search(?: for)?|give me|get me|show me|i want(?: to watch)?|looking for|"
    r"recommend(?: me)?|what are|are there|are|is|any|some|available|streaming|stream|watch|to|"
    r"on|in|and|or|the|a|an|that|with|both|either|only|but|from|of|nor|released|made)\b",
    re.IGNORECASE)
_LEADING_SHOW = re.compile(r"^\s*(?:please\s+)?show\b(?!s)(?:\s+me)?", re.IGNORECASE)


def _alt(words) -> str:
    """Alternation of literal words, longest match first, written as a trie: the regex engine follows one
    branch per character instead of trying every word at every position (the parser is on the search path).
    Greedy optional tails keep "longest first": `action(?:-packed)?` tries the longer word, then backtracks."""
    trie: dict = {}
    for w in set(words):
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


def _platform_alias_map() -> dict[str, str]:
    out = dict(PLATFORM_ALIASES)
    out.pop("nflx", None)
    return out


_PLAT_ALIASES = _platform_alias_map()
_PLAT = rf"(?:{_alt(_PLAT_ALIASES)})(?!\w)"
_SEP = r"(?:\s*(?:,|/|&|\band\b|\bor\b|\bnor\b|\bplus\b)\s*)+"
_PLAT_GROUP = re.compile(
    rf"(?P<cue>\b(?:(?:is|are)\s*n['’]?t|not|never|excluding|exclude|except(?:\s+for)?|without|minus|"
    rf"but\s+not|no)\s+(?:(?:available|streaming|found)\s+)?(?:(?:on|in|from)\s+)?)?"
    rf"(?P<pre>\b(?:(?:available|streaming|watchable)\s+)?(?:on|via|at)\s+)?(?P<q>(?:both|either|neither)\s+)?"
    rf"(?P<group>{_PLAT}(?:{_SEP}(?:on\s+)?{_PLAT})*)", re.IGNORECASE)
_PLAT_ONE = re.compile(_PLAT, re.IGNORECASE)
_GENRE = re.compile(
    rf"(?P<neg>\b(?:no|not|non|without|excluding|exclude|except|minus|but\s+not|nothing)[\s-]+)?"
    rf"(?<![\w-])(?P<g>{_alt(GENRE_WORDS)})(?![\w-])", re.IGNORECASE)
_REGION_NAME = re.compile(rf"(?<![\w.])(?:the\s+)?(?P<n>{_alt(REGION_NAMES)})(?![\w])", re.IGNORECASE)
_DEMONYM = re.compile(rf"\b(?P<n>{_alt(DEMONYMS)})\b", re.IGNORECASE)
_REGION_CODE = re.compile(r"\b(?:in|across|within)\s+(?:the\s+)?(?P<c>[A-Za-z]{2,3})\b(?![-'’])")
_BARE_CODE = re.compile(r"(?<![\w-])(?P<c>US|UK|USA)(?![\w-])")
_RATING_CODE = re.compile(
    r"(?<![\w-])(?:rated\s+)?(?P<r>TV-Y7-FV|TV-Y7|TV-Y|TV-G|TV-PG|TV-14|TV-MA|NC-17|PG-13|PG13)(?![\w-])",
    re.IGNORECASE)
_RATED = re.compile(r"\b(?:rated\s+(?P<a>G|PG|R|NR)\b|(?P<b>G|PG|R)[- ]rated\b|(?<![\w-])(?P<c>PG)(?![\w-]))",
                    re.IGNORECASE)
_RATING_WORD = re.compile(rf"(?<![\w-])(?P<w>{_alt(RATING_WORDS)})(?![\w-])", re.IGNORECASE)
_TYPE = re.compile(
    r"(?<![\w-])(?P<t>movies?|films?|flicks?|feature films?|features|cinema|"
    r"tv shows?|tv series|series|shows|show|sitcoms?|miniseries|mini-series|docuseries|docu-series|tv)(?![\w-])",
    re.IGNORECASE)
_SERIES_WORDS = {"tv show", "tv shows", "tv series", "series", "shows", "show", "sitcom", "sitcoms",
                 "miniseries", "mini-series", "docuseries", "docu-series", "tv"}
_YEAR = r"(?:19|20)\d\d"
_DECADE = r"(?:(?P<q>early|mid|late)[\s-]+)?(?:(?P<c>19|20)?'?(?P<d>\d)0'?s|(?P<w>" + "|".join(_WORD_NUM) + r"))"
_YEAR_RULES = [
    ("between", re.compile(rf"\b(?:between|from)\s+(?P<a>{_YEAR})\s+(?:and|to|until|-)\s+(?P<b>{_YEAR})\b", re.I)),
    ("range", re.compile(rf"\b(?P<a>{_YEAR})\s*(?:-|–|to)\s*(?P<b>{_YEAR})\b", re.I)),
    ("after", re.compile(rf"\b(?:after|newer than|later than|post)\s+(?P<a>{_YEAR})\b", re.I)),
    ("since", re.compile(rf"\bfrom\s+(?P<a>{_YEAR})\s+(?:on(?:wards?)?|forward)\b", re.I)),
    ("since", re.compile(rf"\b(?:since|starting(?:\s+(?:in|from))?|onwards from|(?:in\s+)?or after)\s+(?P<a>{_YEAR})(?:\s+on(?:wards?)?)?\b", re.I)),
    ("onwards", re.compile(rf"\b(?P<a>{_YEAR})\s+(?:and|or)\s+(?:later|after|newer|onwards?|up)\b", re.I)),
    ("before", re.compile(rf"\b(?:before|older than|earlier than|pre)[\s-]+(?P<a>{_YEAR})\b", re.I)),
    ("until", re.compile(rf"\b(?:until|up to|through|till|no later than)\s+(?P<a>{_YEAR})\b", re.I)),
    ("earlier", re.compile(rf"\b(?P<a>{_YEAR})\s+(?:and|or)\s+(?:earlier|before|older)\b", re.I)),
    ("decade", re.compile(rf"(?<![\w'])(?:the\s+)?{_DECADE}(?![\w])", re.I)),
    ("year", re.compile(rf"\b(?:(?:in|from|of|released in)\s+)?(?P<a>{_YEAR})\b", re.I)),
]


# ---------------------------------------------------------------- result shape
def empty_query(text: str = "") -> dict[str, Any]:
    return {"text": text, "platforms": {"all": [], "any": [], "none": []}, "regions": [],
            "genres": {"all": [], "none": []}, "type": None, "year": None, "ratings": [], "warnings": []}


def contradictions(q: dict[str, Any]) -> list[str]:
    """What in a (raw or canonical) query cannot all hold at once."""
    out = []
    plats, genres, year = q.get("platforms") or {}, q.get("genres") or {}, q.get("year") or {}
    p_none = set(plats.get("none") or [])
    for p in sorted(set(plats.get("all") or []) & p_none):
        out.append(f"platform {p} is both required and excluded: no title can match")
    if plats.get("any") and set(plats["any"]) <= p_none:
        out.append(f"every platform of any-of {sorted(set(plats['any']))} is excluded: no title can match")
    for g in sorted(set(genres.get("all") or []) & set(genres.get("none") or [])):
        out.append(f"genre {g} is both wanted and excluded: it is only excluded")
    if year.get("min") is not None and year.get("max") is not None and year["min"] > year["max"]:
        out.append(f"year range {year['min']}..{year['max']} is empty: no title can match")
    return out


def canonical(q: dict[str, Any]) -> dict[str, Any]:
    """Sorted, de-duplicated lists; a lone `any` platform (or one already in `all`) folds into `all`;
    contradictions are added to `warnings` (idempotent: a canonical query is its own canonical form)."""
    out = empty_query(str(q.get("text") or ""))
    out["warnings"] = sorted(set(q.get("warnings") or []) | set(contradictions(q)))
    plats = q.get("platforms") or {}
    p_all, p_any, p_none = (sorted(set(plats.get(k) or [])) for k in ("all", "any", "none"))
    if len(p_any) == 1 or set(p_any) & set(p_all):
        p_all, p_any = sorted(set(p_all) | (set(p_any) if len(p_any) == 1 else set())), \
            ([] if len(p_any) == 1 or set(p_any) & set(p_all) else p_any)
    out["platforms"] = {"all": p_all, "any": p_any, "none": p_none}
    out["regions"] = sorted(set(q.get("regions") or []))
    genres = q.get("genres") or {}
    g_none = sorted(set(genres.get("none") or []))
    out["genres"] = {"all": sorted(set(genres.get("all") or []) - set(g_none)), "none": g_none}
    out["type"] = q.get("type") or None
    year = q.get("year")
    if year and (year.get("min") is not None or year.get("max") is not None):
        out["year"] = {"min": year.get("min"), "max": year.get("max")}
    out["ratings"] = sorted(set(q.get("ratings") or []))
    return out


def filters_of(q: dict[str, Any]) -> dict[str, Any]:
    """Everything but `text` and `warnings`: what the labelled set scores by exact match."""
    return {k: v for k, v in canonical(q).items() if k not in ("text", "warnings")}


# ---------------------------------------------------------------- parser
class _Span:
    """The query string with consumed character spans; matching skips consumed text."""

    def __init__(self, text: str):
        self.text = text
        self.used = [False] * len(text)

    def free(self, m: re.Match, group: int | str = 0) -> bool:
        a, b = m.span(group)
        return a < b and not any(self.used[a:b])

    def take(self, a: int, b: int) -> None:
        for i in range(a, b):
            self.used[i] = True

    def finditer(self, pattern: re.Pattern):
        for m in pattern.finditer(self.text):
            if self.free(m):
                yield m

    def rest(self) -> str:
        return "".join(" " if u else c for c, u in zip(self.text, self.used))


def _year_bounds(kind: str, m: re.Match) -> tuple[int | None, int | None]:
    if kind == "decade":
        if m.group("w"):
            start = _WORD_NUM[m.group("w").lower()]
        else:
            d = int(m.group("d"))
            century = m.group("c")
            start = (int(century) * 100 if century else (2000 if d <= 2 else 1900)) + d * 10
        q = (m.group("q") or "").lower()
        lo, hi = {"early": (0, 3), "mid": (4, 6), "late": (7, 9)}.get(q, (0, 9))
        return start + lo, start + hi
    a = int(m.group("a"))
    b = int(m.group("b")) if "b" in m.groupdict() and m.group("b") else None
    return {"between": (min(a, b or a), max(a, b or a)), "range": (min(a, b or a), max(a, b or a)),
            "after": (a + 1, None), "since": (a, None), "onwards": (a, None), "before": (None, a - 1),
            "until": (None, a), "earlier": (None, a), "year": (a, a)}[kind]


def parse(text: Any) -> dict[str, Any]:
    """Parse a query (module docstring); non-strings are treated as their str(). Raises QueryParseError only
    on a bug in the parser (the CLI exits 2), never on what the user typed."""
    text = text if isinstance(text, str) else str(text)
    try:
        return _parse(text)
    except Exception as e:
        raise QueryParseError(f"query parser failed on {text[:200]!r}: {type(e).__name__}: {e} "
                              f"(a parser bug; please report it with this query)") from e


def _parse(text: str) -> dict[str, Any]:
    s = _Span(text)
    q = empty_query()
    # 0. an imperative "show (me)" at the start is a verb, not the series type
    m = _LEADING_SHOW.match(text)
    if m:
        s.take(*m.span())
    # 1. ratings (before genres: "family friendly" is a rating, "family" a genre; "not rated" is NR)
    for m in s.finditer(_RATING_WORD):
        q["ratings"] += RATING_WORDS[m.group("w").lower()]
        s.take(*m.span())
    for m in s.finditer(_RATING_CODE):
        r = m.group("r").upper().replace("PG13", "PG-13")
        q["ratings"].append(r)
        s.take(*m.span())
    for m in s.finditer(_RATED):
        r = (m.group("a") or m.group("b") or m.group("c")).upper()
        q["ratings"].append(r)
        s.take(*m.span())
    # 2. platforms: groups of platform names joined by and/or, with an optional negation cue
    for m in s.finditer(_PLAT_GROUP):
        group = m.group("group")
        names = [_PLAT_ALIASES[re.sub(r"\s+", " ", x.group(0).lower())] for x in _PLAT_ONE.finditer(group)]
        quant = (m.group("q") or "").strip().lower()
        if m.group("cue") or quant == "neither":
            q["platforms"]["none"] += names
        elif quant == "either" or re.search(r"\bor\b|/", group, re.I):
            q["platforms"]["any"] += names
        else:
            q["platforms"]["all"] += names
        s.take(*m.span())
    # 3. regions: names, demonyms, codes after "in"
    for m in s.finditer(_REGION_NAME):
        q["regions"].append(REGION_NAMES[m.group("n").lower()])
        s.take(*m.span())
    for m in s.finditer(_REGION_CODE):
        code = m.group("c")
        if code.lower() in _LOWER_CODES:
            q["regions"].append(_LOWER_CODES[code.lower()])
        elif len(code) == 2 and code.isupper() and code in _iso2():
            q["regions"].append(code)
        else:
            continue
        s.take(*m.span("c"))
    for m in s.finditer(_BARE_CODE):
        q["regions"].append(_LOWER_CODES[m.group("c").lower()])
        s.take(*m.span())
    # 4. years (before demonyms/genres so "the 90s" is not touched by anything else); every rule needs a
    #    digit or a decade word, so most queries skip the eleven patterns
    for kind, pattern in (_YEAR_RULES if _MAY_HOLD_YEAR.search(text) else ()):
        for m in s.finditer(pattern):
            lo, hi = _year_bounds(kind, m)
            if any(y is not None and not MIN_YEAR <= y <= MAX_YEAR for y in (lo, hi)):
                continue
            cur = q["year"] or {"min": None, "max": None}
            cur["min"] = lo if cur["min"] is None or (lo is not None and lo > cur["min"]) else cur["min"]
            cur["max"] = hi if cur["max"] is None or (hi is not None and hi < cur["max"]) else cur["max"]
            q["year"] = cur
            s.take(*m.span())
    # 5. genres, with negation ("no horror", "without romance", "non-fiction" is not a genre word)
    for m in s.finditer(_GENRE):
        key = m.group("g").lower()
        if key in ("docs", "doc", "docu") and not _genre_context_ok(text, m):
            continue
        genres = GENRE_WORDS[key]
        q["genres"]["none" if m.group("neg") else "all"] += genres
        if key in ("sitcom", "sitcoms", "docuseries", "docu-series"):
            q["type"] = "series"
        if key in NARROW_GENRE_WORDS and not m.group("neg"):
            continue  # filter set, word left in the text
        s.take(*m.span())
    for m in s.finditer(_DEMONYM):
        q["regions"].append(DEMONYMS[m.group("n").lower()])
        s.take(*m.span())
    # 6. type; both kinds named → no type filter
    kinds = set()
    for m in s.finditer(_TYPE):
        kinds.add("series" if m.group("t").lower() in _SERIES_WORDS else "movie")
        s.take(*m.span())
    if q["type"]:
        kinds.add(q["type"])
    q["type"] = kinds.pop() if len(kinds) == 1 else None
    q["text"] = _clean(s.rest())
    return canonical(q)


def _genre_context_ok(text: str, m: re.Match) -> bool:
    """'docs' is a genre in 'nature docs', not in 'docs about X'? Keep both: only reject 'doc' as a name."""
    return not re.match(r"\s*\.", text[m.end():])  # "Doc." as in "Doc. Martin"


_ISO2: set[str] | None = None


def _iso2() -> set[str]:
    global _ISO2
    if _ISO2 is None:
        import pycountry

        _ISO2 = {c.alpha_2 for c in pycountry.countries}
    return _ISO2


def _clean(rest: str) -> str:
    out = _FILLER.sub(" ", rest)
    out = re.sub(r"[\s,;:!?/&+]+", " ", out)
    out = re.sub(r"\s+", " ", out).strip(" .-'\"")
    return out


# ---------------------------------------------------------------- labelled evaluation
def evaluate_labelled(path: str) -> dict[str, Any]:
    """Exact-match accuracy of the filters (everything but `text`) on a labelled JSONL set: one object per
    line with `query` and the expected filters (missing keys = empty). Per-field accuracy and the misses
    are reported so a user sees what the rule set does not cover."""
    import json
    from pathlib import Path

    rows = []
    for no, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}, line {no}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, dict) or not isinstance(row.get("query"), str):
            raise DataError(f"{path}, line {no}: expected an object with a string 'query', got {line[:80]!r}")
        rows.append(row)
    fields = ("platforms", "regions", "genres", "type", "year", "ratings")
    exact, per_field, misses = 0, {f: 0 for f in fields}, []
    for row in rows:
        expected = filters_of({k: v for k, v in row.items() if k != "query"})
        got = filters_of(parse(row["query"]))
        ok = expected == got
        exact += ok
        for f in fields:
            per_field[f] += expected[f] == got[f]
        if not ok:
            misses.append({"query": row["query"], "expected": expected, "got": got})
    n = len(rows)
    return {"queries": n, "filters_exact_match": exact / n if n else None,
            "per_field_accuracy": {f: c / n for f, c in per_field.items()} if n else {},
            "misses": misses, "labelled_set": str(path)}
