"""A throwaway PostgreSQL 15 server on a free loopback port, for tests and the benchmark.

    with PostgresServer() as server:
        server.url      # postgresql://app:<random>@127.0.0.1:<port>/app
        server.stop()   # simulate an outage ...
        server.start()  # ... and recovery, on the same port

    with PostgresServer(tls=ServerCertificate(chain_pem, key_pem)) as server:
        ...             # TLS only, as RDS with rds.force_ssl=1: plain connections are refused

PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` user.
"""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

POSTGRES_BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
_SERVER_USER = "postgres"
_DATABASE = "app"
_ROLE = "app"


class ServerCertificate(NamedTuple):
    chain_pem: bytes
    key_pem: bytes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", _SERVER_USER, "--", *command]
    return command


class PostgresServer:
    """Runs initdb into a temporary directory and starts postgres on 127.0.0.1 only."""

    def __init__(self, tls: ServerCertificate | None = None) -> None:
        self.tls = tls
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.url = f"postgresql://{_ROLE}:{self.password}@127.0.0.1:{self.port}/{_DATABASE}"
        self.root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self._data = self.root / "data"
        self._socket_dir = self.root / "socket"
        self._log = self.root / "server.log"
        self.running = False
        try:
            self._create_cluster()
        except BaseException:
            self.close()
            raise

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self._log.read_text() if self._log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}{log}")

    def _create_cluster(self) -> None:
        self._socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, _SERVER_USER)
            shutil.chown(self._socket_dir, _SERVER_USER)
        password_file = self.root / "password"
        password_file.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(password_file, _SERVER_USER)
        self._run(
            [
                str(POSTGRES_BIN / "initdb"),
                f"--pgdata={self._data}",
                f"--username={_ROLE}",
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        password_file.unlink()
        if self.tls is not None:
            self._require_tls(self.tls)
        self.start()
        self._run(
            [
                str(POSTGRES_BIN / "createdb"),
                f"--host={self._socket_dir}",
                f"--port={self.port}",
                f"--username={_ROLE}",
                _DATABASE,
            ]
        )

    def _require_tls(self, tls: ServerCertificate) -> None:
        # PostgreSQL refuses a key file that others can read.
        for name, content in (("server.crt", tls.chain_pem), ("server.key", tls.key_pem)):
            path = self._data / name
            path.write_bytes(content)
            path.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(path, _SERVER_USER)
        hba = self._data / "pg_hba.conf"
        hba.write_text(hba.read_text().replace("\nhost ", "\nhostssl "))

    def start(self) -> None:
        # Durability settings are off: the data lives as long as one test run.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        if self.tls is not None:
            options += " -c ssl=on"
        self._run(
            [
                str(POSTGRES_BIN / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(self._data),
                "-l",
                str(self._log),
                "-o",
                options,
            ]
        )
        self.running = True

    def stop(self, *, mode: str = "fast", wait: bool = True) -> None:
        """mode "smart" without waiting leaves the server shutting down until its last session ends."""
        self._run(
            [str(POSTGRES_BIN / "pg_ctl"), "stop", "-w" if wait else "-W", "-m", mode, "-D", str(self._data)]
        )
        self.running = not wait

    def wait_stopped(self, timeout: float = 30.0) -> None:
        """Waits until the postmaster has exited (after a stop that did not wait)."""
        pid_file = self._data / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while pid_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL still running {timeout:.0f}s after the stop")
            time.sleep(0.05)
        self.running = False

    def close(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
