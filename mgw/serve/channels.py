"""The output channels (seed §3.3.3): one search response, four renderings. Every channel renders the same
ranked list (the JSON response of `/api/search`), so the same query ranks the same way everywhere; the
channels differ only in page size, fields and encoding."""
from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from mgw.serve import search_pb2

PROTO_MEDIA_TYPE = "application/x-protobuf"
SSML_MEDIA_TYPE = "application/ssml+xml"
PLATFORM_NAMES = {"netflix": "Netflix", "prime": "Prime Video", "disney": "Disney Plus", "hulu": "Hulu"}
TV_COLUMNS = 6  # a TV grid row
TV_TITLE_CHARS = 32  # what fits a 10-foot tile


def to_proto(resp: dict[str, Any]) -> bytes:
    msg = search_pb2.SearchResponse(query=resp["query"])
    for r in resp["results"]:
        md = r["metadata"]
        msg.results.append(search_pb2.Result(
            id=r["id"], title=r["title"], description=r["description"] or "", score=r["score"],
            similarity=r.get("similarity", 0.0), type=md.get("type") or "", release_year=md.get("release_year") or 0,
            rating=md.get("rating") or "", genres=md.get("genres") or [],
            availability=[search_pb2.Availability(platform=a["platform"], available_regions=a["availableRegions"],
                                                  subscription=a["subscription"]) for a in r["availability"]],
            deep_links=r["deepLinks"]))
    p, m = resp["pagination"], resp["metadata"]
    msg.pagination.CopyFrom(search_pb2.Pagination(offset=p["offset"], limit=p["limit"], total=p["total"]))
    msg.metadata.CopyFrom(search_pb2.Metadata(latency_ms=m["latency_ms"], from_cache=m["from_cache"],
                                              model=m["model"]))
    return msg.SerializeToString()


def from_proto(data: bytes) -> search_pb2.SearchResponse:
    msg = search_pb2.SearchResponse()
    msg.ParseFromString(data)
    return msg


def to_tv(resp: dict[str, Any]) -> dict[str, Any]:
    """The JSON response plus 10-foot UI fields: grid position, a short display title, platform badges."""
    out = dict(resp)
    out["results"] = []
    for i, r in enumerate(resp["results"]):
        title = r["title"]
        short = title if len(title) <= TV_TITLE_CHARS else title[: TV_TITLE_CHARS - 1].rstrip() + "…"
        out["results"].append({**r, "tv": {"row": i // TV_COLUMNS, "col": i % TV_COLUMNS, "displayTitle": short,
                                            "badges": [PLATFORM_NAMES.get(a["platform"], a["platform"])
                                                       for a in r["availability"]],
                                            "poster": {"width": 342, "height": 513}}})
    out["layout"] = {"columns": TV_COLUMNS}
    return out


def _spoken(r: dict[str, Any]) -> str:
    md = r["metadata"]
    kind = "series" if md.get("type") == "series" else "movie"
    year = f"a {md['release_year']} {kind}" if md.get("release_year") else f"a {kind}"
    where = sorted({PLATFORM_NAMES.get(a["platform"], a["platform"]) for a in r["availability"]})
    on = f", on {' and '.join(where)}" if where else ""
    return f"{escape(r['title'])}, {year}{escape(on)}."


def to_ssml(resp: dict[str, Any], limit: int) -> str:
    """SSML with at most `limit` (≤ 3, seed §3.3.3) results, each one sentence."""
    top = resp["results"][:limit]
    q = escape(resp["query"])
    if not top:
        return f"<speak><p>I found nothing for {q}.</p></speak>"
    head = f"<p>Here {'is the top result' if len(top) == 1 else f'are the top {len(top)} results'} for {q}.</p>"
    body = "".join(f'<s><say-as interpret-as="ordinal">{i}</say-as> {_spoken(r)}</s><break time="300ms"/>'
                   for i, r in enumerate(top, 1))
    return f"<speak>{head}<p>{body}</p></speak>"
