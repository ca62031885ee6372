"""The image's dependencies are a hashed lock installed with --require-hashes: a file re-published under a
pinned version, or a package nobody pinned, cannot get into the image."""

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[1]
# One requirement with its hashes: `name==version \` then `--hash=sha256:<64 hex> \` lines.
_REQUIREMENT = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s*\\\s*--hash=sha256:[0-9a-f]{64})+)\s*$"
)


def requirements(text: str) -> list[tuple[str, str, int]]:
    """(name, version, number of hashes) of each requirement; fails on anything not pinned and hashed."""
    body = "\n".join(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    entries = re.split(r"\n(?=\S)", body)
    parsed = []
    for entry in entries:
        match = _REQUIREMENT.match(entry)
        assert match, f"not an exact pin with sha256 hashes: {entry.splitlines()[0]}"
        parsed.append((match[1], match[2], match[3].count("--hash=")))
    return parsed


def test_every_runtime_dependency_is_pinned_with_hashes() -> None:
    parsed = requirements((APP / "requirements.txt").read_text())
    names = {name.lower().replace("_", "-") for name, _, _ in parsed}
    assert {"fastapi", "uvicorn", "sqlalchemy", "asyncpg", "starlette-exporter"} <= names
    assert len(names) == len(parsed), "a package is listed twice"


def test_an_unhashed_or_unpinned_requirement_is_caught() -> None:
    for broken in ("fastapi==0.165.0\n", "fastapi>=0.165 \\\n    --hash=sha256:" + "0" * 64 + "\n"):
        try:
            requirements(broken)
        except AssertionError:
            continue
        raise AssertionError(f"accepted: {broken!r}")


def test_the_image_installs_them_hash_checked_and_nothing_else() -> None:
    dockerfile = (APP / "Dockerfile").read_text()
    installs = [
        line for line in dockerfile.splitlines() if "pip install" in line and "requirements.txt" in line
    ]
    assert installs == [
        "RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt"
    ]
