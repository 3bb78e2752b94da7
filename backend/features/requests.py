"""Request bodies of the feature endpoints. Unknown fields and wrong types are rejected (400)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from margin.adapters.types import RecordRef
from margin.providers.base import DraftKind

Instruction = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Question = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class SummarizeRequest(msgspec.Struct, forbid_unknown_fields=True):
    record: RecordRef


class DraftRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    record: RecordRef
    kind: DraftKind
    instruction: Instruction | None = None


class QueryRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    question: Question
    record: RecordRef | None = None


FeatureRequest = SummarizeRequest | DraftRequest | QueryRequest
