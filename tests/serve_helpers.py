"""Shared pieces of the serving tests: a small demo service, a TestClient with a token, a live uvicorn server
in a thread (for SSE disconnects, the browser and the fuzzer's network path)."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mgw.config import load_params

SECRET = "test-secret-for-mgw-serve-0123456789abcdef"


def serve_params(tmp: Path, **serve: Any):
    base = {"demo_titles": 400, "sql_url": f"sqlite:///{tmp / 'sessions.db'}", "checkpoint_s": 3600,
            "rate_per_s": 1000.0, "rate_burst": 1000, "events_interval_s": 3600, "heartbeat_s": 15.0}
    base.update(serve)
    return load_params(overrides={"serve": base, "store": {"root": str(tmp / "store"), "key_file": None}},
                       environ={"MGW_STORE_KEY": "11" * 32})


def build_service(tmp: Path, redis: Any = None, **serve: Any):
    import os

    from mgw.serve.service import Service

    os.environ.setdefault("MGW_STORE_KEY", "11" * 32)
    params = serve_params(tmp, **serve)
    return Service.build(params, store_root=tmp / "store", redis=redis, secret=SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app):
    """uvicorn serving `app` on 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(timeout=10)
