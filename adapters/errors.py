"""Errors an adapter raises. Each is a :class:`margin.exceptions.MarginError` (a stable ``code``,
an HTTP ``status``); its message is written for the user and names the problem."""

from margin.exceptions import MessageShownError


class AdapterError(MessageShownError):
    """Base class. ``code`` is the stable machine-readable name sent to the widget."""

    code = "adapter_error"
    status = 502


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
