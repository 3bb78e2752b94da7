"""The built-in offline provider: no network, no keys, deterministic, honest about being degraded."""

from margin.providers.offline.drafts import render_draft
from margin.providers.offline.provider import OfflineProvider
from margin.providers.offline.query_parser import describe_spec, parse_question
from margin.providers.offline.summarize import summarize

__all__ = ["OfflineProvider", "describe_spec", "parse_question", "render_draft", "summarize"]
