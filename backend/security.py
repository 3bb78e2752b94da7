"""The request's user, from its bearer token, checked against the tenant's allowed origins."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from margin.adapters import User
from margin.auth import TokenVerifier
from margin.config import Settings
from margin.exceptions import Forbidden, Unauthorized


def provide_user(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    tokens: NamedDependency[TokenVerifier],
) -> User:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing Authorization header (expected 'Bearer <token>')")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    user = tokens.verify(token.strip())
    origin = request.headers.get("origin")
    allowed = settings.tenants[user.tenant].allowed_origins
    if origin and "*" not in allowed and origin not in allowed:
        raise Forbidden(f"Origin {origin} is not allowed for tenant {user.tenant!r}")
    return user


def cors_origins(settings: Settings) -> list[str]:
    """Origins any tenant allows; each request is then checked against its own tenant's list."""
    origins = {origin for tenant in settings.tenants.values() for origin in tenant.allowed_origins}
    return ["*"] if "*" in origins else sorted(origins)
