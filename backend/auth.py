"""User tokens: short-lived JWTs (HS256) that the host app signs with its per-tenant secret.

The host backend mints one for the signed-in user (``mint_token``, or ``margin token``); the
widget sends it as ``Authorization: Bearer <token>``; ``verify_token`` checks it here.
Claims: ``tenant``, ``sub`` (user id), ``roles``, ``iat``, ``exp``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import jwt

from margin.adapters.types import User
from margin.config import AuthSettings, TenantSettings
from margin.exceptions import Forbidden, Unauthorized

ALGORITHM = "HS256"


class TokenError(Unauthorized):
    """The token cannot be accepted: who are you? (401)."""


class UnknownTenant(TokenError):
    """The token names a tenant this server does not serve: not allowed (403)."""

    code = Forbidden.code
    status = Forbidden.status

    def headers(self) -> dict[str, str] | None:
        return None


def mint_token(secret: str, *, tenant: str, user_id: str, roles: Sequence[str] = (), ttl_s: int = 900) -> str:
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    now = int(time.time())
    claims = {"tenant": tenant, "sub": user_id, "roles": list(roles), "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, tenants: Mapping[str, TenantSettings], auth: AuthSettings) -> User:
    """Return the token's user, or raise TokenError saying exactly what is wrong with it."""
    return _verify(token, tenants, auth)[0]


class TokenVerifier:
    """``verify_token`` with a memory: a token already verified is trusted until it expires.

    A widget sends the same token with every call for its lifetime (minutes), and checking an
    HS256 signature twice per request was a measurable share of a request's CPU. Only valid
    tokens are kept, at most ``max_entries`` (the oldest go first); tenants and secrets are
    fixed for the life of the process.
    """

    def __init__(
        self, tenants: Mapping[str, TenantSettings], auth: AuthSettings, max_entries: int = 10_000
    ) -> None:
        self._tenants = tenants
        self._auth = auth
        self._max_entries = max_entries
        self._valid: dict[str, tuple[User, float]] = {}

    def verify(self, token: str) -> User:
        known = self._valid.get(token)
        if known is not None:
            user, expires = known
            if time.time() < expires + self._auth.leeway_s:
                return user
            del self._valid[token]
        user, expires = _verify(token, self._tenants, self._auth)
        if len(self._valid) >= self._max_entries:
            del self._valid[next(iter(self._valid))]
        self._valid[token] = (user, expires)
        return user


def _verify(token: str, tenants: Mapping[str, TenantSettings], auth: AuthSettings) -> tuple[User, float]:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as exc:
        raise TokenError("Malformed token: not a JWT") from exc
    tenant_name = unverified.get("tenant")
    if not isinstance(tenant_name, str) or not tenant_name:
        raise TokenError("Token has no 'tenant' claim")
    tenant = tenants.get(tenant_name)
    if tenant is None:
        raise UnknownTenant(f"Unknown tenant {tenant_name!r}")
    try:
        claims = jwt.decode(
            token,
            tenant.secret,
            algorithms=[ALGORITHM],
            leeway=auth.leeway_s,
            options={"require": ["exp", "iat", "sub", "tenant"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("Token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("Token signature is invalid for this tenant") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"Token is missing the {exc.claim!r} claim") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise TokenError(f"Token must be signed with {ALGORITHM}") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"Invalid token: {exc}") from exc
    for name in ("exp", "iat"):
        if isinstance(claims[name], bool) or not isinstance(claims[name], int | float):
            raise TokenError(f"Token claim {name!r} must be a number (seconds since the epoch)")
    if claims["exp"] - claims["iat"] > auth.max_ttl_s:
        raise TokenError(f"Token lifetime exceeds the maximum of {auth.max_ttl_s} s")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise TokenError("Token claim 'roles' must be a list of strings")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise TokenError("Token claim 'sub' must be a non-empty string")
    return User(tenant=tenant_name, user_id=sub, roles=tuple(roles)), float(claims["exp"])
