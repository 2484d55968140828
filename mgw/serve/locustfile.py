"""The locust side of `mgw serve bench`, run as `python -m mgw.serve.locustfile SETTINGS_JSON` in a child process:
locust patches the standard library with gevent on import, so nothing else in mgw imports this module.
One closed-loop user (`SearchUser`): `GET /api/search` with the next query of its list, no think time. Locust is
used as a library (Environment + local runner, the documented way): all users start at once, stats are reset
after `warm_s`, and the measured window is exactly `seconds` long; the summary goes to stdout as JSON."""
from __future__ import annotations

import itertools
import json
import sys
import time

from locust import FastHttpUser, constant, task

SETTINGS: dict = {"tokens": [""], "queries": ["thrillers"]}
_IDS = itertools.count()


class SearchUser(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        n = next(_IDS)
        tokens, queries = SETTINGS["tokens"], SETTINGS["queries"]
        self.headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        k = n % len(queries)
        self.queries = itertools.cycle(queries[k:] + queries[:k])

    @task
    def search(self) -> None:
        self.client.get("/api/search", params={"q": next(self.queries), "limit": "10"}, headers=self.headers,
                        name="/api/search")


def main(settings: dict) -> dict:
    import gevent
    from locust.env import Environment

    SETTINGS.update(settings)
    SearchUser.host = settings["host"]
    env = Environment(user_classes=[SearchUser])
    runner = env.create_local_runner()
    users = int(settings["users"])
    runner.start(users, spawn_rate=max(users, 1))
    gevent.sleep(float(settings.get("warm_s", 0.5)))
    env.stats.reset_all()
    t0 = time.perf_counter()
    gevent.sleep(float(settings["seconds"]))
    total = env.stats.total
    window = time.perf_counter() - t0
    out = {"requests": total.num_requests, "failures": total.num_failures, "seconds": round(window, 3),
           "qps": round(total.num_requests / window, 1),
           "p50_ms": total.get_response_time_percentile(0.5), "p95_ms": total.get_response_time_percentile(0.95),
           "p99_ms": total.get_response_time_percentile(0.99), "mean_ms": round(total.avg_response_time, 3),
           "errors": {str(e.error): e.occurrences for e in env.stats.errors.values()}}
    runner.quit()
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
