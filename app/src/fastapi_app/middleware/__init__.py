"""The service's ASGI middleware, one per module, installed in one place in one order.

Outermost first:
1. metrics_port: a request to the metrics port is answered here and goes no further;
2. liveness: GET /health is answered before anything else runs, so nothing can slow the probe;
3. request_log: the request id and the access line, around everything below, so it times and tags every
   other response (401, 422 and 503 included);
4. route_metrics: counts and times each request the router matched, by route template;
5. bearer_token: refuses a request without a valid token before its body is read;
6. body_limit: refuses an oversized body before the application reads it.
"""

from fastapi import FastAPI

from fastapi_app.auth import TokenSet, declare_bearer_auth
from fastapi_app.metrics import APP_NAME, UNCOUNTED_PATHS
from fastapi_app.middleware.bearer_token import BearerTokenMiddleware
from fastapi_app.middleware.body_limit import BodyLimitMiddleware
from fastapi_app.middleware.liveness import LivenessMiddleware
from fastapi_app.middleware.metrics_port import MetricsPortMiddleware
from fastapi_app.middleware.request_log import RequestLogMiddleware
from fastapi_app.middleware.route_metrics import RouteMetricsMiddleware
from fastapi_app.settings import Settings


def install_middleware(app: FastAPI, settings: Settings) -> None:
    api_tokens = TokenSet(settings.api_token_list())
    reads_need_token = settings.api_reads_need_token and bool(api_tokens)
    if api_tokens:
        declare_bearer_auth(app, reads_need_token=reads_need_token)
    # Starlette wraps the application in the reverse order of add_middleware: innermost first here.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        BearerTokenMiddleware,
        api_tokens=api_tokens,
        reads_need_token=reads_need_token,
        metrics_tokens=TokenSet(settings.metrics_token_list()),
    )
    app.add_middleware(
        RouteMetricsMiddleware, app_name=APP_NAME, pod=settings.pod_name, skip_paths=UNCOUNTED_PATHS
    )
    app.add_middleware(RequestLogMiddleware, quiet_paths=frozenset(UNCOUNTED_PATHS))
    app.add_middleware(LivenessMiddleware)
    app.add_middleware(MetricsPortMiddleware, port=settings.metrics_port)
