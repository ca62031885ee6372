"""401 for a request that needs a bearer token and does not carry a valid one."""

from fastapi import status
from starlette.types import ASGIApp, Receive, Scope, Send

from fastapi_app.auth import TokenSet, bearer_token, needs_api_token
from fastapi_app.errors import error_response
from fastapi_app.metrics import METRICS_PATH

_REALM = 'Bearer realm="fastapi-app"'


class BearerTokenMiddleware:
    """Answers 401 in the service's error shape, before the body is read, when a request needs a token
    and does not carry a valid one. What needs one: every write to the API once write tokens are set,
    reads of the API too when `reads_need_token`, and /metrics once metrics tokens are set."""

    def __init__(
        self, app: ASGIApp, *, api_tokens: TokenSet, reads_need_token: bool, metrics_tokens: TokenSet
    ) -> None:
        self.app = app
        self.api_tokens = api_tokens
        self.reads_need_token = reads_need_token
        self.metrics_tokens = metrics_tokens

    def _required(self, scope: Scope) -> TokenSet | None:
        path: str = scope["path"]
        if path == METRICS_PATH:
            return self.metrics_tokens or None
        if needs_api_token(path, scope["method"], reads_need_token=self.reads_need_token):
            return self.api_tokens or None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tokens = self._required(scope) if scope["type"] == "http" else None
        if tokens is None:
            await self.app(scope, receive, send)
            return
        presented = bearer_token(scope)
        if presented is None:
            response = error_response(
                status.HTTP_401_UNAUTHORIZED,
                "unauthorized",
                "This request needs an Authorization: Bearer token.",
            )
            response.headers["WWW-Authenticate"] = _REALM
        elif not tokens.accepts(presented):
            response = error_response(
                status.HTTP_401_UNAUTHORIZED, "unauthorized", "The bearer token is not valid."
            )
            response.headers["WWW-Authenticate"] = f'{_REALM}, error="invalid_token"'
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
