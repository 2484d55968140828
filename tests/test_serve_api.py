"""`mgw serve` over a small demo catalog: channels agree, auth and limits answer 401/429/422 (never 5xx),
SSE streams, sessions with their result buffer, events change the next search, rollout flags, /metrics."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from mgw.serve import channels
from mgw.serve.app import create_app
from serve_helpers import SECRET, build_service

QUERY = "space comedies"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = build_service(tmp_path_factory.mktemp("serve"), prefetch_depth=2)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(svc):
    with TestClient(create_app(svc, start_background=False)) as c:
        c.headers["Authorization"] = f"Bearer {svc.auth.issue('alice')}"
        yield c


def ids(results):
    return [r["id"] for r in results]


# ------------------------------------------------------------------ channels (seed §3.3.1, §3.3.3)
def test_json_channel_has_the_seed_shape_with_pagination_and_debug(client):
    r = client.get("/api/search", params={"q": QUERY, "limit": 5, "debug": "true"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"query", "results", "pagination", "metadata", "debug"}
    assert body["pagination"]["limit"] == 5 and body["pagination"]["offset"] == 0 and len(body["results"]) == 5
    assert {"latency", "fromCache", "model"} <= set(body["metadata"])
    assert {"searchLatency", "rerankLatency", "cacheHit"} <= set(body["debug"])
    page2 = client.get("/api/search", params={"q": QUERY, "limit": 5, "offset": 5}).json()
    both = client.get("/api/search", params={"q": QUERY, "limit": 10}).json()
    assert ids(page2["results"]) == ids(both["results"])[5:]
    assert "debug" not in page2


def test_every_channel_ranks_the_same(client):
    web = ids(client.get("/api/search", params={"q": QUERY, "limit": 24}).json()["results"])
    tv = client.get("/api/tv/search", params={"q": QUERY}).json()
    proto = channels.from_proto(client.get("/api/v2/search", params={"q": QUERY, "limit": 24}).content)
    voice = client.get("/api/voice/search", params={"q": QUERY})
    assert len(tv["results"]) == 24 and ids(tv["results"]) == web  # the TV page is larger by default
    assert tv["results"][7]["tv"]["row"] == 1 and tv["results"][7]["tv"]["col"] == 1
    assert [r.id for r in proto.results] == web
    assert voice.headers["content-type"].startswith(channels.SSML_MEDIA_TYPE)
    titles = [client.get("/api/search", params={"q": QUERY, "limit": 3}).json()["results"][i]["title"]
              for i in range(3)]
    spoken = voice.text
    assert spoken.startswith("<speak>") and spoken.count("<s>") == 3
    assert [spoken.index(t.replace("&", "&amp;")) for t in titles] == sorted(spoken.index(t.replace("&", "&amp;"))
                                                                             for t in titles)


def test_protobuf_is_smaller_than_json_and_round_trips(client):
    j = client.get("/api/search", params={"q": QUERY, "limit": 20})
    p = client.get("/api/v2/search", params={"q": QUERY, "limit": 20})
    assert p.headers["content-type"] == channels.PROTO_MEDIA_TYPE
    msg = channels.from_proto(p.content)
    assert msg.pagination.limit == 20 and msg.results[0].title == j.json()["results"][0]["title"]
    assert len(p.content) < 0.8 * len(j.content)


def test_generated_protobuf_module_is_current(tmp_path):
    """The committed search_pb2.py describes exactly what search.proto says (compiled again here)."""
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    from mgw.config import ROOT
    from mgw.serve import search_pb2

    src = ROOT / "mgw" / "serve" / "proto"
    out = tmp_path / "set.pb"
    assert protoc.main(["protoc", f"-I{src}", f"--descriptor_set_out={out}", str(src / "search.proto")]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for msg in fresh.message_type:  # protoc adds json_name to descriptor sets; generated modules omit it
        for f in list(msg.field) + [f for nested in msg.nested_type for f in nested.field]:
            f.ClearField("json_name")
    committed = descriptor_pb2.FileDescriptorProto()
    search_pb2.DESCRIPTOR.CopyToProto(committed)
    assert fresh == committed


# ------------------------------------------------------------------ auth, limits (seed §6.1)
def _none_token(user: str) -> str:
    import base64

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': user, 'exp': int(time.time()) + 600})}."


@pytest.mark.parametrize("header", [
    None, "Bearer", "Basic abc", "Bearer not-a-jwt",
    "expired", "forged", "none", "hs512", "nosub"])
def test_bad_tokens_get_401(svc, client, header):
    tokens = {
        "expired": svc.auth.issue("alice", ttl_s=-10),
        "forged": jwt.encode({"sub": "alice", "exp": int(time.time()) + 600}, "another-secret-of-at-least-32-bytes!!", algorithm="HS256"),
        "none": _none_token("alice"),
        "hs512": jwt.encode({"sub": "alice", "exp": int(time.time()) + 600}, SECRET + "-long-enough-for-hs512" * 2,
                            algorithm="HS512"),
        "nosub": jwt.encode({"exp": int(time.time()) + 600}, SECRET, algorithm="HS256"),
    }
    value = f"Bearer {tokens[header]}" if header in tokens else header
    headers = {"Authorization": value} if value is not None else {}
    for path in ("/api/search?q=drama", "/api/v2/search?q=drama", "/api/search/stream?q=drama", "/metrics"):
        r = client.get(path, headers=headers) if headers else TestClient(client.app).get(path)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"


def test_tokens_expire_after_an_hour(svc):
    claims = jwt.decode(svc.auth.issue("bob"), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600


def test_a_kept_token_is_refused_once_it_expires():
    """verify keeps checked tokens (the HTTP layer's cost); the kept one still expires, a forged one is never kept."""
    from mgw.serve.auth import AuthError, TokenAuth

    a = TokenAuth(SECRET)
    exp = int(time.time()) + 1
    tok = jwt.encode({"sub": "carol", "iat": exp - 1, "exp": exp}, SECRET, algorithm="HS256")
    assert a.verify(f"Bearer {tok}") == ("carol", tok) and tok in a._kept
    assert a.verify(f"Bearer {tok}")[0] == "carol"  # from the kept entry
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(AuthError, match="expired"):
        a.verify(f"Bearer {tok}")
    assert tok not in a._kept
    forged = TokenAuth("another-secret-of-at-least-32-bytes!!").issue("carol")
    with pytest.raises(AuthError):
        a.verify(f"Bearer {forged}")
    assert forged not in a._kept


def test_responses_carry_server_timing(client):
    r = client.get("/api/search", params={"q": "drama"})
    assert r.status_code == 200 and r.headers["server-timing"].startswith("app;dur=")
    assert float(r.headers["server-timing"].split("dur=")[1]) > 0


def test_health_and_page_need_no_token(client):
    anon = TestClient(client.app)
    assert anon.get("/health").json()["status"] == "ok"
    assert "<form" in anon.get("/").text and anon.get("/static/page.js").status_code == 200


def test_rate_limit_is_per_token(svc, client):
    from mgw.serve.auth import RateLimiter

    saved = svc.limiter
    svc.limiter = RateLimiter(rate=0.001, burst=3)
    try:
        h1 = {"Authorization": f"Bearer {svc.auth.issue('carol')}"}
        codes = [client.get("/api/search", params={"q": "drama"}, headers=h1).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = client.get("/api/search", params={"q": "drama"}, headers=h1)
        assert r.json()["error"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        h2 = {"Authorization": f"Bearer {svc.auth.issue('dave')}"}
        assert client.get("/api/search", params={"q": "drama"}, headers=h2).status_code == 200
    finally:
        svc.limiter = saved


@pytest.mark.parametrize("params,where", [
    ({"q": "x" * 257}, "q"), ({"q": ""}, "q"), ({"q": " \t "}, "pattern"), ({}, "q"),
    ({"q": "drama", "limit": 51}, "limit"), ({"q": "drama", "limit": 0}, "limit"),
    ({"q": "drama", "offset": 1001}, "offset"), ({"q": "drama", "offset": -1}, "offset"),
    ({"q": "drama", "limit": "ten"}, "limit"), ({"q": "drama", "session": "../../etc"}, "session")])
def test_input_limits_get_422_with_a_clear_message(client, params, where):
    for path in ("/api/search", "/api/v2/search", "/api/tv/search", "/api/search/stream"):
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, params, r.text)
        assert r.json()["error"] == "invalid_input" and where in json.dumps(r.json()["detail"])


# ------------------------------------------------------------------ streaming (seed §3.3.2)
def parse_sse(text: str) -> list[tuple[str, str]]:
    out = []
    for frame in text.split("\n\n"):
        lines = frame.split("\n")
        if frame.startswith(":"):
            out.append(("comment", frame[1:].strip()))
            continue
        ev = next((x[7:] for x in lines if x.startswith("event: ")), None)
        data = "".join(x[6:] for x in lines if x.startswith("data: "))
        if ev:
            out.append((ev, data))
    return out


def test_stream_sends_one_event_per_result_then_complete(client):
    web = ids(client.get("/api/search", params={"q": QUERY, "limit": 7}).json()["results"])
    r = client.get("/api/search/stream", params={"q": QUERY, "limit": 7})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in parse_sse(r.text) if e[0] != "comment"]
    assert [e[0] for e in events] == ["result"] * 7 + ["complete"]
    assert [json.loads(d)["id"] for _, d in events[:-1]] == web
    assert json.loads(events[-1][1])["count"] == 7


def test_stream_sends_heartbeats_while_waiting(svc, client):
    saved = svc.params.serve.heartbeat_s
    app = create_app(svc, start_background=False)
    svc.params.serve.heartbeat_s = 0.05
    try:
        with TestClient(create_app(svc, start_background=False)) as c:
            r = c.get("/api/search/stream", params={"q": QUERY, "limit": 2, "delay_ms": 200},
                      headers=client.headers)
        beats = [e for e in parse_sse(r.text) if e == ("comment", "heartbeat")]
        assert len(beats) >= 4 and parse_sse(r.text)[-1][0] == "complete"
    finally:
        svc.params.serve.heartbeat_s = saved
    del app


# ------------------------------------------------------------------ sessions + result buffer (seed §3.4.2, §4.1)
def test_session_state_and_result_buffer(svc, client):
    s = client.post("/api/sessions", json={"device": "laptop", "interface": "web"}).json()
    sid = s["sessionId"]
    first = client.get("/api/search", params={"q": QUERY, "limit": 5, "session": sid}).json()
    assert first["metadata"]["from_buffer"] is False
    # prefetchDepth 2: pages 2 and 3 come from the session's buffer, page 4 does not
    p2 = client.get("/api/search", params={"q": QUERY, "limit": 5, "offset": 5, "session": sid}).json()
    p3 = client.get("/api/search", params={"q": QUERY, "limit": 5, "offset": 10, "session": sid}).json()
    p4 = client.get("/api/search", params={"q": QUERY, "limit": 5, "offset": 15, "session": sid}).json()
    assert [p["metadata"]["from_buffer"] for p in (p2, p3, p4)] == [True, True, False]
    direct = ids(client.get("/api/search", params={"q": QUERY, "limit": 20}).json()["results"])
    assert ids(first["results"]) + ids(p2["results"]) + ids(p3["results"]) + ids(p4["results"]) == direct
    for i in range(12):
        client.get("/api/search", params={"q": f"drama {i}", "limit": 3, "session": sid})
    st = client.get(f"/api/sessions/{sid}").json()
    assert st["state"]["currentQuery"] == "drama 11"
    assert st["state"]["searchHistory"] == [f"drama {i}" for i in range(11, 1, -1)]  # the last 10
    assert st["state"]["pagination"] == {"currentPage": 0, "resultsPerPage": 3}
    other = {"Authorization": f"Bearer {svc.auth.issue('mallory')}"}
    assert client.get(f"/api/sessions/{sid}", headers=other).status_code == 404
    assert client.get("/api/search", params={"q": "drama", "session": sid}, headers=other).status_code == 404


def test_session_ttl_is_one_hour_in_redis(svc, client):
    sid = client.post("/api/sessions", json={"device": "tv", "interface": "tv"}).json()["sessionId"]
    ttl = svc.sessions.redis.ttl(f"mgw:session:{sid}")
    assert 3590 <= ttl <= 3600


# ------------------------------------------------------------------ events change the next search (seed §4.3.2)
def test_events_update_preferences_and_invalidate_the_users_cache(svc, client):
    h = {"Authorization": f"Bearer {svc.auth.issue('erin')}"}
    q = "stories"
    before = client.get("/api/search", params={"q": q, "limit": 10}, headers=h).json()
    assert client.get("/api/search", params={"q": q, "limit": 10}, headers=h).json()["metadata"]["fromCache"]
    genres_of = {eid: f.genres for eid, f in svc.searchers["default"].pipe.fragments.by_id.items()}
    target = "horror"
    watched = [e for e, g in genres_of.items() if target in g][:5]
    r = client.post("/api/events", json={"events": [{"contentId": e, "action": "watch", "minutes": 90}
                                                     for e in watched] +
                                         [{"contentId": watched[0], "action": "rate", "rating": 5}]}, headers=h)
    assert r.status_code == 202 and r.json() == {"accepted": 6}
    svc.events.flush()
    assert svc.users.get("erin").favorite_weights[target] > 0.3
    after = client.get("/api/search", params={"q": q, "limit": 10}, headers=h).json()
    assert after["metadata"]["fromCache"] is False  # the user's entries were invalidated
    share = lambda resp: sum(target in genres_of[r["id"]] for r in resp["results"])  # noqa: E731
    assert share(after) > share(before)
    bad = client.post("/api/events", json={"events": [{"contentId": "nope", "action": "watch"}]}, headers=h)
    assert bad.status_code == 404 and "unknown contentId" in bad.json()["detail"]
    norating = client.post("/api/events", json={"events": [{"contentId": watched[0], "action": "rate"}]}, headers=h)
    assert norating.status_code == 422 and "rating" in json.dumps(norating.json()["detail"])
    assert client.post("/api/events", json={"events": [{"contentId": watched[0], "action": "like"}]},
                       headers=h).status_code == 422


# ------------------------------------------------------------------ flags and rollout (seed §4.2.2)
def test_rollout_by_salted_hash_and_metadata_model(tmp_path):
    from mgw.search.rerankers import UtilityReranker
    from mgw.serve.flags import Flags

    f = Flags({"gat": 0.1}, "salt-a")
    users = [f"user-{i}" for i in range(5000)]
    on = [u for u in users if f.enabled("gat", u)]
    assert 0.08 < len(on) / len(users) < 0.12
    assert on == [u for u in users if f.enabled("gat", u)]  # stable
    assert set(on) <= {u for u in users if Flags({"gat": 0.3}, "salt-a").enabled("gat", u)}  # grows monotonically
    assert set(on) != {u for u in users if Flags({"gat": 0.1}, "salt-b").enabled("gat", u)}  # salted

    class Treatment(UtilityReranker):
        version = "gat-test-2"

    import os

    from mgw.serve.service import Service
    from serve_helpers import serve_params

    os.environ.setdefault("MGW_STORE_KEY", "11" * 32)
    params = serve_params(tmp_path, rollout={"gat": 0.5})
    from mgw.serve.demo import demo_pipeline

    pipe = demo_pipeline(params, 200)
    svc = Service.build(params, pipeline=pipe, models={"default": UtilityReranker(pipe.store),
                                                       "gat": Treatment(pipe.store)},
                        store_root=tmp_path / "store", secret=SECRET)
    with TestClient(create_app(svc, start_background=False)) as c:
        for u in ("u1", "u2", "u3", "u4", "u5", "u6"):
            md = c.get("/api/search", params={"q": "drama"},
                       headers={"Authorization": f"Bearer {svc.auth.issue(u)}"}).json()["metadata"]
            want = svc.flags.enabled("gat", u)
            assert md["flags"] == {"gat": want}
            assert md["model"] == ("gat-test-2" if want else "utility-v1") and md["variant"] == ("gat" if want else "default")


# ------------------------------------------------------------------ observability
def test_metrics_are_prometheus_text_that_alert_rules_evaluate(client):
    from prometheus_client.parser import text_string_to_metric_families

    from mgw.sim.monitoring import AlertRule, evaluate

    for _ in range(3):
        client.get("/api/search", params={"q": "thrillers", "limit": 3})
    client.get("/api/v2/search", params={"q": "thrillers"})
    client.get("/api/search/stream", params={"q": "thrillers", "limit": 2})
    text = client.get("/metrics").text
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"mgw_request_seconds", "mgw_requests", "mgw_sse_connections", "mgw_cache_hit_ratio"} <= set(fams)
    channels_seen = {s.labels["channel"] for s in fams["mgw_request_seconds"].samples}
    assert {"web", "mobile", "stream"} <= channels_seen
    hit = [s.value for s in fams["mgw_cache_hit_ratio"].samples if s.labels["level"] == "L1"]
    assert hit and 0 < max(hit) <= 1
    series = [(0.0, max(hit)), (60.0, max(hit)), (120.0, max(hit))]  # three scrapes of the live value
    assert evaluate(AlertRule("cache cold", "hit", "<", 0.01, 60_000), series) == []
    fired = evaluate(AlertRule("cache serving", "hit", ">", 0.0, 60_000), series)
    assert len(fired) == 1 and fired[0].fired_at == 60.0
