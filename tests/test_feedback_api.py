"""Thumbs up/down on an answer: stored durably, replaced by a later thumb, bad input refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from conftest import ServerThread, make_settings, token_for

DEAL = {"record": {"type": "deal", "id": "D-1001"}}


def auth(tenant: str = "acme", user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(tenant, user)}"}


def answer(server: ServerThread) -> str:
    response = httpx.post(f"{server.url}/v1/summarize", json=DEAL, headers=auth())
    return str(response.json()["meta"]["interaction_id"])


def test_thumbs_up_is_stored_and_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with ServerThread(settings) as server:
        interaction = answer(server)
        body = {"interaction_id": interaction, "rating": "up", "reasons": ["accurate"], "comment": "Spot on"}
        response = httpx.post(f"{server.url}/v1/feedback", json=body, headers=auth())
        assert response.status_code == 201, response.text
        assert response.json()["rating"] == "up" and response.json()["user_id"] == "alice"
    with ServerThread(settings) as server:
        stored = httpx.get(f"{server.url}/v1/feedback/{interaction}", headers=auth()).json()
    assert (stored["rating"], stored["reasons"], stored["comment"]) == ("up", ["accurate"], "Spot on")


def test_a_later_thumb_replaces_the_earlier_one(server: ServerThread) -> None:
    interaction = answer(server)
    first = {"interaction_id": interaction, "rating": "up"}
    assert httpx.post(f"{server.url}/v1/feedback", json=first, headers=auth()).status_code == 201
    second = {"interaction_id": interaction, "rating": "down", "reasons": ["too_long"]}
    response = httpx.post(f"{server.url}/v1/feedback", json=second, headers=auth())
    assert response.status_code == 200 and response.json()["rating"] == "down"
    assert response.json()["created_at"] < response.json()["updated_at"]
    stored = httpx.get(f"{server.url}/v1/feedback/{interaction}", headers=auth()).json()
    assert stored["reasons"] == ["too_long"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"interaction_id": "abc123", "rating": "up"}, 404, "abc123"),
        ({"rating": "up"}, 400, "interaction_id"),
        ({"interaction_id": "{id}", "rating": "meh"}, 400, "rating"),
        (
            {"interaction_id": "{id}", "rating": "up", "reasons": ["inaccurate"]},
            400,
            "reasons",
        ),
        ({"interaction_id": "{id}", "rating": "down", "reasons": ["bored"]}, 400, "reasons"),
        ({"interaction_id": "{id}", "rating": "up", "comment": "x" * 2001}, 400, "comment"),
        ({"interaction_id": "'; DROP TABLE feedback; --", "rating": "up"}, 400, "interaction_id"),
        ({"interaction_id": "{id}", "rating": "up", "stars": 5}, 400, "stars"),
    ],
)
def test_bad_feedback_is_refused(
    server: ServerThread, body: dict[str, object], status: int, needle: str
) -> None:
    interaction = answer(server)
    body = {k: (v.replace("{id}", interaction) if isinstance(v, str) else v) for k, v in body.items()}
    response = httpx.post(f"{server.url}/v1/feedback", json=body, headers=auth())
    assert response.status_code == status, response.text
    assert needle in response.text


def test_feedback_on_another_tenants_interaction_is_not_found(server: ServerThread) -> None:
    interaction = answer(server)
    body = {"interaction_id": interaction, "rating": "down"}
    response = httpx.post(f"{server.url}/v1/feedback", json=body, headers=auth("globex", "mallory"))
    assert response.status_code == 404
    assert httpx.post(f"{server.url}/v1/feedback", json=body).status_code == 401


def test_500_concurrent_votes_are_all_stored_and_all_acknowledged(tmp_path: Path) -> None:
    """Each answer the client gets matches what was stored: no 500 for a vote that was saved."""
    settings = make_settings(tmp_path)
    users = [f"user{n}" for n in range(500)]
    with ServerThread(settings) as server:
        interaction = answer(server)

        async def vote_all() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=len(users))  # all 500 in flight at once
            async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
                return await asyncio.gather(
                    *(
                        client.post(
                            "/v1/feedback",
                            json={"interaction_id": interaction, "rating": "up" if n % 2 else "down"},
                            headers=auth(user=user),
                        )
                        for n, user in enumerate(users)
                    )
                )

        responses = asyncio.run(vote_all())
    assert sorted({r.status_code for r in responses}) == [201], {r.status_code for r in responses}
    with sqlite3.connect(Path(settings.data_dir) / "margin.db") as db:
        rows = db.execute("SELECT user_id, rating FROM feedback WHERE interaction_id = ?", (interaction,))
        stored = dict(rows.fetchall())
    assert stored == {user: "up" if n % 2 else "down" for n, user in enumerate(users)}
