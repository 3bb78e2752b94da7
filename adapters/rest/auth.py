"""How the adapter authenticates to the host API, and turning that into request headers.

Secrets can be written into the configuration, but should come from the environment: every
secret field has an ``..._env`` twin naming an environment variable, read when the adapter is
built, so a missing variable fails at start-up rather than on the first request.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import msgspec


class RestConfigError(ValueError):
    """The adapter's configuration cannot work; the message names the setting."""


class _Auth(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="kind"):
    pass


class HeaderAuth(_Auth, frozen=True, kw_only=True, tag="header"):
    """A fixed header such as ``X-Api-Key: ...``."""

    header: str
    value: str = ""
    value_env: str = ""

    def __post_init__(self) -> None:
        _one_of(self.value, self.value_env, "auth.value", "auth.value_env")


class BearerAuth(_Auth, frozen=True, kw_only=True, tag="bearer"):
    """``Authorization: Bearer <token>`` (OAuth access tokens, HubSpot private-app tokens)."""

    token: str = ""
    token_env: str = ""

    def __post_init__(self) -> None:
        _one_of(self.token, self.token_env, "auth.token", "auth.token_env")


class BasicAuth(_Auth, frozen=True, kw_only=True, tag="basic"):
    """HTTP Basic, e.g. Zendesk API tokens: username ``agent@example.com/token``, password the token."""

    username: str
    password: str = ""
    password_env: str = ""

    def __post_init__(self) -> None:
        _one_of(self.password, self.password_env, "auth.password", "auth.password_env")


Auth = HeaderAuth | BearerAuth | BasicAuth


def auth_headers(auth: Auth | None, env: Mapping[str, str]) -> dict[str, str]:
    """The headers to send on every request; raises RestConfigError for a missing variable."""
    if auth is None:
        return {}
    if isinstance(auth, HeaderAuth):
        return {auth.header: _secret(auth.value, auth.value_env, "auth.value_env", env)}
    if isinstance(auth, BearerAuth):
        return {"Authorization": f"Bearer {_secret(auth.token, auth.token_env, 'auth.token_env', env)}"}
    password = _secret(auth.password, auth.password_env, "auth.password_env", env)
    pair = base64.b64encode(f"{auth.username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}"}


def _one_of(value: str, env_name: str, key: str, env_key: str) -> None:
    if bool(value) == bool(env_name):
        raise ValueError(f"set exactly one of {key} and {env_key}")


def _secret(value: str, env_name: str, key: str, env: Mapping[str, str]) -> str:
    if value:
        return value
    secret = env.get(env_name, "")
    if not secret:
        raise RestConfigError(f"{key}: environment variable {env_name!r} is not set or empty")
    return secret
