"""What the demo Helpdesk's pages show, from the case tool's fixed data."""

from __future__ import annotations

import msgspec

from margin.demo.cases_data import CASES, COMMENTS, CUSTOMERS, Case, Comment, Customer

DONE = ("solved", "closed")
CATEGORIES = (
    ("billing", "Billing"),
    ("bug", "Bug"),
    ("how_to", "How-to"),
    ("account", "Account"),
    ("integration", "Integration"),
    ("performance", "Performance"),
)
"""The helpdesk's own case categories (value, label): its triage form offers them, and the demo's
Margin configuration declares the same values for the triage feature to choose from."""
PRIORITIES = (("low", "Low"), ("normal", "Normal"), ("high", "High"), ("urgent", "Urgent"))


class CaseRow(msgspec.Struct, frozen=True, kw_only=True):
    case: Case
    customer: Customer


class CasePage(msgspec.Struct, frozen=True, kw_only=True):
    case: Case
    customer: Customer
    comments: list[Comment]
    """Newest first."""
    customer_cases: list[Case]
    """Every case of the same customer, the shown one included."""
    categories: tuple[tuple[str, str], ...] = CATEGORIES
    priorities: tuple[tuple[str, str], ...] = PRIORITIES


def list_cases() -> list[CaseRow]:
    """Unsolved cases first, then solved and closed ones; most recently updated first within each."""
    rows = [CaseRow(case=case, customer=CUSTOMERS[case.customer_id]) for case in CASES.values()]
    rows.sort(key=lambda row: row.case.updated_at, reverse=True)
    rows.sort(key=lambda row: row.case.status in DONE)
    return rows


def case_page(case_id: str) -> CasePage | None:
    case = CASES.get(case_id)
    if case is None:
        return None
    return CasePage(
        case=case,
        customer=CUSTOMERS[case.customer_id],
        comments=sorted(COMMENTS.get(case_id, ()), key=lambda comment: comment.at, reverse=True),
        customer_cases=[other for other in CASES.values() if other.customer_id == case.customer_id],
    )
