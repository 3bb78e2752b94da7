"""The resilience settings decode from plain config data, with defaults and clear errors."""

from __future__ import annotations

import msgspec
import pytest

from margin.resilience.config import DataPolicy, Quota, ResilienceSettings


def decode(raw: dict[str, object]) -> ResilienceSettings:
    return msgspec.convert(raw, ResilienceSettings, strict=False)


def test_defaults_are_a_working_embedded_setup() -> None:
    settings = ResilienceSettings()
    assert settings.redis.connect_timeout_s <= 0.1 and settings.redis.socket_timeout_s <= 0.1
    assert settings.timeouts.ttft_s == 5.0
    assert settings.limits.per_user == Quota(requests_per_minute=30)
    assert settings.cache.ttl_for("summarize") == 600.0
    assert settings.sensitive.policy_for("anyone") == DataPolicy()


def test_values_from_toml_or_environment_strings() -> None:
    settings = decode(
        {
            "limits": {
                "per_user": {"requests_per_minute": "50"},
                "tenants": {"acme": {"per_tenant": {"usd_per_day": 5}}},
            },
            "sensitive": {"tenants": {"bank": {"always_sensitive": True, "detect": ["card", "iban"]}}},
            "cache": {"feature_ttl_s": {"draft": 0}, "enabled": True},
            "timeouts": {"ttft_s": "2.5"},
        }
    )
    assert settings.limits.per_user.requests_per_minute == 50
    acme = settings.limits.tenants["acme"]
    assert acme.per_tenant is not None and acme.per_tenant.usd_per_day == 5.0
    assert settings.sensitive.policy_for("bank") == DataPolicy(always_sensitive=True, detect=("card", "iban"))
    assert settings.cache.ttl_for("draft") == 0 and settings.cache.ttl_for("query") == 600.0
    assert settings.timeouts.ttft_s == 2.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"redis": {"socket_timeout_s": 0.5}}, "Expected `float` <= 0.1 - at `$.redis.socket_timeout_s`"),
        ({"breaker": {"window_s": 1, "bucket_s": 5}}, "bucket_s must not exceed window_s - at `$.breaker`"),
        ({"breaker": {"failure_rate": 1.5}}, "Expected `float` <= 1.0 - at `$.breaker.failure_rate`"),
        (
            {"limits": {"per_user": {"rpm": 5}}},
            "Object contains unknown field `rpm` - at `$.limits.per_user`",
        ),
        ({"sensitive": {"default": {"detect": ["dna"]}}}, "Invalid enum value 'dna'"),
    ],
)
def test_bad_values_are_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode(raw)
    assert message in str(caught.value)
