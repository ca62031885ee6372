"""The throwaway PostgreSQL the other tests use leaves nothing behind when it fails to start."""

import pytest

from postgres_server import PostgresServer


def test_a_server_whose_setup_fails_is_stopped_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[PostgresServer] = []
    run = PostgresServer._run

    def createdb_fails(server: PostgresServer, command: list[str]) -> None:
        started.append(server)
        if command[0].endswith("createdb"):
            raise RuntimeError("createdb failed")
        run(server, command)

    monkeypatch.setattr(PostgresServer, "_run", createdb_fails)

    with pytest.raises(RuntimeError, match="createdb failed"):
        PostgresServer()

    server = started[0]
    assert not server.running
    assert not server.root.exists()
