"""The same hypergraph in XGI, the reference library: oracle of the differential tests and the baseline of the
benchmark. Queries are answered with XGI's own operations (node memberships, edge members, attribute
filters) and Python set algebra, the way a user of the library would write them."""
from __future__ import annotations

import numpy as np
import xgi

from mgw.config import PLATFORMS
from mgw.hypergraph.expr import Expr
from mgw.hypergraph.store import TYPES, HypergraphStore


class XgiReference:
    """Built from a HypergraphStore's arrays so both answer over identical data. Node names: entity ids,
    `platform:<p>`, `region:<r>`, `genre:<g>`; title attributes: type, year, rating."""

    def __init__(self, store: HypergraphStore):
        H = xgi.Hypergraph()
        ids = store.ids
        H.add_nodes_from((eid, {"kind": "title", "type": TYPES[t], **({"year": int(y)} if y else {}),
                                **({"rating": r} if r is not None else {})})
                         for eid, t, y, r in zip(ids, store.types, store.years, store.ratings))
        H.add_nodes_from([f"platform:{p}" for p in PLATFORMS] + [f"region:{r}" for r in store.regions]
                         + [f"genre:{g}" for g in store.genres], kind="label")
        edges = {}
        for e, (t, p, mask) in enumerate(zip(store.edge_title, store.edge_platform, store.edge_regions)):
            m = int(mask)
            edges[f"availability-{e}"] = [ids[t], f"platform:{PLATFORMS[p]}",
                                          *[f"region:{r}" for j, r in enumerate(store.regions) if m >> j & 1]]
        for c, g in enumerate(store.genres):
            edges[f"genre-{g}"] = [f"genre:{g}", *ids[store.genre_title[store.genre_code == c]]]
        H.add_edges_from(edges)
        self.H = H
        self.regions = list(store.regions)
        self.universe = set(H.nodes.filterby_attr("kind", "title"))

    def _edge_titles(self, edge_ids) -> set:
        members = self.H.edges.members
        return {n for e in edge_ids for n in members(e) if not n.startswith(("platform:", "region:", "genre:"))}

    def _memberships(self, node: str) -> set:
        return self.H.nodes.memberships(node) if node in self.H.nodes else set()

    def evaluate(self, expr: Expr) -> set:
        op = expr[0]
        if op == "and":
            out = self.evaluate(expr[1])
            for child in expr[2:]:
                out = out & self.evaluate(child)
            return out
        if op == "or":
            out = set()
            for child in expr[1:]:
                out = out | self.evaluate(child)
            return out
        if op == "not":
            return self.universe - self.evaluate(expr[1])
        if op == "all":
            return set(self.universe)
        if op == "avail":
            return self._edge_titles(self._memberships(f"platform:{expr[1]}") & self._memberships(f"region:{expr[2]}"))
        if op == "platform":
            return self._edge_titles(self._memberships(f"platform:{expr[1]}"))
        if op == "region":
            return self._edge_titles(self._memberships(f"region:{expr[1]}"))
        if op == "genre":
            return self._edge_titles(self._memberships(f"genre:{expr[1]}"))
        if op == "type":
            return set(self.H.nodes.filterby_attr("type", expr[1]))
        if op == "rating":
            return set(self.H.nodes.filterby_attr("rating", expr[1]))
        if op == "year":
            lo, hi = expr[1], expr[2]
            nodes = self.H.nodes.filterby_attr("year", -10**9, "geq")  # titles with a known year
            if lo is not None:
                nodes = nodes.filterby_attr("year", lo, "geq")
            if hi is not None:
                nodes = nodes.filterby_attr("year", hi, "leq")
            return set(nodes)
        raise ValueError(f"unknown expression {expr!r}")

    def query(self, expr: Expr) -> np.ndarray:
        return np.array(sorted(self.evaluate(expr)), dtype=object)
