"""One JSON error shape for every failure, and the statuses each route declares in OpenAPI."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import asyncpg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from fastapi_app.admission import OverloadedError, ShedReason
from fastapi_app.metrics import REQUESTS_SHED
from fastapi_app.schemas import Error, ErrorDetail, ErrorResponse
from fastapi_app.store import NameTakenError

logger = logging.getLogger(__name__)

# What the stores raise: PostgreSQL's asyncpg errors (the server's are PostgresError; the client's,
# InterfaceError and InternalClientError) and the SQLite store's SQLAlchemy errors; refused, dropped and
# timed-out connections too. database_unavailable() tells a retry apart from a bug.
DATABASE_ERRORS = (
    DBAPIError,
    PoolTimeoutError,
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
# SQLSTATE classes that mean "not now" rather than "never": connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention (statement timeout,
# shutdown); and lock_not_available.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57"})
_TRANSIENT_SQLSTATES = frozenset({"55P03"})


def database_unavailable(error: BaseException) -> bool:
    """True when a retry later may succeed; False for a bug or bad data (a constraint, a missing table,
    an invalid value), which must surface as a 500 rather than hide behind a 503."""
    if isinstance(error, IntegrityError | ProgrammingError | DataError):
        return False
    if isinstance(error, DBAPIError):
        # Dropped connections and client-side timeouts carry no SQLSTATE; server errors do.
        return _transient(getattr(error.orig, "sqlstate", None))
    if isinstance(error, asyncpg.PostgresError):
        return _transient(error.sqlstate)
    if isinstance(error, ValueError):
        # asyncpg's client-side errors that are also ValueErrors: an argument it cannot encode, a setting it
        # cannot use.
        return False
    return isinstance(error, DATABASE_ERRORS)


def _transient(sqlstate: str | None) -> bool:
    return sqlstate is None or sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES


def database_unavailable_response() -> Response:
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE, "database_unavailable", "The database is unavailable."
    )


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def error_response(
    status_code: int, code: str, message: str, details: list[ErrorDetail] | None = None
) -> Response:
    body = ErrorResponse(error=Error(code=code, message=message, details=details or []))
    return Response(body.model_dump_json(), status_code=status_code, media_type="application/json")


def responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: every listed status returns an ErrorResponse."""
    descriptions = {
        status.HTTP_404_NOT_FOUND: "The item does not exist.",
        status.HTTP_409_CONFLICT: "Another item already has this name.",
        status.HTTP_422_UNPROCESSABLE_CONTENT: "The request is invalid (field, parameter or body size).",
        status.HTTP_503_SERVICE_UNAVAILABLE: "The database is unavailable (`database_unavailable`) or the "
        "service is overloaded (`overloaded`, with Retry-After); retry later.",
    }
    return {code: {"model": ErrorResponse, "description": descriptions[code]} for code in status_codes}


async def _on_api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 - registered for ApiError only
    return error_response(exc.status_code, exc.code, exc.message)


async def _on_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for RequestValidationError only
    details = [
        ErrorDetail(location=list(error["loc"]), message=error["msg"], type=error["type"])
        for error in exc.errors()
    ]
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request", "The request is invalid.", details
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        # FastAPI's only 400 is a body it cannot decode (e.g. invalid UTF-8): invalid input, so 422
        # like every other invalid input, and the one status clients and the schema know about.
        return error_response(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request", "The request body cannot be decoded."
        )
    response = error_response(exc.status_code, "http_error", str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        response.headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
    return response


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> set[str]:
    # Starlette's Allow names only the first route that matched the path, and FastAPI keeps included
    # routers as nested routes: ask the whole routing table which methods it would fully match here.
    routes = request.app.router.routes
    return {
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    }


async def _on_database_error(request: Request, exc: Exception) -> Response:
    route = getattr(request.scope.get("route"), "path", request.url.path)
    if not database_unavailable(exc):
        # Handled here, so no server logs it: the traceback goes to the log, the client gets a plain 500.
        logger.error("unexpected database error during %s %s", request.method, route, exc_info=exc)
        return _internal_error_response()
    logger.warning("database unavailable during %s %s: %s", request.method, route, type(exc).__name__)
    return database_unavailable_response()


def _overloaded_handler(pod: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    shed = {reason: REQUESTS_SHED.labels(pod, reason) for reason in get_args(ShedReason)}

    async def on_overloaded(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, OverloadedError)  # noqa: S101 - registered for OverloadedError only
        shed[exc.reason].inc()
        response = error_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "overloaded",
            "The service is overloaded; retry after the seconds in Retry-After.",
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    return on_overloaded


async def _on_name_taken(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, NameTakenError)  # noqa: S101 - registered for NameTakenError only
    return error_response(
        status.HTTP_409_CONFLICT, "name_taken", f"An item named {exc.name!r} already exists."
    )


def _internal_error_response() -> Response:
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "An unexpected error occurred."
    )


async def _on_unexpected_error(request: Request, _: Exception) -> Response:
    # uvicorn logs the traceback; the client gets the usual shape and nothing about the internals.
    # Answered outside every middleware, so the request id comes from the request state.
    response = _internal_error_response()
    request_id: str | None = getattr(request.state, "request_id", None)
    if request_id is not None:
        response.headers["X-Request-ID"] = request_id
    return response


def install_error_handlers(app: FastAPI, *, pod: str) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(OverloadedError, _overloaded_handler(pod))
    app.add_exception_handler(NameTakenError, _on_name_taken)
    for exception_type in DATABASE_ERRORS:
        app.add_exception_handler(exception_type, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
