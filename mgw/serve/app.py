"""The HTTP surface (FastAPI): channels, SSE stream, sessions, events, metrics, the search page.

Every endpoint but `/health`, `/` and `/static/*` needs a bearer JWT. Bad input gets a typed answer, never a
5xx: FastAPI's 422 for parameters out of bounds (query length, page size, offset), 401 for tokens, 404 for
unknown sessions, 422 for mgw's DataError, 429 over the rate limit. Search endpoints are `async` and call the
CPU-bound pipeline inline: one event loop per worker process, scale with `serve.workers`."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from mgw.errors import DataError, UnknownIdError
from mgw.serve import channels
from mgw.serve.auth import AuthError, RateLimited
from mgw.serve.events import KINDS
from mgw.serve.metrics import CONTENT_TYPE
from mgw.serve.service import Service
from mgw.serve.sessions import INTERFACES

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
NOT_BLANK = r"[^ \t\n\r\f\v]"  # the same class in Python and ECMA regexes, so the schema says exactly what passes


# ---------------------------------------------------------------------- documented shapes (OpenAPI)
class ErrorBody(BaseModel):
    error: str
    detail: Any


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Availability(_Open):
    platform: str
    availableRegions: list[str]
    subscription: bool


class ContentResult(_Open):
    id: str
    title: str
    description: str | None
    score: float
    metadata: dict[str, Any]
    availability: list[Availability]
    deepLinks: dict[str, str]


class Pagination(BaseModel):
    offset: int
    limit: int
    total: int


class ResponseMetadata(_Open):
    latency: float
    fromCache: bool
    model: str
    variant: str


class SearchResponse(_Open):
    query: str
    results: list[ContentResult]
    pagination: Pagination
    metadata: ResponseMetadata
    debug: dict[str, Any] | None = None


class Filters(BaseModel):
    platforms: list[str] | None = Field(None, max_length=8)
    genres: list[str] | None = Field(None, max_length=16)
    rating: str | None = Field(None, max_length=16)


class SessionIn(BaseModel):
    device: str = Field(..., min_length=1, max_length=64)
    interface: Literal["web", "mobile", "tv", "voice"] = "web"
    language: str = Field("en", min_length=2, max_length=16)
    region: str = Field("US", min_length=2, max_length=8)


class SessionPatch(BaseModel):
    currentQuery: str | None = Field(None, max_length=256)
    filters: Filters | None = None
    viewedContent: list[str] | None = Field(None, max_length=50)
    preferences: dict[str, str] | None = None


class _EventBase(BaseModel):
    contentId: str = Field(..., min_length=1, max_length=128)
    minutes: float | None = Field(None, ge=0, le=10_000)
    timestamp: float | None = Field(None, ge=0, le=4_102_444_800)


class InteractionEvent(_EventBase):
    action: Literal["click", "watch", "skip"]


class RateEvent(_EventBase):
    action: Literal["rate"]
    rating: float = Field(..., ge=0, le=5)


Event = Annotated[Union[InteractionEvent, RateEvent], Field(discriminator="action")]


class EventsIn(BaseModel):
    events: list[Event] = Field(..., min_length=1, max_length=100)


# OpenAPI links (seed-independent plumbing for the fuzzer's stateful phase): a created session's id feeds the
# session operations and a session-bound search, a search's first result feeds an event, so generated sequences
# reach real sessions and contents instead of 404s on random ids.
SESSION_LINKS = {
    "GetSession": {"operationId": "getSession", "parameters": {"sid": "$response.body#/sessionId"}},
    "PatchSession": {"operationId": "patchSession", "parameters": {"sid": "$response.body#/sessionId"}},
    "SearchInSession": {"operationId": "search", "parameters": {"session": "$response.body#/sessionId"}},
}
SEARCH_LINKS = {
    "ClickFirstResult": {"operationId": "postEvents",
                         "requestBody": {"events": [{"action": "click", "contentId": "$response.body#/results/0/id"}]}},
    "RateFirstResult": {"operationId": "postEvents", "requestBody": {
        "events": [{"action": "rate", "rating": 4, "contentId": "$response.body#/results/0/id"}]}},
}

ERRORS = {401: {"model": ErrorBody, "description": "missing, expired or invalid token"},
          422: {"model": ErrorBody, "description": "input out of bounds"},
          429: {"model": ErrorBody, "description": "rate limit exceeded"}}
SESSION_ERRORS = {**ERRORS, 404: {"model": ErrorBody, "description": "no such session for this user"}}
BODY_ERRORS = {400: {"model": ErrorBody, "description": "the body is not JSON"}}
EVENT_ERRORS = {**ERRORS, **BODY_ERRORS, 404: {"model": ErrorBody, "description": "unknown contentId"}}


class FastJSON(Response):
    """JSON by orjson: the search answer (a few KB) encodes in a tenth of the stdlib's time. NaN/inf become null
    (the pipeline's responses are plain floats already; the stdlib path would refuse them)."""
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _error(status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> Response:
    return FastJSON({"error": error, "detail": detail}, status_code=status, headers=headers)


def create_app(svc: Service, start_background: bool = True) -> FastAPI:
    sp = svc.params.serve
    m = svc.metrics

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_background:
            svc.start()
        try:
            yield
        finally:
            if start_background:
                svc.stop()

    app = FastAPI(title="mgw search API", version="1", lifespan=lifespan,
                  description="Seed §3.3 output channels over mgw's search pipeline. Bearer JWT on /api/*.")
    app.state.svc = svc

    @app.exception_handler(AuthError)
    async def _auth(_: Request, e: AuthError):
        return _error(401, "unauthorized", str(e), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, e: RateLimited):
        return _error(429, "rate_limited", str(e), {"Retry-After": str(max(1, round(e.retry_after)))})

    @app.exception_handler(UnknownIdError)
    async def _unknown(_: Request, e: UnknownIdError):
        return _error(404, "not_found", str(e))

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        headers = dict(e.headers or {})
        if e.status_code == 405:  # Allow lists every method of every route on this path
            methods = set()
            for route in app.routes:
                match, _ = route.matches({**request.scope, "method": "GET"}) if hasattr(route, "matches") else (None, None)
                if match is not None and match.name != "NONE" and getattr(route, "methods", None):
                    methods |= set(route.methods)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return _error(e.status_code, "http_error", e.detail, headers or None)

    @app.exception_handler(DataError)
    async def _data(_: Request, e: DataError):
        return _error(422, "invalid_input", str(e))

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError):
        detail = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", "")} for err in e.errors()]
        return _error(422, "invalid_input", detail)

    app.add_middleware(_Observe, metrics=m)

    async def user(request: Request) -> str:  # async: no thread-pool hop per request
        who, token = svc.auth.verify(request.headers.get("authorization"))
        svc.limiter.check(token)
        return who

    Q = Query(..., min_length=1, max_length=sp.max_query_chars, pattern=NOT_BLANK,
              description="natural-language query with at least one character that is not ASCII blank")
    OFFSET = Query(0, ge=0, le=sp.max_offset)
    SESSION = Query(None, min_length=1, max_length=64, pattern="^[0-9a-f]+$")

    def run(who: str, q: str, limit: int, offset: int, debug: bool = False, session: str | None = None):
        return svc.search(who, q, limit, offset, debug, session)

    # ------------------------------------------------------------------ open endpoints
    @app.get("/health", name="health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": sorted(svc.searchers)}

    @app.get("/", name="page", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/metrics", name="metrics", include_in_schema=False)
    async def metrics(_: str = Depends(user)):
        return Response(m.text(), media_type=CONTENT_TYPE)

    # ------------------------------------------------------------------ channels
    @app.get("/api/search", name="web", operation_id="search", response_model=None,
             responses={200: {"model": SearchResponse, "links": SEARCH_LINKS}, **SESSION_ERRORS})
    async def search(q: str = Q, limit: int = Query(10, ge=1, le=sp.max_page_size), offset: int = OFFSET,
                     debug: bool = False, session: str | None = SESSION, who: str = Depends(user)):
        return FastJSON(run(who, q, limit, offset, debug, session))

    @app.get("/api/v2/search", name="mobile", response_model=None,
             responses={200: {"content": {channels.PROTO_MEDIA_TYPE: {}},
                              "description": "mgw.serve.v2.SearchResponse (mgw/serve/proto/search.proto)"},
                        **SESSION_ERRORS})
    async def search_v2(q: str = Q, limit: int = Query(10, ge=1, le=sp.max_page_size), offset: int = OFFSET,
                        session: str | None = SESSION, who: str = Depends(user)):
        return Response(channels.to_proto(run(who, q, limit, offset, False, session)),
                        media_type=channels.PROTO_MEDIA_TYPE)

    @app.get("/api/tv/search", name="tv", response_model=None, responses={200: {"model": SearchResponse}, **SESSION_ERRORS})
    async def search_tv(q: str = Q, limit: int = Query(sp.tv_page_size, ge=1, le=max(sp.max_page_size, sp.tv_page_size)),
                        offset: int = OFFSET, session: str | None = SESSION, who: str = Depends(user)):
        return FastJSON(channels.to_tv(run(who, q, limit, offset, False, session)))

    @app.get("/api/voice/search", name="voice", response_model=None,
             responses={200: {"content": {channels.SSML_MEDIA_TYPE: {}}, "description": "SSML, at most 3 results"},
                        **SESSION_ERRORS})
    async def search_voice(q: str = Q, session: str | None = SESSION, who: str = Depends(user)):
        return Response(channels.to_ssml(run(who, q, sp.voice_results, 0, False, session), sp.voice_results),
                        media_type=channels.SSML_MEDIA_TYPE)

    # ------------------------------------------------------------------ streaming (seed §3.3.2)
    @app.get("/api/search/stream", name="stream", response_model=None,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "one `result` event per result, then `event: complete`"},
                        **SESSION_ERRORS})
    async def stream(request: Request, q: str = Q, limit: int = Query(10, ge=1, le=sp.max_page_size),
                     offset: int = OFFSET, session: str | None = SESSION, who: str = Depends(user),
                     delay_ms: float = Query(0, ge=0, le=10_000, description="pause between results (demo, load tests)")):
        resp = run(who, q, limit, offset, False, session)
        return StreamingResponse(_events(request, resp, sp.heartbeat_s, delay_ms / 1e3, m),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------ sessions (seed §4.1)
    @app.post("/api/sessions", name="sessions", operation_id="createSession", response_model=None, status_code=201,
              responses={201: {"description": "the new session (Location: its URL)", "links": SESSION_LINKS},
                         **ERRORS, **BODY_ERRORS})
    async def create_session(body: SessionIn, who: str = Depends(user)):
        s = svc.create_session(who, body.device, body.interface, body.language, body.region)
        return FastJSON(s, status_code=201, headers={"Location": f"/api/sessions/{s['sessionId']}"})

    @app.get("/api/sessions/{sid}", name="sessions", operation_id="getSession", response_model=None,
             responses=SESSION_ERRORS)
    async def get_session(sid: str, who: str = Depends(user)):
        return FastJSON(svc.session(who, sid))

    @app.patch("/api/sessions/{sid}", name="sessions", operation_id="patchSession", response_model=None,
               responses={**SESSION_ERRORS, **BODY_ERRORS})
    async def patch_session(sid: str, body: SessionPatch, who: str = Depends(user)):
        return FastJSON(svc.update_session(who, sid, body.model_dump(exclude_none=True)))

    # ------------------------------------------------------------------ events (seed §3.4.3)
    @app.post("/api/events", name="events", operation_id="postEvents", response_model=None, status_code=202,
              responses=EVENT_ERRORS)
    async def events(body: EventsIn, who: str = Depends(user)):
        n = svc.events.add(who, [e.model_dump() for e in body.events])
        for e in body.events:
            m.events.labels(e.action).inc()
        return FastJSON({"accepted": n}, status_code=202)

    return app


class _Observe:
    """Pure ASGI middleware (no BaseHTTPMiddleware task group per request): latency and status per route name,
    and a `Server-Timing: app;dur=<ms>` header (the time inside the app up to the response start), so a client
    can split what it waited into the app's share and the transport's (uvicorn, sockets, scheduling)."""

    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                dur = f"app;dur={(time.perf_counter() - t0) * 1e3:.3f}".encode()
                message = {**message, "headers": [*message.get("headers", ()), (b"server-timing", dur)]}
            await send(message)
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            self.metrics.observe(getattr(route, "name", None) or "other", status, time.perf_counter() - t0)


async def _events(request: Request, resp: dict[str, Any], heartbeat_s: float, delay_s: float, m) -> Any:
    """SSE frames: `event: result` per result (`delay_s` apart), a `: heartbeat` comment every `heartbeat_s`
    while waiting, then `event: complete`. A client that goes away ends the generator (Starlette cancels it,
    or the disconnect check sees it); nothing reaches the server's error path."""
    m.sse.inc()
    try:
        yield ": stream open\n\n"
        for i, r in enumerate(resp["results"]):
            waited = 0.0
            while waited < delay_s:
                step = min(heartbeat_s, delay_s - waited)
                await asyncio.sleep(step)
                waited += step
                if await request.is_disconnected():
                    return
                if waited < delay_s:
                    yield ": heartbeat\n\n"
            yield f"event: result\nid: {i}\ndata: {json.dumps(r)}\n\n"
        done = {"total": resp["pagination"]["total"], "count": len(resp["results"]),
                "offset": resp["pagination"]["offset"], "model": resp["metadata"]["model"]}
        yield f"event: complete\ndata: {json.dumps(done)}\n\n"
    except asyncio.CancelledError:
        return
    finally:
        m.sse.dec()


__all__ = ["create_app", "KINDS", "INTERFACES"]
