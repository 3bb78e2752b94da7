"""Logging: structlog in front, the standard library behind.

structlog loggers hand their event dicts to stdlib ``logging``; one root handler renders both
those and plain stdlib records (uvicorn, litestar, SDKs) with the same processors, so every
line has the same shape: JSON lines in production, readable console lines in the demo.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import msgspec
import structlog
from litestar.logging import LoggingConfig
from structlog.typing import Processor

# The SDKs' HTTP clients log every request at INFO; keep their warnings and errors only.
NOISY_LOGGERS = ("httpx", "httpx2", "openai", "anthropic")

_SHARED_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


_encoder = msgspec.json.Encoder(enc_hook=repr)


def _json_line(event: object, **_: object) -> str:
    """One JSON line; msgspec writes it several times faster than the json module (one per request)."""
    return _encoder.encode(event).decode()


class _MarginHandler(logging.StreamHandler[TextIO]):
    """Marks the root handler this module installed, so a second call replaces it."""


def configure_logging(format: Literal["console", "json"], level: str) -> None:
    """Route structlog and stdlib logging to one stderr handler; safe to call again."""
    handler = _MarginHandler(sys.stderr)
    # Locals stay out of JSON tracebacks: they can hold API keys, tokens and user data.
    renderer: list[Processor] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(serializer=_json_line),
        ]
        if format == "json"
        else [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED_PROCESSORS,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _MarginHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    noisy_level = max(logging.WARNING, root.level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(noisy_level)
    # No cache_logger_on_first_use: cached loggers would ignore a later configure call and
    # structlog.testing.capture_logs; binding a logger per call costs microseconds.
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def litestar_logging_config() -> LoggingConfig:
    """For ``Litestar(logging_config=...)``: keep the handler installed by configure_logging.

    Litestar's default config replaces the root handler and stops the "litestar" logger from
    propagating; this one only routes "litestar" to the root. Litestar insists on defining its
    two handlers, so they are defined as unused no-ops (its default one starts a thread).
    """
    unused = {"class": "logging.NullHandler"}
    return LoggingConfig(
        configure_root_logger=False,
        handlers={"console": unused, "queue_listener": unused},
        loggers={"litestar": {"handlers": [], "propagate": True}},
    )
