"""JSON log lines on stdout, one object per line, with the request id of the request being served."""

import logging
import sys
import urllib.parse
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes a caller may pass in `extra=` that become top-level fields of the line.
_EXTRA_FIELDS = ("method", "route", "status", "duration_ms")


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
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        return self._redact(orjson.dumps(line, default=str).decode())

    def _redact(self, text: str) -> str:
        for spelling in self._spellings:
            text = text.replace(spelling, "***")
        return text


def configure_logging(level: str, *, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own handlers would print a second, plain-text copy; let its records reach ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
