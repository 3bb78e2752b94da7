"""The one interface every feature implements, and what it is handed.

A feature is one module: its request type, its prompt, how the record becomes the task for a
provider, its offline answer, the shape of its answer (text, or a structured result) and how
it finishes. Routes, the OpenAPI schema, ``GET /v1/features`` and the widget's tabs all come
from these declarations, so a feature from another package needs no change to Margin.
"""

from __future__ import annotations

import functools
import typing
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Literal

import msgspec

from margin.adapters import RecordContext, RecordRef, RecordSource, User
from margin.events import DeltaEvent, ResultEvent
from margin.prompts import render_prompt
from margin.providers.base import ChatMessage, ProviderRequest

RecordUse = Literal["required", "optional", "none"]
Action = Literal["copy", "insert", "apply"]


class InputChoice(msgspec.Struct, frozen=True):
    value: str
    label: str


class FeatureInput(msgspec.Struct, frozen=True, kw_only=True):
    """One field of the feature's form, derived from its request type."""

    name: str
    type: Literal["text", "choice"]
    label: str
    required: bool
    max_length: int | None = None
    choices: tuple[InputChoice, ...] = ()


class FeatureInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the widget needs to offer a feature (``GET /v1/features``)."""

    name: str
    title: str
    path: str
    summary: str
    record: RecordUse
    record_types: tuple[str, ...]
    """Record types it applies to; empty: any."""
    auto_run: bool
    result: str | None
    """The kind of structured result it streams (``table``, ``triage``, …); None: text only."""
    actions: tuple[Action, ...]
    inputs: tuple[FeatureInput, ...]


@dataclass(frozen=True)
class FeatureContext:
    """Who asks, through which adapter, with which prompt version (the variant's)."""

    user: User
    adapter: RecordSource
    today: date
    prompt_version: str


@dataclass(frozen=True)
class Task:
    """A prepared request: what providers are asked, and what ``finish`` needs afterwards."""

    request: ProviderRequest
    state: Any = None


FinishEvent = ResultEvent | DeltaEvent


class Feature(ABC):
    """Subclass, set the class attributes, implement :meth:`prepare` (and :meth:`finish` for a
    structured answer), and register the class under the ``margin.features`` entry-point group.

    ``settings_type`` is decoded from the ``[features.<name>]`` config section at start-up.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    request_type: ClassVar[type[msgspec.Struct]]
    prompt: ClassVar[str]
    """The default prompt version, e.g. ``summarize.v1``."""
    prompt_package: ClassVar[str] = "margin"
    answer_type: ClassVar[type[msgspec.Struct] | None] = None
    """A structured answer's type: providers return it as JSON (structured output), it is
    decoded and validated once, then :meth:`finish` turns it into events. None: streamed text."""
    result_kind: ClassVar[str | None] = None
    record: ClassVar[RecordUse] = "required"
    auto_run: ClassVar[bool] = False
    actions: ClassVar[tuple[Action, ...]] = ()
    labels: ClassVar[Mapping[str, str]] = {}
    """Labels for the request's fields and choice values (default: the name, humanised)."""
    settings_type: ClassVar[type[msgspec.Struct] | None] = None
    position: ClassVar[int] = 100
    """Where its tab goes, lowest first (built-ins 10-40; ties by name)."""

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"

    def record_types(self) -> tuple[str, ...]:
        """The record types this feature applies to; empty: any."""
        return ()

    @abstractmethod
    async def prepare(self, body: Any, context: FeatureContext) -> Task:
        """Fetch what the answer needs and build the provider request. Raise a MarginError
        (e.g. an AdapterError) for a problem the user should see; it keeps its HTTP status."""

    async def finish(self, answer: Any, task: Task, context: FeatureContext) -> AsyncIterator[FinishEvent]:
        """Events for a structured ``answer`` (already decoded into ``answer_type``)."""
        yield ResultEvent(kind=self.result_kind or self.name, data=answer)

    def info(self) -> FeatureInfo:
        return FeatureInfo(
            name=self.name,
            title=self.title,
            path=self.path,
            summary=self.summary,
            record=self.record,
            record_types=self.record_types(),
            auto_run=self.auto_run,
            result=self.result_kind if self.answer_type is not None else None,
            actions=self.actions,
            inputs=request_inputs(self.request_type, self.labels),
        )

    def render(self, context: FeatureContext, **values: Any) -> tuple[ChatMessage, ...]:
        return render_prompt(context.prompt_version, self.prompt_package, **values)

    def provider_request(self, messages: tuple[ChatMessage, ...], **fields: Any) -> ProviderRequest:
        """A request for this feature's answer: with ``answer_type``, the strict schema of it."""
        if self.answer_type is not None:
            fields.setdefault("response_schema", strict_json_schema(self.answer_type))
        return ProviderRequest(messages=messages, **fields)


async def fetch_record(body: Any, context: FeatureContext) -> RecordContext | None:
    """The record named by the request body's ``record`` field, if it has one."""
    ref = getattr(body, "record", None)
    if not isinstance(ref, RecordRef):
        return None
    return await context.adapter.fetch_context(ref, context.user)


def request_inputs(request_type: type[msgspec.Struct], labels: Mapping[str, str]) -> tuple[FeatureInput, ...]:
    """The form fields of a request type: strings are text, literals are choices; ``record`` is not
    an input (the widget sends the record on screen)."""
    info = msgspec.inspect.type_info(request_type)
    assert isinstance(info, msgspec.inspect.StructType)
    inputs: list[FeatureInput] = []
    for field in info.fields:
        if field.name == "record":
            continue
        kind = field.type
        if isinstance(kind, msgspec.inspect.UnionType):  # X | None
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
        label = labels.get(field.name, field.name.replace("_", " ").capitalize())
        if isinstance(kind, msgspec.inspect.LiteralType):
            choices = tuple(
                InputChoice(str(value), labels.get(str(value), str(value).replace("_", " ").capitalize()))
                for value in _declared_order(request_type, field.name, kind.values)
            )
            inputs.append(
                FeatureInput(
                    name=field.name, type="choice", label=label, required=field.required, choices=choices
                )
            )
        elif isinstance(kind, msgspec.inspect.StrType):
            inputs.append(
                FeatureInput(
                    name=field.name,
                    type="text",
                    label=label,
                    required=field.required,
                    max_length=kind.max_length,
                )
            )
        else:
            raise TypeError(
                f"{request_type.__name__}.{field.name}: a feature input must be a string or a Literal"
            )
    return tuple(inputs)


def _declared_order(request_type: type, name: str, values: tuple[object, ...]) -> tuple[object, ...]:
    """A Literal's values as written (the first is the form's default), not msgspec's order."""
    hint = typing.get_type_hints(request_type).get(name)
    for arg in (hint, *typing.get_args(hint)):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return values


@functools.cache
def answer_decoder(answer_type: type[msgspec.Struct]) -> Callable[[str], Any]:
    """One decoder per answer type, built once (not per request)."""
    return msgspec.json.Decoder(answer_type).decode


@functools.cache
def strict_json_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """``struct``'s JSON schema in the form strict structured output accepts; built once per
    type and shared, so callers copy before they change it.

    Every property becomes required (optional ones are already nullable or have a default the
    model must now state), defaults are dropped, and the root is the object itself, not a $ref.
    """
    schema = msgspec.json.schema(struct)
    definitions: dict[str, dict[str, Any]] = schema["$defs"]
    for definition in definitions.values():
        definition["required"] = list(definition["properties"])
        for prop in definition["properties"].values():
            prop.pop("default", None)
    root = definitions.pop(struct.__name__)
    return {**root, "$defs": definitions}
