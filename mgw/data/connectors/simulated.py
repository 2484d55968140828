"""Seeded simulated platform catalogs (seed §1.3.2 SimulatedSource), in the real CSVs' 13-column shape.

Why this shape: simulated rows go through exactly the normalization, quarantine and resolution code that
real rows do. Titles and synopses are built from genre-specific vocabularies, so embeddings carry genre
meaning; a `duplicateRate` share of works is listed on a second platform, a `noiseRate` share of those with
title/year/synopsis noise, so entity resolution has real work; `malformedRate` rows are deliberately bad.
`simulated_truth` returns the ground truth (listing id → work id) for resolver precision/recall.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from mgw.config import PLATFORMS, Params

# canonical genre → (title adjectives, title nouns, synopsis subjects, synopsis plots, synopsis stakes)
VOCAB: dict[str, tuple[list[str], list[str], list[str], list[str], list[str]]] = {
    "action": (["Iron", "Rogue", "Final", "Deadly", "Silent", "Burning", "Lethal", "Steel"],
               ["Strike", "Protocol", "Vendetta", "Mission", "Target", "Fury", "Extraction", "Showdown"],
               ["an ex-special forces operative", "a disgraced bodyguard", "a getaway driver", "a rogue agent"],
               ["battles a ruthless cartel", "fights through a besieged city", "leads a high-speed chase",
                "takes down an arms dealer in explosive combat"],
               ["before the bomb detonates", "to rescue hostages", "to stop a coup", "with nothing left to lose"]),
    "drama": (["Quiet", "Broken", "Distant", "Tender", "Fragile", "Lasting", "Hidden", "Bitter"],
              ["Harvest", "Promise", "Inheritance", "Season", "Letters", "Homecoming", "Silence", "Reckoning"],
              ["a grieving widow", "two estranged brothers", "a struggling single father", "a young nurse"],
              ["confronts family secrets", "rebuilds a life after loss", "faces a painful choice",
               "reconnects with a dying parent"],
              ["in a small rural town", "over one emotional summer", "as old wounds reopen", "and learns to forgive"]),
    "comedy": (["Crazy", "Awkward", "Totally", "Hot", "Wild", "Big", "Accidental", "Lucky"],
               ["Wedding", "Roommates", "Vacation", "Office", "Neighbors", "Blind Date", "Bachelor", "Road Trip"],
               ["a clumsy best man", "two slacker roommates", "an overconfident salesman", "a hapless substitute teacher"],
               ["stumbles through hilarious mishaps", "fakes an engagement", "crashes a rival's party",
                "pulls an absurd prank"],
               ["with laugh-out-loud results", "and chaos ensues", "before the big day", "to win back a bet"]),
    "documentary": (["Inside", "Untold", "Real", "Secret", "Hidden", "True", "Lost", "Deep"],
                    ["Story", "Oceans", "Economy", "Planet", "Frontier", "Empire", "Archives", "Investigation"],
                    ["filmmakers", "scientists and historians", "investigative journalists", "survivors and experts"],
                    ["examine archival footage and interviews", "investigate a real scandal",
                     "explore the natural world", "trace the history of an industry"],
                    ["revealing untold facts", "in this eye-opening documentary", "across five continents",
                     "with first-hand testimony"]),
    "scifi": (["Quantum", "Stellar", "Cyber", "Orbital", "Galactic", "Neural", "Dark", "Infinite"],
              ["Horizon", "Colony", "Singularity", "Outpost", "Paradox", "Nebula", "Android", "Wormhole"],
              ["a starship crew", "an android", "a time-travelling physicist", "colonists on a distant planet"],
              ["discover an alien signal", "fight a rogue artificial intelligence", "cross a wormhole",
               "uncover a future dystopia"],
              ["to save humanity", "in deep space", "before time collapses", "as the galaxy falls to war"]),
    "thriller": (["Dead", "Cold", "Twisted", "Fatal", "Perfect", "Hidden", "Final", "Dark"],
                 ["Witness", "Alibi", "Conspiracy", "Obsession", "Suspect", "Motive", "Stranger", "Trap"],
                 ["a paranoid detective", "a journalist", "a woman with amnesia", "a forensic psychologist"],
                 ["hunts a serial killer", "uncovers a deadly conspiracy", "is stalked by a stranger",
                  "races to expose a murder"],
                 ["before it is too late", "as the suspects multiply", "in a web of lies", "while trusting no one"]),
    "horror": (["Haunted", "Cursed", "Bloody", "Unholy", "Sinister", "Wicked", "Hollow", "Grim"],
               ["House", "Ritual", "Possession", "Cabin", "Asylum", "Curse", "Demon", "Nightmare"],
               ["a family", "a group of teenagers", "a paranormal investigator", "a young priest"],
               ["is terrorized by a demonic presence", "awakens an ancient evil", "survives a night of terror",
                "is hunted by a masked killer"],
               ["in an isolated cabin", "after moving into an old house", "as bodies pile up", "until dawn"]),
    "romance": (["Endless", "Sweet", "Paris", "Second", "Summer", "Falling", "Forever", "Secret"],
                ["Love", "Kiss", "Affair", "Romance", "Heart", "Proposal", "Valentine", "Chance"],
                ["a florist", "two childhood sweethearts", "a workaholic executive", "a famous singer"],
                ["falls unexpectedly in love", "rekindles an old romance", "finds love with a stranger",
                 "must choose between two suitors"],
                ["one magical summer", "against all odds", "in Paris", "before the wedding"]),
    "family": (["Magic", "Little", "Brave", "Happy", "Fuzzy", "Tiny", "Jolly", "Wonder"],
               ["Puppy", "Dragon", "Adventure", "Friends", "Kingdom", "Treehouse", "Holiday", "Unicorn"],
               ["a curious little girl", "a talking puppy", "three siblings", "a friendly dragon"],
               ["go on a magical adventure", "learn the value of friendship", "save the family farm",
                "discover a hidden world"],
               ["with songs and laughter", "in this heartwarming family film", "for the whole family",
                "just in time for the holidays"]),
    "animation": (["Pixel", "Cosmic", "Toon", "Robo", "Super", "Mighty", "Dino", "Candy"],
                  ["Squad", "Island", "Legends", "Critters", "Planet", "Academy", "Rangers", "Factory"],
                  ["an animated robot", "cartoon animals", "a young hero in an animated world", "toy friends"],
                  ["embark on a colourful quest", "battle a cartoon villain", "save their animated kingdom",
                   "race across a candy land"],
                  ["in this animated adventure", "with dazzling animation", "for kids of all ages", "and learn to be brave"]),
    "crime": (["Dirty", "Street", "Blood", "Black", "Hard", "Cold", "Mob", "Brooklyn"],
              ["Money", "Heist", "Syndicate", "Racket", "Precinct", "Cartel", "Score", "Mafia"],
              ["a corrupt cop", "a mob boss", "a crew of bank robbers", "a small-time drug dealer"],
              ["plans the perfect heist", "rises through the criminal underworld", "launders cartel money",
               "investigates gang murders"],
              ["while the police close in", "in 1970s New York", "as loyalties crumble", "for one last score"]),
}
OTHER_GENRES = ("horror", "romance", "family", "animation", "crime")

# canonical genre → each platform's own label (the real files' style)
PLATFORM_LABELS = {
    "netflix": {"action": "Action & Adventure", "drama": "Dramas", "comedy": "Comedies",
                "documentary": "Documentaries", "scifi": "Sci-Fi & Fantasy", "thriller": "Thrillers",
                "horror": "Horror Movies", "romance": "Romantic Movies", "family": "Children & Family Movies",
                "animation": "Anime Features", "crime": "Crime TV Shows"},
    "prime": {"action": "Action", "drama": "Drama", "comedy": "Comedy", "documentary": "Documentary",
              "scifi": "Science Fiction", "thriller": "Suspense", "horror": "Horror", "romance": "Romance",
              "family": "Kids", "animation": "Animation", "crime": "Crime"},
    "disney": {"action": "Action-Adventure", "drama": "Drama", "comedy": "Comedy", "documentary": "Documentary",
               "scifi": "Science Fiction", "thriller": "Mystery", "horror": "Fantasy", "romance": "Romance",
               "family": "Family", "animation": "Animation", "crime": "Crime"},
    "hulu": {"action": "Action", "drama": "Drama", "comedy": "Comedy", "documentary": "Documentaries",
             "scifi": "Science Fiction", "thriller": "Thriller", "horror": "Horror", "romance": "Romance",
             "family": "Family", "animation": "Animation", "crime": "Crime"},
}
OTT_NAMES = {"netflix": "Netflix", "prime": "Amazon Prime", "disney": "Disney Plus", "hulu": "Hulu"}
FIRST = ["Alex", "Maria", "James", "Priya", "Chen", "Fatima", "Lucas", "Sofia", "Kenji", "Amara", "Diego",
         "Hannah", "Omar", "Elena", "Noah", "Aisha", "Marco", "Yuki", "Samuel", "Ingrid"]
LAST = ["Smith", "Garcia", "Khan", "Okafor", "Nakamura", "Rossi", "Muller", "Silva", "Kim", "Dubois",
        "Novak", "Haddad", "Larsen", "Mendez", "Patel", "Cohen", "Ivanova", "Brown", "Santos", "Walsh"]
COUNTRIES = (["United States"] * 10 + ["United Kingdom"] * 3 + ["India"] * 3 + ["Canada"] * 2 + ["France", "Japan",
             "South Korea", "Germany", "Spain", "Mexico", "Brazil", "Australia"])
MOVIE_RATINGS = {"family": ["G", "PG"], "animation": ["G", "PG", "TV-Y7"], "documentary": ["TV-PG", "PG", "TV-14"],
                 "horror": ["R", "TV-MA"], "crime": ["R", "TV-MA"]}
PRIME_RATING = {"G": "ALL", "PG": "7+", "PG-13": "13+", "R": "18+", "TV-MA": "18+", "TV-14": "16+", "TV-PG": "7+",
                "TV-Y7": "7+", "TV-G": "ALL"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def _genre_table(params: Params) -> tuple[list[str], np.ndarray]:
    dist = params.simulated.genreDistribution
    names = list(dist)
    probs = np.array([dist[n] for n in names], dtype=float)
    if probs.sum() <= 0:
        raise ValueError("simulated.genreDistribution must have a positive total")
    return names, probs / probs.sum()


def _work(rng: np.random.Generator, genre: str, wid: int) -> dict[str, Any]:
    adj, nouns, subjects, plots, stakes = VOCAB[genre]
    a, nn = adj[rng.integers(len(adj))], nouns[rng.integers(len(nouns))]
    pattern = rng.integers(4)
    place = LAST[rng.integers(len(LAST))]
    title = [f"{a} {nn}", f"The {nn} of {place}", f"{a} {nn}: {place}", f"{nn} in {place}ville"][pattern]
    title = f"{title} {wid}" if rng.random() < 0.5 else f"{title} {['II', 'III', 'Returns', 'Origins', 'Rising'][wid % 5]} {wid}"
    s1 = f"{subjects[rng.integers(len(subjects))].capitalize()} {plots[rng.integers(len(plots))]} {stakes[rng.integers(len(stakes))]}."
    s2 = f"{subjects[rng.integers(len(subjects))].capitalize()} {plots[rng.integers(len(plots))]}."
    is_series = rng.random() < 0.3
    year = int(np.clip(2021 - rng.gamma(2.0, 6.0), 1950, 2021))
    second = OTHER_GENRES[rng.integers(len(OTHER_GENRES))] if rng.random() < 0.3 else None
    rating = (MOVIE_RATINGS.get(genre) or (["TV-14", "TV-MA", "TV-PG"] if is_series else ["PG-13", "R", "PG"]))
    return {
        "wid": wid, "genre": genre, "genres": [genre] + ([second] if second and second != genre else []),
        "title": title, "description": f"{s1} {s2}", "type": "TV Show" if is_series else "Movie", "year": year,
        "duration": f"{rng.integers(1, 6)} Season{'s' if rng.random() < 0.6 else ''}" if is_series else f"{rng.integers(75, 150)} min",
        "rating": rating[rng.integers(len(rating))],
        "director": "" if is_series else f"{FIRST[rng.integers(20)]} {LAST[rng.integers(20)]}",
        "cast": ", ".join(f"{FIRST[rng.integers(20)]} {LAST[rng.integers(20)]}" for _ in range(rng.integers(2, 5))),
        "country": COUNTRIES[rng.integers(len(COUNTRIES))],
    }


def _noisy(rng: np.random.Generator, w: dict[str, Any]) -> dict[str, Any]:
    """The same work as a second platform lists it: cosmetic or small title changes, year ±1, other wording."""
    w = dict(w)
    t = w["title"]
    kind = rng.integers(5)
    if kind == 4 and ":" in t:  # a dropped subtitle: usually below the title threshold, a realistic miss
        t = t.split(":")[0]
    elif kind == 0:
        t = t.upper() if rng.random() < 0.5 else t.lower()
    elif kind == 1:
        t = t.replace(":", " -") if ":" in t else t + "!"
    elif kind == 2 and len(t) >= 24:  # one typo away from the first character: ratio stays ≥ 95
        pos = int(rng.integers(2, len(t) - 1))
        t = t[:pos] + t[pos + 1:]
    else:
        w["year"] = w["year"] + int(rng.choice([-1, 1]))
    w["title"] = t
    first, _, rest = w["description"].partition(". ")
    w["description"] = f"{rest} {first}." if rest else w["description"]
    return w


def _record(platform: str, show: int, w: dict[str, Any], rng: np.random.Generator) -> dict[str, str]:
    labels = ", ".join(PLATFORM_LABELS[platform].get(g, "Drama") for g in w["genres"])
    day = int(rng.integers(1, 29))
    month = int(rng.integers(1, 13))
    year_added = int(rng.integers(max(w["year"], 2008), 2022))
    date = (f" {MONTHS[month - 1]} {day}, {year_added}" if platform == "netflix" and rng.random() < 0.1
            else f"{day}-{MONTHS[month - 1][:3]}-{year_added % 100:02d}")
    rating = PRIME_RATING.get(w["rating"], w["rating"]) if platform == "prime" else w["rating"]
    return {"show_id": f"s{show}", "type": w["type"], "title": w["title"], "director": w["director"],
            "cast": w["cast"], "country": w["country"], "date_added": date, "release_year": str(w["year"]),
            "rating": rating, "duration": w["duration"], "listed_in": labels, "description": w["description"],
            "OTT": OTT_NAMES[platform]}


def _malformed(rec: dict[str, str], rng: np.random.Generator) -> dict[str, str]:
    rec = dict(rec)
    kind = rng.integers(4)
    if kind == 0:
        rec["title"] = ""
    elif kind == 1:
        rec["release_year"] = "20x1"
    elif kind == 2:
        rec["duration"] = "ninety minutes"
    else:
        rec["type"] = "Podcast"
    return rec


@lru_cache(maxsize=4)
def _generate(seed: int, spec: str) -> tuple[dict[str, list[dict[str, str]]], dict[str, str]]:
    params = Params.model_validate_json(spec)
    sim = params.simulated
    rng = np.random.default_rng(seed)
    genres, probs = _genre_table(params)
    counts = {p: sim.contentCount.get(p, 0) for p in PLATFORMS}
    total = sum(counts.values())
    n_works = max(1, int(round(total / (1 + sim.duplicateRate))))
    works = []
    for wid, gi in enumerate(rng.choice(len(genres), size=n_works, p=probs)):
        g = genres[gi] if genres[gi] in VOCAB else OTHER_GENRES[rng.integers(len(OTHER_GENRES))]
        works.append(_work(rng, g, wid))
        if wid > 10 and rng.random() < 0.03:  # a remake: another work's title, years later, other people
            works[-1]["title"] = works[int(rng.integers(wid))]["title"]
    # primary platform per work proportional to counts, then second listings for duplicates
    plats = [p for p in PLATFORMS if counts[p] > 0]
    weights = np.array([counts[p] for p in plats], dtype=float)
    primary = rng.choice(len(plats), size=n_works, p=weights / weights.sum())
    listings: dict[str, list[dict[str, Any]]] = {p: [] for p in plats}
    for w, pi in zip(works, primary):
        listings[plats[pi]].append(w)
    for w, pi in zip(works, primary):
        if len(plats) > 1 and rng.random() < sim.duplicateRate:
            others = [p for j, p in enumerate(plats) if j != pi]
            p2 = others[rng.integers(len(others))]
            listings[p2].append(_noisy(rng, w) if rng.random() < sim.noiseRate else dict(w))
    catalogs: dict[str, list[dict[str, str]]] = {}
    truth: dict[str, str] = {}
    for p in plats:
        order = rng.permutation(len(listings[p]))
        recs = []
        for show, idx in enumerate(order, start=1):
            w = listings[p][idx]
            rec = _record(p, show, w, rng)
            if rng.random() < sim.malformedRate:
                rec = _malformed(rec, rng)
            else:
                truth[f"{p}:s{show}"] = f"work:{w['wid']}"
            recs.append(rec)
        catalogs[p] = recs
    return catalogs, truth


def simulated_catalog(params: Params) -> dict[str, list[dict[str, str]]]:
    """platform → raw records (13 CSV columns), deterministic for (seed, simulated params)."""
    return _generate(params.seed, _spec(params))[0]


def simulated_truth(params: Params) -> dict[str, str]:
    """listing id ('netflix:s12') → work id, for the listings that are not deliberately malformed."""
    return _generate(params.seed, _spec(params))[1]


def _spec(params: Params) -> str:
    return Params(seed=params.seed, simulated=params.simulated).model_dump_json()
