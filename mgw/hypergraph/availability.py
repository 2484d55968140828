"""Where each title streams: (entity_id, platform, region) rows.

The real catalogs say which platform lists a title, but their `country` column is the *production*
country, not where the title streams. So regions come from a model, kept swappable:

- `ModelledAvailability` (default): seeded and documented. A title listed on a platform streams in that
  catalog's home region (the four Kaggle catalogs are US catalogs) with certainty. In every other region of
  the platform's real-world footprint it streams with probability `LICENSE_BASE[platform]`, raised by
  `home_bonus` when the region is one of the title's production countries (licences favour home markets).
- `TableAvailability`: real availability data (CSV or parquet with columns entity_id, platform, region)
  replaces the model without touching the store.

Region codes are ISO 3166-1 alpha-2; `UK` is accepted for `GB`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from mgw.config import PLATFORMS
from mgw.errors import DataError, UnknownPlatformError

# Real-world footprint of each service among the regions mgw models (as of 2021, the catalogs' date).
# Netflix, Prime Video and Disney+ (incl. Disney+ Hotstar in IN) serve all ten; Hulu streams only in the US
# (Hulu Japan is a separate company with its own catalogue).
FOOTPRINT: dict[str, tuple[str, ...]] = {
    "netflix": ("US", "CA", "GB", "AU", "DE", "FR", "IN", "JP", "BR", "MX"),
    "prime": ("US", "CA", "GB", "AU", "DE", "FR", "IN", "JP", "BR", "MX"),
    "disney": ("US", "CA", "GB", "AU", "DE", "FR", "IN", "JP", "BR", "MX"),
    "hulu": ("US",),
}
CATALOG_HOME = "US"  # region the listed catalogs describe: a listed title streams there
# Probability that a listed title is also licensed in another footprint region. Disney owns most of its
# catalogue (licensed almost everywhere), Netflix's originals are global but licensed titles are not,
# Prime Video's catalogue varies most between countries.
LICENSE_BASE: dict[str, float] = {"netflix": 0.55, "prime": 0.35, "disney": 0.85, "hulu": 0.0}


def region_code(name: str) -> str:
    """'uk' → 'GB', 'us' → 'US'. DataError unless a two-letter ISO 3166-1 code (or UK)."""
    code = str(name).strip().upper()
    if code == "UK":
        return "GB"
    import pycountry

    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise DataError(f"unknown region {name!r}: use an ISO 3166-1 alpha-2 code such as US, CA, GB")
    return code


class AvailabilityModel(Protocol):
    def rows(self, catalog: pd.DataFrame) -> pd.DataFrame:
        """DataFrame[entity_id, platform, region] for the titles of `catalog` (columns entity_id, platforms,
        countries)."""


class ModelledAvailability:
    """Seeded availability model (module docstring). Draws are made in entity_id order, so the same catalog
    and seed always give the same regions."""

    def __init__(self, regions: list[str] | tuple[str, ...], home_bonus: float = 0.3, seed: int = 42,
                 footprint: dict[str, tuple[str, ...]] | None = None,
                 license_base: dict[str, float] | None = None, catalog_home: str = CATALOG_HOME):
        self.regions = [region_code(r) for r in regions]
        self.home_bonus = home_bonus
        self.seed = seed
        self.footprint = footprint or FOOTPRINT
        self.license_base = license_base or LICENSE_BASE
        self.catalog_home = catalog_home

    def probabilities(self, platform: str, countries: list[str]) -> np.ndarray:
        """Licensing probability of one listed title in each of `self.regions` (why a title streams there)."""
        out = np.zeros(len(self.regions))
        foot = self.footprint[platform]
        for j, r in enumerate(self.regions):
            if r not in foot:
                continue
            if r == self.catalog_home:
                out[j] = 1.0
            else:
                out[j] = min(1.0, self.license_base[platform] + (self.home_bonus if r in countries else 0.0))
        return out

    def rows(self, catalog: pd.DataFrame) -> pd.DataFrame:
        cat = catalog.sort_values("entity_id", kind="stable")
        ent, plat, prob_rows = [], [], []
        for eid, platforms, countries in zip(cat["entity_id"], cat["platforms"], cat["countries"]):
            countries = list(countries) if countries is not None else []
            for p in platforms:
                if p not in self.footprint:
                    raise UnknownPlatformError(f"{eid}: unknown platform {p!r}; known: {', '.join(PLATFORMS)}")
                ent.append(eid)
                plat.append(p)
                prob_rows.append(self.probabilities(p, countries))
        if not ent:
            return pd.DataFrame({"entity_id": [], "platform": [], "region": []}, dtype=object)
        probs = np.vstack(prob_rows)
        draws = np.random.default_rng(self.seed).random(probs.shape)
        pair_idx, region_idx = np.nonzero(draws < probs)
        regions = np.asarray(self.regions, dtype=object)
        return pd.DataFrame({"entity_id": np.asarray(ent, dtype=object)[pair_idx],
                             "platform": np.asarray(plat, dtype=object)[pair_idx],
                             "region": regions[region_idx]})


class TableAvailability:
    """Availability read from a file (columns entity_id, platform, region): real data replaces the model."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def rows(self, catalog: pd.DataFrame) -> pd.DataFrame:
        if not self.path.exists():
            raise FileNotFoundError(f"availability table not found: {self.path}")
        df = pd.read_parquet(self.path) if self.path.suffix == ".parquet" else pd.read_csv(self.path)
        missing = {"entity_id", "platform", "region"} - set(df.columns)
        if missing:
            raise DataError(f"{self.path}: missing columns {sorted(missing)}")
        bad = sorted(set(df["platform"]) - set(PLATFORMS))
        if bad:
            raise UnknownPlatformError(f"{self.path}: unknown platforms {bad}; known: {', '.join(PLATFORMS)}")
        df = df[["entity_id", "platform", "region"]].copy()
        df["region"] = [region_code(r) for r in df["region"]]
        known = set(catalog["entity_id"])
        return df[df["entity_id"].isin(known)].drop_duplicates().reset_index(drop=True)


def make_availability(regions, home_bonus: float, seed: int, table: str | None = None) -> AvailabilityModel:
    """The table when one is configured (`hypergraph.availability`), the seeded model otherwise."""
    return TableAvailability(table) if table else ModelledAvailability(regions, home_bonus=home_bonus, seed=seed)
