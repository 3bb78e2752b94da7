"""One error shape for every failure: ``{"status_code", "code", "detail", "extra"?}``.

``code`` is stable and machine-readable (the widget picks its friendly message by it; the codes
are listed in docs/api.md); ``detail`` names the problem in words. Every
:class:`margin.exceptions.MarginError` maps through one handler; anything unexpected becomes a
500 ``internal_error`` with its traceback in the log, never an HTML page or a bare status.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.types import ExceptionHandlersMap

from margin.exceptions import MarginError

log = structlog.get_logger("margin.errors")

HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
}


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
    if status >= 500:
        log.error("request.failed", status=status, detail=detail)
    return error_response(status, HTTP_CODES.get(status, "error"), detail, exc.extra or None, exc.headers)


def _margin_error(_: Request[Any, Any, Any], exc: MarginError) -> Response[ErrorBody]:
    return error_response(exc.status, exc.code, exc.detail(), headers=exc.headers())


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[ErrorBody]:
    """msgspec gives up on JSON nested deeper than Python's recursion limit: that is the body's
    fault, not a crash. Any other RecursionError is a bug like any other."""
    if "deserializing" in str(exc):
        return error_response(400, "invalid_request", "Request body is not valid JSON: nested too deeply")
    return _unexpected(request, exc)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.error("request.crashed", method=request.method, path=request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on Margin's side; it has been logged.")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    MarginError: _margin_error,
    HTTPException: _http_exception,
    RecursionError: _too_deep,
    Exception: _unexpected,
}
