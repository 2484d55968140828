"""Matching keys for listings: what two platforms' spellings of one title (or one person) reduce to.

`title_key` folds what platforms add around the same title — leading articles, brand prefixes
(`Disney`, `Marvel Studios'`, …), edition tags in parentheses (`(4K UHD)`, `(Hindi Version)`, a year) and
Roman sequel numerals — so that blocking and the title comparison see "Disney Gravity Falls" and
"Gravity Falls" as one key. `person_key` makes "Liu Chia-liang" and "Chia-Liang Liu" one person.
"""
from __future__ import annotations

import re
import unicodedata

from mgw.data.normalize import normalize_title

# Words a platform puts in front of a title it shares with others (normalized form: apostrophes are spaces).
LEADING_ARTICLES = ("the", "a", "an")
BRAND_PREFIXES = ("disney pixar", "disney s", "disney", "pixar s", "pixar", "marvel studios", "marvel s", "marvel",
                  "dreamworks s", "dreamworks")
# Tokens of a trailing parenthesized edition tag ("(4K UHD)", "(Tamil)", "(Hindi Version)", "(1999)").
EDITION_WORDS = frozenset({"4k", "uhd", "hd", "version", "dubbed", "subtitled", "hindi", "tamil", "telugu",
                           "malayalam", "kannada", "english", "spanish", "original", "series"})
ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}

_PREFIX = re.compile(r"^(?:(?:" + "|".join(map(re.escape, LEADING_ARTICLES + BRAND_PREFIXES)) + r")\s+)+")
_BRAND = re.compile(r"^(?:(?:" + "|".join(map(re.escape, BRAND_PREFIXES)) + r")\s+)+")
_TRAILING_PAREN = re.compile(r"\s*\(([^()]*)\)\s*$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _strip_edition(title: str) -> str:
    """Drop trailing "(…)" groups made only of edition words or a year: "Goldeneye (4K UHD)" → "Goldeneye"."""
    while (m := _TRAILING_PAREN.search(title)) is not None:
        words = normalize_title(m.group(1)).split()
        if not words or not all(w in EDITION_WORDS or _YEAR.match(w) for w in words):
            break
        title = title[:m.start()]
    return title


def _fold(title: str, prefix: re.Pattern[str]) -> str:
    norm = normalize_title(_strip_edition(str(title or "")))
    stripped = prefix.sub("", norm).strip() or norm  # a title that is only "The" keeps itself
    return " ".join(ROMAN.get(t, t) for t in stripped.split())


def title_key(title: str) -> str:
    """Normalized title without edition tags, leading articles or brand prefixes, sequel numerals as digits."""
    return _fold(title, _PREFIX)


def title_core(title: str) -> str:
    """Like `title_key` but keeping leading articles: titles equal here differ only by what a platform adds
    (a brand, an edition tag), while "The Trap" and "Trap" — often two films — differ only in `title_key`."""
    return _fold(title, _BRAND)


def person_key(name: str) -> str:
    """Accent- and case-folded name tokens in sorted order (name order differs between platforms)."""
    s = unicodedata.normalize("NFKD", str(name or ""))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    return " ".join(sorted(t for t in _NON_ALNUM.split(s) if t))
