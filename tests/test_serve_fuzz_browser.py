"""The live server (uvicorn on 127.0.0.1) under schemathesis — generated requests from the OpenAPI schema, every
check on, no 5xx and no schema violation — and the search page in Debian's headless chromium: type a query,
see results streamed over SSE with availability per platform and region, open page 2."""
from __future__ import annotations

import os

import pytest

from mgw.serve.app import create_app
from mgw.serve.bench import fuzz_run, server_counts
from mgw.serve.browser import browser_paths, chromium, search_in_page
from serve_helpers import build_service, live_server

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FUZZ_EXAMPLES = int(os.environ.get("MGW_FUZZ_EXAMPLES", "5"))  # per operation; the bench stage runs more
FUZZ_PHASES = os.environ.get("MGW_FUZZ_PHASES", "examples,fuzzing")  # + coverage,stateful in the bench stage


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    svc = build_service(tmp_path_factory.mktemp("live"), demo_titles=300)
    with live_server(create_app(svc)) as base:
        yield svc, base


def test_schemathesis_finds_no_5xx_and_no_schema_violation(live):
    svc, base = live
    token = svc.auth.issue("fuzzer")
    out = fuzz_run(base, token, FUZZ_EXAMPLES, lambda: server_counts(base, token), FUZZ_PHASES)
    assert out["fuzz_5xx"] == 0, out["output_tail"]
    assert out["exit_code"] == 0, out["output_tail"]  # every check passed (status codes, content types, schemas)
    assert out["fuzz_requests"] >= 5 * FUZZ_EXAMPLES


def test_openapi_links_chain_sessions_and_events(live):
    """The stateful fuzz phase follows these links: every link names an operation of the schema, and each
    parameter it fills is one that operation takes (a renamed route or parameter would silently leave the
    fuzzer on random ids and 404s again)."""
    import httpx

    svc, base = live
    schema = httpx.get(f"{base}/openapi.json").json()
    ops = {o["operationId"]: o for path in schema["paths"].values() for o in path.values()}
    links = {name: link for o in ops.values() for r in o["responses"].values() for name, link in r.get("links", {}).items()}
    assert {"GetSession", "PatchSession", "SearchInSession", "ClickFirstResult"} <= set(links)
    for name, link in links.items():
        target = ops[link["operationId"]]
        params = {p["name"] for p in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= params, name
        assert "requestBody" not in link or "requestBody" in target, name
    h = {"Authorization": f"Bearer {svc.auth.issue('linker')}"}
    r = httpx.post(f"{base}/api/sessions", json={"device": "phone"}, headers=h)
    assert r.status_code == 201 and httpx.get(base + r.headers["location"], headers=h).status_code == 200


def test_search_page_in_headless_chromium(live):
    if browser_paths() is None:
        msg = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail("CI=true but " + msg)
        pytest.skip(msg)
    svc, base = live
    token = svc.auth.issue("browser-user")
    with chromium() as driver:
        got = search_in_page(driver, base, token, "comedies")
    import httpx

    api = httpx.get(f"{base}/api/search", params={"q": "comedies", "limit": 20},
                    headers={"Authorization": f"Bearer {token}"}).json()
    want = [r["id"] for r in api["results"]]
    assert got["page1"] == want[:10] and got["page2"] == want[10:20]
    assert got["label1"].startswith("page 1 of") and got["label2"].startswith("page 2 of")
    assert got["platforms"] and all(p.split(":")[0] in {"netflix", "prime", "disney", "hulu"} for p in got["platforms"])
    assert all(len(p.split(": ")[1]) >= 2 for p in got["platforms"])  # the regions of each platform are listed
    assert api["pagination"]["total"] > 20
