"""The one error base: every failure a user can meet has a stable ``code``, an HTTP ``status``
and a message fit to show.

Provider, adapter, admission and auth failures all derive from :class:`MarginError`, so one
exception handler turns any of them into ``{"status_code", "code", "detail"}`` and a stream
turns any of them into an ``error`` event. This module imports nothing: adapters, providers
and features raise these without depending on the web app.
"""

from __future__ import annotations

from typing import ClassVar


class MarginError(Exception):
    """``message`` is for logs and operators; :meth:`detail` is what the user is shown."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    user_message: ClassVar[str] = "Something went wrong."

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def detail(self) -> str:
        return self.user_message

    def headers(self) -> dict[str, str] | None:
        if self.retry_after is None:
            return None
        return {"Retry-After": str(round(self.retry_after))}


class MessageShownError(MarginError):
    """An error whose ``message`` is already written for the user (it names the problem)."""

    def detail(self) -> str:
        return self.message


class Unauthorized(MessageShownError):
    code = "unauthorized"
    status = 401

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(MessageShownError):
    code = "forbidden"
    status = 403


class QuotaExceeded(MessageShownError):
    """A rate limit or budget of Margin's own (not a provider's) refused the request."""

    code = "quota_exceeded"
    status = 429


class FeatureUnavailable(MessageShownError):
    """The feature does not apply here (another record type) or is not enabled for the tenant."""

    code = "feature_unavailable"
    status = 404
