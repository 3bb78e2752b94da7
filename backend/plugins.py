"""Plugins: packages that add configuration, routes and start-up work to a Margin server.

Found through the ``margin.plugins`` entry-point group and switched on by name in config
(``plugins = ["demo"]`` or ``MARGIN_PLUGINS=demo``). The built-in demo (its host apps, their
adapters, its tenant) is one, registered exactly like a third-party plugin::

    [project.entry-points."margin.plugins"]
    demo = "margin.demo:DemoPlugin"
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

    from margin.config import Settings

ENTRY_POINT_GROUP = "margin.plugins"


class PluginError(ValueError):
    """A plugin named in config is not installed or does not load."""


class Plugin(Protocol):
    def configure(self, settings: Settings) -> Settings:
        """The settings with this plugin's additions (adapters, tenants, feature settings)."""
        ...

    def route_handlers(self, settings: Settings) -> Sequence[ControllerRouterHandler]:
        """Routes to mount on the app."""
        ...

    async def start(self, settings: Settings) -> None:
        """Work before the server takes requests (e.g. creating demo data)."""
        ...


def load_plugins(names: Sequence[str]) -> list[Plugin]:
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    plugins: list[Plugin] = []
    for name in names:
        entry_point = found.get(name)
        if entry_point is None:
            raise PluginError(
                f"plugins: no plugin {name!r} is installed (installed: {', '.join(sorted(found))})"
            )
        try:
            plugins.append(entry_point.load()())
        except Exception as exc:  # a broken package must not crash start-up unexplained
            raise PluginError(f"plugins: plugin {name!r} failed to load: {exc}") from exc
    return plugins
