"""pytest fixture: a real redis-server on 127.0.0.1 for the cache tests.
Skipped with a reason when redis-server is not installed outside CI; a failure in CI (CI=true)."""
from __future__ import annotations

import os

import pytest

from mgw.cache.redis_server import RedisServer, redis_server_binary

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def redis_url():
    if redis_server_binary() is None:
        msg = "redis-server is not installed (apt-get install redis-server); Redis L2 tests need a real server"
        if IN_CI:
            pytest.fail("CI=true but " + msg)
        pytest.skip(msg)
    with RedisServer() as url:
        yield url
