"""The search pipeline behind the multi-level cache (seed §2.4.1)."""
from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

from mgw.query import parse as parse_query
from mgw.search.pipeline import SearchPipeline, check_page, public_response


class CachedSearch:
    """The search pipeline behind the multi-level cache (seed §2.4.1): the parsed facets and the user are the
    key (never the raw string, so "on Netflix" and "not on Netflix" cannot share an entry), the pipeline is
    L3, and the whole reranked candidate list is cached, so every page of one query is served from one entry.
    """

    def __init__(self, pipe: SearchPipeline, cache_params: Any, **cache_kw: Any):
        from mgw.cache.tiered import build_cache

        self.pipe = pipe
        self.cache = build_cache(cache_params, self._compute, **cache_kw)
        self._local = threading.local()  # the raw query string of the call in progress, per thread

    def _compute(self, request: Any) -> dict[str, Any]:
        # a refresh-ahead runs on the cache's own thread, where no call is in progress: the parsed text stands in
        query = getattr(self._local, "query", None) or request.parsed.get("text") or ""
        full = self.pipe.search(query, user=request.user, k=self.pipe.candidates,
                                parsed=request.parsed, explain=True)
        return json.loads(json.dumps(public_response(full), default=float))

    def search(self, query: str, user: str | None = None, k: int | None = None, offset: int = 0,
               explain: bool = False) -> dict[str, Any]:
        k = self.pipe.k if k is None else k
        check_page(k, offset)
        k, offset = int(k), int(offset)
        t0 = time.perf_counter()
        parsed = parse_query(query)
        self._local.query = query
        hit = self.cache.get(parsed, user)
        value = hit.value  # the whole candidate list: copy only the page (callers may mutate what they get)
        resp = {key: copy.deepcopy(v) for key, v in value.items() if key != "results"}
        resp["query"] = query
        resp["results"] = copy.deepcopy(value["results"][offset:offset + k])
        resp["pagination"] = {"offset": offset, "limit": k, "total": resp["pagination"]["total"]}
        from_cache = hit.level != "L3"
        resp["metadata"].update(from_cache=from_cache, cache_level=hit.level,
                                latency_ms=round((time.perf_counter() - t0) * 1e3, 3))
        debug = resp.pop("debug", {})
        if explain:
            resp["debug"] = {**debug, "cacheHit": from_cache,
                             "cache_ms": {s: round(v * 1e3, 4) for s, v in hit.timings_s.items()}}
        return resp
