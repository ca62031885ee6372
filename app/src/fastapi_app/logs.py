"""JSON log lines on stdout, one object per line, with the request id of the request being served, and
every secret redacted."""

import logging
import sys
import time
import urllib.parse
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from fastapi_app.db import database_password
from fastapi_app.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
ACCESS_LOGGER = "fastapi_app.access"
_access_logger = logging.getLogger(ACCESS_LOGGER)

# Attributes a caller may pass in `extra=` that become top-level fields of the line.
_EXTRA_FIELDS = ("method", "route", "status", "duration_ms")


def logged_secrets(settings: Settings) -> list[str]:
    """What logging redacts: the database password and every API and metrics token."""
    return [database_password(settings), *settings.api_token_list(), *settings.metrics_token_list()]


def _spellings(secret: str) -> set[str]:
    """The ways a secret can appear in a JSON line: as is, URL-quoted (as inside a URL), and JSON-escaped."""
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    return forms | {orjson.dumps(form).decode()[1:-1] for form in forms}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line and, last line of defence, replaces any spelling of a secret in
    the finished line: message, `extra=` fields and tracebacks alike."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        spellings = set().union(*(_spellings(secret) for secret in secrets if secret))
        # Longest first, so that no shorter spelling leaves part of a longer one behind.
        self._spellings = sorted(spellings, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in _EXTRA_FIELDS:
            if field in record.__dict__:
                line[field] = record.__dict__[field]
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self.render(line)

    def render(self, line: dict[str, Any]) -> str:
        return self._redact(orjson.dumps(line, default=str).decode())

    def _redact(self, text: str) -> str:
        for spelling in self._spellings:
            text = text.replace(spelling, "***")
        return text


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, formatter: JsonFormatter) -> None:
        super().__init__(sys.stdout)
        self.json = formatter
        self.setFormatter(formatter)


def log_request(method: str, route: str | None, status: int, duration_ms: float, request_id: str) -> None:
    """The access line of one request. Written straight to the JSON handler when it is the only one (the
    line it would format from a LogRecord, without building one per request); through logging otherwise."""
    if not _access_logger.isEnabledFor(logging.INFO):
        return
    handlers = logging.root.handlers
    if len(handlers) == 1 and isinstance(handler := handlers[0], _JsonHandler):
        line = {
            "time": _timestamp(time.time()),
            "level": "INFO",
            "logger": ACCESS_LOGGER,
            "message": "request",
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
        }
        text = handler.json.render(line)
        handler.acquire()
        try:
            handler.stream.write(text + "\n")
            handler.stream.flush()
        finally:
            handler.release()
        return
    fields = {"method": method, "route": route, "status": status, "duration_ms": duration_ms}
    _access_logger.info("request", extra=fields)


def configure_logging(level: str, *, secrets: list[str]) -> None:
    handler = _JsonHandler(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own handlers would print a second, plain-text copy; let its records reach ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
