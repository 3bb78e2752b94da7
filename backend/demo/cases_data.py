"""The demo case-management tool's data: customers, support cases and their comments.

Fixed data, so tests and the demo tell the same stories: case ``C-2001`` (Globex's invoice
export timing out) is the one the demo opens first. Some comments carry e-mail addresses,
phone numbers and a card number, as real support threads do, so sensitive-data routing has
something to find.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

Status = Literal["new", "open", "pending", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Tier = Literal["starter", "business", "enterprise"]
Role = Literal["customer", "agent", "engineering"]
Kind = Literal["comment", "note"]
STATUSES: tuple[Status, ...] = ("new", "open", "pending", "solved", "closed")
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
TIERS: tuple[Tier, ...] = ("starter", "business", "enterprise")


class Customer(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    tier: Tier
    country: str
    contact_name: str
    contact_email: str
    contact_phone: str
    since: str


class Comment(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    case_id: str
    at: datetime
    author: str
    role: Role
    kind: Kind
    body: str


class Case(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    subject: str
    status: Status
    priority: Priority
    customer_id: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    tags: tuple[str, ...] = ()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CUSTOMERS: dict[str, Customer] = {
    customer.id: customer
    for customer in (
        Customer(
            id="CU-101",
            name="Acme Corp",
            tier="enterprise",
            country="US",
            contact_name="Dana Reyes",
            contact_email="dana.reyes@acme.example",
            contact_phone="+1 415 555 0142",
            since="2023-03-01",
        ),
        Customer(
            id="CU-102",
            name="Initech",
            tier="business",
            country="US",
            contact_name="Peter Gibbons",
            contact_email="peter@initech.example",
            contact_phone="+1 512 555 0117",
            since="2024-06-15",
        ),
        Customer(
            id="CU-103",
            name="Globex",
            tier="enterprise",
            country="US",
            contact_name="Hank Scorpio",
            contact_email="hank.scorpio@globex.example",
            contact_phone="+1 212 555 0199",
            since="2022-11-20",
        ),
        Customer(
            id="CU-104",
            name="Umbrella Health",
            tier="enterprise",
            country="DE",
            contact_name="Katrin Vogel",
            contact_email="k.vogel@umbrella-health.example",
            contact_phone="+49 30 5550 1234",
            since="2025-01-10",
        ),
        Customer(
            id="CU-105",
            name="Hooli",
            tier="business",
            country="US",
            contact_name="Gavin Belson",
            contact_email="gavin@hooli.example",
            contact_phone="+1 650 555 0100",
            since="2024-02-01",
        ),
        Customer(
            id="CU-106",
            name="Stark Logistics",
            tier="business",
            country="GB",
            contact_name="Priya Nair",
            contact_email="priya.nair@starklogistics.example",
            contact_phone="+44 20 7946 0321",
            since="2025-05-05",
        ),
        Customer(
            id="CU-107",
            name="Wayne Foods",
            tier="starter",
            country="US",
            contact_name="Lucius Fox",
            contact_email="lucius@waynefoods.example",
            contact_phone="+1 201 555 0188",
            since="2026-01-12",
        ),
        Customer(
            id="CU-108",
            name="Soylent Labs",
            tier="starter",
            country="NL",
            contact_name="Sanne de Vries",
            contact_email="sanne@soylentlabs.example",
            contact_phone="+31 20 555 0147",
            since="2026-04-02",
        ),
    )
}

_Story = tuple[str, str, Role, Kind, str]  # at, author, role, kind, body

_STORIES: dict[str, tuple[_Story, ...]] = {
    "C-2001": (
        (
            "2026-11-16T08:12:00",
            "Hank Scorpio",
            "customer",
            "comment",
            "Exporting the October invoices to CSV fails after about a minute with a timeout error. "
            "Finance needs the export for the month-end close on Friday.",
        ),
        (
            "2026-11-16T09:40:00",
            "alice",
            "agent",
            "comment",
            "Reproduced: exports over 10,000 rows time out. Escalated to engineering as BUG-4411.",
        ),
        (
            "2026-11-17T17:25:00",
            "engineering",
            "engineering",
            "note",
            "Root cause found: the export query misses an index on invoice date. "
            "Fix ships in the next release on November 24.",
        ),
        (
            "2026-11-18T10:03:00",
            "Hank Scorpio",
            "customer",
            "comment",
            "Thanks. Is there a workaround until the fix ships? We cannot wait for the close.",
        ),
    ),
    "C-2002": (
        (
            "2026-11-10T11:00:00",
            "Peter Gibbons",
            "customer",
            "comment",
            "Please make Samir an admin as well: samir.n@initech.example.",
        ),
        ("2026-11-10T13:20:00", "bob", "agent", "comment", "Done: Samir now has the admin role."),
    ),
    "C-2003": (
        (
            "2026-11-19T07:55:00",
            "Dana Reyes",
            "customer",
            "comment",
            "Since this morning our agents are sent back to the sign-in page after SSO. "
            "Nobody on the early shift can work. Call me on +1 415 555 0142.",
        ),
        (
            "2026-11-19T08:10:00",
            "carol",
            "agent",
            "comment",
            "On it. Your identity provider certificate rotated overnight; can you send the new metadata XML?",
        ),
        (
            "2026-11-19T08:40:00",
            "Dana Reyes",
            "customer",
            "comment",
            "Sent to support@margin-demo.example from dana.reyes@acme.example.",
        ),
    ),
    "C-2004": (
        (
            "2026-11-05T14:00:00",
            "Katrin Vogel",
            "customer",
            "comment",
            "Our data protection officer asks whether patient notes can stay in an EU region.",
        ),
        (
            "2026-11-05T16:30:00",
            "alice",
            "agent",
            "comment",
            "Yes, the Frankfurt region is available. I sent the migration checklist; "
            "waiting for your DPO's sign-off.",
        ),
    ),
    "C-2005": (
        (
            "2026-11-12T09:15:00",
            "Gavin Belson",
            "customer",
            "comment",
            "Webhook deliveries to our order system arrive up to an hour late.",
        ),
        (
            "2026-11-12T11:45:00",
            "bob",
            "agent",
            "note",
            "Queue backlog on the EU-2 webhook workers; engineering is adding capacity.",
        ),
        (
            "2026-11-14T10:05:00",
            "Gavin Belson",
            "customer",
            "comment",
            "Still seeing 40-minute delays this morning.",
        ),
    ),
    "C-2006": (
        (
            "2026-11-08T10:20:00",
            "Priya Nair",
            "customer",
            "comment",
            "We were charged twice for November. The card ending 4242 shows two payments of £1,180. "
            "Full card number for your reference: 4111 1111 1111 1111.",
        ),
        (
            "2026-11-08T12:00:00",
            "carol",
            "agent",
            "comment",
            "Sorry about that. Please never send full card numbers by e-mail; I have asked billing "
            "to refund the duplicate payment, which takes 5 to 10 working days.",
        ),
    ),
    "C-2007": (
        (
            "2026-10-28T15:10:00",
            "Lucius Fox",
            "customer",
            "comment",
            "How do I export our contacts to Excel?",
        ),
        (
            "2026-10-28T15:40:00",
            "dave",
            "agent",
            "comment",
            "Contacts > Export > CSV; Excel opens the file directly.",
        ),
    ),
    "C-2008": (
        (
            "2026-11-13T02:30:00",
            "Sanne de Vries",
            "customer",
            "comment",
            "Our nightly sync gets HTTP 429 errors after about 5,000 requests.",
        ),
        (
            "2026-11-13T09:00:00",
            "alice",
            "agent",
            "comment",
            "Your plan allows 100 requests per minute. Batching the updates (up to 100 per call) "
            "keeps you well under it.",
        ),
    ),
    "C-2009": (
        (
            "2026-11-20T16:45:00",
            "Hank Scorpio",
            "customer",
            "comment",
            "Seats of agents we offboarded last week still count against our licence.",
        ),
    ),
    "C-2010": (
        (
            "2026-11-03T13:00:00",
            "Dana Reyes",
            "customer",
            "comment",
            "The 'Region' custom field is empty in every report since Monday.",
        ),
        (
            "2026-11-04T09:30:00",
            "bob",
            "agent",
            "comment",
            "Reports read a cached schema; I refreshed it for your account. Can you check again?",
        ),
    ),
    "C-2011": (
        (
            "2026-10-21T08:00:00",
            "Peter Gibbons",
            "customer",
            "comment",
            "Password reset e-mails land in our spam folder.",
        ),
        (
            "2026-10-21T10:10:00",
            "alice",
            "agent",
            "comment",
            "Adding our sending domain to your SPF record fixes it; instructions attached.",
        ),
        (
            "2026-10-23T09:00:00",
            "Peter Gibbons",
            "customer",
            "comment",
            "That worked, thanks.",
        ),
    ),
    "C-2012": (
        (
            "2026-11-17T11:00:00",
            "Katrin Vogel",
            "customer",
            "comment",
            "Our auditors need a full audit log export for 2026 by November 30.",
        ),
        (
            "2026-11-17T15:20:00",
            "carol",
            "agent",
            "note",
            "Audit exports over 12 months need an engineering job; requested as OPS-982.",
        ),
    ),
    "C-2013": (
        (
            "2026-11-18T19:30:00",
            "Gavin Belson",
            "customer",
            "comment",
            "The iOS app crashes whenever an agent opens a PDF attachment.",
        ),
        (
            "2026-11-19T08:15:00",
            "dave",
            "agent",
            "comment",
            "Confirmed on iOS 19.1; a fix is in review. Could you tell us which app version you use?",
        ),
    ),
    "C-2014": (
        (
            "2026-10-15T10:00:00",
            "Priya Nair",
            "customer",
            "comment",
            "Please send invoices to accounts@starklogistics.example from now on.",
        ),
        ("2026-10-15T11:00:00", "bob", "agent", "comment", "Billing contact updated."),
    ),
    "C-2015": (
        (
            "2026-11-11T09:00:00",
            "Hank Scorpio",
            "customer",
            "comment",
            "The team dashboard takes 20 seconds to load for our managers.",
        ),
        (
            "2026-11-11T14:30:00",
            "alice",
            "agent",
            "comment",
            "Dashboards with more than 30 widgets load slowly; could you share a HAR file?",
        ),
    ),
    "C-2016": (
        (
            "2026-10-02T12:00:00",
            "Lucius Fox",
            "customer",
            "comment",
            "Please cancel our subscription at the end of the current term.",
        ),
        (
            "2026-10-02T15:00:00",
            "carol",
            "agent",
            "comment",
            "Cancellation scheduled for December 31; your data stays exportable for 30 days after.",
        ),
    ),
    "C-2017": (
        (
            "2026-10-10T09:30:00",
            "Sanne de Vries",
            "customer",
            "comment",
            "We want agents to sign in with Okta.",
        ),
        (
            "2026-10-10T13:00:00",
            "dave",
            "agent",
            "comment",
            "Here is the Okta setup guide; SAML and SCIM are both available on your plan.",
        ),
        (
            "2026-10-14T08:45:00",
            "Sanne de Vries",
            "customer",
            "comment",
            "Working now, thank you!",
        ),
    ),
    "C-2018": (
        (
            "2026-11-15T10:10:00",
            "Dana Reyes",
            "customer",
            "comment",
            "Bulk import rejects every row with an accented name, like 'José Álvarez'.",
        ),
        (
            "2026-11-15T12:00:00",
            "alice",
            "agent",
            "comment",
            "The file is saved as Windows-1252; saving it as UTF-8 works around it while we fix the "
            "importer.",
        ),
    ),
    "C-2019": (
        (
            "2026-11-21T09:00:00",
            "Peter Gibbons",
            "customer",
            "comment",
            "Our November invoice shows an old VAT number. It should be US-98-7654321.",
        ),
    ),
    "C-2020": (
        (
            "2026-09-30T14:00:00",
            "Katrin Vogel",
            "customer",
            "comment",
            "How long do you keep deleted cases?",
        ),
        (
            "2026-09-30T16:00:00",
            "bob",
            "agent",
            "comment",
            "Deleted cases are purged after 30 days; backups expire after 90 days.",
        ),
    ),
    "C-2021": (
        (
            "2026-11-19T06:40:00",
            "Gavin Belson",
            "customer",
            "comment",
            "Two-factor codes are not arriving by SMS for our agents in Ireland. "
            "Test number: +353 1 555 0123.",
        ),
        (
            "2026-11-19T07:05:00",
            "carol",
            "agent",
            "note",
            "Our SMS provider reports an outage for Irish carriers; switched Hooli to voice codes.",
        ),
        (
            "2026-11-19T07:20:00",
            "carol",
            "agent",
            "comment",
            "We switched your account to voice-call codes until the SMS provider recovers.",
        ),
    ),
    "C-2022": (
        (
            "2026-10-05T10:00:00",
            "Hank Scorpio",
            "customer",
            "comment",
            "Can we get a sandbox to test workflow changes?",
        ),
        (
            "2026-10-06T09:00:00",
            "dave",
            "agent",
            "comment",
            "Sandbox created at globex-sandbox.margin-demo.example; it resets every Sunday.",
        ),
    ),
}

# id, subject, status, priority, customer, assignee, tags
_CASES: tuple[tuple[str, str, Status, Priority, str, str | None, tuple[str, ...]], ...] = (
    (
        "C-2001",
        "Invoices export fails with a timeout",
        "open",
        "high",
        "CU-103",
        "alice",
        ("billing", "export"),
    ),
    ("C-2002", "Add a second admin user", "solved", "low", "CU-102", "bob", ("admin",)),
    ("C-2003", "SSO login loops back to the sign-in page", "open", "urgent", "CU-101", "carol", ("sso",)),
    ("C-2004", "Request to host data in the EU region", "pending", "normal", "CU-104", "alice", ("gdpr",)),
    ("C-2005", "Webhook deliveries delayed by up to an hour", "open", "high", "CU-105", "bob", ("api",)),
    (
        "C-2006",
        "Duplicate charge on the November invoice",
        "pending",
        "high",
        "CU-106",
        "carol",
        ("billing",),
    ),
    ("C-2007", "How do I export contacts to Excel?", "solved", "low", "CU-107", "dave", ("export",)),
    ("C-2008", "API rate limit errors during nightly sync", "open", "normal", "CU-108", "alice", ("api",)),
    ("C-2009", "Agent seats not released after offboarding", "new", "normal", "CU-103", None, ("billing",)),
    ("C-2010", "Custom field values missing in reports", "open", "normal", "CU-101", "bob", ("reports",)),
    ("C-2011", "Password reset e-mails land in spam", "solved", "normal", "CU-102", "alice", ("email",)),
    ("C-2012", "Audit log export for a compliance review", "open", "high", "CU-104", "carol", ("export",)),
    (
        "C-2013",
        "Mobile app crashes when opening attachments",
        "pending",
        "urgent",
        "CU-105",
        "dave",
        ("mobile",),
    ),
    ("C-2014", "Change the billing contact", "closed", "low", "CU-106", "bob", ("billing",)),
    ("C-2015", "Dashboard loads slowly for managers", "pending", "normal", "CU-103", "alice", ("reports",)),
    (
        "C-2016",
        "Cancel subscription at the end of the term",
        "closed",
        "normal",
        "CU-107",
        "carol",
        ("billing",),
    ),
    ("C-2017", "Single sign-on setup with Okta", "solved", "normal", "CU-108", "dave", ("sso",)),
    ("C-2018", "Bulk import fails on rows with accents", "open", "high", "CU-101", "alice", ("import",)),
    ("C-2019", "Invoice shows the wrong VAT number", "new", "low", "CU-102", None, ("billing",)),
    ("C-2020", "Data retention policy question", "solved", "low", "CU-104", "bob", ("gdpr",)),
    ("C-2021", "Two-factor codes not arriving by SMS", "open", "urgent", "CU-105", "carol", ("security",)),
    ("C-2022", "Request for a sandbox environment", "closed", "low", "CU-103", "dave", ("sandbox",)),
)


def _comments() -> dict[str, tuple[Comment, ...]]:
    numbered: dict[str, tuple[Comment, ...]] = {}
    next_id = 1
    for case_id, story in _STORIES.items():
        entries = []
        for at, author, role, kind, body in story:
            entries.append(
                Comment(
                    id=next_id,
                    case_id=case_id,
                    at=_at(at),
                    author=author,
                    role=role,
                    kind=kind,
                    body=body,
                )
            )
            next_id += 1
        numbered[case_id] = tuple(entries)
    return numbered


COMMENTS: dict[str, tuple[Comment, ...]] = _comments()


def _case(row: tuple[str, str, Status, Priority, str, str | None, tuple[str, ...]]) -> Case:
    case_id, subject, status, priority, customer_id, assignee, tags = row
    comments = COMMENTS[case_id]
    return Case(
        id=case_id,
        subject=subject,
        status=status,
        priority=priority,
        customer_id=customer_id,
        assignee=assignee,
        created_at=comments[0].at,
        updated_at=comments[-1].at,
        tags=tags,
    )


CASES: dict[str, Case] = {row[0]: _case(row) for row in _CASES}
