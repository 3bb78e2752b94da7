"""The Litestar application: the composition root that wires configuration, providers,
adapters and stores into HTTP routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from margin import __version__
from margin.auth import TokenVerifier
from margin.config import Settings, load_settings
from margin.errors import EXCEPTION_HANDLERS
from margin.logs import configure_logging, litestar_logging_config
from margin.openapi import StrictStructSchemaPlugin
from margin.plugins import load_plugins
from margin.routes import FeedbackController, HealthController, feature_router
from margin.security import cors_origins
from margin.services import Services
from margin.widget_asset import widget_js


def create_app(settings: Settings) -> Litestar:
    plugins = load_plugins(settings.plugins)
    services = Services(settings, plugins)
    tokens = TokenVerifier(settings.tenants, settings.auth)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    route_handlers: list[ControllerRouterHandler] = [
        feature_router(services.features, settings.server.heartbeat_s),
        FeedbackController,
        HealthController,
        widget_js,
    ]
    for plugin in plugins:
        route_handlers.extend(plugin.route_handlers(settings))

    app = Litestar(
        route_handlers=route_handlers,
        plugins=[StrictStructSchemaPlugin()],
        dependencies={
            "services": Provide(lambda: services, sync_to_thread=False, use_cache=True),
            "settings": Provide(lambda: settings, sync_to_thread=False, use_cache=True),
            "tokens": Provide(lambda: tokens, sync_to_thread=False, use_cache=True),
            "pipeline": Provide(lambda: services.pipeline, sync_to_thread=False, use_cache=True),
            "interactions": Provide(lambda: services.store, sync_to_thread=False, use_cache=True),
            "feedback": Provide(lambda: services.feedback, sync_to_thread=False, use_cache=True),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        cors_config=CORSConfig(
            allow_origins=cors_origins(settings),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
            expose_headers=["Retry-After"],
        ),
        request_max_body_size=settings.server.max_body_bytes,
        logging_config=litestar_logging_config(),
        openapi_config=OpenAPIConfig(title="Margin", version=__version__, path="/schema"),
    )
    return app


def create_app_from_environment() -> Litestar:
    """Factory for ``uvicorn --factory`` workers: settings from margin.toml and MARGIN_* variables."""
    settings = load_settings()
    configure_logging(settings.effective_log_format, settings.log_level)
    return create_app(settings)
