"""Starting uvicorn over the app: the service is built once per worker process (an app factory), the open-file
limit is raised for many concurrent streams, and a token is printed so the page and curl work at once."""
from __future__ import annotations

import os
import resource
from typing import Any


def raise_nofile(target: int = 65536) -> int:
    """Raise the soft open-file limit towards the hard limit (each SSE client is a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(target, hard) if hard != resource.RLIM_INFINITY else target
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def app_factory():
    """uvicorn --factory entry: params from $MGW_PARAMS (or params.yaml), overrides from the environment."""
    from mgw.config import load_params
    from mgw.serve.app import create_app
    from mgw.serve.service import Service

    params = load_params(os.environ.get("MGW_PARAMS") or None)
    return create_app(Service.build(params))


def run_server(params: Any, print_token_for: str | None = "demo-user") -> int:
    import secrets

    import uvicorn

    from mgw.serve.app import create_app
    from mgw.serve.auth import TokenAuth
    from mgw.serve.service import Service

    sp = params.serve
    raise_nofile()
    if not os.environ.get(sp.jwt_secret_env):  # one secret for every worker of this server, printed tokens work
        os.environ[sp.jwt_secret_env] = secrets.token_urlsafe(32)
    if print_token_for:
        token = TokenAuth(os.environ[sp.jwt_secret_env], sp.jwt_ttl_s).issue(print_token_for)
        print(f"mgw serve: http://{sp.host}:{sp.port}/?token={token}", flush=True)
        print(f"mgw serve: curl -H 'Authorization: Bearer {token}' "
              f"'http://{sp.host}:{sp.port}/api/search?q=comedies+on+netflix'", flush=True)
    if sp.workers > 1:
        os.environ["MGW_SERVE__DEMO_TITLES"] = str(sp.demo_titles)
        uvicorn.run("mgw.serve.run:app_factory", factory=True, host=sp.host, port=sp.port, workers=sp.workers,
                    log_level="warning")
        return 0
    uvicorn.run(create_app(Service.build(params)), host=sp.host, port=sp.port, log_level="warning",
                timeout_keep_alive=30)
    return 0
