"""Errors an adapter raises; the backend maps each to an HTTP status and a friendly message."""


class AdapterError(Exception):
    """Base class. ``code`` is the stable machine-readable name sent to the widget."""

    code = "adapter_error"
    status = 502

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RecordNotFoundError(AdapterError):
    code = "record_not_found"
    status = 404


class ForbiddenError(AdapterError):
    code = "forbidden"
    status = 403


class HostUnavailableError(AdapterError):
    code = "host_unavailable"
    status = 502


class HostTimeoutError(AdapterError):
    code = "host_timeout"
    status = 504
