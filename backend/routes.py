"""HTTP routes: the feature endpoints (SSE or JSON) and the health checks."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import date
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from margin.adapters import User
from margin.config import FEATURES
from margin.errors import STREAM_ERROR_STATUS, ErrorBody, error_response
from margin.events import (
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    FeatureEvent,
    FeatureResponse,
    MetaEvent,
    ResultEvent,
)
from margin.features.prepare import prepare
from margin.features.requests import DraftRequest, FeatureRequest, QueryRequest, SummarizeRequest
from margin.feedback import Feedback, FeedbackIn
from margin.security import provide_user
from margin.services import Services
from margin.sse import SSE_HEADERS, sse_frames

EVENT_STREAM = "text/event-stream"
_RESPONSES = {
    200: ResponseSpec(
        FeatureResponse,
        description=f"JSON answer; with 'Accept: {EVENT_STREAM}' an SSE stream of "
        "meta, delta, result, error and done events instead",
    ),
    401: ResponseSpec(ErrorBody, description="Missing, malformed, forged or expired token"),
    403: ResponseSpec(ErrorBody, description="Unknown tenant or origin not allowed"),
    404: ResponseSpec(ErrorBody, description="Record not found"),
}


class FeatureController(Controller):
    path = "/v1"
    tags = ["features"]
    dependencies = {"user": Provide(provide_user, sync_to_thread=False)}

    @post("/summarize", status_code=200, responses=_RESPONSES, summary="Summarise a record")
    async def summarize(
        self,
        data: JSONBody[SummarizeRequest],
        request: Request[Any, Any, Any],
        user: NamedDependency[User],
        services: NamedDependency[Services],
    ) -> Response[Any]:
        return await _respond(data, request, user, services)

    @post(
        "/draft",
        status_code=200,
        responses=_RESPONSES,
        summary="Draft a reply, e-mail or note about a record",
    )
    async def draft(
        self,
        data: JSONBody[DraftRequest],
        request: Request[Any, Any, Any],
        user: NamedDependency[User],
        services: NamedDependency[Services],
    ) -> Response[Any]:
        return await _respond(data, request, user, services)

    @post(
        "/query",
        status_code=200,
        responses=_RESPONSES,
        summary="Answer a plain-language question with a table",
    )
    async def query(
        self,
        data: JSONBody[QueryRequest],
        request: Request[Any, Any, Any],
        user: NamedDependency[User],
        services: NamedDependency[Services],
    ) -> Response[Any]:
        return await _respond(data, request, user, services)

    @post("/{feature:str}", status_code=404, include_in_schema=False)
    async def unknown_feature(self, feature: FromPath[str]) -> None:
        raise NotFoundException(f"Unknown feature {feature!r}; available: {', '.join(FEATURES)}")


async def _respond(
    body: FeatureRequest,
    request: Request[Any, Any, Any],
    user: NamedDependency[User],
    services: NamedDependency[Services],
) -> Response[Any]:
    today = date.today()
    adapter = services.adapter_for(user.tenant)
    prepared = await prepare(body, user, adapter, today)
    chain = services.runner.chain(services.settings.chain_for(prepared.feature, user.tenant))
    admitted = await services.admission.admit(prepared, chain, user)  # refusals keep their status
    events = services.runner.run(prepared, admitted, user, adapter, today)
    if EVENT_STREAM in request.headers.get("accept", "").lower():  # JSON unless a stream is asked for
        frames = sse_frames(events, services.settings.server.heartbeat_s)
        return Stream(frames, media_type=EVENT_STREAM, headers=SSE_HEADERS)
    return await _collect(events)


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
            status = STREAM_ERROR_STATUS.get(event.code, 502)
            headers = {"Retry-After": str(round(event.retry_after))} if event.retry_after else None
            return error_response(status, event.code, event.message, headers=headers)
        elif isinstance(event, DoneEvent) and meta is not None:
            return Response(FeatureResponse(meta=meta, text="".join(text), result=result, done=event))
    raise RuntimeError("feature stream ended without done or error")  # a bug, not an input problem


class FeedbackController(Controller):
    path = "/v1/feedback"
    tags = ["feedback"]
    dependencies = {"user": Provide(provide_user, sync_to_thread=False)}

    @post("/", summary="Thumbs up or down on an answer (a later one replaces an earlier one)")
    async def give(
        self, data: JSONBody[FeedbackIn], user: NamedDependency[User], services: NamedDependency[Services]
    ) -> Response[Feedback]:
        interaction = await services.store.get(data.interaction_id)
        if interaction is None or interaction.tenant != user.tenant:
            raise NotFoundException(f"No interaction {data.interaction_id!r}")
        stored, created = await services.feedback.put(user.tenant, user.user_id, data)
        return Response(stored, status_code=201 if created else 200)

    @get("/{interaction_id:str}", summary="The signed-in user's feedback on one interaction")
    async def read(
        self, interaction_id: FromPath[str], user: NamedDependency[User], services: NamedDependency[Services]
    ) -> Feedback:
        stored = await services.feedback.get(interaction_id, user.user_id)
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
