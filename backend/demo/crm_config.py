"""The ``sql`` adapter's configuration for the demo CRM, as an integrator would write it."""

from __future__ import annotations

from pathlib import Path

from margin.adapters.sql import (
    SqlAdapterConfig,
    SqlField,
    SqlJoin,
    SqlRecordType,
    SqlRelated,
    SqlScope,
    SqlTimeline,
    SqlTimelineSource,
)
from margin.demo.crm import INDUSTRIES, STAGES, TIERS


def demo_crm_config(path: Path) -> SqlAdapterConfig:
    """Deals are scoped to their owner for reps; managers and admins see every deal."""
    return SqlAdapterConfig(
        url="sqlite://" + path.resolve().as_posix(),
        scope=SqlScope(see_all_roles=("manager", "admin")),
        record_types={"deal": _DEAL, "account": _ACCOUNT, "contact": _CONTACT},
    )


_DEAL = SqlRecordType(
    table="deals",
    label="Deal",
    plural="Deals",
    aliases=("opportunity", "opportunities", "opp"),
    title_column="title",
    owner_column="owner",
    version_column="updated_at",
    joins={
        "account": SqlJoin(table="accounts", foreign_key="account_id"),
        "contact": SqlJoin(table="contacts", foreign_key="contact_id"),
    },
    fields={
        "id": SqlField(label="ID"),
        "title": SqlField(label="Title", aliases=("name",)),
        "account": SqlField(column="account.name", label="Account", aliases=("company", "customer")),
        "contact": SqlField(column="contact.name", label="Primary contact"),
        "stage": SqlField(type="enum", label="Stage", allowed_values=STAGES, aliases=("pipeline stage",)),
        "amount": SqlField(
            type="money", label="Amount", aliases=("value", "deal value", "deal size", "size")
        ),
        "close_date": SqlField(type="date", label="Close date", aliases=("closing", "expected close")),
        "owner": SqlField(label="Owner", aliases=("rep", "sales rep")),
        "probability": SqlField(type="integer", label="Probability", aliases=("win probability",)),
        "next_step": SqlField(type="text", label="Next step"),
        "created_at": SqlField(type="datetime", label="Created", aliases=("created",)),
        "updated_at": SqlField(type="datetime", label="Last updated", aliases=("updated", "modified")),
    },
    timeline=SqlTimeline(
        sources=(
            SqlTimelineSource(
                table="activities",
                foreign_key="deal_id",
                at_column="occurred_at",
                author_column="author",
                kind_column="kind",
                text_column="body",
            ),
            SqlTimelineSource(
                table="emails",
                foreign_key="deal_id",
                at_column="sent_at",
                author_column="from_name",
                kind="email",
                text_column="body",
            ),
        ),
    ),
    related=(
        SqlRelated(record_type="account", relation="account", local_column="account_id"),
        SqlRelated(record_type="contact", relation="primary contact", local_column="contact_id"),
    ),
)

_ACCOUNT = SqlRecordType(
    table="accounts",
    label="Account",
    plural="Accounts",
    aliases=("company", "companies", "customer", "customers"),
    title_column="name",
    version_column="updated_at",
    fields={
        "id": SqlField(label="ID"),
        "name": SqlField(label="Name"),
        "industry": SqlField(type="enum", label="Industry", allowed_values=INDUSTRIES),
        "tier": SqlField(type="enum", label="Tier", allowed_values=TIERS),
        "owner": SqlField(label="Account owner", aliases=("owner",)),
        "city": SqlField(label="City", aliases=("location",)),
        "annual_revenue": SqlField(type="money", label="Annual revenue", aliases=("revenue",)),
        "employees": SqlField(type="integer", label="Employees", aliases=("headcount",)),
        "created_at": SqlField(type="datetime", label="Created"),
    },
    related=(
        SqlRelated(record_type="deal", relation="deals", remote_column="account_id", limit=20),
        SqlRelated(record_type="contact", relation="contacts", remote_column="account_id"),
    ),
)

_CONTACT = SqlRecordType(
    table="contacts",
    label="Contact",
    plural="Contacts",
    aliases=("person", "people"),
    title_column="name",
    version_column="updated_at",
    joins={"account": SqlJoin(table="accounts", foreign_key="account_id")},
    fields={
        "id": SqlField(label="ID"),
        "name": SqlField(label="Name"),
        "account": SqlField(column="account.name", label="Account", aliases=("company",)),
        "job_title": SqlField(label="Job title", aliases=("role",)),
        "email": SqlField(label="Email", sensitive=True, queryable=False),
        "phone": SqlField(label="Phone", sensitive=True, queryable=False),
        "created_at": SqlField(type="datetime", label="Created"),
    },
    related=(SqlRelated(record_type="account", relation="account", local_column="account_id"),),
)
