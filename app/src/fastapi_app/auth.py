"""Bearer tokens: who may write to the API (and read it, when configured) and who may read /metrics."""

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import Scope

from fastapi_app.schemas import ErrorResponse

API_PREFIX = "/api/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_SCHEME = "bearerAuth"
_REALM = 'Bearer realm="fastapi-app"'
_AUTHORIZATION = b"authorization"
# Every route already declares its errors with this model, so the document always defines it.
ERROR_RESPONSE_REF = f"#/components/schemas/{ErrorResponse.__name__}"


def needs_api_token(path: str, method: str, *, reads_need_token: bool) -> bool:
    """Whether a request needs one of the API tokens (once they are set): writes to the API, and its reads
    too when `reads_need_token`. `method` in upper case."""
    return path.startswith(API_PREFIX) and (reads_need_token or method in WRITE_METHODS)


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


class TokenSet:
    """Tokens any of which is accepted; several, so that one can be replaced without downtime."""

    def __init__(self, tokens: list[str]) -> None:
        # Digests, compared in constant time: neither a token's content nor its length shows in the timing.
        self._digests = tuple(_digest(token.encode()) for token in tokens)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def accepts(self, presented: bytes) -> bool:
        candidate = _digest(presented)
        accepted = False
        for digest in self._digests:
            accepted |= hmac.compare_digest(candidate, digest)
        return accepted


def bearer_token(scope: Scope) -> bytes | None:
    """The token of the one `Authorization: Bearer <token>` header, or None for anything else."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    values = [value for name, value in headers if name == _AUTHORIZATION]
    if len(values) != 1:
        return None
    scheme, _, token = values[0].partition(b" ")
    token = token.strip(b" ")
    if scheme.lower() != b"bearer" or not token or b" " in token:
        return None
    return token


def declare_bearer_auth(app: FastAPI, *, reads_need_token: bool) -> None:
    """Declares the bearer scheme in the OpenAPI document, and on every operation that needs it, with its
    401, so that clients and /docs know to send the token."""
    build_schema: Callable[[], dict[str, Any]] = app.openapi

    def schema_with_security() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build_schema()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "One of the service's API tokens (API_TOKENS).",
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if needs_api_token(path, method.upper(), reads_need_token=reads_need_token):
                    operation["security"] = [{SECURITY_SCHEME: []}]
                    operation.setdefault("responses", {})["401"] = {
                        "description": "No valid bearer token.",
                        "content": {"application/json": {"schema": {"$ref": ERROR_RESPONSE_REF}}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = schema_with_security  # type: ignore[method-assign]
