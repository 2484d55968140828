"""Start a throw-away `redis-server` on 127.0.0.1 (tests and `mgw cache bench` when no URL is configured).
No persistence, a free port, stopped on exit."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or shutil.which("valkey-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """`with RedisServer() as url:` → a running server's redis:// URL."""

    def __init__(self, binary: str | None = None, startup_timeout_s: float = 10.0):
        self.binary = binary or redis_server_binary()
        if not self.binary:
            raise FileNotFoundError("redis-server (or valkey-server) is not installed (apt-get install redis-server)")
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        import redis

        self._dir = tempfile.TemporaryDirectory(prefix="mgw-redis-")
        for _ in range(3):  # the port can be taken between choosing and binding
            port = _free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self._dir.name, "--protected-mode", "yes"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + self.startup_timeout_s
            client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    client.ping()
                    self.url = f"redis://127.0.0.1:{port}/0"
                    client.close()
                    return self.url
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            client.close()
            self.stop()
        raise RuntimeError(f"could not start {self.binary}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._dir.cleanup()
