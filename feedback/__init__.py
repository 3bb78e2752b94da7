"""Thumbs-up/down capture, the durable store and metrics (see the feedback issue)."""
