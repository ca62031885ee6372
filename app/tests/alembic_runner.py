"""`alembic` as the migration Job runs it: a subprocess in app/ with DATABASE_URL in its environment."""

import os
import subprocess
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
ALEMBIC = (sys.executable, "-m", "alembic")


def alembic_environment(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url}


def alembic(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ALEMBIC, *args],
        cwd=APP_DIR,
        env=alembic_environment(database_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
