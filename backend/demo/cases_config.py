"""The ``rest`` adapter configuration for the demo case-management API (:mod:`margin.demo.cases_api`).

Written in Python for type checking; ``msgspec.to_builtins`` turns it into the same table a
user would write in TOML. Cases are scoped by assignee: users without an ``admin`` or
``manager`` role see only the cases assigned to them (and no unassigned ones); those two roles
are named here because by default no role sees every case.
"""

from __future__ import annotations

from margin.adapters.rest import (
    PageNumberPages,
    ParamFilter,
    RestAdapterConfig,
    RestField,
    RestList,
    RestRecordType,
    RestRelated,
    RestTimeline,
)
from margin.demo.cases_data import PRIORITIES, STATUSES, TIERS


def demo_cases_config(base_url: str) -> RestAdapterConfig:
    """The demo API at ``base_url`` (e.g. ``http://127.0.0.1:8000/demo/api``)."""
    return RestAdapterConfig(
        base_url=base_url,
        see_all_roles=("admin", "manager"),
        record_types={"case": _case(), "customer": _customer()},
    )


def _case() -> RestRecordType:
    return RestRecordType(
        label="Case",
        plural="cases",
        aliases=("ticket", "tickets", "issue", "issues"),
        get="/cases/{id}",
        item_path="case",
        title_field="subject",
        version_path="updated_at",
        default_sort="updated_at",
        owner_field="assignee",
        fields={
            "id": RestField(label="ID"),
            "subject": RestField(label="Subject", aliases=("title",)),
            "status": RestField(type="enum", allowed_values=STATUSES),
            "priority": RestField(type="enum", allowed_values=PRIORITIES, aliases=("urgency",)),
            "customer": RestField(path="customer.name", aliases=("account", "company", "client")),
            "assignee": RestField(aliases=("agent", "owner")),
            "created_at": RestField(type="date", label="Created", aliases=("opened",)),
            "updated_at": RestField(type="datetime", label="Last activity", aliases=("updated",)),
        },
        list_=RestList(
            path="/cases",
            items_path="items",
            total_path="total",
            pagination=PageNumberPages(),
            filter_params=(
                ParamFilter(field="status", param="status"),
                ParamFilter(field="status", op="in", param="status"),
                ParamFilter(field="priority", param="priority"),
                ParamFilter(field="priority", op="in", param="priority"),
                ParamFilter(field="assignee", param="assignee"),
            ),
        ),
        timeline=RestTimeline(
            path="/cases/{id}/comments",
            items_path="comments",
            total_path="total",
            pagination=PageNumberPages(),
            at_path="created_at",
            author_path="author.name",
            kind_path="kind",
            text_path="body",
        ),
        related={"customer": RestRelated(type="customer", path="customer", title_path="name")},
    )


def _customer() -> RestRecordType:
    return RestRecordType(
        label="Customer",
        plural="customers",
        aliases=("account", "accounts", "company", "companies"),
        get="/customers/{id}",
        item_path="customer",
        title_field="name",
        fields={
            "id": RestField(label="ID"),
            "name": RestField(label="Name"),
            "tier": RestField(type="enum", allowed_values=TIERS, aliases=("plan",)),
            "country": RestField(),
            "contact_name": RestField(path="contact.name", label="Contact"),
            "contact_email": RestField(
                path="contact.email", label="Contact e-mail", sensitive=True, queryable=False
            ),
            "contact_phone": RestField(
                path="contact.phone", label="Contact phone", sensitive=True, queryable=False
            ),
            "customer_since": RestField(type="date", label="Customer since", aliases=("since",)),
        },
        list_=RestList(
            path="/customers",
            items_path="items",
            total_path="total",
            pagination=PageNumberPages(),
            filter_params=(
                ParamFilter(field="tier", param="tier"),
                ParamFilter(field="tier", op="in", param="tier"),
            ),
        ),
    )
