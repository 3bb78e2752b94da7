"""One error shape for every failure: ``{"status_code", "code", "detail", "extra"?}``.

``code`` is stable and machine-readable (the widget picks its friendly message by it);
``detail`` names the problem in words.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.types import ExceptionHandlersMap

from margin.adapters import (
    AdapterError,
    ForbiddenError,
    HostTimeoutError,
    HostUnavailableError,
    RecordNotFoundError,
)

HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
}
STREAM_ERROR_STATUS = {
    "rate_limited": 429,
    "timeout": 504,
    "unavailable": 503,
    "bad_request": 502,
    "content_filtered": 422,
    "context_too_long": 422,
    "sensitive_data": 503,
    **{
        cls.code: cls.status
        for cls in (RecordNotFoundError, ForbiddenError, HostUnavailableError, HostTimeoutError)
    },
}
"""The HTTP status of an ``error`` event's code, for JSON responses."""


class Refused(Exception):
    """A request turned away before its response starts (a limit, sensitive data with nowhere to go)."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


class ErrorBody(msgspec.Struct, omit_defaults=True):
    status_code: int
    code: str
    detail: str
    extra: Any = None


def error_response(
    status: int, code: str, detail: str, extra: Any = None, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(ErrorBody(status, code, detail, extra), status_code=status, headers=headers)


def _http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    detail = exc.detail
    if isinstance(exc.__cause__, SerializationException):
        detail = f"Request body is not valid JSON: {exc.detail}"
    elif isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        problems = [
            f"{item.get('key')}: {item.get('message')}" for item in exc.extra if isinstance(item, dict)
        ]
        detail = "Invalid request body: " + "; ".join(problems) if problems else detail
    if status == 413:
        detail = "Request body is too large"
    return error_response(status, HTTP_CODES.get(status, "error"), detail, exc.extra or None, exc.headers)


def _adapter_error(_: Request[Any, Any, Any], exc: AdapterError) -> Response[ErrorBody]:
    return error_response(exc.status, exc.code, exc.message)


def _refused(_: Request[Any, Any, Any], exc: Refused) -> Response[ErrorBody]:
    return error_response(exc.status, exc.code, exc.detail, headers=exc.headers)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    Refused: _refused,
    HTTPException: _http_exception,
    AdapterError: _adapter_error,
}
