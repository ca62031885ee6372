"""`python -m fastapi_app` as a real process on free loopback ports (main and metrics), as the container
runs it."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from postgres_server import free_port


def wait_until_healthy(
    base_url: str, process: "subprocess.Popen[bytes]", output: Callable[[], str], timeout: float = 30.0
) -> None:
    """Polls GET /health until it answers 200; fails early, with the output, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode}:\n{output()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the service did not answer /health within {timeout:.0f}s:\n{output()}")


# A connection accepted into the listen backlog just before the listener closed is dropped with it:
# closed (RemoteProtocolError) or reset, which shows on the read or on the write of the request.
_ACCEPTED_THEN_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


async def refuses_new_connections(base_url: str, polls: int = 100) -> bool:
    """Polls every 50 ms until a new connection is refused; False if the server kept accepting."""
    async with httpx.AsyncClient(base_url=base_url, timeout=1) as probe:
        for _ in range(polls):
            try:
                await probe.get("/health", headers={"Connection": "close"})
            except httpx.ConnectError:
                return True
            except _ACCEPTED_THEN_DROPPED:
                # Not yet the refusal this waits for: poll again.
                pass
            await asyncio.sleep(0.05)
    return False


class ServiceProcess:
    def __init__(self, database_url: str, **environment: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}"
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "METRICS_PORT": str(self.metrics_port),
            **environment,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fastapi_app"],
            env=env,
            cwd=Path(__file__).parent.parent,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(self.base_url, self.process, self.output)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
