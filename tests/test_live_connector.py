"""The live feed connector against a real HTTP server on 127.0.0.1 that injects 500s, timeouts and bad rows."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mgw.data.connectors.live import FeedError, LiveFeedConnector, TokenBucket, parse_feed
from mgw.data.rows import normalize_record
from mgw.data.schema import Rejection

HEADER = "show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description,OTT\n"
CSV = HEADER + ('s1,Movie,Heat,Michael Mann,,United States,25-Sep-21,1995,R,170 min,Dramas,"Cops, robbers",Netflix\n'
                's2,Movie,,,,,,19x5,R,1 min,Dramas,no title,Netflix\n'
                's3,TV Show,Dark,,,Germany,1-Dec-20,2017,TV-MA,3 Seasons,"TV Dramas, TV Mysteries",Time,Netflix,EXTRA\n')


class Feed:
    """Script of responses: each request pops the next action ('500', 'sleep', 'ok', 'json', '404')."""

    def __init__(self):
        self.script: list[str] = []
        self.hits = 0
        self.version = 1


def serve(feed: Feed):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            feed.hits += 1
            action = feed.script.pop(0) if feed.script else "ok"
            if action == "sleep":
                time.sleep(0.6)
                action = "ok"
            if action in ("500", "503", "404"):
                self.send_response(int(action))
                self.end_headers()
                return
            if action == "json":
                body, ctype = json.dumps([{"show_id": "j1"}]), "application/json"
            else:
                body, ctype = CSV.replace("Heat", f"Heat v{feed.version}"), "text/csv"
            data = body.encode()
            self.send_response(200)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def feed():
    f = Feed()
    server = serve(f)
    f.url = f"http://127.0.0.1:{server.server_address[1]}/netflix.csv"
    yield f
    server.shutdown()


def connector(feed, **kw):
    args = dict(rate_limit=1000, max_retries=3, backoff_base_s=0.01, timeout_s=0.3, seed=1)
    return LiveFeedConnector("netflix", feed.url, **(args | kw))


def test_retries_500s_and_timeouts_then_succeeds(feed):
    feed.script = ["500", "sleep", "503"]
    c = connector(feed)
    records = c.fetch_records()
    assert feed.hits == 4 and c.stats["retries"] == 3 and len(records) == 3
    outs = [normalize_record("netflix", n, r, feed.url) for n, r in records]
    assert outs[0].title == "Heat v1"
    assert isinstance(outs[1], Rejection) and outs[1].row == 2 and "empty title" in outs[1].reason
    assert isinstance(outs[2], Rejection) and "too many fields" in outs[2].reason


def test_gives_up_after_max_retries_and_does_not_retry_4xx(feed):
    feed.script = ["500"] * 10
    with pytest.raises(FeedError, match="after 3 attempts"):
        connector(feed, max_retries=2).fetch()
    feed.script = ["404"]
    feed.hits = 0
    with pytest.raises(FeedError, match="HTTP 404"):
        connector(feed).fetch()
    assert feed.hits == 1


def test_cache_first_serves_fresh_copy_without_request(feed):
    c = connector(feed, cache_policy="cache-first", refresh_interval_ms=60_000)
    c.fetch()
    c.fetch()
    assert feed.hits == 1 and c.stats["served_from_cache"] == 1


def test_network_first_falls_back_to_cache(feed):
    c = connector(feed, cache_policy="network-first", max_retries=0)
    c.fetch()
    feed.script = ["500"]
    assert "Heat v1" in c.fetch().body and c.stats["served_from_cache"] == 1


def test_stale_while_revalidate_serves_stale_then_refreshes(feed):
    now = [0.0]
    c = connector(feed, cache_policy="stale-while-revalidate", refresh_interval_ms=1000, clock=lambda: now[0])
    assert "Heat v1" in c.fetch().body
    feed.version = 2
    now[0] = 5.0  # stale
    assert "Heat v1" in c.fetch().body  # served at once, refresh in the background
    c.wait_for_refresh()
    assert "Heat v2" in c.fetch().body and c.stats["background_refreshes"] == 1


def test_json_feed_and_bad_json():
    assert parse_feed('[{"show_id": "a"}, 3]', "application/json") == [(1, {"show_id": "a"}), (2, {"_value": 3})]
    with pytest.raises(Exception, match="not valid JSON"):
        parse_feed("[{", "application/json")


def test_token_bucket_spaces_requests():
    now, slept = [0.0], []

    def sleep(s):
        slept.append(s)
        now[0] += s

    bucket = TokenBucket(rate=4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.acquire()
    assert now[0] == pytest.approx(1.0) and len(slept) == 4
