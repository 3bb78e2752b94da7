"""HTTP routes: one POST endpoint per registered feature (SSE or JSON), the feature list,
feedback and the health checks. Feature routes are built from the registry, so a feature from
another package gets its endpoint and its OpenAPI entry without a change here."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from margin.adapters import User
from margin.errors import ErrorBody, error_response
from margin.events import (
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    FeatureEvent,
    FeatureResponse,
    MetaEvent,
    ResultEvent,
)
from margin.features.base import Feature, FeatureInfo, InputChoice
from margin.features.pipeline import Pipeline
from margin.features.registry import FeatureRegistry
from margin.feedback import DOWN_REASONS, REASON_LABELS, UP_REASONS, Feedback, FeedbackIn, FeedbackStore
from margin.interactions import InteractionStore
from margin.security import provide_user
from margin.services import Services
from margin.sse import SSE_HEADERS, sse_frames

EVENT_STREAM = "text/event-stream"
_AUTH_ERRORS = {
    401: ResponseSpec(ErrorBody, description="Missing, malformed, forged or expired token"),
    403: ResponseSpec(
        ErrorBody, description="Unknown tenant, origin not allowed, or a record not for this user"
    ),
    500: ResponseSpec(ErrorBody, description="An unexpected failure inside Margin (code internal_error)"),
}
_BODY_ERRORS = {
    **_AUTH_ERRORS,
    400: ResponseSpec(ErrorBody, description="Invalid request body; the detail names the field"),
    413: ResponseSpec(ErrorBody, description="Request body over server.max_body_bytes"),
}
_RESPONSES = {
    200: ResponseSpec(
        FeatureResponse,
        description=f"JSON answer; with 'Accept: {EVENT_STREAM}' an SSE stream of "
        "meta, delta, result, error and done events instead",
    ),
    **_BODY_ERRORS,
    404: ResponseSpec(ErrorBody, description="Record not found, or the feature does not apply to it"),
    422: ResponseSpec(ErrorBody, description="The provider declined to answer, or the record is too large"),
    429: ResponseSpec(ErrorBody, description="Over a rate limit or budget (Retry-After says when to retry)"),
    502: ResponseSpec(ErrorBody, description="The provider rejected the request, or the host app failed"),
    503: ResponseSpec(ErrorBody, description="All providers failed, or sensitive data with no local model"),
    504: ResponseSpec(ErrorBody, description="The provider or the host app took too long"),
}
_NO_INTERACTION = ResponseSpec(ErrorBody, description="No such interaction (or feedback) of this tenant")


class FeedbackReasons(msgspec.Struct, frozen=True):
    up: tuple[InputChoice, ...]
    down: tuple[InputChoice, ...]


class Catalogue(msgspec.Struct, frozen=True):
    """``GET /v1/features``: the features with their forms, and the reasons a thumb may carry."""

    features: tuple[FeatureInfo, ...]
    feedback_reasons: FeedbackReasons


def feature_router(registry: FeatureRegistry, heartbeat_s: float) -> Router:
    """``POST /v1/<name>`` for every feature, plus ``GET /v1/features``."""
    handlers: list[HTTPRouteHandler] = [_feature_handler(feature, heartbeat_s) for feature in registry]
    reasons = FeedbackReasons(
        up=tuple(InputChoice(value, REASON_LABELS[value]) for value in UP_REASONS),
        down=tuple(InputChoice(value, REASON_LABELS[value]) for value in DOWN_REASONS),
    )
    catalogue = Catalogue(registry.infos(), reasons)

    @get(
        "/features",
        summary="The features this server offers, for the widget's tabs and forms",
        responses=_AUTH_ERRORS,
    )
    async def features(user: NamedDependency[User]) -> Catalogue:
        return catalogue

    names = ", ".join(registry.names())

    @post("/{feature:str}", status_code=404, include_in_schema=False)
    async def unknown_feature(feature: FromPath[str]) -> None:
        raise NotFoundException(f"Unknown feature {feature!r}; available: {names}")

    return Router(
        path="/v1",
        route_handlers=[*handlers, features, unknown_feature],
        dependencies={"user": Provide(provide_user, sync_to_thread=False)},
        tags=["features"],
    )


def _feature_handler(feature: Feature, heartbeat_s: float) -> HTTPRouteHandler:
    async def handler(
        data: Any,
        request: Request[Any, Any, Any],
        user: NamedDependency[User],
        pipeline: NamedDependency[Pipeline],
    ) -> Response[Any]:
        arrived = time.perf_counter()
        run = await pipeline.open(feature, data, user, arrived)  # refusals keep their status
        events = run.events()
        if EVENT_STREAM in request.headers.get("accept", "").lower():  # JSON unless a stream is asked for
            return Stream(sse_frames(events, heartbeat_s), media_type=EVENT_STREAM, headers=SSE_HEADERS)
        return await _collect(events)

    # Litestar reads the body type from the annotation: give each feature its own request type.
    body_type = feature.request_type
    handler.__annotations__ = {
        "data": JSONBody[body_type],  # type: ignore[misc,valid-type]  # known only at run time
        "request": Request[Any, Any, Any],
        "user": NamedDependency[User],
        "pipeline": NamedDependency[Pipeline],
        "return": Response[Any],
    }
    handler.__name__ = handler.__qualname__ = f"feature_{feature.name}"
    return post(
        f"/{feature.name}",
        status_code=200,
        responses=_RESPONSES,
        summary=feature.summary,
        description=f"Feature `{feature.name}` ({feature.title}).",
        operation_id=f"feature_{feature.name}",
    )(handler)


async def _collect(events: AsyncGenerator[FeatureEvent, None]) -> Response[Any]:
    meta: MetaEvent | None = None
    text: list[str] = []
    result: ResultEvent | None = None
    async for event in events:
        if isinstance(event, MetaEvent):
            meta, text = event, text if event.mode == "continue" else []
        elif isinstance(event, DeltaEvent):
            text.append(event.text)
        elif isinstance(event, ResultEvent):
            result = event
        elif isinstance(event, ErrorEvent):
            headers = {"Retry-After": str(round(event.retry_after))} if event.retry_after else None
            return error_response(event.status, event.code, event.message, headers=headers)
        elif isinstance(event, DoneEvent) and meta is not None:
            return Response(FeatureResponse(meta=meta, text="".join(text), result=result, done=event))
    raise RuntimeError("feature stream ended without done or error")  # a bug, not an input problem


class FeedbackController(Controller):
    path = "/v1/feedback"
    tags = ["feedback"]
    dependencies = {"user": Provide(provide_user, sync_to_thread=False)}

    @post(
        "/",
        summary="Thumbs up or down on an answer (a later one replaces an earlier one)",
        responses={
            200: ResponseSpec(Feedback, description="An earlier thumb of this user replaced"),
            **_BODY_ERRORS,
            404: _NO_INTERACTION,
        },
    )
    async def give(
        self,
        data: JSONBody[FeedbackIn],
        user: NamedDependency[User],
        interactions: NamedDependency[InteractionStore],
        feedback: NamedDependency[FeedbackStore],
    ) -> Response[Feedback]:
        interaction = await interactions.get(data.interaction_id)
        if interaction is None or interaction.tenant != user.tenant:
            raise NotFoundException(f"No interaction {data.interaction_id!r}")
        stored, created = await feedback.put(user.tenant, user.user_id, data)
        return Response(stored, status_code=201 if created else 200)

    @get(
        "/{interaction_id:str}",
        summary="The signed-in user's feedback on one interaction",
        responses={**_AUTH_ERRORS, 404: _NO_INTERACTION},
    )
    async def read(
        self,
        interaction_id: FromPath[str],
        user: NamedDependency[User],
        feedback: NamedDependency[FeedbackStore],
    ) -> Feedback:
        stored = await feedback.get(interaction_id, user.user_id)
        if stored is None or stored.tenant != user.tenant:
            raise NotFoundException(f"No feedback from you on interaction {interaction_id!r}")
        return stored


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", summary="Liveness")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", summary="Readiness: dependencies reachable")
    async def readyz(self, services: NamedDependency[Services]) -> Response[dict[str, Any]]:
        checks: dict[str, Any] = {"providers": {name: p.kind for name, p in services.providers.items()}}
        checks["shared_state"] = services.shared.status()
        targets = [(p.name, p.model) for p in services.providers.values()]
        checks["breakers"] = await services.breakers.snapshot(targets)
        try:
            await services.store.ping()
            checks["interaction_store"] = "ok"
        except Exception as exc:  # any failure means not ready; the reason is reported
            checks["interaction_store"] = f"error: {exc}"
        ready = checks["interaction_store"] == "ok"
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return Response(msgspec.to_builtins(body), status_code=200 if ready else 503)
