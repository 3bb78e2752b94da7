"""The demo case-management tool's REST API: the host app the ``rest`` adapter reads in the demo.

It stands in for a real ticketing tool, so it is not part of Margin's own API (and not in its
OpenAPI document). Read-only, JSON, page-number pagination::

    GET /cases?status=open,pending&priority=high&assignee=alice&page=1&per_page=25
    GET /cases/{id}             -> {"case": {...}}
    GET /cases/{id}/comments    -> {"comments": [...], "page": 1, "per_page": 25, "total": 4}
    GET /customers?tier=enterprise
    GET /customers/{id}         -> {"customer": {...}}
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec
from litestar import Router, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter

from margin.demo.cases_data import CASES, COMMENTS, CUSTOMERS, PRIORITIES, STATUSES, TIERS, Case, Customer

PageNumber = Annotated[int, QueryParameter(ge=1)]
PageSize = Annotated[int, QueryParameter(ge=1, le=100)]
T = TypeVar("T")


class CustomerRef(msgspec.Struct, frozen=True):
    id: str
    name: str


class CaseOut(msgspec.Struct, frozen=True):
    id: str
    subject: str
    status: str
    priority: str
    customer: CustomerRef
    assignee: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


class CasePage(msgspec.Struct, frozen=True):
    items: list[CaseOut]
    page: int
    per_page: int
    total: int


class CaseEnvelope(msgspec.Struct, frozen=True):
    case: CaseOut


class Author(msgspec.Struct, frozen=True):
    name: str
    role: str


class CommentOut(msgspec.Struct, frozen=True):
    id: int
    author: Author
    kind: str
    body: str
    created_at: datetime


class CommentPage(msgspec.Struct, frozen=True):
    comments: list[CommentOut]
    page: int
    per_page: int
    total: int


class Contact(msgspec.Struct, frozen=True):
    name: str
    email: str
    phone: str


class CustomerOut(msgspec.Struct, frozen=True):
    id: str
    name: str
    tier: str
    country: str
    contact: Contact
    customer_since: str


class CustomerPage(msgspec.Struct, frozen=True):
    items: list[CustomerOut]
    page: int
    per_page: int
    total: int


class CustomerEnvelope(msgspec.Struct, frozen=True):
    customer: CustomerOut


@get("/cases")
async def list_cases(
    status: FromQuery[str | None] = None,
    priority: FromQuery[str | None] = None,
    assignee: FromQuery[str | None] = None,
    page: PageNumber = 1,
    per_page: PageSize = 25,
) -> CasePage:
    """Cases in id order; ``status`` and ``priority`` take one value or a comma-separated list."""
    statuses = _choices("status", status, STATUSES)
    priorities = _choices("priority", priority, PRIORITIES)
    matching = [
        case
        for case in CASES.values()
        if (statuses is None or case.status in statuses)
        and (priorities is None or case.priority in priorities)
        and (assignee is None or case.assignee == assignee)
    ]
    items = [_case_out(case) for case in _page(matching, page, per_page)]
    return CasePage(items=items, page=page, per_page=per_page, total=len(matching))


@get("/cases/{case_id:str}")
async def get_case(case_id: FromPath[str]) -> CaseEnvelope:
    return CaseEnvelope(case=_case_out(_find_case(case_id)))


@get("/cases/{case_id:str}/comments")
async def list_comments(case_id: FromPath[str], page: PageNumber = 1, per_page: PageSize = 25) -> CommentPage:
    """A case's comments, oldest first."""
    comments = COMMENTS.get(_find_case(case_id).id, ())
    items = [
        CommentOut(
            id=comment.id,
            author=Author(name=comment.author, role=comment.role),
            kind=comment.kind,
            body=comment.body,
            created_at=comment.at,
        )
        for comment in _page(comments, page, per_page)
    ]
    return CommentPage(comments=items, page=page, per_page=per_page, total=len(comments))


@get("/customers")
async def list_customers(
    tier: FromQuery[str | None] = None, page: PageNumber = 1, per_page: PageSize = 25
) -> CustomerPage:
    tiers = _choices("tier", tier, TIERS)
    matching = [c for c in CUSTOMERS.values() if tiers is None or c.tier in tiers]
    items = [_customer_out(customer) for customer in _page(matching, page, per_page)]
    return CustomerPage(items=items, page=page, per_page=per_page, total=len(matching))


@get("/customers/{customer_id:str}")
async def get_customer(customer_id: FromPath[str]) -> CustomerEnvelope:
    customer = CUSTOMERS.get(customer_id)
    if customer is None:
        raise NotFoundException(f"No customer {customer_id!r}")
    return CustomerEnvelope(customer=_customer_out(customer))


def cases_router(path: str) -> Router:
    """The demo API's routes under ``path`` (the demo mounts them at ``/demo/api``)."""
    return Router(
        path=path,
        route_handlers=[list_cases, get_case, list_comments, list_customers, get_customer],
        include_in_schema=False,
        tags=["demo host"],
    )


def _find_case(case_id: str) -> Case:
    case = CASES.get(case_id)
    if case is None:
        raise NotFoundException(f"No case {case_id!r}")
    return case


def _choices(name: str, raw: str | None, allowed: Sequence[str]) -> set[str] | None:
    """The comma-separated values of a filter parameter; a 400 naming the bad value."""
    if raw is None:
        return None
    values = {value.strip() for value in raw.split(",") if value.strip()}
    for value in values:
        if value not in allowed:
            raise ValidationException(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return values


def _page(items: Sequence[T], page: int, per_page: int) -> Sequence[T]:
    start = (page - 1) * per_page
    return items[start : start + per_page]


def _case_out(case: Case) -> CaseOut:
    customer = CUSTOMERS[case.customer_id]
    return CaseOut(
        id=case.id,
        subject=case.subject,
        status=case.status,
        priority=case.priority,
        customer=CustomerRef(id=customer.id, name=customer.name),
        assignee=case.assignee,
        tags=case.tags,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def _customer_out(customer: Customer) -> CustomerOut:
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        tier=customer.tier,
        country=customer.country,
        contact=Contact(
            name=customer.contact_name, email=customer.contact_email, phone=customer.contact_phone
        ),
        customer_since=customer.since,
    )
