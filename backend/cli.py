"""The ``margin`` command: run the demo or a production server, mint tokens, check config."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import uvicorn

from margin import __version__
from margin.auth import mint_token
from margin.config import DEFAULT_CONFIG_FILE, ConfigError, Settings, load_settings, masked
from margin.logs import configure_logging
from margin.server_protocol import timed_protocol

if TYPE_CHECKING:
    from litestar import Litestar

# Open SSE streams would otherwise hold a Ctrl-C or a rolling restart indefinitely.
GRACEFUL_SHUTDOWN_S = 10

SIMULATOR_HELP = """\
A fake of the OpenAI and Anthropic streaming APIs for rehearsing slow models and outages
without keys or network. Point a provider at it: kind = "openai_compatible" (or "openai") with
base_url = "http://HOST:PORT/v1", or kind = "anthropic" with base_url = "http://HOST:PORT".

The flags set the default scenario. One request can pick its own with the x-margin-sim header,
a JSON object with the scenario's fields, e.g. x-margin-sim: {"fault": "rate_limit"}.
Control endpoints (JSON):
  GET  /_sim/requests  every request received, with how far its answer got
  PUT  /_sim/default   replace the default scenario
  POST /_sim/enqueue   a list of scenarios for the next requests, one each, in order
  POST /_sim/reset     forget requests and queued scenarios, restore the flags' scenario
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the problem instead of argparse's usage dump."""
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def _server_overrides(args: argparse.Namespace) -> dict[str, Any]:
    server = {key: value for key in ("host", "port") if (value := getattr(args, key)) is not None}
    return {"server": server} if server else {}


def _demo_settings(args: argparse.Namespace, server_overrides: dict[str, Any] | None = None) -> Settings:
    """What ``margin demo`` runs with; ``margin token`` loads the same to sign with its secret."""
    overrides: dict[str, Any] = {"plugins": ["demo"], **(server_overrides or {})}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    return load_settings(args.config, overrides=overrides)


def _build_app(settings: Settings) -> Litestar:
    from margin.app import create_app

    configure_logging(settings.effective_log_format, settings.log_level)
    return create_app(settings)


def _run(target: Litestar | str, settings: Settings, workers: int = 1) -> None:
    """uvicorn.run handles Ctrl-C and exits non-zero when start-up fails."""
    uvicorn.run(
        target,
        factory=isinstance(target, str),
        host=settings.server.host,
        port=settings.server.port,
        workers=workers,
        log_config=None,
        access_log=False,  # one structured interaction line per request instead
        loop="uvloop",
        http=timed_protocol(settings.server.request_timeout_s),
        timeout_keep_alive=settings.server.keep_alive_s,
        limit_concurrency=settings.server.max_connections,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = _demo_settings(args, _server_overrides(args))
    tenant = "demo" if "demo" in settings.tenants else next(iter(settings.tenants))
    token_cmd = ["margin", "token", "--tenant", tenant, "--user", "alice"]
    if args.config is not None:
        token_cmd += ["--config", args.config]
    if args.data_dir is not None:
        token_cmd += ["--data-dir", args.data_dir]
    app = _build_app(settings)
    url = f"http://{settings.server.host}:{settings.server.port}/"
    print(f"Margin demo running at {url} — mint a token with: {shlex.join(token_cmd)}", flush=True)
    if "*" in settings.tenants[tenant].allowed_origins:
        print(
            f'Tenant {tenant!r} accepts widget calls from any page origin (allowed_origins = ["*"]): '
            "fine on your laptop; list your host's origins for anything else.",
            flush=True,
        )
    _run(app, settings)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, overrides=_server_overrides(args))
    workers = args.workers or settings.server.workers
    if workers == 1:
        _run(_build_app(settings), settings)
        return 0
    # Worker processes load their settings afresh: hand them the same file and flags.
    if args.config is not None:
        os.environ["MARGIN_CONFIG"] = os.path.abspath(args.config)
    os.environ["MARGIN_SERVER__HOST"] = settings.server.host
    os.environ["MARGIN_SERVER__PORT"] = str(settings.server.port)
    configure_logging(settings.effective_log_format, settings.log_level)
    _run("margin.app:create_app_from_environment", settings, workers)
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from margin.demo import CREATED_SECRETS, demo_secret_path

    known = set(CREATED_SECRETS)
    settings = _demo_settings(args)
    tenant = settings.tenants.get(args.tenant)
    if tenant is None:
        return _fail(f"unknown tenant {args.tenant!r}; configured: {', '.join(sorted(settings.tenants))}")
    if args.ttl > settings.auth.max_ttl_s:
        return _fail(f"--ttl {args.ttl} exceeds auth.max_ttl_s ({settings.auth.max_ttl_s})")
    key = demo_secret_path(Path(settings.data_dir))
    if key in CREATED_SECRETS - known:
        print(
            f"margin: no demo signing key in {key.parent.resolve()}; made a new one. A demo running from "
            "another directory will reject this token: pass --data-dir (or MARGIN_DATA_DIR) to use its key.",
            file=sys.stderr,
        )
    roles = [role.strip() for role in args.roles.split(",") if role.strip()]
    print(mint_token(tenant.secret, tenant=args.tenant, user_id=args.user, roles=roles, ttl_s=args.ttl))
    return 0


def _cmd_config_check(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, overrides={"plugins": ["demo"]} if args.demo else None)
    print(json.dumps(masked(settings), indent=2))
    return 0


def _cmd_adapters_list(args: argparse.Namespace) -> int:
    """Installed adapter kinds (entry points) and the configured adapter sections using them."""
    from margin.adapters.registry import installed_adapters

    print("Installed adapters (entry-point group margin.adapters):")
    for name, entry_point in sorted(installed_adapters().items()):
        dist = entry_point.dist
        origin = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
        print(f"  {name:<12} {entry_point.value}  ({origin})")
    print("Configured adapters:")
    configured = args.config or os.environ.get("MARGIN_CONFIG") or os.path.exists(DEFAULT_CONFIG_FILE)
    if not (configured or args.demo):
        print("  no configuration found (pass --config FILE, or --demo for the demo's adapters)")
        return 0
    settings = load_settings(args.config, overrides={"plugins": ["demo"]} if args.demo else None)
    if not settings.adapters:
        print("  none")
    for name, section in sorted(settings.adapters.items()):
        users = sorted(tenant for tenant, config in settings.tenants.items() if name in config.adapters)
        print(f"  {name:<12} kind={section['kind']}  tenants: {', '.join(users) or 'none'}")
    return 0


def _cmd_simulate_provider(args: argparse.Namespace) -> int:
    from margin.testing.simulator import Scenario, run_simulator

    try:
        scenario = Scenario(
            ttft_ms=args.ttft_ms,
            tokens_per_s=args.tokens_per_s,
            total_tokens=args.total_tokens,
            text=args.text,
            fault=args.fault,
            fault_after_tokens=args.fault_after_tokens,
            retry_after_s=args.retry_after_s,
        )
    except ValueError as exc:  # a negative number, named by its field
        return _fail(str(exc))
    configure_logging("console", "info")
    try:
        run_simulator(args.host, args.port, scenario)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    return 0


def _fail(message: str) -> int:
    print(f"margin: {message}", file=sys.stderr)
    return 2


def _parser() -> _Parser:
    parser = _Parser(prog="margin", description="An embeddable AI copilot sidebar for existing apps.")
    parser.add_argument("--version", action="version", version=f"margin {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    config_help = "TOML config file (default: $MARGIN_CONFIG, else ./margin.toml if present)"

    demo = commands.add_parser("demo", help="run everything locally with embedded defaults")
    demo.set_defaults(handler=_cmd_demo)
    demo.add_argument("--host", help="bind address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="port (default 8000)")
    demo.add_argument("--data-dir", help="where the demo keeps its data (default ./.margin)")
    demo.add_argument("--config", help=config_help)

    serve = commands.add_parser("serve", help="run the production server")
    serve.set_defaults(handler=_cmd_serve)
    serve.add_argument("--config", help=config_help)
    serve.add_argument("--host", help="bind address (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: server.port)")
    serve.add_argument("--workers", type=_positive_int, help="worker processes (default: server.workers)")

    token = commands.add_parser("token", help="mint a user token (prints only the token)")
    token.set_defaults(handler=_cmd_token)
    token.add_argument("--tenant", required=True)
    token.add_argument("--user", required=True, help="user id (the 'sub' claim)")
    token.add_argument("--roles", default="", help="comma-separated roles")
    token.add_argument("--ttl", type=_positive_int, default=900, help="lifetime in seconds (default 900)")
    token.add_argument("--config", help=config_help)
    token.add_argument("--data-dir", help="the demo's data directory (default ./.margin)")

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(title="commands", required=True, metavar="COMMAND")
    check = config_commands.add_parser(
        "check", help="validate and print the effective config, secrets masked"
    )
    check.set_defaults(handler=_cmd_config_check)
    check.add_argument("--config", help=config_help)
    check.add_argument("--demo", action="store_true", help="check with the demo defaults")

    adapters = commands.add_parser("adapters", help="inspect installed and configured adapters")
    adapters_commands = adapters.add_subparsers(title="commands", required=True, metavar="COMMAND")
    listing = adapters_commands.add_parser("list", help="installed adapter kinds and configured adapters")
    listing.set_defaults(handler=_cmd_adapters_list)
    listing.add_argument("--config", help=config_help)
    listing.add_argument("--demo", action="store_true", help="include the demo's adapters")

    sim = commands.add_parser(
        "simulate-provider",
        help="run a fake OpenAI/Anthropic API to rehearse slow models and outages",
        description=SIMULATOR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.set_defaults(handler=_cmd_simulate_provider)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8090)
    sim.add_argument("--ttft-ms", type=float, default=300.0, help="time to first token (default 300)")
    sim.add_argument("--tokens-per-s", type=float, default=40.0, help="pace, 0 for flat out (default 40)")
    sim.add_argument("--total-tokens", type=int, default=120, help="filler tokens per answer (default 120)")
    sim.add_argument("--text", help="answer with this text, one token per word (default: filler)")
    sim.add_argument(
        "--fault",
        default="none",
        choices=["none", "rate_limit", "server_error", "unavailable", "drop", "malformed", "hang"],
        help="failure to inject (default none)",
    )
    sim.add_argument(
        "--fault-after-tokens", type=int, default=0, help="tokens streamed before the fault (default 0)"
    )
    sim.add_argument(
        "--retry-after-s", type=float, default=1.0, help="Retry-After for rate_limit (default 1)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``margin`` console script and ``python -m margin``."""
    try:
        args = _parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as exc:  # argparse (--help, --version, usage errors), uvicorn (failed start-up)
        return exc.code if isinstance(exc.code, int) else 0
    except ConfigError as exc:
        return _fail(str(exc))
