"""The demo CRM: a SQLite file of accounts, contacts, deals, activities and e-mails.

The data is generated from a fixed seed, so every build is the same apart from its dates, which
are placed around ``today`` (open deals close in the coming weeks, a few this month; closed deals
closed in the past months). Deal ``D-1001`` is always "Acme Corp platform renewal". Some
activities carry e-mail addresses, phone numbers and test payment-card numbers, for the
sensitive-data routing to find. Every name, domain (``.example``) and number is fictitious.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal, NamedTuple

ColumnType = Literal["TEXT", "INTEGER", "DATE", "TIMESTAMP"]
Value = str | int | None
Row = tuple[Value, ...]


class Table(NamedTuple):
    """A demo table; ``columns`` pairs each name with a portable type (dates are ISO 8601 text)."""

    name: str
    columns: tuple[tuple[str, ColumnType], ...]
    indexes: tuple[str, ...] = ()


DEMO_TABLES = (
    Table(
        "accounts",
        (
            ("id", "TEXT"),
            ("name", "TEXT"),
            ("industry", "TEXT"),
            ("tier", "TEXT"),
            ("owner", "TEXT"),
            ("city", "TEXT"),
            ("annual_revenue", "INTEGER"),
            ("employees", "INTEGER"),
            ("created_at", "TIMESTAMP"),
            ("updated_at", "TIMESTAMP"),
        ),
    ),
    Table(
        "contacts",
        (
            ("id", "TEXT"),
            ("account_id", "TEXT"),
            ("name", "TEXT"),
            ("job_title", "TEXT"),
            ("email", "TEXT"),
            ("phone", "TEXT"),
            ("created_at", "TIMESTAMP"),
            ("updated_at", "TIMESTAMP"),
        ),
        ("account_id",),
    ),
    Table(
        "deals",
        (
            ("id", "TEXT"),
            ("title", "TEXT"),
            ("account_id", "TEXT"),
            ("contact_id", "TEXT"),
            ("stage", "TEXT"),
            ("amount", "INTEGER"),
            ("close_date", "DATE"),
            ("owner", "TEXT"),
            ("probability", "INTEGER"),
            ("next_step", "TEXT"),
            ("created_at", "TIMESTAMP"),
            ("updated_at", "TIMESTAMP"),
        ),
        ("account_id", "owner"),
    ),
    Table(
        "activities",
        (
            ("id", "INTEGER"),
            ("deal_id", "TEXT"),
            ("occurred_at", "TIMESTAMP"),
            ("author", "TEXT"),
            ("kind", "TEXT"),
            ("body", "TEXT"),
        ),
        ("deal_id",),
    ),
    Table(
        "emails",
        (
            ("id", "INTEGER"),
            ("deal_id", "TEXT"),
            ("sent_at", "TIMESTAMP"),
            ("from_name", "TEXT"),
            ("from_address", "TEXT"),
            ("to_address", "TEXT"),
            ("subject", "TEXT"),
            ("body", "TEXT"),
        ),
        ("deal_id",),
    ),
)

STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed won", "closed lost")
INDUSTRIES = ("technology", "healthcare", "finance", "retail", "manufacturing")
TIERS = ("smb", "mid-market", "enterprise")
OWNERS = ("alice", "bob", "carol", "dan")
VENDOR_DOMAIN = "northpeak.example"
"""The demo's own company, whose reps own the deals."""
SEED = 1001


def create_demo_crm(path: Path, today: date) -> None:
    """Write the demo CRM to ``path`` (replacing it), built atomically through a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    rows = demo_crm_rows(today)
    with sqlite3.connect(partial) as db:
        for table in DEMO_TABLES:
            columns = ", ".join(
                f"{name} {kind}{' PRIMARY KEY' if name == 'id' else ''}" for name, kind in table.columns
            )
            db.execute(f"CREATE TABLE {table.name} ({columns})")
            for column in table.indexes:
                db.execute(f"CREATE INDEX {table.name}_{column} ON {table.name} ({column})")
            marks = ", ".join("?" for _ in table.columns)
            db.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows[table.name])
    db.close()
    os.replace(partial, path)


def demo_crm_rows(today: date) -> dict[str, list[Row]]:
    """Every demo table's rows, in column order; the same on every call with the same ``today``."""
    return _Builder(today).build()


# Who and what the demo CRM is about.

_ACCOUNTS: tuple[tuple[str, str, str, str, int, int], ...] = (
    # name, industry, tier, city, employees, annual revenue
    ("Acme Corp", "manufacturing", "enterprise", "Chicago", 2400, 610_000_000),
    ("Globex", "technology", "enterprise", "Lisbon", 5200, 1_350_000_000),
    ("Initech", "technology", "mid-market", "Austin", 640, 92_000_000),
    ("Umbrella Health", "healthcare", "enterprise", "Boston", 8100, 2_100_000_000),
    ("Northwind Traders", "retail", "mid-market", "Seattle", 420, 77_000_000),
    ("Contoso Pharmaceuticals", "healthcare", "enterprise", "Basel", 3900, 1_800_000_000),
    ("Fabrikam Robotics", "manufacturing", "mid-market", "Pittsburgh", 760, 140_000_000),
    ("Woodgrove Bank", "finance", "enterprise", "Charlotte", 6300, 2_700_000_000),
    ("Tailspin Toys", "retail", "smb", "Portland", 85, 14_000_000),
    ("Litware", "technology", "smb", "Raleigh", 120, 19_000_000),
    ("Coho Winery", "retail", "smb", "Napa", 60, 9_500_000),
    ("Lucerne Publishing", "technology", "mid-market", "New York", 310, 48_000_000),
    ("Alpine Ski House", "retail", "smb", "Denver", 140, 22_000_000),
    ("Blue Yonder Airlines", "technology", "enterprise", "Dallas", 7400, 3_900_000_000),
    ("Fourth Coffee", "retail", "mid-market", "Vancouver", 950, 120_000_000),
    ("Trey Research", "healthcare", "mid-market", "San Diego", 380, 61_000_000),
    ("Humongous Insurance", "finance", "enterprise", "Hartford", 5600, 4_400_000_000),
    ("Proseware", "technology", "smb", "Madison", 45, 6_800_000),
    ("Wide World Importers", "retail", "mid-market", "Rotterdam", 530, 88_000_000),
    ("Adventure Works Cycles", "manufacturing", "mid-market", "Bothell", 880, 160_000_000),
    ("Margie's Travel", "retail", "smb", "Miami", 70, 11_000_000),
    ("Relecloud", "technology", "mid-market", "Dublin", 290, 54_000_000),
    ("Southridge Video", "technology", "smb", "Atlanta", 95, 12_500_000),
    ("Bellows Credit Union", "finance", "mid-market", "Columbus", 410, 70_000_000),
)
_FIRST = (
    *("Priya", "Maya", "Jordan", "Tomas", "Aisha", "Wei", "Sofia", "Daniel", "Fatima", "Lukas", "Grace"),
    *("Mateo", "Hannah", "Kenji", "Olivia", "Rahul", "Chloe", "Ibrahim", "Elena", "Marcus", "Nadia"),
    *("Owen", "Leila", "Samuel", "Ingrid", "Diego", "Yuki", "Ruth"),
)
_LAST = (
    *("Nair", "Okafor", "Lindqvist", "Moreau", "Haddad", "Zhang", "Rossi", "Brennan", "Kowalczyk"),
    *("Silva", "Fischer", "Tanaka", "Osei", "Delgado", "Novak", "Patel", "Becker", "Ahmed", "Walsh"),
    *("Romero", "Ivanova", "Mensah", "Larsen", "Costa", "Kimura", "Abbott"),
)
_JOBS = (
    "VP of Operations",
    "Head of Customer Support",
    "Director of IT",
    "Procurement Manager",
    "Customer Experience Lead",
    "CFO",
    "Support Operations Manager",
    "CTO",
    "Head of Service Delivery",
    "IT Security Lead",
)
_PRODUCTS = (
    "platform renewal",
    "support seats expansion",
    "analytics add-on",
    "onboarding package",
    "pilot",
    "SSO and audit log upgrade",
    "EU data residency add-on",
    "multi-year renewal",
    "customer portal rollout",
    "workflow automation",
    "API tier upgrade",
    "premium support plan",
    "contact center rollout",
    "knowledge base migration",
)
_COMPETITORS = ("Zendesk", "Freshdesk", "Salesforce Service Cloud", "Intercom", "an in-house tool")
_PAINS = (
    "their ticket backlog doubled after the holiday peak",
    "agents switch between four tools to answer one customer",
    "their current vendor's contract auto-renews with a 12% uplift",
    "month-end reporting takes their operations lead two full days",
    "first-response time slipped from 2 hours to 9 hours this quarter",
    "they are opening a second support site and need one queue for both",
    "their auditors flagged shared admin logins on the current tool",
)
_FEATURES = (
    "the SLA dashboards",
    "macros with approval steps",
    "the Salesforce sync",
    "skills-based routing",
)
_CONCERNS = (
    "data retention in the EU",
    "how SSO works with their Okta tenant",
    "the cost of read-only seats for finance",
    "migrating 6 years of ticket history",
)
_LOSS_REASONS = (
    "{competitor} came in about 30% cheaper on a three-year term",
    "their budget was frozen after the reorganisation announced last week",
    "they decided to extend their current contract for another year",
    "the project was deprioritised after their CTO left",
    "{competitor} already runs their sales team, and IT wanted one vendor",
)
_TEST_CARDS = ("4111 1111 1111 1111", "5555 5555 5555 4444", "4242 4242 4242 4242", "3782 822463 10005")
"""Well-known, Luhn-valid test card numbers: never real ones."""

_Step = tuple[str, Literal["owner", "contact"], tuple[str, ...]]
"""(kind, who writes it, variants): ``email`` steps go to the e-mails table."""

_OPENING: tuple[_Step, ...] = (
    (
        "call",
        "owner",
        (
            "Intro call with {contact}, {job} at {account}. Main pain: {pain}.",
            "Cold call connected with {contact} ({job}); {pain}. Agreed to a discovery session.",
            "Inbound from the pricing page. Spoke with {contact}: {pain}, and they want a fix before {soon}.",
        ),
    ),
    (
        "email",
        "contact",
        (
            "Thanks for the call. We have {seats} agents today; could you send rough pricing before {soon}?",
            "Good talking earlier. Looping in {other}, our {other_job}, who will own the evaluation.",
            "Thanks! We're reviewing options ahead of planning. Could a {product} be live within 30 days?",
        ),
    ),
)
_QUALIFY: tuple[_Step, ...] = (
    (
        "meeting",
        "owner",
        (
            "Discovery with {contact} and {other}: {seats} agents on two shifts, currently on {competitor}.",
            "Discovery session: {seats} agents, three queues, {competitor} today. {other} owns the budget.",
            "Workshop with the {account} support leads. They map 40% of tickets to five repeat questions.",
        ),
    ),
    (
        "note",
        "owner",
        (
            "Qualified: budget of about {budget} confirmed by {other}; decision expected by {decision}.",
            "Budget holder is {other} ({other_job}). Target go-live {decision}; budget around {budget}.",
        ),
    ),
)
_PROPOSE: tuple[_Step, ...] = (
    (
        "meeting",
        "owner",
        (
            "Demo of the {product} for {account}'s leads: they liked {feature}; asked about {concern}.",
            "Ran the demo for {contact}'s team. Strong reaction to {feature}. Open question: {concern}.",
        ),
    ),
    (
        "email",
        "owner",
        (
            "Sent the proposal for the {product}: {amount} per year, {years}-year term, billed annually.",
            "Proposal attached: {seats} seats for the {product}, {amount} in total for the first year.",
        ),
    ),
    (
        "email",
        "contact",
        (
            "We reviewed the proposal. Can you clarify {concern} before we take it to {other}?",
            "Thanks for the proposal. IT needs your security whitepaper and the DPA before we go further.",
        ),
    ),
)
_NEGOTIATE: tuple[_Step, ...] = (
    (
        "call",
        "owner",
        (
            "{contact} asked for {discount}% off a {years}-year term. Offered {counter}%, pending approval.",
            "Pricing call with {other}: they want payment terms of net 60 and a {discount}% discount.",
        ),
    ),
    (
        "email",
        "contact",
        (
            "Procurement needs the MSA redlines and a W-9 before they can raise the purchase order.",
            "Legal is reviewing the order form; the liability cap is the one open point on our side.",
            "Security questionnaire is done. We can sign by {decision} if the discount is approved.",
        ),
    ),
)
_WON: tuple[_Step, ...] = (
    (
        "note",
        "owner",
        (
            "Signed! {account} countersigned the order form for {amount}. Kickoff booked for {kickoff}.",
            "Closed won at {amount}. {contact} signed via DocuSign; onboarding starts {kickoff}.",
        ),
    ),
    (
        "email",
        "contact",
        (
            "Order form signed and attached. Thanks for the patience through procurement!",
            "Signed copy attached. Please send the onboarding plan to {other} as well.",
        ),
    ),
)
_LOST: tuple[_Step, ...] = (
    ("note", "owner", ("Closed lost: {reason}. Asked to revisit at their next renewal.",)),
    (
        "email",
        "contact",
        (
            "Thanks for all the work on this. We have decided not to move forward this year.",
            "We're going another way for now; happy to talk again next year.",
        ),
    ),
)
_STORY: dict[str, tuple[_Step, ...]] = {
    "prospecting": _OPENING,
    "qualification": _OPENING + _QUALIFY,
    "proposal": _OPENING + _QUALIFY + _PROPOSE,
    "negotiation": _OPENING + _QUALIFY + _PROPOSE + _NEGOTIATE,
    "closed won": _OPENING + _QUALIFY + _PROPOSE + _NEGOTIATE + _WON,
}
_NEXT_STEPS = {
    "prospecting": "Book a discovery call with {contact}",
    "qualification": "Confirm budget and decision date with {other}",
    "proposal": "Follow up on the proposal with {contact}",
    "negotiation": "Get the discount approved and send the final order form",
}
_AMOUNTS = {"smb": (5_000, 40_000), "mid-market": (12_000, 120_000), "enterprise": (40_000, 250_000)}
_SEATS = {"smb": (8, 12, 18, 25), "mid-market": (25, 40, 60, 85), "enterprise": (85, 120, 200, 350)}
_PROBABILITY = {"prospecting": 10, "qualification": 25, "proposal": 45, "closed won": 100, "closed lost": 0}


class _Contact(NamedTuple):
    id: str
    name: str
    job: str
    email: str
    phone: str


class _Deal(NamedTuple):
    id: str
    title: str
    account_id: str
    contact: _Contact
    stage: str
    amount: int
    close: date
    owner: str
    probability: int
    next_step: str


class _Event(NamedTuple):
    at: datetime
    kind: str
    author: str
    address: str
    text: str


class _Builder:
    def __init__(self, today: date) -> None:
        self.today = today
        self.rng = random.Random(SEED)
        self.rows: dict[str, list[Row]] = {table.name: [] for table in DEMO_TABLES}
        self.contacts: dict[str, list[_Contact]] = {}
        self.titles: set[str] = set()

    def build(self) -> dict[str, list[Row]]:
        for index in range(len(_ACCOUNTS)):
            self._account(index)
        self._acme_renewal()
        for number, stage in enumerate(self._stage_plan(), start=1002):
            self._deal(number, stage)
        return self.rows

    def _account(self, index: int) -> None:
        name, industry, tier, city, staff, revenue = _ACCOUNTS[index]
        account_id = f"A-{101 + index}"
        created = _iso(self._at(self.today - timedelta(days=self.rng.randint(400, 1500))))
        owner = OWNERS[index % len(OWNERS)]
        self.rows["accounts"].append(
            (account_id, name, industry, tier, owner, city, revenue, staff, created, created)
        )
        domain = "".join(ch for ch in name.lower().split()[0] if ch.isalpha()) + ".example"
        people = []
        for offset in range(3 if tier == "enterprise" else 2):
            if (index, offset) == (0, 0):
                first, last, job = "Dana", "Reyes", "VP of Operations"
            else:
                first = _FIRST[(index * 3 + offset) % len(_FIRST)]
                last = _LAST[(index * 5 + offset) % len(_LAST)]
                job = self.rng.choice(_JOBS)
            phone = f"+1 {self.rng.randint(201, 989)} 555 {self.rng.randint(100, 199):04d}"
            email = f"{first}.{last}@{domain}".lower()
            contact = _Contact(f"P-{301 + 3 * index + offset}", f"{first} {last}", job, email, phone)
            people.append(contact)
            self.rows["contacts"].append(
                (contact.id, account_id, contact.name, job, email, phone, created, created)
            )
        self.contacts[account_id] = people

    def _stage_plan(self) -> list[str]:
        """59 generated deals (D-1002 to D-1060): a realistic funnel, shuffled by the seed."""
        counts = {"prospecting": 9, "qualification": 10, "proposal": 10, "negotiation": 8}
        counts |= {"closed won": 12, "closed lost": 10}
        plan = [stage for stage, n in counts.items() for _ in range(n)]
        self.rng.shuffle(plan)
        return plan

    def _deal(self, number: int, stage: str) -> None:
        rng = self.rng
        index = rng.randrange(len(_ACCOUNTS))
        account_id, account = f"A-{101 + index}", _ACCOUNTS[index][0]
        contact, other = rng.sample(self.contacts[account_id], 2)
        owner = OWNERS[index % len(OWNERS)] if rng.random() < 0.8 else rng.choice(OWNERS)
        product = rng.choice([p for p in _PRODUCTS if f"{account} {p}" not in self.titles])
        tier = _ACCOUNTS[index][2]
        low, high = _AMOUNTS[tier]
        amount = _round_to(math.exp(rng.uniform(math.log(low), math.log(high))), 500)
        closed = stage.startswith("closed")
        if closed:
            close = self.today - timedelta(days=rng.randint(1, 200))
        elif number % 4 == 0:  # a quarter of the open deals close this month
            close = self.today.replace(day=rng.randint(1, _month_days(self.today)))
        else:
            close = self.today + timedelta(days=rng.randint(-5, 120))
        start = (close if closed else self.today) - timedelta(days=rng.randint(35, 140))
        words = {
            "account": account,
            "contact": contact.name,
            "first": contact.name.split()[0],
            "job": contact.job,
            "other": other.name,
            "other_job": other.job,
            "product": product,
            "amount": f"${amount:,}",
            "budget": f"${_round_to(amount * rng.uniform(0.9, 1.3), 1000):,}",
            "seats": str(rng.choice(_SEATS[tier])),
            "competitor": rng.choice(_COMPETITORS),
            "pain": rng.choice(_PAINS),
            "feature": rng.choice(_FEATURES),
            "concern": rng.choice(_CONCERNS),
            "discount": str(rng.choice((10, 12, 15, 20))),
            "counter": str(rng.choice((5, 7, 8))),
            "years": str(rng.choice((1, 2, 3))),
            "soon": _day(start + timedelta(days=rng.randint(10, 20))),
            "decision": _day(close),
            "kickoff": _day(close + timedelta(days=rng.randint(5, 14))),
        }
        words["reason"] = rng.choice(_LOSS_REASONS).format(**words)
        if stage == "closed lost":
            steps = _STORY[rng.choice(("qualification", "proposal", "negotiation"))] + _LOST
        else:
            steps = _STORY[stage]
        end = close if closed else self.today - timedelta(days=1)
        events = self._events(steps, words, owner, contact, start, end)
        events = self._with_sensitive_detail(number, events, words, owner, contact, other)
        probability = _PROBABILITY[stage] if stage in _PROBABILITY else rng.choice((60, 65, 70, 75, 80))
        next_step = _NEXT_STEPS.get(stage, "").format(**words)
        deal = _Deal(
            f"D-{number}",
            f"{account} {product}",
            account_id,
            contact,
            stage,
            amount,
            close,
            owner,
            probability,
            next_step,
        )
        self._store(deal, events)

    def _events(
        self,
        steps: tuple[_Step, ...],
        words: dict[str, str],
        owner: str,
        contact: _Contact,
        start: date,
        end: date,
    ) -> list[_Event]:
        """One event per step, on distinct days between ``start`` and ``end``, in order."""
        span = max((end - start).days, len(steps))
        days = sorted(self.rng.sample(range(span), len(steps)))
        events = []
        for (kind, who, variants), offset in zip(steps, days, strict=True):
            text = self.rng.choice(variants).format(**words)
            at = self._at(start + timedelta(days=offset))
            if who == "owner":
                events.append(_Event(at, kind, owner, f"{owner}@{VENDOR_DOMAIN}", text))
            else:
                events.append(_Event(at, kind, contact.name, contact.email, text))
        return events

    def _with_sensitive_detail(
        self,
        number: int,
        events: list[_Event],
        words: dict[str, str],
        owner: str,
        contact: _Contact,
        other: _Contact,
    ) -> list[_Event]:
        """Every few deals, a phone number, an e-mail address or a card number turns up in the text."""
        if number % 5 == 2:
            extra = f"You can reach me directly on {contact.phone}, or on my mobile {_mobile(self.rng)}."
        elif number % 7 == 3:
            extra = f"If I'm out, my colleague {other.name} ({other.email}) can answer for us."
        elif number % 9 == 4:
            card = _TEST_CARDS[number % len(_TEST_CARDS)]
            extra = f"For the onboarding fee, please charge our company card {card}, exp 09/28, zip 60601."
        else:
            return events
        last = events[-1]
        if last.kind == "email" and last.author == contact.name:
            return [*events[:-1], last._replace(text=f"{last.text} {extra}")]
        note = f'{words["first"]} called back and said: "{extra}"'
        return [
            *events,
            _Event(last.at + timedelta(hours=2), "call", owner, f"{owner}@{VENDOR_DOMAIN}", note),
        ]

    def _store(self, deal: _Deal, events: list[_Event]) -> None:
        self.titles.add(deal.title)
        created = _iso(events[0].at - timedelta(days=1))
        updated = _iso(max(event.at for event in events) + timedelta(minutes=20))
        self.rows["deals"].append(
            (
                *(deal.id, deal.title, deal.account_id, deal.contact.id, deal.stage, deal.amount),
                *(deal.close.isoformat(), deal.owner, deal.probability, deal.next_step, created, updated),
            )
        )
        activities, emails = self.rows["activities"], self.rows["emails"]
        for event in events:
            at = _iso(event.at)
            if event.kind != "email":
                activities.append((len(activities) + 1, deal.id, at, event.author, event.kind, event.text))
                continue
            to = deal.contact.email if event.author == deal.owner else f"{deal.owner}@{VENDOR_DOMAIN}"
            subject = f"Re: {deal.title}"
            emails.append(
                (len(emails) + 1, deal.id, at, event.author, event.address, to, subject, event.text)
            )

    def _acme_renewal(self) -> None:
        """D-1001, the deal every demo opens: a renewal in negotiation with a rich history."""
        today = self.today
        dana = self.contacts["A-101"][0]
        close = today + timedelta(days=25)
        order_form_due = _day(today + timedelta(days=15))
        story = (
            (
                -49,
                "call",
                f"Intro call with Dana Reyes, Acme's VP of Operations. They run 40 support agents "
                f"on our platform and the contract ends on {_day(close + timedelta(days=16))}.",
            ),
            (-42, "email", "Thanks for the call! Sounds good."),
            (
                -30,
                "meeting",
                "Demo of the analytics add-on for Acme's leadership team. Their CFO asked for a "
                "3-year price and a security review before signing.",
            ),
            (
                -17,
                "email",
                "Our security team flagged the SSO integration as blocked until you send the SOC 2 "
                "report. Budget for next year is approved at $90,000.",
            ),
            (
                -8,
                "note",
                "Sent the SOC 2 report and a proposal at $84,000 per year with a 7% discount for a "
                "3-year term.",
            ),
            (
                -2,
                "email",
                f"Legal agreed to the redlines; we need the final order form by {order_form_due} "
                "to get it signed before the old contract runs out.",
            ),
        )
        events = []
        for offset, kind, text in story:
            at = self._at(today + timedelta(days=offset))
            if kind == "email":
                events.append(_Event(at, kind, dana.name, dana.email, text))
            else:
                events.append(_Event(at, kind, "alice", f"alice@{VENDOR_DOMAIN}", text))
        next_step = f"Send the final order form to Dana Reyes by {order_form_due}"
        deal = _Deal(
            "D-1001",
            "Acme Corp platform renewal",
            "A-101",
            dana,
            "negotiation",
            84_000,
            close,
            "alice",
            70,
            next_step,
        )
        self._store(deal, events)

    def _at(self, day: date) -> datetime:
        """A plausible working-hours time on ``day``."""
        return datetime.combine(day, time(self.rng.randint(8, 17), self.rng.randrange(0, 60, 5)))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _day(day: date) -> str:
    return f"{day:%B} {day.day}"


def _round_to(value: float, step: int) -> int:
    return max(step, round(value / step) * step)


def _month_days(day: date) -> int:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - timedelta(days=1)).day


def _mobile(rng: random.Random) -> str:
    return f"+44 7700 900{rng.randint(100, 999)}"
