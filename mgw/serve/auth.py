"""JWT auth and the per-token rate limit (seed §6.1).

Tokens are HS256 JWTs with `sub` (the user) and a 1-hour `exp`; only HS256 is accepted, so `alg: none` and
tokens signed with another algorithm or key are rejected like missing or expired ones (401). The secret comes
from the environment variable named by `serve.jwt_secret_env`; without it each server process draws a random
secret, so only tokens it issued itself (`mgw serve` prints one) are valid."""
from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

import jwt

from mgw.errors import MgwError

ALGORITHM = "HS256"


class AuthError(MgwError):
    """A request without a valid token (HTTP 401)."""


class RateLimited(MgwError):
    """A token over its request budget (HTTP 429); `retry_after` in seconds."""

    def __init__(self, retry_after: float):
        super().__init__(f"rate limit exceeded; retry after {retry_after:.2f} s")
        self.retry_after = retry_after


def secret_from_env(name: str) -> str:
    return os.environ.get(name) or secrets.token_urlsafe(32)


@dataclass
class TokenAuth:
    """`verify` keeps the tokens whose signature it checked (bounded, per process): a client sends the same token
    on every request, and the HMAC + JSON decode was a third of the HTTP layer's own cost. A kept token is still
    refused once its `exp` passes; a forged one never gets in, since only verified tokens are kept."""
    secret: str
    ttl_s: float = 3600.0
    max_kept: int = 10_000
    _kept: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)

    def issue(self, user: str, ttl_s: float | None = None, now: float | None = None) -> str:
        now = time.time() if now is None else now
        exp = now + (self.ttl_s if ttl_s is None else ttl_s)
        return jwt.encode({"sub": user, "iat": int(now), "exp": int(exp)}, self.secret, algorithm=ALGORITHM)

    def verify(self, header: str | None) -> tuple[str, str]:
        """`Authorization` header value → (user, token); AuthError with the reason otherwise."""
        if not header:
            raise AuthError("missing bearer token (Authorization: Bearer <jwt>)")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization must be 'Bearer <jwt>'")
        token = token.strip()
        kept = self._kept.get(token)
        if kept is not None:
            if time.time() < kept[1]:
                return kept[0], token
            self._kept.pop(token, None)
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidTokenError as e:
            raise AuthError(f"invalid token: {e}") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 128:
            raise AuthError("invalid token: sub must be a user id of 1–128 characters")
        if len(self._kept) >= self.max_kept:
            self._kept.clear()  # bounded memory: kept tokens are only a shortcut
        self._kept[token] = (sub, float(claims["exp"]))
        return sub, token


class RateLimiter:
    """Token bucket per token: `rate` requests/s sustained, `burst` at once."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic, max_keys: int = 100_000):
        self.rate, self.burst, self.clock, self.max_keys = rate, burst, clock, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, token: str) -> None:
        key = hashlib.blake2b(token.encode(), digest_size=16).digest().hex()
        now = self.clock()
        with self._lock:
            level, last = self._buckets.get(key, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.rate)
            if level < 1.0:
                self._buckets[key] = (level, now)
                raise RateLimited((1.0 - level) / self.rate)
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory: forget idle buckets wholesale (they refill anyway)
            self._buckets[key] = (level - 1.0, now)
