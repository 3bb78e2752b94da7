"""A small built-in record source for the demo: a few CRM deals and support cases in memory.

It is an ordinary adapter; the demo uses it until a tenant configures its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import msgspec

from margin.adapters import (
    FieldSchema,
    FieldValue,
    QueryResult,
    QuerySpec,
    RecordContext,
    RecordNotFoundError,
    RecordRef,
    RecordTypeSchema,
    TimelineEntry,
    User,
)
from margin.adapters.memory import run_query_in_memory
from margin.adapters.validation import find_type

DEAL = RecordTypeSchema(
    name="deal",
    label="Deal",
    plural="deals",
    aliases=("opportunity", "opportunities"),
    title_field="title",
    fields=(
        FieldSchema("id", "string", label="ID"),
        FieldSchema("title", "string", label="Title", aliases=("name",)),
        FieldSchema("account", "string", label="Account", aliases=("company", "customer")),
        FieldSchema(
            "stage",
            "enum",
            label="Stage",
            allowed_values=(
                "prospecting",
                "qualification",
                "proposal",
                "negotiation",
                "closed won",
                "closed lost",
            ),
        ),
        FieldSchema("amount", "money", label="Amount", aliases=("value", "size")),
        FieldSchema("close_date", "date", label="Close date", aliases=("closing",)),
        FieldSchema("owner", "string", label="Owner", aliases=("rep",)),
        FieldSchema("contact_email", "string", label="Contact e-mail", sensitive=True, queryable=False),
    ),
)
CASE = RecordTypeSchema(
    name="case",
    label="Case",
    plural="cases",
    aliases=("ticket", "tickets"),
    title_field="subject",
    fields=(
        FieldSchema("id", "string", label="ID"),
        FieldSchema("subject", "string", label="Subject"),
        FieldSchema(
            "status", "enum", label="Status", allowed_values=("new", "open", "pending", "solved", "closed")
        ),
        FieldSchema("priority", "enum", label="Priority", allowed_values=("low", "normal", "high", "urgent")),
        FieldSchema("customer", "string", label="Customer"),
        FieldSchema("assignee", "string", label="Assignee", aliases=("agent",)),
        FieldSchema("created_at", "date", label="Created", aliases=("opened",)),
    ),
)

_Entry = tuple[str, str, str, str]


def _deal(
    id: str,
    title: str,
    account: str,
    stage: str,
    amount: int,
    close: str,
    owner: str,
    email: str,
    timeline: list[_Entry],
) -> tuple[dict[str, Any], list[_Entry]]:
    row = {
        "id": id,
        "title": title,
        "account": account,
        "stage": stage,
        "amount": amount,
        "close_date": close,
        "owner": owner,
        "contact_email": email,
    }
    return row, timeline


DEALS = dict(
    (row["id"], (row, timeline))
    for row, timeline in [
        _deal(
            "D-1001",
            "Acme Corp platform renewal",
            "Acme Corp",
            "negotiation",
            84000,
            "2026-12-15",
            "alice",
            "dana.reyes@acme.example",
            [
                (
                    "2026-10-02T15:04:00",
                    "alice",
                    "call",
                    "Intro call with Dana Reyes, Acme's VP of Operations. They run 40 support agents on our platform and the contract ends on December 31.",
                ),
                ("2026-10-09T10:30:00", "Dana Reyes", "email", "Thanks for the call! Sounds good."),
                (
                    "2026-10-21T16:12:00",
                    "alice",
                    "meeting",
                    "Demo of the analytics add-on for Acme's leadership team. Their CFO asked for a 3-year price and a security review before signing.",
                ),
                (
                    "2026-11-03T09:45:00",
                    "Dana Reyes",
                    "email",
                    "Our security team flagged the SSO integration as blocked until you send the SOC 2 report. Budget for next year is approved at $90,000.",
                ),
                (
                    "2026-11-12T13:20:00",
                    "alice",
                    "note",
                    "Sent the SOC 2 report and a proposal at $84,000 per year with a 7% discount for a 3-year term.",
                ),
                (
                    "2026-11-18T11:05:00",
                    "Dana Reyes",
                    "email",
                    "Legal agreed to the redlines; we need the final order form by December 5 to get it signed before the holidays.",
                ),
            ],
        ),
        _deal(
            "D-1002",
            "Globex support seats expansion",
            "Globex",
            "proposal",
            36000,
            "2027-01-20",
            "bob",
            "ops@globex.example",
            [
                (
                    "2026-11-01T10:00:00",
                    "bob",
                    "call",
                    "Globex wants 25 more seats for their new Lisbon support team starting in February.",
                ),
                (
                    "2026-11-15T14:30:00",
                    "bob",
                    "email",
                    "Sent a proposal for 25 seats at $120 per seat per month.",
                ),
            ],
        ),
        _deal(
            "D-1003",
            "Initech onboarding package",
            "Initech",
            "closed won",
            12500,
            "2026-11-10",
            "alice",
            "peter@initech.example",
            [
                (
                    "2026-10-20T09:00:00",
                    "alice",
                    "note",
                    "Initech signed the onboarding package; kickoff is scheduled for November 17.",
                ),
            ],
        ),
        _deal(
            "D-1004",
            "Umbrella Health pilot",
            "Umbrella Health",
            "qualification",
            58000,
            "2026-12-30",
            "carol",
            "cio@umbrella.example",
            [
                (
                    "2026-11-08T15:00:00",
                    "carol",
                    "call",
                    "Umbrella's CIO is evaluating three vendors; the decision is due before the end of the year.",
                ),
                (
                    "2026-11-19T12:00:00",
                    "carol",
                    "email",
                    "They asked whether we can host data in the EU; answered yes, Frankfurt region.",
                ),
            ],
        ),
    ]
)

CASES: dict[str, tuple[dict[str, Any], list[_Entry]]] = {
    "C-2001": (
        {
            "id": "C-2001",
            "subject": "Invoices export fails with a timeout",
            "status": "open",
            "priority": "high",
            "customer": "Globex",
            "assignee": "alice",
            "created_at": "2026-11-16",
        },
        [
            (
                "2026-11-16T08:12:00",
                "Hank Scorpio",
                "comment",
                "Exporting the October invoices to CSV fails after about a minute with a timeout error. Finance needs the export for the month-end close on Friday.",
            ),
            (
                "2026-11-16T09:40:00",
                "alice",
                "comment",
                "Reproduced: exports over 10,000 rows time out. Escalated to engineering as BUG-4411.",
            ),
            (
                "2026-11-17T17:25:00",
                "engineering",
                "note",
                "Root cause found: the export query misses an index on invoice date. Fix ships in the next release on November 24.",
            ),
            (
                "2026-11-18T10:03:00",
                "Hank Scorpio",
                "comment",
                "Thanks. Is there a workaround until the fix ships? We cannot wait for the close.",
            ),
        ],
    ),
    "C-2002": (
        {
            "id": "C-2002",
            "subject": "Add a second admin user",
            "status": "solved",
            "priority": "low",
            "customer": "Initech",
            "assignee": "bob",
            "created_at": "2026-11-10",
        },
        [("2026-11-10T11:00:00", "Peter Gibbons", "comment", "Please make Samir an admin as well.")],
    ),
}


class DemoAdapter:
    """In-memory deals and cases; every user may see every record."""

    def __init__(self, today: date | None = None) -> None:
        self._today = today

    async def describe(self) -> tuple[RecordTypeSchema, ...]:
        return (DEAL, CASE)

    async def fetch_context(self, ref: RecordRef, user: User) -> RecordContext:
        schema, table = self._table(ref.type)
        if ref.id not in table:
            raise RecordNotFoundError(f"No {schema.label.lower()} with id {ref.id!r}")
        row, timeline = table[ref.id]
        entries = tuple(
            TimelineEntry(datetime.fromisoformat(at), who, kind, text) for at, who, kind, text in timeline
        )
        fields = tuple(
            FieldValue(f.name, f.label, row[f.name], f.type, f.sensitive)
            for f in schema.fields
            if f.name != "id"
        )
        version = msgspec.json.encode([row, timeline]).hex()[-16:]
        return RecordContext(
            ref=ref, title=row[schema.title_field], version=version, fields=fields, timeline=entries
        )

    async def run_query(self, spec: QuerySpec, user: User) -> QueryResult:
        schema = find_type(spec, (DEAL, CASE))
        _, table = self._table(schema.name)
        rows = [row for row, _ in table.values()]
        return run_query_in_memory(spec, schema, rows, self._today or date.today())

    def _table(
        self, type_name: str
    ) -> tuple[RecordTypeSchema, Mapping[str, tuple[dict[str, Any], list[_Entry]]]]:
        if type_name == "deal":
            return DEAL, DEALS
        if type_name == "case":
            return CASE, CASES
        raise RecordNotFoundError(f"Unknown record type {type_name!r}; expected deal or case")
