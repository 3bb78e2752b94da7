"""The ``margin`` command, run in-process through ``main`` (and once as ``python -m margin``)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import uvicorn
from conftest import free_port
from litestar import Litestar

from margin import __version__
from margin.auth import verify_token
from margin.cli import main
from margin.config import load_settings
from margin.logs import configure_logging, litestar_logging_config
from margin.testing import simulator
from margin.testing.simulator import Scenario

TENANT_SECRET = "acme-tenant-secret-0123456789abcdef"
TENANT_CONFIG = f"""
[tenants.acme]
secret = "{TENANT_SECRET}"
adapters = ["helpdesk"]
[adapters.helpdesk]
kind = "rest"
preset = {{ name = "zendesk", subdomain = "acme", email = "agent@acme.test", token_env = "ZENDESK_TOKEN" }}
"""
# Variables the CLI reads or writes; each test starts without them and leaves none behind.
ENV_VARS = (
    "MARGIN_CONFIG",
    "MARGIN_SERVER__HOST",
    "MARGIN_SERVER__PORT",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in an empty directory with no MARGIN_* variables, and restore logging afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("MARGIN_")]:
        monkeypatch.delenv(name)
    for name in ENV_VARS:
        monkeypatch.setenv(name, "")  # records the original, so whatever the CLI sets is undone
        monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "margin.toml"
    path.write_text(text)
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"margin {__version__}\n"


def test_python_dash_m_margin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "margin", "--version"], capture_output=True, text=True, check=False
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, f"margin {__version__}\n", "")


def test_demo_token_verifies_against_the_demo_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(tmp_path / "data")

    code = main(
        ["token", "--tenant", "demo", "--user", "alice", "--roles", "agent, admin", "--data-dir", data_dir]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert out.count("\n") == 1
    settings = load_settings(env={}, overrides={"plugins": ["demo"], "data_dir": data_dir})
    user = verify_token(out.strip(), settings.tenants, settings.auth)
    assert (user.tenant, user.user_id, user.roles) == ("demo", "alice", ("agent", "admin"))


def test_a_token_that_needs_a_new_demo_key_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Minted from a directory with no demo key, the token would not work against a running demo."""
    data_dir = str(tmp_path / "elsewhere")
    assert main(["token", "--tenant", "demo", "--user", "alice", "--data-dir", data_dir]) == 0
    first = capsys.readouterr()
    assert "made a new one" in first.err and "--data-dir" in first.err and first.out.count("\n") == 1
    assert main(["token", "--tenant", "demo", "--user", "alice", "--data-dir", data_dir]) == 0
    assert capsys.readouterr().err == ""  # the key exists now: nothing to warn about


def test_token_for_a_configured_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, TENANT_CONFIG)

    assert main(["token", "--config", str(path), "--tenant", "acme", "--user", "bob"]) == 0

    settings = load_settings(path, env={})
    assert verify_token(capsys.readouterr().out.strip(), settings.tenants, settings.auth).user_id == "bob"
    assert not (tmp_path / ".margin").exists()


def test_token_for_an_unknown_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, TENANT_CONFIG)

    assert main(["token", "--config", str(path), "--tenant", "globex", "--user", "bob"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "margin: unknown tenant 'globex'; configured: acme\n"


def test_token_longer_than_the_configured_maximum(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--tenant", "demo", "--user", "a", "--ttl", "86401"]) == 2
    assert "auth.max_ttl_s" in capsys.readouterr().err


def test_config_check_prints_masked_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-top-secret-key")
    path = write_config(tmp_path, TENANT_CONFIG)

    assert main(["config", "check", "--config", str(path)]) == 0

    out = capsys.readouterr().out
    shown = json.loads(out)
    assert shown["plugins"] == []
    assert shown["providers"]["openai"]["api_key"] == "***"
    assert shown["tenants"]["acme"]["secret"] == "***"
    assert shown["chains"]["default"] == ["openai", "offline"]
    assert "sk-top-secret-key" not in out
    assert TENANT_SECRET not in out


def test_config_check_with_demo_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--demo"]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert (shown["plugins"], shown["tenants"]["demo"]["secret"]) == (["demo"], "***")
    assert (tmp_path / ".margin" / "demo-tenant-secret").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[server]\nport = 'abc'\n", "`server.port`"),
        ("[server]\nprot = 1\n", "unknown field `prot`"),
        ("[server\n", "is not valid TOML"),
        ("", "tenants: at least one tenant is required"),
    ],
)
def test_config_check_rejects_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    path = write_config(tmp_path, config)

    assert main(["config", "check", "--config", str(path)]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("margin: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "Config file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--tenant", "demo"], "the following arguments are required: --user"),
        (["token", "--tenant", "demo", "--user", "a", "--ttl", "0"], "expected a positive integer, got '0'"),
        (["serve", "--workers", "many"], "expected a positive integer, got 'many'"),
        (["demo", "--port", "http"], "invalid int value: 'http'"),
        (["launch"], "invalid choice: 'launch'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_flags_give_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2

    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_serve_with_workers_hands_settings_to_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, TENANT_CONFIG)
    calls: list[tuple[tuple[Any, ...], dict[str, Any], dict[str, str]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw, dict(os.environ))))

    assert main(["serve", "--config", "margin.toml", "--port", "9123", "--workers", "3"]) == 0

    [(args, kwargs, env)] = calls
    assert args == ("margin.app:create_app_from_environment",)
    assert (kwargs["factory"], kwargs["workers"], kwargs["port"], kwargs["log_config"]) == (
        True,
        3,
        9123,
        None,
    )
    assert env["MARGIN_CONFIG"] == str(path)
    assert (env["MARGIN_SERVER__HOST"], env["MARGIN_SERVER__PORT"]) == ("127.0.0.1", "9123")
    worker_settings = load_settings(env=env)
    assert (worker_settings.server.port, list(worker_settings.tenants)) == (9123, ["acme"])


def test_json_logs_share_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console", "debug")
    configure_logging("json", "info")  # a second call replaces the first

    structlog.get_logger("margin.test").info("hello", user="alice")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.openai.com")
    logging.getLogger("margin.test").debug("not at info")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("margin.test", "info", "hello"),
        ("uvicorn.error", "info", "Started server process [42]"),
    ]
    assert lines[0]["user"] == "alice"
    assert lines[0]["timestamp"].endswith("Z")


def test_json_tracebacks_leave_out_locals(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info")
    api_key = "sk-do-not-log"

    try:
        raise RuntimeError("provider failed")
    except RuntimeError:
        structlog.get_logger("margin.test").exception("call failed", provider="openai")

    err = capsys.readouterr().err
    assert json.loads(err)["exception"][0]["exc_value"] == "provider failed"
    assert api_key not in err


def test_litestar_keeps_the_shared_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info")

    Litestar(route_handlers=[], logging_config=litestar_logging_config())
    logging.getLogger("litestar").warning("from litestar")

    assert json.loads(capsys.readouterr().err)["logger"] == "litestar"


def test_simulate_provider_builds_the_scenario_from_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, Scenario]] = []
    monkeypatch.setattr(simulator, "run_simulator", lambda *args: calls.append(args))
    argv = ["simulate-provider", "--port", "8091", "--ttft-ms", "50", "--fault", "rate_limit"]

    assert main([*argv, "--fault-after-tokens", "3", "--retry-after-s", "2.5"]) == 0

    [(host, port, scenario)] = calls
    assert (host, port) == ("127.0.0.1", 8091)
    assert (scenario.ttft_ms, scenario.fault, scenario.fault_after_tokens) == (50.0, "rate_limit", 3)
    assert scenario.retry_after_s == 2.5


def test_simulate_provider_rejects_a_negative_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate-provider", "--tokens-per-s", "-1"]) == 2
    assert capsys.readouterr().err == "margin: tokens_per_s: must be >= 0\n"


def test_serve_exits_when_start_up_fails(tmp_path: Path) -> None:
    """An adapter that cannot open its database: the process must end, not stay up unready."""
    config = tmp_path / "margin.toml"
    config.write_text(
        f"""
[tenants.acme]
secret = "{"s" * 40}"
adapters = ["crm"]

[adapters.crm]
kind = "sql"
url = "sqlite:///{tmp_path}/missing/crm.sqlite"

[adapters.crm.record_types.deal]
table = "deals"
id_column = "id"
title_column = "name"
fields = {{ name = {{}} }}
"""
    )
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-m", "margin", "serve", "--config", str(config), "--port", str(free_port())],
        env={k: v for k, v in os.environ.items() if not k.startswith("MARGIN_")},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert finished.returncode != 0
    assert time.monotonic() - started < 30  # about a second on an idle machine
    assert "cannot open" in finished.stderr and "Application startup failed" in finished.stderr
