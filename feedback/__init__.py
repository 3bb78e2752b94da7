"""Thumbs-up/down feedback on interactions: the wire types and the durable store.

Metrics and the product-team dashboard build on this (see the feedback issue). This package
never imports the web app; the backend wires it in.
"""

from margin.feedback.store import FeedbackStore
from margin.feedback.types import DOWN_REASONS, REASON_LABELS, UP_REASONS, Feedback, FeedbackIn

__all__ = ["DOWN_REASONS", "REASON_LABELS", "UP_REASONS", "Feedback", "FeedbackIn", "FeedbackStore"]
