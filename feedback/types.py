"""Feedback wire types."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

UpReason = Literal["accurate", "helpful", "saved_time"]
DownReason = Literal["inaccurate", "unhelpful", "too_long", "unsafe", "other"]
UP_REASONS: tuple[str, ...] = get_args(UpReason)
DOWN_REASONS: tuple[str, ...] = get_args(DownReason)
REASON_LABELS = {
    "accurate": "Accurate",
    "helpful": "Helpful",
    "saved_time": "Saved time",
    "inaccurate": "Inaccurate",
    "unhelpful": "Not helpful",
    "too_long": "Too long",
    "unsafe": "Unsafe",
    "other": "Other",
}
"""English labels; the widget may translate by value."""
InteractionId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
Comment = Annotated[str, msgspec.Meta(max_length=2000)]


class _Thumb(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="rating"):
    interaction_id: InteractionId
    comment: Comment | None = None

    @property
    def rating(self) -> str:
        return str(self.__struct_config__.tag)


class ThumbUp(_Thumb, tag="up"):
    """A thumb up, with reasons that fit one (the schema says which, so no request is a surprise)."""

    reasons: Annotated[list[UpReason], msgspec.Meta(max_length=len(UP_REASONS))] = []


class ThumbDown(_Thumb, tag="down"):
    reasons: Annotated[list[DownReason], msgspec.Meta(max_length=len(DOWN_REASONS))] = []


FeedbackIn = ThumbUp | ThumbDown
"""What the widget posts: a thumb on one answer (``rating`` up or down), with optional reason
tags that fit that thumb and a comment."""


class Feedback(msgspec.Struct, kw_only=True):
    """Stored feedback: one per user and interaction; a later thumb replaces an earlier one."""

    interaction_id: str
    tenant: str
    user_id: str
    rating: Literal["up", "down"]
    reasons: list[str]
    comment: str | None
    created_at: str
    updated_at: str
