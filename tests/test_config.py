"""Configuration: defaults, TOML, ``MARGIN_*`` variables, cross-checks and secret handling."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest

from margin.config import ConfigError, Settings, load_settings, masked
from margin.demo import demo_secret
from margin.demo.cases_config import demo_cases_config
from margin.demo.crm_config import demo_crm_config

TENANT_SECRET = "t" * 40


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``margin.toml`` in the working directory would be read; keep tests off the real one."""
    monkeypatch.chdir(tmp_path)


def demo(tmp_path: Path, env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Demo-mode settings rooted in tmp_path, read from ``env`` only, never the real environment."""
    overrides = {"plugins": ["demo"], "data_dir": str(tmp_path / "data"), **overrides}
    return load_settings(env=env or {}, overrides=overrides)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "margin.toml"
    path.write_text(text)
    return path


def test_demo_defaults(tmp_path: Path) -> None:
    settings = demo(tmp_path)

    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert list(settings.providers) == ["offline"]
    assert settings.chains == {"default": ["offline"]}
    assert settings.chain_for("summarize") == ["offline"]
    assert list(settings.tenants) == ["demo"]
    assert settings.effective_log_format == "console"


def test_production_without_tenants_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tenants: at least one tenant"):
        load_settings(env={"MARGIN_DATA_DIR": str(tmp_path)})


def test_toml_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        f"""
        log_format = "console"
        [server]
        port = 9100
        [providers.local]
        kind = "openai_compatible"
        base_url = "http://gpu-box:8000/v1"
        model = "llama"
        local = true
        [chains]
        default = ["local", "offline"]
        [tenants.acme]
        secret = "{TENANT_SECRET}"
        allowed_origins = ["https://crm.acme.test"]
        adapters = ["helpdesk"]
        [adapters.helpdesk]
        kind = "rest"
        preset = {{ name = "zendesk", subdomain = "acme", email = "a@acme.test", token_env = "ZD_TOKEN" }}
        """,
    )

    settings = load_settings(path, env={})

    assert settings.plugins == []
    assert settings.server.port == 9100
    assert settings.providers["local"].local is True
    assert settings.chain_for("draft") == ["local", "offline"]
    assert settings.tenants["acme"].allowed_origins == ["https://crm.acme.test"]
    assert settings.effective_log_format == "console"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'plugins = ["demo"]\n[server]\nport = 9200\n')

    settings = load_settings(env={"MARGIN_CONFIG": str(path), "MARGIN_DATA_DIR": str(tmp_path)})

    assert settings.server.port == 9200


def test_missing_and_invalid_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Config file not found"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write_toml(tmp_path, "[server\n"), env={})


def test_environment_overrides_file_with_nesting_and_conversion(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'plugins = ["demo"]\n[server]\nport = 9100\n')
    env = {
        "MARGIN_DATA_DIR": str(tmp_path),
        "MARGIN_SERVER__PORT": "9000",
        "MARGIN_SERVER__HEARTBEAT_S": "2.5",
        "MARGIN_PROVIDERS__LOCAL__KIND": "openai_compatible",
        "MARGIN_PROVIDERS__LOCAL__BASE_URL": "http://gpu-box:8000/v1",
        "MARGIN_PROVIDERS__LOCAL__MODEL": "llama",
        "MARGIN_PROVIDERS__LOCAL__LOCAL": "true",
        "MARGIN_CHAINS__QUERY": "local, offline",
    }

    settings = load_settings(path, env=env)

    assert settings.server.port == 9000
    assert settings.server.heartbeat_s == 2.5
    assert settings.providers["local"].local is True
    assert settings.chain_for("query") == ["local", "offline"]
    assert settings.chain_for("summarize") == ["local", "offline"]


def test_overrides_beat_environment(tmp_path: Path) -> None:
    settings = demo(tmp_path, env={"MARGIN_SERVER__PORT": "9000"}, server={"port": 9001})

    assert settings.server.port == 9001


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.port"):
        demo(tmp_path, env={"MARGIN_SERVER__PORT": "abc"})


def test_unknown_key_is_rejected_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prot"):
        demo(tmp_path, env={"MARGIN_SERVER__PROT": "9000"})
    with pytest.raises(ConfigError, match="colour"):
        load_settings(write_toml(tmp_path, 'plugins = ["demo"]\ncolour = "blue"\n'), env={})


def test_chain_naming_an_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"chains\.draft: unknown provider 'gpt'"):
        demo(tmp_path, env={"MARGIN_CHAINS__DRAFT": "gpt,offline"})


def test_chain_for_an_unknown_feature(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"chains\.translate: unknown feature"):
        demo(tmp_path, env={"MARGIN_CHAINS__TRANSLATE": "offline"})


def test_openai_provider_without_key(tmp_path: Path) -> None:
    env = {"MARGIN_PROVIDERS__GPT__KIND": "openai", "MARGIN_PROVIDERS__GPT__MODEL": "gpt-4o"}

    with pytest.raises(ConfigError, match=r"providers\.gpt\.api_key"):
        demo(tmp_path, env=env)


def test_openai_api_key_adds_provider_before_offline(tmp_path: Path) -> None:
    settings = demo(tmp_path, env={"OPENAI_API_KEY": "sk-test-123"})

    assert settings.providers["openai"].kind == "openai"
    assert settings.providers["openai"].api_key == "sk-test-123"
    assert settings.chains["default"] == ["openai", "offline"]


def test_api_key_variable_fills_a_configured_provider(tmp_path: Path) -> None:
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "MARGIN_PROVIDERS__CLAUDE__KIND": "anthropic",
        "MARGIN_PROVIDERS__CLAUDE__MODEL": "claude-x",
    }

    settings = demo(tmp_path, env=env)

    assert "anthropic" not in settings.providers
    assert settings.providers["claude"].api_key == "sk-ant-test"


def test_short_tenant_secret_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tenants\.acme\.secret"):
        demo(tmp_path, env={"MARGIN_TENANTS__ACME__SECRET": "short"})


def test_masked_hides_api_keys_and_tenant_secrets(tmp_path: Path) -> None:
    env = {
        "OPENAI_API_KEY": "sk-very-secret",
        "MARGIN_TENANTS__ACME__SECRET": TENANT_SECRET,
        "MARGIN_TENANTS__ACME__ADAPTERS": "pg",
    }
    crm = msgspec.to_builtins(demo_crm_config(tmp_path / "crm.sqlite"))
    pg = {**crm, "kind": "sql", "url": "postgresql://margin:hunter2@db.internal:5432/crm"}

    shown = masked(demo(tmp_path, env=env, adapters={"pg": pg}))

    assert shown["providers"]["openai"]["api_key"] == "***"
    assert shown["providers"]["offline"]["api_key"] is None
    assert shown["tenants"]["acme"]["secret"] == "***"
    assert "sk-very-secret" not in repr(shown)
    assert TENANT_SECRET not in repr(shown) and "hunter2" not in repr(shown)
    assert shown["adapters"]["pg"]["url"] == "postgresql://margin:***@db.internal:5432/crm"


def test_masked_shows_numbers_and_hides_every_kind_of_secret(tmp_path: Path) -> None:
    rest = msgspec.to_builtins(demo_cases_config("https://cases.example"))
    cases = {
        **rest,
        "kind": "rest",
        "auth": {"kind": "header", "header": "X-Api-Key", "value": "header-secret-value"},
    }
    helpdesk = {**cases, "auth": {"kind": "bearer", "token": "bearer-secret-token"}}
    shown = masked(demo(tmp_path, adapters={"cases": cases, "helpdesk": helpdesk}))
    assert shown["providers"]["offline"]["max_tokens"] == 1024
    assert shown["resilience"]["limits"]["chars_per_token"] == 3.0
    assert shown["adapters"]["cases"]["auth"]["value"] == "***"
    assert shown["adapters"]["cases"]["auth"]["header"] == "X-Api-Key"
    assert shown["adapters"]["helpdesk"]["auth"]["token"] == "***"
    assert "header-secret-value" not in repr(shown) and "bearer-secret-token" not in repr(shown)


def test_demo_secret_is_private_and_stable(tmp_path: Path) -> None:
    first = demo(tmp_path).tenants["demo"].secret
    second = demo(tmp_path).tenants["demo"].secret

    path = tmp_path / "data" / "demo-tenant-secret"
    assert first == second == demo_secret(tmp_path / "data")
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_demo_secret_differs_per_data_dir(tmp_path: Path) -> None:
    assert demo_secret(tmp_path / "a") != demo_secret(tmp_path / "b")


def test_configured_tenants_replace_the_demo_tenant(tmp_path: Path) -> None:
    settings = demo(
        tmp_path,
        env={"MARGIN_TENANTS__ACME__SECRET": TENANT_SECRET, "MARGIN_TENANTS__ACME__ADAPTERS": "demo_crm"},
    )

    assert list(settings.tenants) == ["acme"]
    assert not (tmp_path / "data").exists()
