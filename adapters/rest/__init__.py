"""The ``rest`` adapter: a host's JSON/REST API described by configuration.

See :class:`RestAdapterConfig` for the settings, :mod:`margin.adapters.rest.presets` for the
Zendesk and HubSpot presets (also selectable from TOML with ``preset = {name = ...}``).
"""

from margin.adapters.rest.adapter import RestAdapter
from margin.adapters.rest.auth import BasicAuth, BearerAuth, HeaderAuth, RestConfigError
from margin.adapters.rest.config import RestAdapterConfig, RestField, RestRecordType, RestRelated, Timeouts
from margin.adapters.rest.endpoints import (
    AuthorNames,
    CursorPages,
    FilterGroupsSearch,
    NoPages,
    OffsetPages,
    PageNumberPages,
    ParamFilter,
    QueryStringSearch,
    RestList,
    RestListing,
    RestTimeline,
    SearchTerm,
)
from margin.adapters.rest.preset_options import HubSpotPreset, ZendeskPreset
from margin.adapters.rest.presets import hubspot_config, zendesk_config

__all__ = [
    "AuthorNames",
    "BasicAuth",
    "BearerAuth",
    "CursorPages",
    "FilterGroupsSearch",
    "HeaderAuth",
    "HubSpotPreset",
    "NoPages",
    "OffsetPages",
    "PageNumberPages",
    "ParamFilter",
    "QueryStringSearch",
    "RestAdapter",
    "RestAdapterConfig",
    "RestConfigError",
    "RestField",
    "RestList",
    "RestListing",
    "RestRecordType",
    "RestRelated",
    "RestTimeline",
    "SearchTerm",
    "Timeouts",
    "ZendeskPreset",
    "hubspot_config",
    "zendesk_config",
]
