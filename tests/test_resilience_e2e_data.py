"""End to end over real HTTP with records from a ``sql`` adapter: sensitive-data routing, cache.

A SQLite file of 200 generated notes, each carrying sensitive data in its text (e-mail, phone,
Luhn-valid card, IBAN, SSN, NINO, SIN, or a field the adapter marks sensitive), is served by
the ``sql`` adapter; the cloud provider's simulator counts what reaches it.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from conftest import TENANT_SECRET, ServerThread, free_port, make_settings, token_for
from helpers import events_of, stored_interactions

from margin.config import Settings, load_settings, masked
from margin.interactions import InteractionStore
from margin.testing.simulator import Scenario, SimulatorThread

HEADERS = {"Authorization": f"Bearer {token_for()}", "Accept": "text/event-stream"}
CORPUS_SIZE = 200


def luhn_complete(digits: str) -> str:
    """``digits`` plus the check digit that makes the whole Luhn-valid."""
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return digits + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def sensitive_text(i: int) -> tuple[str, str]:
    """A note body with one kind of sensitive value (the kind rotates), and a marked field value."""
    sin = luhn_complete(f"{130 + i % 500:03d}{i:05d}")
    values = [
        f"Reach the buyer at buyer{i}@customer{i % 17}.example.com before Friday.",
        f"Call the CFO on +44 20 7946 {i:04d} about the renewal.",
        f"They paid with card {luhn_complete(f'4{i:014d}')} last month.",
        f"Refund goes to {iban('DE', f'{37040044:08d}{i:010d}')} this week.",
        f"Verify identity with SSN {100 + i % 500:03d}-{10 + i % 80:02d}-{1000 + i:04d} first.",
        f"Payroll record lists NINO AB {i % 100:02d} {i * 7 % 100:02d} {i * 3 % 100:02d} C.",
        f"The Canadian contact's SIN is {sin[:3]}-{sin[3:6]}-{sin[6:]}.",
        f"Account reference Z{i:06d}Q in the ledger (marked sensitive by the adapter).",
    ]
    return values[i % len(values)], f"Z{i:06d}Q"


def build_notes_db(path: Path, count: int = CORPUS_SIZE) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, account_ref TEXT, version TEXT)"
        )
        for i in range(count):
            body, ref = sensitive_text(i)
            db.execute("INSERT INTO notes VALUES (?, ?, ?, ?, ?)", (f"N-{i}", f"Note {i}", body, ref, "v1"))


NOTES_ADAPTER = {
    "kind": "sql",
    "record_types": {
        "note": {
            "table": "notes",
            "title_column": "title",
            "version_column": "version",
            "fields": {
                "id": {"label": "ID"},
                "title": {"label": "Title"},
                "body": {"type": "text", "label": "Body"},
                "account_ref": {"label": "Account reference", "sensitive": True},
            },
        }
    },
}


def notes_settings(
    tmp_path: Path, providers: dict[str, Any], chain: list[str], **resilience: Any
) -> Settings:
    db = tmp_path / "notes.db"
    if not db.exists():
        build_notes_db(db)
    adapter = {**NOTES_ADAPTER, "url": "sqlite://" + db.resolve().as_posix()}
    return make_settings(
        tmp_path,
        providers=providers,
        chains={"default": chain},
        adapters={"notes": adapter},
        tenants={"acme": {"secret": TENANT_SECRET, "allowed_origins": ["*"], "adapters": ["notes"]}},
        resilience={"limits": {"enabled": False}, **resilience},
    )


@pytest.fixture
def cloud() -> Iterator[SimulatorThread]:
    with SimulatorThread(Scenario(text="A cloud summary.")) as sim:
        yield sim


@pytest.fixture
def local() -> Iterator[SimulatorThread]:
    with SimulatorThread(Scenario(text="A local summary.")) as sim:
        yield sim


def providers_for(cloud: SimulatorThread, local_url: str) -> dict[str, Any]:
    return {
        "gpt": {
            "kind": "openai",
            "model": "gpt-sim",
            "api_key": "sk-test",
            "base_url": cloud.openai_base_url,
        },
        "gpu": {"kind": "openai_compatible", "model": "llama-sim", "base_url": local_url, "local": True},
    }


def summarize(server: ServerThread, note: int) -> httpx.Response:
    body = {"record": {"type": "note", "id": f"N-{note}"}}
    return httpx.post(f"{server.url}/v1/summarize", json=body, headers=HEADERS, timeout=10)


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.mark.parametrize("local_up", [True, False], ids=["local_up", "local_down"])
def test_sensitive_corpus_never_reaches_the_cloud(
    tmp_path: Path, cloud: SimulatorThread, local: SimulatorThread, local_up: bool
) -> None:
    local_url = local.openai_base_url if local_up else closed_port_url()
    settings = notes_settings(
        tmp_path, providers_for(cloud, local_url), ["gpt", "gpu", "offline"], cache={"enabled": False}
    )
    answered_by: dict[str, int] = {}
    with ServerThread(settings) as server:
        for note in range(CORPUS_SIZE):
            events = events_of(summarize(server, note).text)
            assert events[-1].event == "done", events[-1]
            provider = [e.data["provider"] for e in events if e.event == "meta"][-1]
            answered_by[provider] = answered_by.get(provider, 0) + 1
    print(
        f"\n{CORPUS_SIZE} sensitive contexts, local {'up' if local_up else 'down'}: "
        f"cloud requests {cloud.count()}, answered by {answered_by}"
    )
    assert cloud.count() == 0
    assert answered_by == ({"gpu": CORPUS_SIZE} if local_up else {"offline": CORPUS_SIZE})
    rows = stored_interactions(settings)
    assert len(rows) == CORPUS_SIZE
    for row in rows:  # the decision is recorded with reason codes, never the values
        routing = json.loads(row["routing"])
        assert (
            routing["sensitive"] and routing["sensitive_reasons"] and routing["excluded_providers"] == ["gpt"]
        )
        assert "@" not in row["routing"] and not re.search(r"\d{3}", row["routing"])


def test_sensitive_data_without_a_local_provider_fails_closed(tmp_path: Path, cloud: SimulatorThread) -> None:
    settings = notes_settings(tmp_path, providers_for(cloud, closed_port_url()), ["gpt"])
    with ServerThread(settings) as server:
        streamed = summarize(server, 0)
        as_json = httpx.post(
            f"{server.url}/v1/summarize",
            json={"record": {"type": "note", "id": "N-1"}},
            headers={"Authorization": HEADERS["Authorization"]},
        )
    for response in (streamed, as_json):
        assert response.status_code == 503
        assert response.json()["code"] == "sensitive_data"
        assert "Nothing was sent to an external AI provider" in response.json()["detail"]
    assert cloud.count() == 0


def test_a_changed_record_never_gets_the_old_cached_summary(
    tmp_path: Path, cloud: SimulatorThread, local: SimulatorThread
) -> None:
    settings = notes_settings(tmp_path, providers_for(cloud, local.openai_base_url), ["gpu", "offline"])
    db = tmp_path / "notes.db"

    def answer(note: int) -> tuple[dict[str, Any], str]:
        events = events_of(summarize(server, note).text)
        meta = [e.data for e in events if e.event == "meta"][-1]
        return meta, "".join(e.data["text"] for e in events if e.event == "delta")

    with ServerThread(settings) as server:
        local.simulator.default = Scenario(text="Summary of version one.")
        first, text = answer(3)
        assert not first["cached"] and text == "Summary of version one."
        again, text = answer(3)
        assert again["cached"] and text == "Summary of version one."  # the cache works

        local.simulator.default = Scenario(text="Summary of version two.")
        with sqlite3.connect(db) as conn:  # only the version moves: still a different key
            conn.execute("UPDATE notes SET version = 'v2' WHERE id = 'N-3'")
        changed, text = answer(3)
        assert not changed["cached"] and text == "Summary of version two."

        local.simulator.default = Scenario(text="Summary of version three.")
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE notes SET version = 'v3', title = 'Renamed' WHERE id = 'N-3'")
        changed, text = answer(3)
        assert not changed["cached"] and text == "Summary of version three."
    assert local.simulator.count() == 3


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "docs" / "resilience.md").read_text()
    [example] = re.findall(r"```toml\n(.*?)```", text, re.S)
    config = tmp_path / "margin.toml"
    secret = "s" * 32
    tenants = "".join(
        f'[tenants.{name}]\nsecret = "{secret}"\nadapters = ["crm"]\n'
        for name in ("acme", "globex", "initech")
    )
    adapter = f'[adapters.crm]\nkind = "sql"\nurl = "sqlite:///{tmp_path}/crm.db"\n'
    adapter += (
        '[adapters.crm.record_types.note]\ntable = "notes"\ntitle_column = "title"\nfields = { title = {} }\n'
    )
    config.write_text(example + "\n" + tenants + adapter)
    settings = load_settings(config, env={"OPENAI_API_KEY": "sk-test"})
    assert settings.resilience.sensitive.policy_for("globex").on_sensitive == "redact"
    assert settings.timeouts_for("gpu").ttft_s == 10 and settings.timeouts_for("openai").ttft_s == 5
    assert settings.chain_for("draft", "initech") == ["gpu", "offline"]
    assert settings.chain_for("summarize", "acme") == ["openai", "gpu", "offline"]
    assert masked(settings)["redis_url"] == "redis://:***@redis.internal:6379/0"


def test_redact_policy_sends_placeholders_and_restores_them(tmp_path: Path, cloud: SimulatorThread) -> None:
    settings = notes_settings(tmp_path, providers_for(cloud, closed_port_url()), ["gpt"])
    sensitive = settings.resilience.sensitive
    policies = {"acme": msgspec.structs.replace(sensitive.default, on_sensitive="redact")}
    settings = msgspec.structs.replace(
        settings,
        resilience=msgspec.structs.replace(
            settings.resilience, sensitive=msgspec.structs.replace(sensitive, tenants=policies)
        ),
    )
    cloud.simulator.default = Scenario(text="Write to «EMAIL_1» today.")
    with ServerThread(settings) as server:
        events = events_of(summarize(server, 0).text)  # note 0 carries an e-mail address
    sent = str(cloud.simulator.requests[0].body)
    assert "buyer0@customer0.example.com" not in sent and "«EMAIL_1»" in sent
    text = "".join(e.data["text"] for e in events if e.event == "delta")
    assert text == "Write to buyer0@customer0.example.com today."


def test_concurrent_identical_requests_share_one_provider_call(
    tmp_path: Path, cloud: SimulatorThread, local: SimulatorThread
) -> None:
    local.simulator.default = Scenario(text="One shared answer for everyone.", ttft_ms=300)
    settings = notes_settings(tmp_path, providers_for(cloud, local.openai_base_url), ["gpu", "offline"])
    with ServerThread(settings) as server:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=10) as client:
                body = {"record": {"type": "note", "id": "N-5"}}
                url = f"{server.url}/v1/summarize"
                return await asyncio.gather(
                    *(client.post(url, json=body, headers=HEADERS) for _ in range(10))
                )

        responses = asyncio.run(burst())
    texts = {"".join(e.data["text"] for e in events_of(r.text) if e.event == "delta") for r in responses}
    assert texts == {"One shared answer for everyone."}
    assert local.simulator.count() == 1


def test_an_older_interactions_table_gains_the_routing_column(tmp_path: Path) -> None:
    path = tmp_path / "margin.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE interactions (id TEXT PRIMARY KEY, created_at TEXT NOT NULL)")
        db.execute("INSERT INTO interactions VALUES ('old', '2026-01-01')")

    async def open_and_close() -> None:
        store = InteractionStore(path)
        await store.open()
        await store.close()

    asyncio.run(open_and_close())
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(interactions)")]
        assert "routing" in columns
        assert db.execute("SELECT id, routing FROM interactions").fetchall() == [("old", None)]
