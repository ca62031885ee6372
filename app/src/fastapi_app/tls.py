"""TLS to PostgreSQL, asked for as libpq asks for it: DATABASE_URL's sslmode and sslrootcert."""

import ssl
from collections.abc import Mapping
from pathlib import Path

# Modes that ask for encryption at most: asyncpg takes them as they are and verifies nothing.
_UNVERIFIED_MODES = ("disable", "allow", "prefer", "require")
_VERIFIED_MODES = ("verify-ca", "verify-full")


def _single(query: Mapping[str, str | tuple[str, ...]], name: str) -> str | None:
    value = query.get(name)
    if isinstance(value, tuple):
        # A repeated parameter is a bad value, not a bad type.
        raise ValueError(f"DATABASE_URL gives {name} more than once")  # noqa: TRY004
    return value


def verifying_context(ca_bundle: Path, *, check_hostname: bool) -> ssl.SSLContext:
    """Trusts exactly the certificates in `ca_bundle`, not the system's store."""
    try:
        context = ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(
            f"DATABASE_URL sslrootcert={ca_bundle}: no CA certificates could be read ({reason})"
        ) from None
    context.check_hostname = check_hostname
    return context


def tls_argument(query: Mapping[str, str | tuple[str, ...]]) -> ssl.SSLContext | str | None:
    """asyncpg's `ssl` argument for DATABASE_URL's query parameters; None leaves asyncpg's default.

    verify-full checks the chain against sslrootcert and that the URL's host is a name on the server
    certificate; verify-ca checks the chain only. Anything ambiguous is refused at start-up.
    """
    mode = _single(query, "sslmode")
    root = _single(query, "sslrootcert")
    if mode in _VERIFIED_MODES:
        if root is None:
            raise ValueError(
                f"DATABASE_URL has sslmode={mode} without sslrootcert: name the CA bundle that signed the "
                "server certificate, e.g. sslrootcert=/app/certs/rds-ca-bundle.pem"
            )
        return verifying_context(Path(root), check_hostname=mode == "verify-full")
    if root is not None:
        raise ValueError(
            "DATABASE_URL has sslrootcert without sslmode=verify-full or verify-ca: nothing would check it"
        )
    if mode is None or mode in _UNVERIFIED_MODES:
        return mode
    raise ValueError(
        f"DATABASE_URL has sslmode={mode}: expected one of {', '.join(_UNVERIFIED_MODES + _VERIFIED_MODES)}"
    )
