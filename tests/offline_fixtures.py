"""A demo-like CRM schema and realistic records for the offline provider's tests."""

from __future__ import annotations

from datetime import date, datetime

from margin.adapters.types import (
    FieldSchema,
    FieldValue,
    RecordContext,
    RecordRef,
    RecordTypeSchema,
    RelatedRecord,
    TimelineEntry,
)

TODAY = date(2025, 3, 12)
"""A Wednesday."""

DEAL_STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed won", "closed lost")
OPEN_STAGES = ["prospecting", "qualification", "proposal", "negotiation"]

DEAL = RecordTypeSchema(
    name="deal",
    label="Deal",
    plural="Deals",
    aliases=("opportunity", "opportunities", "opp"),
    title_field="title",
    fields=(
        FieldSchema("title", "string", label="Title", aliases=("name",)),
        FieldSchema("account", "string", label="Account", aliases=("company", "customer")),
        FieldSchema("contact", "string", label="Primary contact"),
        FieldSchema("stage", "enum", label="Stage", allowed_values=DEAL_STAGES, aliases=("pipeline stage",)),
        FieldSchema("amount", "money", label="Amount", aliases=("value", "deal value", "deal size", "size")),
        FieldSchema("close_date", "date", label="Close date", aliases=("closing", "expected close")),
        FieldSchema("owner", "string", label="Owner", aliases=("rep", "sales rep")),
        FieldSchema("created_at", "datetime", label="Created", aliases=("created",)),
        FieldSchema("probability", "number", label="Probability", aliases=("win probability",)),
        FieldSchema("next_step", "text", label="Next step"),
        FieldSchema("margin", "number", label="Margin %", sensitive=True, queryable=False),
    ),
)
ACCOUNT = RecordTypeSchema(
    name="account",
    label="Account",
    plural="Accounts",
    aliases=("company", "companies", "customer", "customers"),
    title_field="name",
    fields=(
        FieldSchema("name", "string", label="Name"),
        FieldSchema(
            "industry",
            "enum",
            label="Industry",
            allowed_values=("technology", "healthcare", "finance", "retail", "manufacturing"),
        ),
        FieldSchema("tier", "enum", label="Tier", allowed_values=("smb", "mid-market", "enterprise")),
        FieldSchema("owner", "string", label="Account owner", aliases=("owner",)),
        FieldSchema("annual_revenue", "money", label="Annual revenue", aliases=("revenue",)),
        FieldSchema("employees", "integer", label="Employees", aliases=("headcount",)),
        FieldSchema("created_at", "datetime", label="Created"),
    ),
)
CONTACT = RecordTypeSchema(
    name="contact",
    label="Contact",
    plural="Contacts",
    aliases=("person", "people"),
    title_field="name",
    fields=(
        FieldSchema("name", "string", label="Name"),
        FieldSchema("account", "string", label="Account", aliases=("company",)),
        FieldSchema("job_title", "string", label="Job title", aliases=("role",)),
        FieldSchema("email", "string", label="Email", sensitive=True, queryable=False),
        FieldSchema("phone", "string", label="Phone", sensitive=True, queryable=False),
        FieldSchema("created_at", "datetime", label="Created"),
    ),
)
CASE = RecordTypeSchema(
    name="case",
    label="Case",
    plural="Cases",
    aliases=("ticket", "tickets", "support case", "support cases"),
    title_field="subject",
    fields=(
        FieldSchema("subject", "string", label="Subject"),
        FieldSchema(
            "status", "enum", label="Status", allowed_values=("new", "open", "pending", "solved", "closed")
        ),
        FieldSchema("priority", "enum", label="Priority", allowed_values=("low", "normal", "high", "urgent")),
        FieldSchema("channel", "enum", label="Channel", allowed_values=("email", "phone", "chat", "web")),
        FieldSchema("customer", "string", label="Customer", aliases=("account", "company", "client")),
        FieldSchema("assignee", "string", label="Assignee", aliases=("agent", "assigned to")),
        FieldSchema("created_at", "datetime", label="Created", aliases=("created", "opened", "raised")),
        FieldSchema("description", "text", label="Description"),
    ),
)
SCHEMA = (DEAL, ACCOUNT, CONTACT, CASE)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


ACME_DEAL = RecordContext(
    ref=RecordRef(type="deal", id="D-1001"),
    title="Acme Corp platform renewal",
    version="v7",
    fields=(
        FieldValue("title", "Title", "Acme Corp platform renewal"),
        FieldValue("account", "Account", "Acme Corp"),
        FieldValue("contact", "Primary contact", "Dana Reyes"),
        FieldValue("stage", "Stage", "negotiation", "enum"),
        FieldValue("amount", "Amount", 84000, "money"),
        FieldValue("close_date", "Close date", "2025-03-31", "date"),
        FieldValue("owner", "Owner", "Alice Chen"),
        FieldValue("created_at", "Created", "2024-12-02T09:15:00", "datetime"),
        FieldValue("probability", "Probability", 70, "number"),
        FieldValue("next_step", "Next step", "", "text"),
        FieldValue("margin", "Margin %", "41.5% (floor 38%)", "string", sensitive=True),
    ),
    timeline=(
        TimelineEntry(
            _at("2025-01-08T15:04:00"),
            "Alice Chen",
            "call",
            "Intro call with Dana Reyes, Acme's VP of Operations. They run 40 support agents on our "
            "platform and the contract ends on March 31.",
        ),
        TimelineEntry(
            _at("2025-01-09T10:30:00"), "Dana Reyes", "email", "Thanks for the call!\nSounds good."
        ),
        TimelineEntry(
            _at("2025-01-21T16:12:00"),
            "Alice Chen",
            "meeting",
            "Demo of the analytics add-on for Acme's leadership team. Their CFO asked for a 3-year price "
            "and a security review before signing.",
        ),
        TimelineEntry(_at("2025-01-22T09:00:00"), "Dana Reyes", "email", "Great, thanks!"),
        TimelineEntry(
            _at("2025-02-03T09:45:00"),
            "Dana Reyes",
            "email",
            "Hi Alice,\nOur security team flagged the SSO integration as blocked until you send the SOC 2 "
            "report.\nBudget for next year is approved at $90,000.",
        ),
        TimelineEntry(_at("2025-02-04T08:00:00"), "Alice Chen", "note", "Ok."),
        TimelineEntry(
            _at("2025-02-12T13:20:00"),
            "Alice Chen",
            "note",
            "Sent the SOC 2 report and a proposal at $84,000 per year with a 7% discount for a 3-year term. "
            "Internal margin is 41.5% (floor 38%).",
        ),
        TimelineEntry(_at("2025-02-13T11:00:00"), "Dana Reyes", "email", "Sounds good, talk soon."),
        TimelineEntry(
            _at("2025-02-20T10:00:00"),
            "Alice Chen",
            "call",
            "Quick check-in call with Dana. We talked about the weather and the team offsite.",
        ),
        TimelineEntry(
            _at("2025-03-04T11:05:00"),
            "Dana Reyes",
            "email",
            "Legal agreed to the redlines. Can you send the final order form by March 14 so we can get it "
            "signed before the quarter ends?",
        ),
    ),
    related=(RelatedRecord("contact", "C-77", "Dana Reyes", "primary contact"),),
)

GLOBEX_CASE = RecordContext(
    ref=RecordRef(type="case", id="C-2001"),
    title="Invoices export fails with a timeout",
    version="v3",
    fields=(
        FieldValue("subject", "Subject", "Invoices export fails with a timeout"),
        FieldValue("status", "Status", "open", "enum"),
        FieldValue("priority", "Priority", "high", "enum"),
        FieldValue("channel", "Channel", "email", "enum"),
        FieldValue("customer", "Customer", "Globex"),
        FieldValue("requester", "Requester", "Hank Scorpio"),
        FieldValue("assignee", "Assignee", "Bob Marley"),
        FieldValue("created_at", "Created", "2025-03-10T08:12:00", "datetime"),
        FieldValue("requester_phone", "Requester phone", "+1 555 0100 777", sensitive=True),
    ),
    timeline=(
        TimelineEntry(
            _at("2025-03-10T08:12:00"),
            "Hank Scorpio",
            "comment",
            "Exporting the February invoices to CSV fails after about a minute with a timeout error. "
            "Finance needs the export for the month-end close on Friday.",
        ),
        TimelineEntry(_at("2025-03-10T08:30:00"), "Bob Marley", "comment", "Thanks, looking into it."),
        TimelineEntry(
            _at("2025-03-10T09:40:00"),
            "Bob Marley",
            "comment",
            "Reproduced: exports over 10,000 rows time out. Escalated to engineering as BUG-4411.",
        ),
        TimelineEntry(
            _at("2025-03-11T17:25:00"),
            "engineering",
            "note",
            "Root cause found: the export query misses an index on invoice date. Fix ships in the next "
            "release on March 17.",
        ),
        TimelineEntry(
            _at("2025-03-12T10:03:00"),
            "Hank Scorpio",
            "comment",
            "Thanks. Is there a workaround until the fix ships? You can call me on +1 555 0100 777.",
        ),
    ),
)

EMPTY_RECORD = RecordContext(ref=RecordRef(type="deal", id="D-9"), title="Blank deal", version="v1")
