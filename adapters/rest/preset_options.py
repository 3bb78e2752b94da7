"""The settings of each built-in preset, as written in TOML under the adapter's ``preset`` key.

They live apart from :mod:`margin.adapters.rest.presets` so that the adapter's configuration
type can name them without importing the presets that build on it.
"""

from __future__ import annotations

import re

import msgspec

_SUBDOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
DEFAULT_DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


class _Preset(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="name"):
    pass


class ZendeskPreset(_Preset, frozen=True, kw_only=True, tag="zendesk"):
    """Zendesk Support: ``subdomain`` (or ``base_url``) and an API token or an OAuth token.

    API token: ``email`` plus ``token_env``. OAuth access token: ``oauth_token_env``.
    ``scope_by_owner`` limits users without a see-all role to tickets assigned to them
    (their Margin user id must then be their Zendesk user id).
    """

    subdomain: str = ""
    base_url: str = ""
    email: str = ""
    token_env: str = ""
    oauth_token_env: str = ""
    scope_by_owner: bool = False

    def __post_init__(self) -> None:
        if bool(self.subdomain) == bool(self.base_url):
            raise ValueError("preset zendesk: set exactly one of subdomain and base_url")
        if self.subdomain and _SUBDOMAIN.fullmatch(self.subdomain) is None:
            raise ValueError(f"preset zendesk: subdomain {self.subdomain!r} is not a Zendesk subdomain")
        if bool(self.token_env) == bool(self.oauth_token_env):
            raise ValueError("preset zendesk: set exactly one of token_env (with email) and oauth_token_env")
        if self.token_env and not self.email:
            raise ValueError("preset zendesk: token_env needs email, the agent the API token belongs to")


class HubSpotPreset(_Preset, frozen=True, kw_only=True, tag="hubspot"):
    """HubSpot CRM deals and companies with a private-app token from ``token_env``.

    ``deal_stages`` lists the stage ids of the portal's pipelines (the default pipeline's
    unless given); ``scope_by_owner`` limits users without a see-all role to deals whose
    ``hubspot_owner_id`` is their Margin user id.
    """

    token_env: str
    base_url: str = "https://api.hubapi.com"
    deal_stages: tuple[str, ...] = DEFAULT_DEAL_STAGES
    scope_by_owner: bool = False

    def __post_init__(self) -> None:
        if not self.deal_stages:
            raise ValueError("preset hubspot: deal_stages must not be empty")


Preset = ZendeskPreset | HubSpotPreset
