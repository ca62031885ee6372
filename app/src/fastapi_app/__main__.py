"""`python -m fastapi_app`: one uvicorn process serving the application on $HOST:$PORT and its metrics on
$HOST:$METRICS_PORT."""

import signal
import sys
from types import FrameType

import uvicorn

from fastapi_app.logs import configure_logging, logged_secrets
from fastapi_app.main import create_app
from fastapi_app.server import RequestLimits, bounded_protocol
from fastapi_app.settings import Settings


def _exit_cleanly(_signal: int, _frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, secrets=logged_secrets(settings))
    app = create_app(settings)
    # uvicorn handles SIGTERM itself (stop accepting, drain, run the shutdown), then raises the
    # signal again once it is done; a stop that drained cleanly should end with status 0.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, _exit_cleanly)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=bounded_protocol(RequestLimits.from_settings(settings)),
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    # One server on both ports: the same protocol (request limits) and the same SIGTERM drain for both,
    # and one process-wide metrics registry that both see.
    metrics_config = uvicorn.Config(app, host=settings.host, port=settings.metrics_port, log_config=None)
    uvicorn.Server(config).run(sockets=[config.bind_socket(), metrics_config.bind_socket()])


if __name__ == "__main__":
    main()
