"""Ready-made REST configurations for two well-known API shapes: Zendesk and HubSpot.

In Python::

    config = zendesk_config("acme", email="agent@acme.example", token_env="ZENDESK_TOKEN")
    config = hubspot_config(token_env="HUBSPOT_TOKEN")

From TOML alone, put a ``preset`` table in the REST adapter's settings instead of ``base_url``,
``auth`` and ``record_types``; ``name`` picks the preset and the other keys are its options
(:class:`~margin.adapters.rest.preset_options.ZendeskPreset`,
:class:`~margin.adapters.rest.preset_options.HubSpotPreset`). The adapter's general settings
(``timeouts``, ``max_pages``, ``page_size``, ``see_all_roles``) still apply::

    max_pages = 5                    # in the rest adapter's settings table
    [preset]                         # i.e. <the adapter's settings table>.preset
    name = "zendesk"
    subdomain = "acme"
    email = "agent@acme.example"
    token_env = "ZENDESK_TOKEN"

    # or: preset = { name = "hubspot", token_env = "HUBSPOT_TOKEN", scope_by_owner = true }

Zendesk (Support API v2): tickets, users and organizations; ticket comments (with sideloaded
author names) as the timeline; ``next_page`` links for paging; equality filters on status,
priority, type, assignee, requester and organization go to ``/api/v2/search.json``.

HubSpot (CRM v3): deals and companies; a deal's notes (found through the notes search on
``associations.deal``) as its timeline; ``paging.next.after`` cursors; filters on names,
stages, pipelines, owners and amounts go to the POST ``/search`` endpoints as ``filterGroups``.
Date filters, sorting and grouping run in memory for both.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from margin.adapters.rest.auth import Auth, BasicAuth, BearerAuth
from margin.adapters.rest.config import RestAdapterConfig, RestField, RestRecordType, RestRelated
from margin.adapters.rest.endpoints import (
    AuthorNames,
    CursorPages,
    FilterGroupsSearch,
    ParamFilter,
    QueryStringSearch,
    RestList,
    RestTimeline,
    SearchTerm,
)
from margin.adapters.rest.preset_options import DEFAULT_DEAL_STAGES, HubSpotPreset, ZendeskPreset


def expand_preset(config: RestAdapterConfig) -> RestAdapterConfig:
    """``config`` itself, or its preset's configuration carrying ``config``'s general settings."""
    if config.preset is None:
        return config
    preset = config.preset
    built = _zendesk(preset) if isinstance(preset, ZendeskPreset) else _hubspot(preset)
    return msgspec.structs.replace(
        built,
        timeouts=config.timeouts,
        max_pages=config.max_pages,
        page_size=config.page_size,
        see_all_roles=config.see_all_roles,
    )


def zendesk_config(
    subdomain_or_base_url: str,
    *,
    email: str = "",
    token_env: str = "",
    oauth_token_env: str = "",
    scope_by_owner: bool = False,
) -> RestAdapterConfig:
    """Zendesk Support at ``https://<subdomain>.zendesk.com`` (or any base URL with its shape)."""
    is_url = "://" in subdomain_or_base_url
    options = ZendeskPreset(
        subdomain="" if is_url else subdomain_or_base_url,
        base_url=subdomain_or_base_url if is_url else "",
        email=email,
        token_env=token_env,
        oauth_token_env=oauth_token_env,
        scope_by_owner=scope_by_owner,
    )
    return _zendesk(options)


def hubspot_config(
    token_env: str,
    *,
    base_url: str = "https://api.hubapi.com",
    deal_stages: tuple[str, ...] = DEFAULT_DEAL_STAGES,
    scope_by_owner: bool = False,
) -> RestAdapterConfig:
    """HubSpot's CRM objects API with a private-app token read from ``token_env``."""
    options = HubSpotPreset(
        token_env=token_env, base_url=base_url, deal_stages=deal_stages, scope_by_owner=scope_by_owner
    )
    return _hubspot(options)


# Zendesk ------------------------------------------------------------------------------------

_ZENDESK_PAGES = CursorPages(next_path="next_page", size_param="per_page")
_SIGNS: tuple[tuple[Literal["=", "!="], str], ...] = (("=", ""), ("!=", "-"))  # Zendesk negates with "-"


def _zendesk(options: ZendeskPreset) -> RestAdapterConfig:
    auth: Auth
    if options.token_env:
        auth = BasicAuth(username=f"{options.email}/token", password_env=options.token_env)
    else:
        auth = BearerAuth(token_env=options.oauth_token_env)
    base_url = options.base_url or f"https://{options.subdomain}.zendesk.com"
    return RestAdapterConfig(
        base_url=base_url,
        auth=auth,
        record_types={
            "ticket": _zendesk_ticket(options.scope_by_owner),
            "user": _zendesk_user(),
            "organization": _zendesk_organization(),
        },
    )


def _zendesk_ticket(scope_by_owner: bool) -> RestRecordType:
    equality_terms = {
        "status": "status",
        "priority": "priority",
        "type": "ticket_type",
        "assignee_id": "assignee",
        "requester_id": "requester",
        "organization_id": "organization",
    }
    return RestRecordType(
        label="Ticket",
        plural="tickets",
        aliases=("case", "cases", "request", "requests"),
        get="/api/v2/tickets/{id}.json",
        item_path="ticket",
        title_field="subject",
        version_path="updated_at",
        default_sort="updated_at",
        owner_field="assignee_id" if scope_by_owner else "",
        fields={
            "id": RestField(type="integer", label="ID"),
            "subject": RestField(label="Subject"),
            "description": RestField(type="text", label="Description"),
            "status": RestField(
                type="enum", allowed_values=("new", "open", "pending", "hold", "solved", "closed")
            ),
            "priority": RestField(type="enum", allowed_values=("low", "normal", "high", "urgent")),
            "type": RestField(type="enum", allowed_values=("problem", "incident", "question", "task")),
            "requester_id": RestField(type="integer", label="Requester ID"),
            "assignee_id": RestField(type="integer", label="Assignee ID", aliases=("assignee", "agent")),
            "organization_id": RestField(type="integer", label="Organization ID"),
            "tags": RestField(label="Tags"),
            "created_at": RestField(type="datetime", label="Created", aliases=("opened",)),
            "updated_at": RestField(type="datetime", label="Updated"),
            "due_at": RestField(type="datetime", label="Due"),
        },
        list_=RestList(
            path="/api/v2/tickets.json", items_path="tickets", total_path="count", pagination=_ZENDESK_PAGES
        ),
        search=QueryStringSearch(
            path="/api/v2/search.json",
            items_path="results",
            total_path="count",
            pagination=_ZENDESK_PAGES,
            param="query",
            prefix="type:ticket",
            terms=tuple(
                SearchTerm(field=field, op=op, term=f"{sign}{keyword}:{{value}}")
                for field, keyword in equality_terms.items()
                for op, sign in _SIGNS
            ),
        ),
        timeline=RestTimeline(
            path="/api/v2/tickets/{id}/comments.json",
            params={"include": "users"},
            items_path="comments",
            pagination=_ZENDESK_PAGES,
            at_path="created_at",
            author_path="author_id",
            text_path="plain_body",
            kind_path="public",
            kinds={"true": "comment", "false": "internal note"},
            authors=AuthorNames(items_path="users"),
        ),
        related={
            "requester": RestRelated(type="user", path="requester_id"),
            "assignee": RestRelated(type="user", path="assignee_id"),
            "organization": RestRelated(type="organization", path="organization_id"),
        },
    )


def _zendesk_user() -> RestRecordType:
    return RestRecordType(
        label="User",
        plural="users",
        aliases=("person", "people", "requester", "requesters"),
        get="/api/v2/users/{id}.json",
        item_path="user",
        title_field="name",
        version_path="updated_at",
        fields={
            "id": RestField(type="integer", label="ID"),
            "name": RestField(label="Name"),
            "email": RestField(label="E-mail", sensitive=True, queryable=False),
            "phone": RestField(label="Phone", sensitive=True, queryable=False),
            "role": RestField(type="enum", allowed_values=("end-user", "agent", "admin")),
            "organization_id": RestField(type="integer", label="Organization ID"),
            "created_at": RestField(type="datetime", label="Created"),
            "updated_at": RestField(type="datetime", label="Updated"),
        },
        list_=RestList(
            path="/api/v2/users.json",
            items_path="users",
            total_path="count",
            pagination=_ZENDESK_PAGES,
            filter_params=(ParamFilter(field="role", param="role"),),
        ),
        related={"organization": RestRelated(type="organization", path="organization_id")},
    )


def _zendesk_organization() -> RestRecordType:
    return RestRecordType(
        label="Organization",
        plural="organizations",
        aliases=("company", "companies", "account", "accounts"),
        get="/api/v2/organizations/{id}.json",
        item_path="organization",
        title_field="name",
        version_path="updated_at",
        fields={
            "id": RestField(type="integer", label="ID"),
            "name": RestField(label="Name"),
            "domain_names": RestField(label="Domains"),
            "details": RestField(type="text", label="Details"),
            "notes": RestField(type="text", label="Notes"),
            "created_at": RestField(type="datetime", label="Created"),
            "updated_at": RestField(type="datetime", label="Updated"),
        },
        list_=RestList(
            path="/api/v2/organizations.json",
            items_path="organizations",
            total_path="count",
            pagination=_ZENDESK_PAGES,
        ),
    )


# HubSpot ------------------------------------------------------------------------------------

_HUBSPOT_PAGES = CursorPages(next_path="paging.next.after", cursor_param="after", size_param="limit")
_DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "dealstage",
    "pipeline",
    "closedate",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
)
_COMPANY_PROPERTIES = ("name", "domain", "industry", "city", "country", "numberofemployees", "annualrevenue")
_NOTE_PROPERTIES = ("hs_note_body", "hs_timestamp", "hubspot_owner_id")


def _hubspot(options: HubSpotPreset) -> RestAdapterConfig:
    return RestAdapterConfig(
        base_url=options.base_url,
        auth=BearerAuth(token_env=options.token_env),
        record_types={
            "deal": _hubspot_deal(options.deal_stages, options.scope_by_owner),
            "company": _hubspot_company(),
        },
    )


def _hubspot_deal(stages: tuple[str, ...], scope_by_owner: bool) -> RestRecordType:
    properties = ",".join(_DEAL_PROPERTIES)
    notes_of_deal = {"propertyName": "associations.deal", "operator": "EQ", "value": "{id}"}
    return RestRecordType(
        label="Deal",
        plural="deals",
        aliases=("opportunity", "opportunities"),
        get="/crm/v3/objects/deals/{id}",
        get_params={"properties": properties, "associations": "companies"},
        title_field="name",
        version_path="updatedAt",
        default_sort="close_date",
        owner_field="owner" if scope_by_owner else "",
        fields={
            "id": RestField(label="ID"),
            "name": RestField(path="properties.dealname", label="Name", aliases=("title",)),
            "amount": RestField(path="properties.amount", type="money", aliases=("value", "size")),
            "stage": RestField(path="properties.dealstage", type="enum", allowed_values=stages),
            "pipeline": RestField(path="properties.pipeline"),
            "close_date": RestField(path="properties.closedate", type="date", aliases=("closing",)),
            "owner": RestField(path="properties.hubspot_owner_id", label="Owner ID", aliases=("rep",)),
            "created_at": RestField(path="properties.createdate", type="datetime", label="Created"),
            "updated_at": RestField(path="updatedAt", type="datetime", label="Updated"),
        },
        list_=RestList(
            path="/crm/v3/objects/deals",
            params={"properties": properties},
            items_path="results",
            pagination=_HUBSPOT_PAGES,
        ),
        search=FilterGroupsSearch(
            path="/crm/v3/objects/deals/search",
            body={"properties": list(_DEAL_PROPERTIES)},
            items_path="results",
            total_path="total",
            pagination=_HUBSPOT_PAGES,
            properties={
                "name": "dealname",
                "amount": "amount",
                "stage": "dealstage",
                "pipeline": "pipeline",
                "owner": "hubspot_owner_id",
            },
        ),
        timeline=RestTimeline(
            path="/crm/v3/objects/notes/search",
            method="POST",
            body={
                "filterGroups": [{"filters": [notes_of_deal]}],
                "properties": list(_NOTE_PROPERTIES),
                "sorts": [{"propertyName": "hs_timestamp", "direction": "ASCENDING"}],
            },
            items_path="results",
            pagination=_HUBSPOT_PAGES,
            at_path="properties.hs_timestamp",
            author_path="properties.hubspot_owner_id",
            text_path="properties.hs_note_body",
            kind="note",
        ),
        related={"company": RestRelated(type="company", path="associations.companies.results")},
    )


def _hubspot_company() -> RestRecordType:
    properties = ",".join(_COMPANY_PROPERTIES)
    return RestRecordType(
        label="Company",
        plural="companies",
        aliases=("account", "accounts", "customer", "customers"),
        get="/crm/v3/objects/companies/{id}",
        get_params={"properties": properties},
        title_field="name",
        version_path="updatedAt",
        fields={
            "id": RestField(label="ID"),
            "name": RestField(path="properties.name", label="Name"),
            "domain": RestField(path="properties.domain"),
            "industry": RestField(path="properties.industry"),
            "city": RestField(path="properties.city"),
            "country": RestField(path="properties.country"),
            "employees": RestField(path="properties.numberofemployees", type="integer"),
            "annual_revenue": RestField(path="properties.annualrevenue", type="money"),
            "created_at": RestField(path="createdAt", type="datetime", label="Created"),
            "updated_at": RestField(path="updatedAt", type="datetime", label="Updated"),
        },
        list_=RestList(
            path="/crm/v3/objects/companies",
            params={"properties": properties},
            items_path="results",
            pagination=_HUBSPOT_PAGES,
        ),
        search=FilterGroupsSearch(
            path="/crm/v3/objects/companies/search",
            body={"properties": list(_COMPANY_PROPERTIES)},
            items_path="results",
            total_path="total",
            pagination=_HUBSPOT_PAGES,
            properties={field: field for field in ("name", "domain", "industry", "city", "country")},
        ),
    )
