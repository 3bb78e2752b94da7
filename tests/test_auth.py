"""User tokens: what verify_token accepts, and the exact reason for everything it refuses."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from margin.auth import TokenError, TokenVerifier, mint_token, verify_token
from margin.config import AuthSettings, TenantSettings

SECRET = "s" * 40
TENANTS = {"acme": TenantSettings(secret=SECRET)}
AUTH = AuthSettings(max_ttl_s=3600, leeway_s=10)


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"tenant": "acme", "sub": "alice", "roles": [], "iat": now, "exp": now + 600}
    return {**base, **changes}


def rejected(token: str) -> TokenError:
    with pytest.raises(TokenError) as caught:
        verify_token(token, TENANTS, AUTH)
    return caught.value


def test_round_trip_with_roles() -> None:
    token = mint_token(SECRET, tenant="acme", user_id="alice", roles=["admin", "sales"], ttl_s=60)

    user = verify_token(token, TENANTS, AUTH)

    assert (user.tenant, user.user_id, user.roles) == ("acme", "alice", ("admin", "sales"))


def test_mint_refuses_a_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        mint_token(SECRET, tenant="acme", user_id="alice", ttl_s=0)


def test_expired_within_leeway_is_accepted() -> None:
    now = int(time.time())

    user = verify_token(signed(claims(iat=now - 60, exp=now - 5)), TENANTS, AUTH)

    assert user.user_id == "alice"


def test_expired_beyond_leeway_is_rejected() -> None:
    now = int(time.time())

    error = rejected(signed(claims(iat=now - 120, exp=now - 30)))

    assert (error.status, error.message) == (401, "Token expired")


def test_forged_signature() -> None:
    error = rejected(signed(claims(), secret="f" * 40))

    assert error.status == 401
    assert "signature" in error.message


def test_unknown_tenant_is_forbidden() -> None:
    error = rejected(signed(claims(tenant="globex")))

    assert error.status == 403
    assert "globex" in error.message


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c", "Bearer x.y.z"])
def test_malformed_token(token: str) -> None:
    error = rejected(token)

    assert (error.status, error.message) == (401, "Malformed token: not a JWT")


def test_missing_tenant_claim() -> None:
    body = claims()
    del body["tenant"]

    assert rejected(signed(body)).message == "Token has no 'tenant' claim"


@pytest.mark.parametrize("claim", ["sub", "exp", "iat"])
def test_missing_required_claim(claim: str) -> None:
    body = claims()
    del body[claim]

    error = rejected(signed(body))

    assert error.status == 401
    assert error.message == f"Token is missing the {claim!r} claim"


def test_alg_none_is_rejected() -> None:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims())}."

    error = rejected(token)

    assert (error.status, error.message) == (401, "Token must be signed with HS256")


def test_lifetime_over_max_ttl_is_rejected() -> None:
    now = int(time.time())

    error = rejected(signed(claims(iat=now, exp=now + AUTH.max_ttl_s + 1)))

    assert "lifetime exceeds" in error.message


@pytest.mark.parametrize("roles", ["admin", [1, 2], {"admin": True}])
def test_roles_of_the_wrong_type(roles: object) -> None:
    error = rejected(signed(claims(roles=roles)))

    assert error.message == "Token claim 'roles' must be a list of strings"


def test_roles_may_be_absent() -> None:
    body = claims()
    del body["roles"]

    assert verify_token(signed(body), TENANTS, AUTH).roles == ()


def test_the_verifier_checks_a_token_once_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(TENANTS, AUTH)
    decodes = 0
    decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    token = signed(claims(roles=["rep"]))
    first = verifier.verify(token)
    checks = decodes
    assert verifier.verify(token) == first and decodes == checks  # no second signature check
    assert first.roles == ("rep",)


def test_the_verifier_refuses_a_remembered_token_once_it_expired() -> None:
    verifier = TokenVerifier(TENANTS, AuthSettings(max_ttl_s=3600, leeway_s=0))
    now = int(time.time())
    token = signed(claims(iat=now, exp=now + 1))
    verifier.verify(token)
    time.sleep(max(0.0, now + 1.05 - time.time()))
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)


def test_the_verifier_remembers_no_refused_token_and_stays_bounded() -> None:
    verifier = TokenVerifier(TENANTS, AUTH, max_entries=3)
    forged = signed(claims(), secret="x" * 40)
    for _ in range(2):
        with pytest.raises(TokenError, match="signature"):
            verifier.verify(forged)
    for n in range(5):
        verifier.verify(signed(claims(sub=f"user{n}")))
    assert len(verifier._valid) == 3


@pytest.mark.parametrize("claim", ["exp", "iat"])
def test_time_claims_must_be_numbers(claim: str) -> None:
    now = int(time.time())
    token = signed(claims(**{claim: str(now + 60 if claim == "exp" else now)}))
    assert f"{claim!r} must be a number" in rejected(token).message
