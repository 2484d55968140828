"""Platform label → canonical value tables (seed §3.2.1): platforms, genres, ratings, type, duration, dates,
countries. Every genre label present in the four real catalogs is in `GENRE_MAP`; a label that is not is
mapped to "other" and reported (never silently dropped)."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

import pycountry

from mgw.errors import DataError, UnknownPlatformError

# ---------------------------------------------------------------- platforms
PLATFORM_ALIASES: dict[str, str] = {
    "netflix": "netflix", "nflx": "netflix",
    "prime": "prime", "prime video": "prime", "amazon prime": "prime", "amazon prime video": "prime",
    "amazon": "prime", "amazon video": "prime", "primevideo": "prime",
    "disney": "disney", "disney+": "disney", "disney plus": "disney", "disneyplus": "disney",
    "hulu": "hulu",
}


def canonical_platform(name: str) -> str:
    """'Disney+' → 'disney'. Raises UnknownPlatformError listing the known names."""
    key = re.sub(r"\s+", " ", str(name).strip().lower())
    if key in PLATFORM_ALIASES:
        return PLATFORM_ALIASES[key]
    raise UnknownPlatformError(f"unknown platform {name!r}; known: netflix, prime, disney, hulu "
                               f"(aliases: {', '.join(sorted(PLATFORM_ALIASES))})")


# ---------------------------------------------------------------- genres
GENRES: tuple[str, ...] = (
    "action", "adventure", "animation", "anime", "arts", "biography", "classic", "comedy", "crime", "culture",
    "documentary", "drama", "faith", "family", "fantasy", "food", "game-show", "history", "horror",
    "independent", "international", "kids", "lgbtq", "lifestyle", "music", "mystery", "nature", "news",
    "reality", "romance", "science", "scifi", "sports", "standup", "talk-show", "teen", "thriller", "travel",
    "variety", "war", "western", "other",
)

# Every label found in netflix/prime/disney/hulu listed_in (120 labels). An empty tuple means the label
# carries no genre ("Movies", "TV Shows"); an item left with no genre gets "other".
GENRE_MAP: dict[str, tuple[str, ...]] = {
    "Action": ("action",), "Action & Adventure": ("action", "adventure"),
    "Action-Adventure": ("action", "adventure"), "TV Action & Adventure": ("action", "adventure"),
    "Adult Animation": ("animation",), "Adventure": ("adventure",), "Survival": ("adventure",),
    "Animals & Nature": ("nature",), "Animation": ("animation",), "Cartoons": ("animation", "kids"),
    "Anime": ("anime", "animation"), "Anime Features": ("anime", "animation"),
    "Anime Series": ("anime", "animation"),
    "Anthology": ("drama",), "Arthouse": ("independent",), "Independent Movies": ("independent",),
    "Arts": ("arts",), "Biographical": ("biography",),
    "Black Stories": ("culture",), "Latino": ("culture",), "and Culture": ("culture",),
    "British TV Shows": ("international",), "International": ("international",),
    "International Movies": ("international",), "International TV Shows": ("international",),
    "Korean TV Shows": ("international",), "Spanish-Language TV Shows": ("international",),
    "Buddy": ("comedy",), "Comedies": ("comedy",), "Comedy": ("comedy",), "TV Comedies": ("comedy",),
    "Parody": ("comedy",), "Sitcom": ("comedy",), "Sketch Comedy": ("comedy",),
    "Romantic Comedy": ("romance", "comedy"),
    "Children & Family Movies": ("family", "kids"), "Family": ("family",), "Kids": ("kids",),
    "Kids' TV": ("kids",),
    "Classic & Cult TV": ("classic",), "Classic Movies": ("classic",), "Classics": ("classic",),
    "Cult Movies": ("classic",),
    "Coming of Age": ("teen", "drama"), "Teen": ("teen",), "Teen TV Shows": ("teen",),
    "Young Adult Audience": ("teen",),
    "Concert Film": ("music",), "Dance": ("music",), "Music": ("music",), "Music & Musicals": ("music",),
    "Music Videos and Concerts": ("music",), "Musical": ("music",),
    "Cooking & Food": ("food",),
    "Crime": ("crime",), "Crime TV Shows": ("crime",), "Police/Cop": ("crime",),
    "Disaster": ("action",), "Superhero": ("action", "fantasy"),
    "Documentaries": ("documentary",), "Documentary": ("documentary",), "Docuseries": ("documentary",),
    "Drama": ("drama",), "Dramas": ("drama",), "TV Dramas": ("drama",), "Medical": ("drama",),
    "Soap Opera / Melodrama": ("drama",),
    "Entertainment": ("variety",), "Variety": ("variety",),
    "Faith & Spirituality": ("faith",), "Faith and Spirituality": ("faith",),
    "Fantasy": ("fantasy",),
    "Fitness": ("lifestyle",), "Health & Wellness": ("lifestyle",), "Lifestyle": ("lifestyle",),
    "Lifestyle & Culture": ("lifestyle", "culture"),
    "Game Show / Competition": ("game-show",), "Game Shows": ("game-show",),
    "Historical": ("history",), "History": ("history",), "Military and War": ("war",),
    "Horror": ("horror",), "Horror Movies": ("horror",), "TV Horror": ("horror",),
    "LGBTQ": ("lgbtq",), "LGBTQ Movies": ("lgbtq",), "LGBTQ+": ("lgbtq",),
    "Late Night": ("talk-show",), "Talk Show": ("talk-show",), "Talk Show and Variety": ("talk-show", "variety"),
    "Mystery": ("mystery",), "TV Mysteries": ("mystery",),
    "News": ("news",),
    "Reality": ("reality",), "Reality TV": ("reality",), "Unscripted": ("reality",),
    "Romance": ("romance",), "Romantic Movies": ("romance",), "Romantic TV Shows": ("romance",),
    "Sci-Fi & Fantasy": ("scifi", "fantasy"), "TV Sci-Fi & Fantasy": ("scifi", "fantasy"),
    "Science Fiction": ("scifi",),
    "Science & Nature TV": ("science", "nature"), "Science & Technology": ("science",),
    "Special Interest": ("other",),
    "Sports": ("sports",), "Sports Movies": ("sports",),
    "Spy/Espionage": ("thriller",), "Suspense": ("thriller",), "Thriller": ("thriller",),
    "Thrillers": ("thriller",), "TV Thrillers": ("thriller",),
    "Stand Up": ("standup", "comedy"), "Stand-Up Comedy": ("standup", "comedy"),
    "Stand-Up Comedy & Talk Shows": ("standup", "comedy", "talk-show"),
    "Travel": ("travel",), "Western": ("western",),
    "Movies": (), "Series": (), "TV Shows": (),
}


def canonical_genres(listed_in: str) -> tuple[list[str], list[str], list[str]]:
    """'TV Dramas, TV Mysteries' → (canonical genres, platform labels, unmapped labels)."""
    labels = [g.strip() for g in (listed_in or "").split(",") if g.strip()]
    out: list[str] = []
    unmapped: list[str] = []
    for label in labels:
        mapped = GENRE_MAP.get(label)
        if mapped is None:
            unmapped.append(label)
            mapped = ("other",)
        for g in mapped:
            if g not in out:
                out.append(g)
    if not out:
        out = ["other"]
    elif len(out) > 1 and "other" in out:
        out.remove("other")
    return out, labels, unmapped


# ---------------------------------------------------------------- ratings
# Canonical ratings are the US MPAA and TV Parental Guidelines codes (seed §3.2.1 "→ MPAA standard").
RATINGS: tuple[str, ...] = ("G", "PG", "PG-13", "R", "NC-17", "TV-Y", "TV-Y7", "TV-Y7-FV", "TV-G", "TV-PG",
                            "TV-14", "TV-MA", "NR")
RATING_MAP: dict[str, str] = {r: r for r in RATINGS} | {
    # Prime Video's age labels
    "ALL": "G", "ALL_AGES": "G", "7+": "PG", "13+": "PG-13", "16+": "R", "16": "R", "AGES_16_": "R",
    "18+": "NC-17", "AGES_18_": "NC-17",
    # unrated variants
    "UR": "NR", "UNRATED": "NR", "NOT RATED": "NR", "NOT_RATE": "NR", "TV-NR": "NR",
}
FAMILY_FRIENDLY: frozenset[str] = frozenset({"G", "PG", "TV-Y", "TV-Y7", "TV-Y7-FV", "TV-G", "TV-PG"})


def canonical_rating(raw: str) -> str | None:
    """'13+' → 'PG-13'; '' → None. Raises DataError for a value that is not a known rating."""
    key = (raw or "").strip().upper()
    if not key:
        return None
    if key in RATING_MAP:
        return RATING_MAP[key]
    raise DataError(f"unknown rating {raw!r}")


# ---------------------------------------------------------------- type, duration
TYPE_MAP = {"movie": "movie", "tv show": "series", "series": "series", "show": "series", "tv": "series"}
_DURATION = re.compile(r"^\s*(\d+)\s*(min|mins|minutes|season|seasons)\s*$", re.IGNORECASE)


def canonical_type(raw: str) -> str:
    key = (raw or "").strip().lower()
    if key in TYPE_MAP:
        return TYPE_MAP[key]
    raise DataError(f"unknown type {raw!r} (expected Movie or TV Show)")


def is_duration(raw: str) -> bool:
    return bool(_DURATION.match(raw or ""))


def parse_duration(raw: str) -> tuple[int | None, int | None]:
    """'90 min' → (90, None); '2 Seasons' → (None, 2); '' → (None, None). DataError otherwise."""
    if not (raw or "").strip():
        return None, None
    m = _DURATION.match(raw)
    if not m:
        raise DataError(f"unparseable duration {raw!r}")
    n = int(m.group(1))
    return (n, None) if m.group(2).lower().startswith("min") else (None, n)


# ---------------------------------------------------------------- dates
DATE_FORMATS = ("%d-%b-%y", "%d-%B-%y", "%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%d-%b-%Y")


def parse_date(raw: str) -> date | None:
    """Every date format present in the catalogs: '25-Sep-21', ' September 25, 2021' (leading space), ISO."""
    s = (raw or "").strip()
    if not s:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise DataError(f"unparseable date {raw!r}")


# ---------------------------------------------------------------- countries
# Names pycountry does not resolve, or resolves wrongly; historic states keep ISO 3166-3 style codes.
COUNTRY_OVERRIDES = {"West Germany": "DE", "East Germany": "DD", "Soviet Union": "SU", "Kosovo": "XK",
                     "Vatican City": "VA", "Russia": "RU", "South Korea": "KR", "Iran": "IR", "Syria": "SY",
                     "Taiwan": "TW", "Vietnam": "VN", "Palestine": "PS", "Czech Republic": "CZ",
                     "Turkey": "TR", "UK": "GB", "USA": "US", "Tanzania": "TZ"}


def country_code(name: str) -> str:
    """'United Kingdom' → 'GB'. DataError for a name that is not a country."""
    name = name.strip()
    if name in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[name]
    if len(name) == 2 and name.isalpha():
        return "GB" if name.upper() == "UK" else name.upper()
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        try:
            return pycountry.countries.search_fuzzy(name)[0].alpha_2
        except LookupError:
            raise DataError(f"unknown country {name!r}") from None


def country_codes(raw: str) -> list[str]:
    out: list[str] = []
    for part in (raw or "").split(","):
        if part.strip():
            code = country_code(part)
            if code not in out:
                out.append(code)
    return out


# ---------------------------------------------------------------- people, titles
def split_people(raw: str) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalize_title(title: str) -> str:
    """Key for matching titles across sources: accents folded, case folded, '&'→'and', punctuation removed."""
    s = unicodedata.normalize("NFKD", str(title or ""))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold().replace("&", " and ")
    s = _PUNCT.sub(" ", s)
    return _SPACE.sub(" ", s).strip()
