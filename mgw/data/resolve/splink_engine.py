"""splink — Fellegi–Sunter on DuckDB — with the same blocking and comparisons as mgw's engine: the anchor.

Trained the way splink is meant to be used, without labels: the prior from deterministic rules, u from random
pairs, m by expectation maximisation in two sessions (blocked on title, then on year and runtime, so every
comparison is estimated in one of them). The blocking rules are the SQL form of mgw.data.resolve.blocking,
so the saved model (`settings()`) runs unchanged on Spark (`splink.SparkAPI`) for catalogs beyond one machine.
`match_weights` re-applies the trained m/u to mgw's comparison vectors — identical to splink's own predictions
on blocked pairs (tested), and usable for labelled pairs that blocking never proposes.
"""
from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import pandas as pd

from mgw.data.resolve.comparisons import COMPARISONS, Comparison, configure

CROSS_PLATFORM = "l.platform <> r.platform"
BLOCKING_SQL = (f"l.title_squash = r.title_squash AND {CROSS_PLATFORM}",
                f"l.block_tokens = r.block_tokens AND {CROSS_PLATFORM}")  # block_tokens exploded
PRIOR_RULE = f"l.title_norm = r.title_norm AND l.release_year = r.release_year AND {CROSS_PLATFORM}"
EM_RULES = (f"l.title_key = r.title_key AND {CROSS_PLATFORM}",
            f"l.release_year = r.release_year AND l.duration_min = r.duration_min AND {CROSS_PLATFORM}")


def _comparison(c: Comparison) -> Any:
    import splink.comparison_library as cl

    levels = [{"sql_condition": lv.sql, "label_for_charts": lv.label, **({"is_null_level": True} if lv.is_null else {})}
              for lv in c.levels]
    return cl.CustomComparison(comparison_levels=levels, output_column_name=c.name, comparison_description=c.description)


def settings(prior: float = 1e-4) -> Any:
    from splink import SettingsCreator
    from splink.blocking_rule_library import CustomRule

    return SettingsCreator(
        link_type="dedupe_only", comparisons=[_comparison(c) for c in COMPARISONS],
        blocking_rules_to_generate_predictions=[CustomRule(BLOCKING_SQL[0]),
                                                CustomRule(BLOCKING_SQL[1], arrays_to_explode=["block_tokens"])],
        probability_two_random_records_match=prior, additional_columns_to_retain=["platform"])


class SplinkEngine:
    def __init__(self, seed: int = 0, u_max_pairs: float = 2e6, prior_recall: float = 0.7, threads: int = 2):
        self.seed, self.u_max_pairs, self.prior_recall, self.threads = seed, u_max_pairs, prior_recall, threads
        self.linker: Any = None
        self.threshold = 0.5

    def fit(self, listings: Any, match_pairs: pd.DataFrame | None = None) -> "SplinkEngine":
        """Train on the listing table. With `match_pairs` (unique_id_l, unique_id_r of known matches), m comes
        from those labels instead of expectation maximisation."""
        import duckdb
        from splink import DuckDBAPI, Linker
        from splink.blocking_rule_library import CustomRule
        from splink.internals.exceptions import SplinkException

        logging.getLogger("splink").setLevel(logging.ERROR)  # its per-level notes would flood the stage log
        con = duckdb.connect()
        configure(con, self.threads)
        con.execute(f"SELECT setseed({(self.seed % 1000) / 1000})").fetchall()
        db = DuckDBAPI(connection=con)
        table = db.register(listings.drop(["row"]), table_name="mgw_listings")
        self.linker = Linker(table, settings(), log_level=None)
        tr = self.linker.training
        tr.estimate_probability_two_random_records_match([CustomRule(PRIOR_RULE)], recall=self.prior_recall)
        tr.estimate_u_using_random_sampling(max_pairs=self.u_max_pairs, seed=self.seed)
        self.em_sessions = {}
        if match_pairs is not None:
            labels = match_pairs.assign(source_dataset_l="mgw_listings", source_dataset_r="mgw_listings")
            tr.estimate_m_from_pairwise_labels(db.register(labels, table_name="mgw_match_labels"))
            return self
        for rule in EM_RULES:
            before = copy.deepcopy(self.linker._settings_obj)
            try:
                tr.estimate_parameters_using_expectation_maximisation(CustomRule(rule), max_pairs=None)
                self.em_sessions[rule] = "trained"
            except (ValueError, SplinkException) as err:  # a level no blocked pair reaches (small catalogs)
                self.linker._settings_obj = before  # a failed session leaves its comparisons half-removed
                self.em_sessions[rule] = f"skipped: {str(err)[:160]}"
        return self

    def predict(self) -> pd.DataFrame:
        """splink's predictions over its own blocked pairs: unique_id_l/_r, match_weight, match_probability."""
        df = self.linker.inference.predict().as_pandas_dataframe()
        return df[["unique_id_l", "unique_id_r", "match_weight", "match_probability"]]

    def parameters(self) -> dict[str, Any]:
        """The trained model as splink writes it (settings with m/u per level); loadable by splink anywhere."""
        return self.linker.misc.save_model_to_json()

    def log2_bayes_factors(self) -> dict[str, np.ndarray]:
        """comparison → log2(m/u) per level in mgw's level order (0 for the null level), as splink scores them."""
        by_name = {c.output_column_name: c for c in self.linker._settings_obj.comparisons}
        return {c.name: np.array([lv._log2_bayes_factor for lv in by_name[c.name].comparison_levels])
                for c in COMPARISONS}

    def prior(self) -> float:
        return float(self.linker._settings_obj._probability_two_random_records_match)

    def match_weights(self, gammas: pd.DataFrame) -> np.ndarray:
        """Fellegi–Sunter match weight (log2 odds) of mgw comparison vectors under splink's trained parameters."""
        prior = self.prior()
        w = np.full(len(gammas), np.log2(prior / (1 - prior)))
        for name, bf in self.log2_bayes_factors().items():
            w += bf[gammas[name].to_numpy()]
        return w

    def predict_proba(self, gammas: pd.DataFrame) -> np.ndarray:
        from scipy.special import expit

        return expit(self.match_weights(gammas) * np.log(2.0))
