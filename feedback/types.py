"""Feedback wire types."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

UpReason = Literal["accurate", "helpful", "saved_time"]
DownReason = Literal["inaccurate", "unhelpful", "too_long", "unsafe", "other"]
Reason = UpReason | DownReason
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


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the widget posts: a thumb on one answer, with optional reason tags and a comment."""

    interaction_id: InteractionId
    rating: Literal["up", "down"]
    reasons: Annotated[list[Reason], msgspec.Meta(max_length=len(UP_REASONS + DOWN_REASONS))] = []
    comment: Comment | None = None

    def __post_init__(self) -> None:
        allowed = UP_REASONS if self.rating == "up" else DOWN_REASONS
        wrong = [reason for reason in self.reasons if reason not in allowed]
        if wrong:
            raise ValueError(
                f"reasons {wrong} do not fit a thumbs-{self.rating}; expected some of {list(allowed)}"
            )


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
